/**
 * The payment order's data and the pure rules over it. The machine (payment.machine.ts)
 * decides which state an order is in; these functions compute what an event does to the
 * order's flows, refunds and money. Nothing here does I/O, reads a clock or makes ids:
 * times and ids arrive inside events.
 */
import type { Currency } from '../src/money.ts';

export const paymentStatuses = ['created', 'paying', 'succeeded', 'closed', 'partially_refunded', 'refunded'] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];
/** The statuses of an order that was paid (and may have been refunded since). */
export const paidStatuses: readonly PaymentStatus[] = ['succeeded', 'partially_refunded', 'refunded'];
export const isPaidStatus = (status: string): boolean => (paidStatuses as readonly string[]).includes(status);
export type CloseReason = 'timeout' | 'merchant' | 'failed';
export type FlowStatus = 'pending' | 'succeeded' | 'failed' | 'closed' | 'refunded';
export type RefundStatus = 'pending' | 'succeeded' | 'failed';

/** The prepaid balance is held by paycenter itself: its parts are frozen, then taken or released. */
export const balanceMethod = 'balance';

/**
 * What the payer is shown to pay a flow (from the channel's prepay answer); `params` is what a
 * page hands to the provider's script (WeChat JSAPI's signed package).
 */
export type FlowAction = { type: 'qr_code' | 'redirect' | 'none'; qrCode?: string; payUrl?: string; params?: Record<string, string> };

export type Flow = {
  id: string;
  /** Flows started by one pay request share an attempt (the id of its first flow). */
  attemptId: string;
  method: string;
  channel: string;
  amount: number;
  status: FlowStatus;
  /** The channel accepted the prepay (for balance: the part is frozen). */
  prepared: boolean;
  action: FlowAction | null;
  channelTradeNo: string | null;
  /** Active queries made so far; picks the next gap of the query schedule. */
  queries: number;
  createdAt: number;
  completedAt: number | null;
  /**
   * Present only when the channel reported a success of another amount than `amount` (same
   * currency): what it says it collected. Such a flow never settles its order; it ends
   * `refunded` by an automatic refund of exactly this.
   */
  collected?: number;
};

export type RefundPart = { flowId: string; amount: number; status: RefundStatus };

export type Refund = {
  id: string;
  /** The merchant's number; null for an automatic refund of money that arrived twice or late. */
  refundNo: string | null;
  amount: number;
  reason: string | null;
  status: RefundStatus;
  automatic: boolean;
  /** Executed one after the other: the external channel's part first, so a failure there refunds nothing. */
  parts: RefundPart[];
  queries: number;
  createdAt: number;
  completedAt: number | null;
};

/**
 * What the refunds that left the snapshot came to. A refund that finished (succeeded or failed)
 * stays in `refunds` for the event that finished it, then its detail lives only in its row
 * (written by that event) and its money here: what every later event rewrites stays the same
 * size however many refunds an order has had.
 */
export type RefundsDone = {
  /** Merchant refunds folded here, succeeded or failed (refunds_per_order_max counts them). */
  merchantCount: number;
  /** What folded merchant refunds gave back, in all and per flow. */
  merchantRefunded: number;
  refundedByFlow: Record<string, number>;
  /** What folded automatic refunds gave back. */
  automaticRefunded: number;
};

export const noRefundsDone: RefundsDone = { merchantCount: 0, merchantRefunded: 0, refundedByFlow: {}, automaticRefunded: 0 };

/** Something an operator must look at; it never changes money by itself. */
export type Flag = { at: number; flowId: string | null; reason: FlagReason; detail: string };
export type FlagReason = 'amount_mismatch' | 'unknown_flow' | 'query_exhausted' | 'refund_part_failed' | 'auto_refund';

/** What the merchant sent with the order that the machine carries but never decides on. */
export type OrderDetails = {
  body: string | null;
  notifyUrl: string | null;
  returnUrl: string | null;
  metadata: Record<string, unknown>;
  userId: string | null;
  clientIp: string | null;
  deviceId: string | null;
};

export const emptyDetails: OrderDetails = {
  body: null, notifyUrl: null, returnUrl: null, metadata: {}, userId: null, clientIp: null, deviceId: null,
};

/**
 * The risk center's decision about this order (src/risk): on create, then again on each pay.
 * `hits` are the rules that hit and the values they saw; a refused order is never written.
 */
