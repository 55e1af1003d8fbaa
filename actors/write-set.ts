/**
 * Turns one transition of an order's machine into the rows it writes: the order with its
 * query columns, a journal row, its flows and refunds, outbox rows for effects, merchant
 * events for notifications, and timer rows for delayed raises (cancels disarm them).
 */
import type { AnyMachineSnapshot } from 'xstate';
import { type PaymentContext, assertMoneyInvariants, collectedBy, isExternal, paidAmount, refundedAmount } from '../machines/payment.model.ts';
import { paymentMachine, paymentMachineVersion, statusOf } from '../machines/payment.machine.ts';
import type { TransitionAction } from '../machines/transitions.ts';
import { type Effect, type PaymentEvent, effectKinds } from '../machines/payment.rules.ts';
import { assert } from '../src/failures.ts';
import { newId } from '../src/ids.ts';
import type { FlowRow, MerchantEventRow, OrderRow, OrderWrite, OutboxRow, RefundRow, TimerRow } from '../src/store/store.ts';
import { balanceLedgerOp, isBalanceEffect } from '../src/balance/order-entries.ts';
import { releaseRowOf } from '../src/risk/releases.ts';

/** A timer operation of one transition, as journaled and as written to the timer rows. */
export type TimerChange = { op: 'arm'; key: string; dueAt: number; event: unknown } | { op: 'disarm'; key: string };

const effectKindSet: ReadonlySet<string> = new Set(effectKinds);
const isEffect = (action: TransitionAction): action is Effect => effectKindSet.has(action.type);
/** Actions that become timer rows (timerChangesOf); anything else a transition returns must be an effect. */
const isTimerAction = (action: TransitionAction) => action.type === 'xstate.raise' || action.type === 'xstate.cancel';

/**
 * A prepay is run by the pay request that started it (the payer waits for its answer); the
 * effect runner takes the row only when that request did not finish it — a crash — after this
 * long, longer than a channel call may take. Without it the runner could claim the row first
 * and the request would answer without the payer's QR code.
 */
export const inline_prepay_grace_ms = 15_000;

const dueAtOf = (effect: Effect, at: number): number => (effect.type === 'channel.prepay' ? at + inline_prepay_grace_ms : at);

/**
 * The transition's effects. An action that is neither an effect kind nor a timer is a bug (an
 * action the machine emits but the one list lacks): refused loudly rather than dropped, since a
 * dropped effect is a refund or a notification that silently never happens.
 */
export function effectsOf(actions: TransitionAction[]): Effect[] {
  const effects: Effect[] = [];
  for (const action of actions) {
    if (isEffect(action)) effects.push({ type: action.type, params: action.params } as Effect);
    else assert(isTimerAction(action), `transition returned ${action.type}, which is neither an effect kind (effectKinds) nor a timer`);
  }
  return effects;
}

/** The outbox row of one effect; a notification's row names the merchant event it delivers. */
function outboxRowOf(effect: Effect, orderId: string, at: number, eventId: string | null): OutboxRow {
  const base = { id: newId('obx', at), orderId, createdAt: at, dueAt: dueAtOf(effect, at) };
  if (effect.type !== 'merchant.notify') return { ...base, kind: effect.type, payload: effect.params } as OutboxRow;
  assert(eventId !== null, 'a notification row names its event');
  return { ...base, kind: effect.type, payload: { ...effect.params, eventId } };
}

/**
 * Delayed raises arm timers and cancels disarm them. For a key touched twice in one
 * transition the last operation wins, so armed and disarmed keys are disjoint.
 */
export function timerChangesOf(actions: TransitionAction[], at: number): TimerChange[] {
  const last = new Map<string, TimerChange>();
  for (const action of actions) {
    const params = action.params as { id?: string; delay?: number; event?: unknown; sendId?: string } | undefined;
    if (action.type === 'xstate.raise' && params?.delay !== undefined && params.id) {
      last.set(params.id, { op: 'arm', key: params.id, dueAt: at + params.delay, event: params.event });
    } else if (action.type === 'xstate.cancel' && params?.sendId) {
      last.set(params.sendId, { op: 'disarm', key: params.sendId });
    }
  }
  return [...last.values()];
}

export function orderRowOf(snapshot: AnyMachineSnapshot, version: number): OrderRow {
  const ctx = snapshot.context as PaymentContext;
  return {
    id: ctx.id, merchantId: ctx.merchantId, merchantOrderNo: ctx.merchantOrderNo, status: statusOf(snapshot.value),
    amount: ctx.amount, currency: ctx.currency, paidAmount: paidAmount(ctx), refundedAmount: refundedAmount(ctx),
    expiresAt: ctx.expiresAt, createdAt: ctx.createdAt, updatedAt: ctx.updatedAt,
    machineVersion: paymentMachineVersion, version, snapshot: paymentMachine.getPersistedSnapshot(snapshot),
  };
}

