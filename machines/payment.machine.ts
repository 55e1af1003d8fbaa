/**
 * The payment order (支付单) as a pure XState machine, driven only through `transition()`.
 *
 *   created ──pay──▶ paying.active ──close/timeout──▶ paying.closing ──nothing pending──▶ closed
 *      │               │   ▲ all flows ended: back to created          │
 *      │               └───┴──────── an attempt covers the amount ─────┴──▶ settled.succeeded
 *      └──close/timeout──▶ closed              settled.succeeded ─▶ partially_refunded ─▶ refunded
 *
 * Settled and closed orders are final for the merchant, but stay open to money that arrives
 * late (a payer who paid twice, or after the close): it is refunded automatically. That is
 * why no state is an XState `final` state: a final actor would drop those callbacks.
 * Effects and timers come out of transitions as actions (see payment.rules.ts); nothing here
 * performs I/O, reads a clock or makes an id.
 */
import { enqueueActions, setup } from 'xstate';
import { pureTransitions } from './transitions.ts';
import {
  type PaymentContext,
  type PaymentInput,
  type PaymentStatus,
  checkRefund,
  decidePayStart,
  default_query_attempts_max,
  default_query_schedule_ms,
  emptyDetails,
  noRefundsDone,
  pendingFlows,
  refundedAmount,
  paidAmount,
} from './payment.model.ts';
import {
  type Effect,
  type EffectKind,
  type Intents,
  type PaymentEvent,
  type Phase,
  type Plan,
  planBeginClose,
  planCloseRetry,
  planClosed,
  planCreate,
  planFlowReport,
  planPayStart,
  planPrepared,
  planQueryTimer,
  planRefundQueryTimer,
  planRefundReport,
  planRefundRequest,
  effectKinds,
} from './payment.rules.ts';

/**
 * Bump on any change to states or context shape; stored snapshots name the version that wrote
 * them, and payment.versions.ts brings older ones up to this one. v2: finished refunds leave the
 * snapshot for their rows (`refundsDone`). v3: a flow may carry `collected` (its channel took
 * another amount): code before it would read such a flow as covering its attempt.
 */
export const paymentMachineVersion = 3;

type EventOf<T extends PaymentEvent['type']> = Extract<PaymentEvent, { type: T }>;

function expectEvent<T extends PaymentEvent['type']>(event: PaymentEvent, type: T): EventOf<T> {
  if (event.type !== type) throw new Error(`assertion failed: expected ${type}, got ${event.type}`);
  return event as EventOf<T>;
}

/** The effect actions do nothing here: the runtime reads them off the transition and writes them to the outbox. */
const effect = () => {};
/** One action per effect kind, from the one list (our own data, so the cast only names its keys). */
const effectActions = Object.fromEntries(effectKinds.map((kind) => [kind, effect])) as Record<EffectKind, typeof effect>;

/** The part of XState's `enqueue` a plan needs; its own generic type is tied to the machine's setup. */
type PlanQueue = {
  (action: Effect): void;
  assign(assigner: () => PaymentContext): void;
  raise(event: PaymentEvent, options: { id: string; delay: number }): void;
  cancel(id: string): void;
};

/** Applies a plan: the new context, then its intents. */
function enqueuePlan(enqueue: unknown, plan: Plan | null): void {
  if (!plan) return;
  (enqueue as PlanQueue).assign(() => plan.ctx);
  enqueueIntents(enqueue, plan);
}

/**
 * Effects as actions, timers as delayed raises and cancels. Alone (without an assign) where a step
 * changes no context: every assign makes XState rebuild the snapshot and its state value, a fifth
 * of a create's initial transition (docs/benchmarks.md, http "Session 27").
 */
function enqueueIntents(enqueue: unknown, { effects, timers }: Intents): void {
  const queue = enqueue as PlanQueue;
  for (const e of effects) queue(e);
  for (const timer of timers) {
    if (timer.op === 'arm') queue.raise(timer.event, { id: timer.id, delay: timer.delay });
    else queue.cancel(timer.id);
  }
}

