/**
 * The scratch actor of `/admin/machines`: a list of events run through the pure payment
 * machine with XState's `initialTransition`/`transition`, from a sample order that exists
 * nowhere. Nothing is stored, locked or sent: the effects are only reported. The browser sends
 * the whole list each time, so the server keeps no simulation state either.
 */
import * as v from 'valibot';
import { type StateValue, initialTransition, transition } from 'xstate';
import { effectsOf, timerChangesOf } from '../../actors/write-set.ts';
import type { TransitionAction } from '../../machines/transitions.ts';
import { paymentMachine } from '../../machines/payment.machine.ts';
import type { PaymentInput } from '../../machines/payment.model.ts';
import type { PaymentEvent } from '../../machines/payment.rules.ts';
import { stateIdsOf } from './statechart.ts';

/** Bounds one simulation's work: a review walks a few steps, not thousands. */
export const simulate_events_max = 50;
/** Each simulated event happens this long after the previous one unless it gives its own `at`. */
export const simulate_step_ms = 1_000;

const sample_created_at = Date.UTC(2026, 0, 1, 2, 0, 0);

/** The sample order every simulation starts from: 100.00 CNY, expiring in 15 minutes. */
export const sample_input: PaymentInput = {
  id: 'pay_simulated', merchantId: 'mch_simulated', merchantOrderNo: 'SIMULATED-1', amount: 10_000, currency: 'CNY',
  subject: 'simulated order', createdAt: sample_created_at, expiresAt: sample_created_at + 15 * 60_000,
};

/** A ready-to-edit example of each event the reviewer can send (times are filled in when missing). */
export const event_templates: Record<PaymentEvent['type'], Record<string, unknown>> = {
  'pay.start': { type: 'pay.start', parts: [{ flowId: 'flow_1', method: 'alipay_qr', channel: 'alipay_main', amount: 10_000 }] },
  'flow.prepared': { type: 'flow.prepared', flowId: 'flow_1', action: { type: 'qr_code', qrCode: 'https://qr.example/1' } },
  'flow.report': { type: 'flow.report', flowId: 'flow_1', status: 'succeeded', amount: 10_000, currency: 'CNY', channelTradeNo: 'T1', source: 'callback' },
  'close.request': { type: 'close.request', reason: 'merchant' },
  'refund.request': { type: 'refund.request', refundId: 'refund_1', refundNo: 'R1', amount: 10_000, reason: 'simulated' },
  'refund.report': { type: 'refund.report', refundId: 'refund_1', flowId: 'flow_1', status: 'succeeded' },
  'timer.expire': { type: 'timer.expire' },
  'timer.query': { type: 'timer.query', flowId: 'flow_1' },
  'timer.close_retry': { type: 'timer.close_retry' },
  'timer.refund_query': { type: 'timer.refund_query', refundId: 'refund_1' },
};

const at = v.optional(v.pipe(v.number(), v.integer()));
const id = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
const amount = v.pipe(v.number(), v.integer());

/** The machine's events as a reviewer types them (`at` optional): parsed, never cast. */
const SimulatedEvent = v.variant('type', [
  v.object({ type: v.literal('pay.start'), at, parts: v.pipe(v.array(v.object({ flowId: id, method: id, channel: id, amount })), v.maxLength(10)) }),
  v.object({
    type: v.literal('flow.prepared'), at, flowId: id,
    action: v.nullable(v.object({ type: v.picklist(['qr_code', 'redirect', 'none']), qrCode: v.optional(v.string()), payUrl: v.optional(v.string()) })),
  }),
  v.object({
    type: v.literal('flow.report'), at, flowId: id, status: v.picklist(['succeeded', 'failed', 'closed', 'pending']), amount: v.optional(amount),
    currency: v.optional(v.string()), channelTradeNo: v.optional(v.nullable(v.string())), source: v.picklist(['callback', 'query', 'prepay', 'close', 'recon']),
  }),
  v.object({ type: v.literal('close.request'), at, reason: v.picklist(['merchant', 'failed']) }),
  v.object({ type: v.literal('refund.request'), at, refundId: id, refundNo: id, amount, reason: v.nullable(v.string()) }),
  v.object({ type: v.literal('refund.report'), at, refundId: id, flowId: id, status: v.picklist(['succeeded', 'failed', 'pending']), source: v.optional(v.literal('recon')) }),
  v.object({ type: v.literal('timer.expire'), at }),
  v.object({ type: v.literal('timer.query'), at, flowId: id }),
  v.object({ type: v.literal('timer.close_retry'), at }),
  v.object({ type: v.literal('timer.refund_query'), at, refundId: id }),
]);
const SimulatedEvents = v.pipe(v.array(SimulatedEvent), v.maxLength(simulate_events_max));

export type SimulatedStep = { event: PaymentEvent; state: StateValue; states: string[]; changed: boolean; effects: unknown[] };
export type Simulation =
  | { ok: true; initial: StateValue; steps: SimulatedStep[] }
  | { ok: false; error: 'invalid_events'; message: string };

/** Where the scratch actor starts: the sample order's initial state. */
export const simulated_initial: StateValue = initialTransition(paymentMachine, sample_input)[0].value;

export function simulate(input: unknown): Simulation {
  const parsed = v.safeParse(SimulatedEvents, input);
  if (!parsed.success) return { ok: false, error: 'invalid_events', message: v.summarize(parsed.issues) };
  let [snapshot] = initialTransition(paymentMachine, sample_input);
  const initial = snapshot.value;
  const steps: SimulatedStep[] = [];
  for (const [i, given] of parsed.output.entries()) {
    const event: PaymentEvent = { ...given, at: given.at ?? sample_created_at + (i + 1) * simulate_step_ms };
    let next: typeof snapshot;
    let actions: TransitionAction[];
    try {
      [next, actions] = transition(paymentMachine, snapshot, event) as [typeof snapshot, TransitionAction[]];
    } catch (error) {
      // A well-formed event can still name a flow or refund the sample order does not have; the rules assert on
      // that (the engine never sends one), and the reviewer hears which step it was.
      return { ok: false, error: 'invalid_events', message: `event ${i + 1} (${given.type}): ${error instanceof Error ? error.message : String(error)}` };
    }
    // The effects as the journal records them: channel and merchant work, and timers armed or disarmed.
    const effects = [...effectsOf(actions), ...timerChangesOf(actions, event.at).map((t) => ({ type: `timer.${t.op}`, params: t }))];
    steps.push({ event, state: next.value, states: stateIdsOf(next.value), changed: next !== snapshot, effects });
    snapshot = next;
  }
  return { ok: true, initial, steps };
}