export type RiskVerdict = {
  decision: 'allow' | 'review';
  score: number;
  rules: string[];
  hits: Array<{ code: string; kind: string; action: 'reject' | 'review'; score: number; saw: Record<string, unknown> }>;
};

export type PaymentContext = {
  id: string;
  merchantId: string;
  merchantOrderNo: string;
  amount: number;
  currency: Currency;
  subject: string;
  details: OrderDetails;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
  flows: Flow[];
  /** Refunds still pending, and those that finished with the order's last event (see RefundsDone). */
  refunds: Refund[];
  refundsDone: RefundsDone;
  /** The attempt whose flows settled the order, once. */
  settledAttemptId: string | null;
  paidAt: number | null;
  closedAt: number | null;
  closeReason: CloseReason | null;
  /** How many times the close procedure re-asked the channels. */
  closeRetries: number;
  flags: Flag[];
  /** Gaps between active queries of one flow or refund, in ms; the last gap repeats. */
  querySchedule: number[];
  /** After this many queries without a final answer the flow is flagged (and still queried). */
  queryAttemptsMax: number;
  /** The latest risk decision; absent on orders created before the risk center. */
  risk?: RiskVerdict;
  /** The risk counters this order was counted in at create; its limit shares return when it closes. */
  riskHolds?: string[];
};

export type PaymentInput = Pick<
  PaymentContext,
  'id' | 'merchantId' | 'merchantOrderNo' | 'amount' | 'currency' | 'subject' | 'expiresAt' | 'createdAt'
> & { details?: OrderDetails; querySchedule?: number[]; queryAttemptsMax?: number; risk?: RiskVerdict; riskHolds?: string[] };

/** Defaults from the seed notes: 5 s, 10 s, 30 s, 1 min, 2 min, 5 min, 10 min, then every 30 min. */
export const default_query_schedule_ms = [5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000];
export const default_query_attempts_max = 20;
/** The close procedure re-asks channels that have not confirmed after this long. */
export const close_retry_gap_ms = 60_000;

/**
 * A copy of the context that a plan may change: flows, refunds and their parts are copied;
 * details, actions, flags and the query schedule are shared because no rule ever changes them
 * in place (flags are only appended to the copied array). Much cheaper than structuredClone,
 * which every transition would otherwise pay.
 */
export function copyContext(ctx: PaymentContext): PaymentContext {
  return {
    ...ctx,
    flows: ctx.flows.map((f) => ({ ...f })),
    refunds: ctx.refunds.map((r) => ({ ...r, parts: r.parts.map((p) => ({ ...p })) })),
    refundsDone: { ...ctx.refundsDone, refundedByFlow: { ...ctx.refundsDone.refundedByFlow } },
    flags: [...ctx.flags],
  };
}

/**
 * Moves finished refunds out of a (copied) context into its RefundsDone: called as the next event
 * starts, after the event that finished them wrote their final rows and notifications.
 */
export function foldFinishedRefunds(ctx: PaymentContext): void {
  const done = ctx.refundsDone;
  for (const refund of ctx.refunds.filter((r) => r.status !== 'pending')) {
    const returned = partsSucceeded(refund);
    if (returned !== (refund.status === 'succeeded' ? refund.amount : 0)) {
      throw new Error(`assertion failed: finished refund ${refund.id} gave back ${returned} of ${refund.amount}`);
    }
    if (refund.automatic) {
      done.automaticRefunded += returned;
      continue;
    }
    done.merchantCount += 1;
    done.merchantRefunded += returned;
    for (const part of refund.parts) done.refundedByFlow[part.flowId] = (done.refundedByFlow[part.flowId] ?? 0) + (part.status === 'succeeded' ? part.amount : 0);
  }
  ctx.refunds = ctx.refunds.filter((r) => r.status === 'pending');
}

// ---------- money over the context ----------

export const paidAmount = (ctx: PaymentContext): number => (ctx.settledAttemptId === null ? 0 : ctx.amount);

const partsSucceeded = (refund: Refund): number =>
  refund.parts.reduce((sum, part) => sum + (part.status === 'succeeded' ? part.amount : 0), 0);

/** What merchant refunds have given back so far. */
export const refundedAmount = (ctx: PaymentContext): number =>
  ctx.refundsDone.merchantRefunded + ctx.refunds.filter((r) => !r.automatic).reduce((sum, r) => sum + partsSucceeded(r), 0);

/** What merchant refunds have claimed: succeeded and still pending. */
export const refundClaimedAmount = (ctx: PaymentContext): number =>
  ctx.refundsDone.merchantRefunded + ctx.refunds.filter((r) => !r.automatic && r.status !== 'failed').reduce((sum, r) => sum + r.amount, 0);

