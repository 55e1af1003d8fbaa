/**
 * Drives the pure payment machine through xstate's transition() for tests: no engine, no
 * store. Keeps what a runtime would (armed timers, effects so far) so tests can assert them.
 * Every step is also taken with the engine's own transitions (machines/transitions.ts, one
 * shared scope) and must come out the same, snapshot and actions.
 */
import { type AnyMachineSnapshot, initialTransition, transition } from 'xstate';
import type { PaymentContext, PaymentInput, PaymentStatus } from '../../machines/payment.model.ts';
import { paymentMachine, paymentTransitions, statusOf } from '../../machines/payment.machine.ts';
import type { Effect, PaymentEvent } from '../../machines/payment.rules.ts';
import { effectsOf, timerChangesOf } from '../../actors/write-set.ts';
import type { TransitionAction } from '../../machines/transitions.ts';

export const t0 = Date.UTC(2026, 10, 24, 8, 0, 0);
export const amount = 10_000;

export function input(overrides: Partial<PaymentInput> = {}): PaymentInput {
  return {
    id: 'pay_01TEST', merchantId: 'M100001', merchantOrderNo: 'ORD1', amount, currency: 'CNY', subject: 'Hotel',
    expiresAt: t0 + 1_800_000, createdAt: t0, ...overrides,
  };
}

export type Step = { accepted: boolean; effects: Effect[]; armed: string[]; disarmed: string[] };

export class Order {
  snapshot: AnyMachineSnapshot;
  /** Timer keys armed now, with their due times. */
  readonly timers = new Map<string, number>();
  readonly effects: Effect[] = [];
  last: Step;

  constructor(overrides: Partial<PaymentInput> = {}) {
    const [snapshot, actions] = initialTransition(paymentMachine, input(overrides));
    assertSameStep(paymentTransitions.initial(input(overrides)), [snapshot, actions]);
    this.snapshot = snapshot;
    this.last = this.record(actions as TransitionAction[], true, overrides.createdAt ?? t0);
  }

  get ctx(): PaymentContext {
    return this.snapshot.context as PaymentContext;
  }

  get status(): PaymentStatus {
    return statusOf(this.snapshot.value);
  }

  get value(): unknown {
    return this.snapshot.value;
  }

  /** Sends an event; a timer event first removes its timer, as the ticker does once it fired. */
  send(event: PaymentEvent): Step {
    const fired = firedTimerKey(event);
    if (fired) this.timers.delete(fired);
    const [next, actions] = transition(paymentMachine, this.snapshot, event);
    const engines = paymentTransitions.next(this.snapshot, event);
    assertSameStep(engines, [next, actions]);
    if ((engines[0] === this.snapshot) !== (next === this.snapshot)) throw new Error(`the engine's transitions and xstate's disagree on whether ${event.type} was taken`);
    const accepted = next !== this.snapshot;
    if (!accepted && actions.length > 0) throw new Error('a rejected event produced actions');
    this.snapshot = next;
    this.last = this.record(actions as TransitionAction[], accepted, event.at);
    return this.last;
  }

  private record(actions: TransitionAction[], accepted: boolean, at: number): Step {
    const effects = effectsOf(actions);
    this.effects.push(...effects);
    const changes = timerChangesOf(actions, at);
    for (const change of changes) {
      if (change.op === 'arm') this.timers.set(change.key, change.dueAt);
      else this.timers.delete(change.key);
    }
    return {
      accepted,
      effects,
      armed: changes.filter((c) => c.op === 'arm').map((c) => c.key),
      disarmed: changes.filter((c) => c.op === 'disarm').map((c) => c.key),
    };
  }

  notifications(event: string): number {
    return this.effects.filter((e) => e.type === 'merchant.notify' && e.params.event === event).length;
  }
}

/** The engine's step and xstate's: the same persisted snapshot, the same actions in the same order. */
function assertSameStep(engines: [AnyMachineSnapshot, TransitionAction[]], xstates: [AnyMachineSnapshot, TransitionAction[]]): void {
  const persisted = (s: AnyMachineSnapshot) => JSON.stringify(paymentMachine.getPersistedSnapshot(s));
  const plain = (actions: TransitionAction[]) => JSON.stringify(actions.map((a) => ({ type: a.type, params: a.params })));
  if (persisted(engines[0]) !== persisted(xstates[0])) throw new Error(`the engine's transitions and xstate's differ: ${persisted(engines[0])} against ${persisted(xstates[0])}`);
  if (plain(engines[1]) !== plain(xstates[1])) throw new Error(`the engine's actions and xstate's differ: ${plain(engines[1])} against ${plain(xstates[1])}`);
}

function firedTimerKey(event: PaymentEvent): string | null {
  switch (event.type) {
    case 'timer.expire':
      return 'expire';
    case 'timer.close_retry':
      return 'close_retry';
    case 'timer.query':
      return `query:${event.flowId}`;
    case 'timer.refund_query':
      return `refund_query:${event.refundId}`;
    default:
      return null;
  }
}

// ---------- events ----------

export const pay = (at: number, ...parts: Array<{ flowId: string; method?: string; amount?: number }>): PaymentEvent => ({
  type: 'pay.start',
  at,
  parts: parts.map((p) => ({
    flowId: p.flowId, method: p.method ?? 'alipay_qr', channel: (p.method ?? 'alipay_qr') === 'balance' ? 'balance' : 'alipay_main', amount: p.amount ?? amount,
  })),
});

export const prepared = (at: number, flowId: string): PaymentEvent => ({ type: 'flow.prepared', at, flowId, action: { type: 'qr_code', qrCode: 'https://qr' } });

export const report = (at: number, flowId: string, status: 'succeeded' | 'failed' | 'closed' | 'pending', paid = amount, currency = 'CNY'): PaymentEvent => ({
  type: 'flow.report', at, flowId, status, amount: paid, currency, channelTradeNo: `T-${flowId}`, source: 'callback',
});

/** `refundsSeen`: the merchant refunds the sender saw in the rows (what the service passes; see RefundRequest). */
export const refund = (at: number, refundId: string, refundNo: string, refundAmount: number, refundsSeen?: number): PaymentEvent => ({
  type: 'refund.request', at, refundId, refundNo, amount: refundAmount, reason: null, ...(refundsSeen === undefined ? {} : { refundsSeen }),
});

export const refundReport = (at: number, refundId: string, flowId: string, status: 'succeeded' | 'failed' | 'pending'): PaymentEvent => ({
  type: 'refund.report', at, refundId, flowId, status,
});