const flowRowsOf = (ctx: PaymentContext): FlowRow[] =>
  ctx.flows.map((f) => ({
    id: f.id, orderId: ctx.id, method: f.method, channel: f.channel, amount: collectedBy(f), status: f.status,
    channelTradeNo: f.channelTradeNo, createdAt: f.createdAt, completedAt: f.completedAt,
  }));

const refundRowsOf = (ctx: PaymentContext): RefundRow[] =>
  ctx.refunds.map((r) => {
    // At most one part of a refund goes through an external channel (reconciliation matches it with the channel's statement).
    const channelPart = r.parts.find((part) => ctx.flows.some((f) => f.id === part.flowId && isExternal(f))) ?? null;
    return {
      id: r.id, orderId: ctx.id, merchantId: ctx.merchantId, refundNo: r.refundNo, amount: r.amount, reason: r.reason, status: r.status,
      automatic: r.automatic, createdAt: r.createdAt, completedAt: r.completedAt,
      channelFlowId: channelPart?.flowId ?? null, channelAmount: channelPart?.amount ?? null,
    };
  });

/** Renders what a merchant notification carries (the payment or refund object of API.md). */
export type NotificationRenderer = (ctx: PaymentContext, snapshot: AnyMachineSnapshot, effect: Extract<Effect, { type: 'merchant.notify' }>) => unknown;

export type TransitionRecord = {
  before: AnyMachineSnapshot | null;
  after: AnyMachineSnapshot;
  actions: TransitionAction[];
  /** The event, or for a new order its creation input. */
  event: PaymentEvent | { type: 'payment.create'; risk?: unknown };
  at: number;
  expectedVersion: number;
};

/** Rows that differ from the ones the previous state would write: unchanged rows cost disk writes for nothing. */
function changedRows<T extends { id: string }>(now: T[], before: T[]): T[] {
  const previous = new Map(before.map((row) => [row.id, JSON.stringify(row)]));
  return now.filter((row) => previous.get(row.id) !== JSON.stringify(row));
}

/** An order's write set as the engine makes it: its outbox rows typed by kind. */
export type EngineWrite = OrderWrite & { outbox: OutboxRow[] };

export function writeSetOf(record: TransitionRecord, renderNotification: NotificationRenderer): EngineWrite {
  const { after, actions, at, expectedVersion } = record;
  const ctx = after.context as PaymentContext;
  assertMoneyInvariants(ctx);
  const ctxBefore = record.before?.context as PaymentContext | undefined;
  const order = orderRowOf(after, expectedVersion + 1);
  const effects = effectsOf(actions);
  const timers = timerChangesOf(actions, at);
  const armed = timers.filter((t) => t.op === 'arm');
  const merchantEvents: MerchantEventRow[] = [];
  const outbox = effects.map((effect): OutboxRow => {
    if (effect.type !== 'merchant.notify') return outboxRowOf(effect, ctx.id, at, null);
    const event: MerchantEventRow = {
      id: newId('evt', at), merchantId: ctx.merchantId, orderId: ctx.id, type: effect.params.event,
      data: renderNotification(ctx, after, effect), createdAt: at,
    };
    merchantEvents.push(event);
    return outboxRowOf(effect, ctx.id, at, event.id);
  });
  const ledger = effects.filter(isBalanceEffect).map((effect) => balanceLedgerOp(ctx, effect, at));
  // A close gives the order's risk limit shares back: owed by this commit, so neither a crash nor a failing Redis loses it (src/risk/releases.ts).
  const release = merchantEvents.some((e) => e.type === 'payment.closed') ? releaseRowOf(ctx, at) : null;
  return {
    expectedVersion,
    ledger,
    order,
    journal: {
      orderId: ctx.id, seq: order.version, at, event: record.event,
      stateBefore: record.before?.value ?? null, stateAfter: after.value,
      effects: [...effects, ...timers.map((t) => ({ type: `timer.${t.op}`, params: t }))],
    },
    flows: changedRows(flowRowsOf(ctx), ctxBefore ? flowRowsOf(ctxBefore) : []),
    refunds: changedRows(refundRowsOf(ctx), ctxBefore ? refundRowsOf(ctxBefore) : []),
    // The balance's effects are the ledger entries above, made in this commit; no runner executes them.
    outbox: [...outbox.filter((_, i) => !isBalanceEffect(effects[i]!)), ...(release ? [release] : [])],
    merchantEvents,
    timersArmed: armed.map((t) => ({ orderId: ctx.id, key: t.key, dueAt: t.dueAt, event: t.event })),
    timersDisarmed: timers.filter((t) => t.op === 'disarm').map((t) => t.key),
  };
}