/** Merchant refunds the order ever accepted, succeeded, failed or pending. */
export const merchantRefundCount = (ctx: PaymentContext): number =>
  ctx.refundsDone.merchantCount + ctx.refunds.filter((r) => !r.automatic).length;

export const refundableAmount = (ctx: PaymentContext): number => paidAmount(ctx) - refundClaimedAmount(ctx);

/** What a flow's channel took from the payer: its amount, unless the channel reported another. */
export const collectedBy = (flow: Flow): number => flow.collected ?? flow.amount;

/** Every flow that ever collected money (an automatically refunded flow did collect it once). */
export const collectedAmount = (ctx: PaymentContext): number =>
  ctx.flows.reduce((sum, f) => sum + (f.status === 'succeeded' || f.status === 'refunded' ? collectedBy(f) : 0), 0);

/** Money collected beyond what settles the order, owed back through automatic refunds. */
export const autoRefundAmount = (ctx: PaymentContext): number =>
  ctx.refundsDone.automaticRefunded + ctx.refunds.filter((r) => r.automatic).reduce((sum, r) => sum + r.amount, 0);

/**
 * The money invariants every order state keeps, checked before a state is written and after it
 * is read (a bug, a hand-edited row or a bad migration stops there instead of moving money):
 * paid is all or nothing, refunds never claim more than was paid, nor give back more than they claim.
 */
export function assertMoneyInvariants(ctx: PaymentContext): void {
  const paid = paidAmount(ctx);
  const claimed = refundClaimedAmount(ctx);
  const refunded = refundedAmount(ctx);
  if ((paid !== 0 && paid !== ctx.amount) || !(0 <= refunded && refunded <= claimed && claimed <= paid)) {
    throw new Error(`assertion failed: order ${ctx.id} breaks the money invariants (amount ${ctx.amount}, paid ${paid}, refunds claim ${claimed}, refunded ${refunded})`);
  }
}

export const isExternal = (flow: Flow): boolean => flow.method !== balanceMethod;

/**
 * Money an external part collected while its attempt still waits to settle (a combined
 * payment whose balance part is still freezing): neither settled nor owed back yet.
 */
export const awaitingSettlementAmount = (ctx: PaymentContext): number =>
  ctx.flows
    .filter((f) => isExternal(f) && f.status === 'succeeded' && f.attemptId !== ctx.settledAttemptId)
    .filter((f) => !ctx.refunds.some((r) => r.id === autoRefundId(f.id)))
    .reduce((sum, f) => sum + collectedBy(f), 0);

export const pendingFlows = (ctx: PaymentContext): Flow[] => ctx.flows.filter((f) => f.status === 'pending');

export const findFlow = (ctx: PaymentContext, flowId: string): Flow | undefined =>
  ctx.flows.find((f) => f.id === flowId);

export const findRefund = (ctx: PaymentContext, refundId: string): Refund | undefined =>
  ctx.refunds.find((r) => r.id === refundId);

/**
 * An automatic refund is keyed by the flow it returns, so a flow can be refunded
 * automatically only once, whoever reports its success and however often.
 */
export const autoRefundId = (flowId: string): string => `rfd_${flowId.slice('flw_'.length)}`;

/** The status merchants see for a settled order. */
export function settledStatus(ctx: PaymentContext): 'succeeded' | 'partially_refunded' | 'refunded' {
  const refunded = refundedAmount(ctx);
  if (refunded === 0) return 'succeeded';
  return refunded === paidAmount(ctx) ? 'refunded' : 'partially_refunded';
}

/**
 * The attempt can settle the order when all its external parts succeeded and all its
 * balance parts are still frozen (prepared and pending).
 */
export function attemptCovers(ctx: PaymentContext, attemptId: string): boolean {
  const parts = ctx.flows.filter((f) => f.attemptId === attemptId);
  const covered = parts.every((f) =>
    isExternal(f) ? f.status === 'succeeded' && f.collected === undefined : f.status === 'pending' && f.prepared,
  );
  return covered && parts.reduce((sum, f) => sum + f.amount, 0) === ctx.amount;
}

/** An attempt that can no longer settle: one of its parts ended without collecting, or collected another amount. */
export function attemptBroken(ctx: PaymentContext, attemptId: string): boolean {
  return ctx.flows.some((f) => f.attemptId === attemptId && (f.status === 'failed' || f.status === 'closed' || f.collected !== undefined));
}