/**
 * A guard and the action it admits compute the same plan from the same (context, event)
 * objects within one transition: compute it once. Plans are never mutated after they are
 * made, so sharing one is safe.
 */
const planMemo = new WeakMap<object, { ctx: PaymentContext; key: string; value: unknown }>();
function once<T>(key: string, ctx: PaymentContext, event: PaymentEvent, compute: () => T): T {
  const hit = planMemo.get(event);
  if (hit && hit.ctx === ctx && hit.key === key) return hit.value as T;
  const value = compute();
  planMemo.set(event, { ctx, key, value });
  return value;
}

const reportPlan = (ctx: PaymentContext, e: PaymentEvent, phase: Phase) =>
  once(`report:${phase}`, ctx, e, () => planFlowReport(ctx, expectEvent(e, 'flow.report'), phase));
const flowReport = (ctx: PaymentContext, e: PaymentEvent, phase: Phase) => reportPlan(ctx, e, phase).plan;
const reportOutcome = (ctx: PaymentContext, e: PaymentEvent, phase: Phase) => reportPlan(ctx, e, phase).outcome;

const prepared = (ctx: PaymentContext, e: PaymentEvent, phase: Phase) =>
  once(`prepared:${phase}`, ctx, e, () => {
    const { at, flowId, action } = expectEvent(e, 'flow.prepared');
    return planPrepared(ctx, at, flowId, action, phase);
  });

const refundReport = (ctx: PaymentContext, e: PaymentEvent) =>
  once('refund.report', ctx, e, () => {
    const { at, refundId, flowId, status } = expectEvent(e, 'refund.report');
    return planRefundReport(ctx, at, refundId, flowId, status);
  });

const queryTimer = (ctx: PaymentContext, e: PaymentEvent) =>
  once('timer.query', ctx, e, () => planQueryTimer(ctx, e.at, expectEvent(e, 'timer.query').flowId));

const refundQueryTimer = (ctx: PaymentContext, e: PaymentEvent) =>
  once('timer.refund_query', ctx, e, () => planRefundQueryTimer(ctx, e.at, expectEvent(e, 'timer.refund_query').refundId));

const payStart = (ctx: PaymentContext, e: PaymentEvent) =>
  once('pay.start', ctx, e, () => {
    const { at, parts, risk } = expectEvent(e, 'pay.start');
    return planPayStart(ctx, at, parts, risk);
  });

const closeReasonOf = (e: PaymentEvent): 'timeout' | 'merchant' | 'failed' =>
  e.type === 'close.request' ? e.reason : 'timeout';