// ---------- validation of requests the machine accepts ----------

export type PayPart = { flowId: string; method: string; channel: string; amount: number };

export type PayDecision = { ok: true } | { ok: false; error: 'amount_mismatch' | 'invalid_parts' | 'too_many_flows' };

/**
 * Flows one order may ever have. Each payment attempt opens a trade at a channel and grows the
 * order's state, which every later event rewrites: a payer switching methods without end (or a
 * script holding the cashier link) stops here and needs a new order.
 */
export const flows_per_order_max = 20;

/**
 * How long after a flow started an identical pay still joins it while its prepay has not been
 * answered, in ms: longer than a channel call may take (the request running it still waits for
 * the answer). Past it the prepay has given up or waits for a retry, and paying again starts a
 * new attempt (closing this one) instead of waiting on it for ever.
 */
export const prepay_join_window_ms = 15_000;

const partKey = (p: { method: string; amount: number }): string => `${p.method}\u0000${p.amount}`;
const sameParts = (a: Array<{ method: string; amount: number }>, b: Array<{ method: string; amount: number }>): boolean =>
  a.length === b.length && a.map(partKey).sort().join('\u0001') === b.map(partKey).sort().join('\u0001');

/**
 * The latest attempt, when a pay with these parts repeats it while it still waits for the payer:
 * every part pending, and prepared or started within prepay_join_window_ms. Paying the same way
 * again (a retried request, a refreshed cashier page, identical requests at once) joins it
 * instead of opening another trade. Earlier attempts' flows may still be pending, but they are
 * being closed at their channel.
 */
export function joinableAttempt(ctx: PaymentContext, parts: Array<{ method: string; amount: number }>, at: number): Flow[] | null {
  const latest = ctx.flows.at(-1)?.attemptId;
  if (latest === undefined || ctx.closeReason !== null || ctx.settledAttemptId !== null) return null;
  const attempt = ctx.flows.filter((f) => f.attemptId === latest);
  const waiting = attempt.every((f) => f.status === 'pending' && (f.prepared || at - f.createdAt < prepay_join_window_ms));
  return waiting && sameParts(attempt, parts) ? attempt : null;
}

/**
 * A pay request as the order's actor receives it; `rejoinOnly` (a retried create) never starts an
 * attempt; `replaces` (failover) names the flow whose prepay failed: its attempt is replaced, never joined.
 */
export type PayStart = { at: number; parts: PayPart[]; rejoinOnly?: boolean; replaces?: string };

export type PayStartDecision =
  | { kind: 'start' }
  /** The attempt already waiting; `flow` is its part that answers the request: the external one, whose action the payer is shown, if any. */
  | { kind: 'join'; flow: Flow }
  | { kind: 'refused'; error: 'amount_mismatch' | 'invalid_parts' | 'too_many_flows' | 'nothing_to_join' | 'expired' };

/**
 * What a pay request does to the order: join the attempt waiting for the payer, start a new
 * one, or nothing. The machine decides with this inside the order's actor (serialized), so
 * identical pays at once open one trade; the service reads the same decision off the state the
 * actor decided on to know which flow answers the request.
 */
export function decidePayStart(ctx: PaymentContext, request: PayStart): PayStartDecision {
  // As a new attempt is answered: by its external part (a balance part has nothing to show the payer).
  const lead = request.parts.find((p) => p.method !== balanceMethod) ?? request.parts[0];
  const attempt = joinableAttempt(ctx, request.parts, request.at);
  const joined = lead && !attempt?.some((f) => f.id === request.replaces) && attempt?.find((f) => f.method === lead.method && f.amount === lead.amount);
  if (joined) return { kind: 'join', flow: joined };
  if (request.rejoinOnly) return { kind: 'refused', error: 'nothing_to_join' };
  // Its time is up though its timer has not run yet (a tick away, or behind on a sale day): a
  // new trade would open at the channel with a deadline already past, for an order the merchant
  // counts as expired.
  if (request.at >= ctx.expiresAt) return { kind: 'refused', error: 'expired' };
  const parts = checkPayParts(ctx, request.parts);
  return parts.ok ? { kind: 'start' } : { kind: 'refused', error: parts.error };
}