export const paymentMachine = setup({
  types: {
    context: {} as PaymentContext,
    events: {} as PaymentEvent,
    input: {} as PaymentInput,
  },
  actions: {
    ...effectActions,
    create: enqueueActions(({ context, enqueue }) => enqueueIntents(enqueue, planCreate(context))),
    startAttempt: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, payStart(context, event))),
    reportInOpen: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, flowReport(context, event, 'open'))),
    reportWhileClosing: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, flowReport(context, event, 'closing'))),
    reportWhenSettled: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, flowReport(context, event, 'settled'))),
    reportWhenClosed: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, flowReport(context, event, 'closed'))),
    preparedInOpen: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, prepared(context, event, 'open'))),
    preparedWhileClosing: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, prepared(context, event, 'closing'))),
    preparedLate: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, prepared(context, event, 'settled'))),
    queryFlow: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, queryTimer(context, event))),
    beginClose: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, planBeginClose(context, event.at, closeReasonOf(event)))),
    retryClose: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, planCloseRetry(context, event.at))),
    markClosed: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, planClosed(context, event.at, closeReasonOf(event)))),
    startRefund: enqueueActions(({ context, event, enqueue }) =>
      enqueuePlan(enqueue, planRefundRequest(context, event.at, expectEvent(event, 'refund.request')))),
    applyRefundReport: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, refundReport(context, event))),
    queryRefund: enqueueActions(({ context, event, enqueue }) => enqueuePlan(enqueue, refundQueryTimer(context, event))),
  },
  guards: {
    // Joining the attempt already waiting changes nothing: the same snapshot comes back.
    payStartsAttempt: ({ context, event }) => decidePayStart(context, expectEvent(event, 'pay.start')).kind === 'start',
    /** Balance parts only: frozen and captured in this one event. */
    paySettlesAtOnce: ({ context, event }) =>
      decidePayStart(context, expectEvent(event, 'pay.start')).kind === 'start' && payStart(context, event).ctx.settledAttemptId !== null,
    reportSettles: ({ context, event }, params: { phase: Phase }) => reportOutcome(context, event, params.phase) === 'settled',
    reportChanges: ({ context, event }, params: { phase: Phase }) => reportOutcome(context, event, params.phase) !== 'unchanged',
    preparedSettles: ({ context, event }, params: { phase: Phase }) => prepared(context, event, params.phase)?.ctx.settledAttemptId != null,
    preparedChanges: ({ context, event }, params: { phase: Phase }) => prepared(context, event, params.phase) !== null,
    flowIsQueryable: ({ context, event }) => queryTimer(context, event) !== null,
    nothingPending: ({ context }) => pendingFlows(context).length === 0,
    refundAllowed: ({ context, event }) => checkRefund(context, expectEvent(event, 'refund.request')).ok,
    refundReportApplies: ({ context, event }) => refundReport(context, event) !== null,
    refundQueryApplies: ({ context, event }) => refundQueryTimer(context, event) !== null,
    partiallyRefunded: ({ context }) => refundedAmount(context) > 0 && refundedAmount(context) < paidAmount(context),
    fullyRefunded: ({ context }) => refundedAmount(context) === paidAmount(context),
  },
}).createMachine({
  id: 'payment',
  context: ({ input }) => ({
    id: input.id, merchantId: input.merchantId, merchantOrderNo: input.merchantOrderNo, amount: input.amount,
    currency: input.currency, subject: input.subject, details: input.details ?? emptyDetails, expiresAt: input.expiresAt, createdAt: input.createdAt,
    updatedAt: input.createdAt, flows: [], refunds: [], refundsDone: { ...noRefundsDone, refundedByFlow: {} }, settledAttemptId: null, paidAt: null, closedAt: null,
    closeReason: null, closeRetries: 0, flags: [],
    querySchedule: input.querySchedule ?? default_query_schedule_ms,
    queryAttemptsMax: input.queryAttemptsMax ?? default_query_attempts_max,
    ...(input.risk ? { risk: input.risk, riskHolds: input.riskHolds ?? [] } : {}),
  }),
  entry: 'create',
  initial: 'created',
  states: {
    created: {
      on: {
        'pay.start': [
          { guard: 'paySettlesAtOnce', target: 'settled', actions: 'startAttempt' },
          { guard: 'payStartsAttempt', target: 'paying', actions: 'startAttempt' },
        ],
        'close.request': { target: 'closed', actions: 'markClosed' },
        'timer.expire': { target: 'closed', actions: 'markClosed' },
        'flow.report': [
          { guard: { type: 'reportSettles', params: { phase: 'open' } }, target: 'settled', actions: 'reportInOpen' },
          { guard: { type: 'reportChanges', params: { phase: 'open' } }, actions: 'reportInOpen' },
        ],
        // An automatic refund can start before the order settles or closes (a combined attempt
        // whose balance part was released, then its channel part succeeded): it runs to its end here too.
        'refund.report': { guard: 'refundReportApplies', actions: 'applyRefundReport' },
        'timer.refund_query': { guard: 'refundQueryApplies', actions: 'queryRefund' },
      },
    },
    paying: {
      initial: 'active',
      on: {
        'timer.query': { guard: 'flowIsQueryable', actions: 'queryFlow' },
        'refund.report': { guard: 'refundReportApplies', actions: 'applyRefundReport' },
        'timer.refund_query': { guard: 'refundQueryApplies', actions: 'queryRefund' },
      },
      states: {
        active: {
          always: { guard: 'nothingPending', target: '#payment.created' },
          on: {
            'pay.start': [
              { guard: 'paySettlesAtOnce', target: '#payment.settled', actions: 'startAttempt' },
              { guard: 'payStartsAttempt', target: 'active', reenter: true, actions: 'startAttempt' },
            ],
            'close.request': { target: 'closing', actions: 'beginClose' },
            'timer.expire': { target: 'closing', actions: 'beginClose' },
            'flow.report': [
              { guard: { type: 'reportSettles', params: { phase: 'open' } }, target: '#payment.settled', actions: 'reportInOpen' },
              { guard: { type: 'reportChanges', params: { phase: 'open' } }, actions: 'reportInOpen' },
            ],
            'flow.prepared': [
              { guard: { type: 'preparedSettles', params: { phase: 'open' } }, target: '#payment.settled', actions: 'preparedInOpen' },
              { guard: { type: 'preparedChanges', params: { phase: 'open' } }, actions: 'preparedInOpen' },
            ],
          },
        },
        closing: {
          always: { guard: 'nothingPending', target: '#payment.closed', actions: 'markClosed' },
          on: {
            'timer.close_retry': { actions: 'retryClose' },
            'flow.report': [
              { guard: { type: 'reportSettles', params: { phase: 'closing' } }, target: '#payment.settled', actions: 'reportWhileClosing' },
              { guard: { type: 'reportChanges', params: { phase: 'closing' } }, actions: 'reportWhileClosing' },
            ],
            'flow.prepared': [
              { guard: { type: 'preparedSettles', params: { phase: 'closing' } }, target: '#payment.settled', actions: 'preparedWhileClosing' },
              { guard: { type: 'preparedChanges', params: { phase: 'closing' } }, actions: 'preparedWhileClosing' },
            ],
          },
        },
      },
    },
    settled: {
      initial: 'succeeded',
      on: {
        'refund.request': { guard: 'refundAllowed', actions: 'startRefund' },
        'refund.report': { guard: 'refundReportApplies', actions: 'applyRefundReport' },
        'timer.refund_query': { guard: 'refundQueryApplies', actions: 'queryRefund' },
        'timer.query': { guard: 'flowIsQueryable', actions: 'queryFlow' },
        'flow.report': { guard: { type: 'reportChanges', params: { phase: 'settled' } }, actions: 'reportWhenSettled' },
        'flow.prepared': { guard: { type: 'preparedChanges', params: { phase: 'settled' } }, actions: 'preparedLate' },
      },
      states: {
        succeeded: {
          always: [
            { guard: 'fullyRefunded', target: 'refunded' },
            { guard: 'partiallyRefunded', target: 'partially_refunded' },
          ],
        },
        partially_refunded: { always: { guard: 'fullyRefunded', target: 'refunded' } },
        refunded: {},
      },
    },
    closed: {
      on: {
        'flow.report': { guard: { type: 'reportChanges', params: { phase: 'closed' } }, actions: 'reportWhenClosed' },
        'flow.prepared': { guard: { type: 'preparedChanges', params: { phase: 'closed' } }, actions: 'preparedLate' },
        'refund.report': { guard: 'refundReportApplies', actions: 'applyRefundReport' },
        'timer.refund_query': { guard: 'refundQueryApplies', actions: 'queryRefund' },
        'timer.query': { guard: 'flowIsQueryable', actions: 'queryFlow' },
      },
    },
  },
});

/** The machine's initial transition and transitions, pure, as the engine runs them (see transitions.ts). */
export const paymentTransitions = pureTransitions(paymentMachine);

/** The API's status for a state value of this machine. */
export function statusOf(value: unknown): PaymentStatus {
  if (value === 'created' || value === 'closed') return value;
  if (typeof value === 'object' && value !== null) {
    if ('paying' in value) return 'paying';
    const settled = (value as { settled?: unknown }).settled;
    if (settled === 'succeeded' || settled === 'partially_refunded' || settled === 'refunded') return settled;
  }
  throw new Error(`assertion failed: unknown payment state ${JSON.stringify(value)}`);
}

export type { Effect, PaymentEvent };