/** Parts must add up to the amount, be positive, and at most one may be an external channel. */
export function checkPayParts(ctx: PaymentContext, parts: PayPart[]): PayDecision {
  const total = parts.reduce((sum, p) => sum + p.amount, 0);
  if (ctx.flows.length + parts.length > flows_per_order_max) return { ok: false, error: 'too_many_flows' };
  if (parts.length === 0 || parts.some((p) => !Number.isSafeInteger(p.amount) || p.amount <= 0)) {
    return { ok: false, error: 'invalid_parts' };
  }
  if (parts.filter((p) => p.method !== balanceMethod).length > 1) return { ok: false, error: 'invalid_parts' };
  if (new Set(parts.map((p) => p.flowId)).size !== parts.length) return { ok: false, error: 'invalid_parts' };
  if (parts.some((p) => findFlow(ctx, p.flowId))) return { ok: false, error: 'invalid_parts' };
  return total === ctx.amount ? { ok: true } : { ok: false, error: 'amount_mismatch' };
}

/**
 * Merchant refunds one order takes, succeeded, failed or pending: WeChat Pay refuses a 51st
 * refund of one trade, and every refund is a call at the channel and a row of the order.
 */
export const refunds_per_order_max = 50;

/**
 * `refundsSeen`: how many merchant refunds the sender saw in the refund rows when it looked for
 * this refund_no there. Refunds that left the snapshot are known only by their rows, so once
 * there are any, a request that did not see every refund the order has is `stale` (look again).
 */
export type RefundRequest = { refundId: string; refundNo: string; amount: number; reason: string | null; refundsSeen?: number };

export type RefundDecision =
  | { ok: true }
  | { ok: false; error: 'already_requested'; refund: Refund }
  | { ok: false; error: 'order_conflict'; refund: Refund }
  | { ok: false; error: 'refund_exceeds_paid' | 'invalid_state' | 'invalid_amount' | 'too_many_refunds' | 'stale' };

/** Decides a merchant refund; the same refund_no with the same amount is the same refund. */
export function checkRefund(ctx: PaymentContext, request: RefundRequest): RefundDecision {
  const existing = ctx.refunds.find((r) => r.refundNo === request.refundNo);
  if (existing) {
    return existing.amount === request.amount
      ? { ok: false, error: 'already_requested', refund: existing }
      : { ok: false, error: 'order_conflict', refund: existing };
  }
  // API.md: refunds need a succeeded or partially_refunded payment; a refunded one is a state error, not an amount error.
  if (ctx.settledAttemptId === null || settledStatus(ctx) === 'refunded') return { ok: false, error: 'invalid_state' };
  if (ctx.refundsDone.merchantCount > 0 && request.refundsSeen !== merchantRefundCount(ctx)) return { ok: false, error: 'stale' };
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0) return { ok: false, error: 'invalid_amount' };
  if (findRefund(ctx, request.refundId)) return { ok: false, error: 'invalid_state' };
  if (merchantRefundCount(ctx) >= refunds_per_order_max) return { ok: false, error: 'too_many_refunds' };
  return request.amount <= refundableAmount(ctx) ? { ok: true } : { ok: false, error: 'refund_exceeds_paid' };
}

/**
 * Splits a merchant refund over the flows that settled the order: the external channel's
 * part first (it is the one that can fail), then balance parts, never more than each flow
 * has left after earlier refunds.
 */
export function allocateRefund(ctx: PaymentContext, amount: number): RefundPart[] {
  const settling = ctx.flows
    .filter((f) => f.attemptId === ctx.settledAttemptId)
    .sort((a, b) => Number(isExternal(b)) - Number(isExternal(a)));
  const parts: RefundPart[] = [];
  let left = amount;
  for (const flow of settling) {
    const claimed = (ctx.refundsDone.refundedByFlow[flow.id] ?? 0) + ctx.refunds
      .filter((r) => !r.automatic && r.status !== 'failed')
      .flatMap((r) => r.parts)
      .filter((p) => p.flowId === flow.id)
      .reduce((sum, p) => sum + p.amount, 0);
    const take = Math.min(left, flow.amount - claimed);
    if (take > 0) parts.push({ flowId: flow.id, amount: take, status: 'pending' });
    left -= take;
  }
  if (left !== 0) throw new Error(`assertion failed: refund of ${amount} cannot be allocated`);
  return parts;
}

/** The next gap before querying again, from the schedule; the last gap repeats. */
export function queryGap(schedule: number[], queriesSoFar: number): number {
  const gap = schedule[Math.min(queriesSoFar, schedule.length - 1)];
  if (gap === undefined) throw new Error('assertion failed: empty query schedule');
  return gap;
}
