/**
 * What each event does to a payment order, as pure functions from (context, event) to a
 * Plan: the next context, the effects to run and the timers to arm or disarm (a create's is
 * its Intents alone: the machine made its context). The machine picks the state; these rules
 * keep the money right. Inputs are never mutated.
 */
import {
  type Flag,
  type FlagReason,
  type Flow,
  type FlowAction,
  type PayPart,
  type PayStart,
  type PaymentContext,
  type Refund,
  type RefundRequest,
  type RiskVerdict,
  allocateRefund,
  attemptBroken,
  attemptCovers,
  autoRefundId,
  balanceMethod,
  collectedBy,
  close_retry_gap_ms,
  copyContext,
  findFlow,
  findRefund,
  foldFinishedRefunds,
  isExternal,
  pendingFlows,
  queryGap,
} from './payment.model.ts';

import { moneyText } from '../src/money.ts';
import type { RoutingNote } from '../src/routing/router.ts';

export type NotifyType = 'payment.succeeded' | 'payment.closed' | 'refund.succeeded' | 'refund.failed';

/** Side effects as data. The runtime stores them in the outbox in the event's transaction. */
export type Effect =
  | { type: 'channel.prepay'; params: { flowId: string; channel: string; method: string; amount: number; currency: string; subject: string; expiresAt: number } }
  | { type: 'channel.query'; params: { flowId: string; channel: string } }
  | { type: 'channel.close'; params: { flowId: string; channel: string } }
  | { type: 'channel.capture'; params: { flowId: string; channel: string } }
  | { type: 'channel.refund'; params: { refundId: string; flowId: string; channel: string; amount: number; currency: string } }
  | { type: 'channel.refund_query'; params: { refundId: string; flowId: string; channel: string } }
  | { type: 'merchant.notify'; params: { event: NotifyType; refundId: string | null } }
  | { type: 'operator.alert'; params: Flag };

/**
 * Every effect kind, the one list: the machine's actions, the write set, the effect runner and
 * the notification delivery are all derived from it, each with a `satisfies Record<EffectKind, …>`
 * that fails to compile when a kind is added here and not handled there.
 */
export const effectKinds = [
  'channel.prepay', 'channel.query', 'channel.close', 'channel.capture',
  'channel.refund', 'channel.refund_query', 'merchant.notify', 'operator.alert',
] as const;
export type EffectKind = (typeof effectKinds)[number];
/** The list and the Effect union name the same kinds (either one alone fails to compile). */
const effectKindsComplete: [Exclude<Effect['type'], EffectKind>, Exclude<EffectKind, Effect['type']>] extends [never, never] ? true : false = true;
void effectKindsComplete;
export type EffectOf<K extends EffectKind> = Extract<Effect, { type: K }>;

/** Events the ticker fires; `at` is the due time the machine scheduled. */
export type TimerEvent =
  | { type: 'timer.expire'; at: number }
  | { type: 'timer.query'; at: number; flowId: string }
  | { type: 'timer.close_retry'; at: number }
  | { type: 'timer.refund_query'; at: number; refundId: string };

export type FlowReportStatus = 'succeeded' | 'failed' | 'closed' | 'pending';
export type FlowReport = {
  type: 'flow.report';
  at: number;
  flowId: string;
  status: FlowReportStatus;
  /** What the channel says was paid; required for 'succeeded'. */
  amount?: number;
  currency?: string;
  channelTradeNo?: string | null;
  /** recon: the channel's statement showed it (reconciliation), every other word having been lost. */
  source: 'callback' | 'query' | 'prepay' | 'close' | 'recon';
};

export type PaymentEvent =
  // `routing`: why these channels, one note a routed part (src/routing), and `risk`: the pay's risk decision (src/risk), kept on the timeline; the machine does not read routing.
  | ({ type: 'pay.start'; routing?: RoutingNote[]; risk?: RiskVerdict } & PayStart)
  | { type: 'flow.prepared'; at: number; flowId: string; action: FlowAction | null }
  | FlowReport
  | { type: 'close.request'; at: number; reason: 'merchant' | 'failed' }
  | ({ type: 'refund.request'; at: number } & RefundRequest)
  | { type: 'refund.report'; at: number; refundId: string; flowId: string; status: 'succeeded' | 'failed' | 'pending'; source?: 'recon' }
  | TimerEvent;

export type TimerOp = { op: 'arm'; id: string; delay: number; event: TimerEvent } | { op: 'disarm'; id: string };

/** What a step asks of the world: effects to run, timers to arm or disarm. */
export type Intents = { effects: Effect[]; timers: TimerOp[] };
export type Plan = Intents & { ctx: PaymentContext };

/** Where the order stands when a channel reports: open to settling, closing, or past both. */
export type Phase = 'open' | 'closing' | 'settled' | 'closed';

export type FlowReportOutcome = 'unchanged' | 'changed' | 'settled';

export const timerIds = {
  expire: 'expire',
  closeRetry: 'close_retry',
  query: (flowId: string) => `query:${flowId}`,
  refundQuery: (refundId: string) => `refund_query:${refundId}`,
};

/** Every plan starts from a copy whose refunds finished by the previous event are folded (see RefundsDone). */
function newPlan(ctx: PaymentContext, at: number): Plan {
  const copy = { ...copyContext(ctx), updatedAt: at };
  foldFinishedRefunds(copy);
  return { ctx: copy, effects: [], timers: [] };
}

function flowIn(plan: Plan, flowId: string): Flow {
  const flow = findFlow(plan.ctx, flowId);
  if (!flow) throw new Error(`assertion failed: flow ${flowId} not in order ${plan.ctx.id}`);
  return flow;
}

function arm(plan: Intents, id: string, delay: number, event: TimerEvent): void {
  plan.timers.push({ op: 'arm', id, delay, event });
}

/** Delays are at least 1 ms: a zero delay would not become a timer. */
function armAt(plan: Intents, id: string, now: number, due: number, event: (at: number) => TimerEvent): void {
  const delay = Math.max(1, due - now);
  arm(plan, id, delay, event(now + delay));
}

/** Flags a flow once for a reason: a report that repeats (a callback sent again) raises nothing more. */
function flag(plan: Plan, at: number, flowId: string | null, reason: FlagReason, detail: string): void {
  if (plan.ctx.flags.some((f) => f.flowId === flowId && f.reason === reason)) return;
  raise(plan, at, flowId, reason, detail);
}

/** Records a flag and tells the operators, whatever was flagged before. */
function raise(plan: Plan, at: number, flowId: string | null, reason: FlagReason, detail: string): void {
  const raised: Flag = { at, flowId, reason, detail };
  plan.ctx.flags.push(raised);
  plan.effects.push({ type: 'operator.alert', params: raised });
}

function armQuery(plan: Plan, flow: Flow, now: number): void {
  const gap = queryGap(plan.ctx.querySchedule, flow.queries);
  armAt(plan, timerIds.query(flow.id), now, now + gap, (at) => ({ type: 'timer.query', at, flowId: flow.id }));
}

// ---------- creation and paying ----------

/** The order's deadline is armed when it is created; its context is as the machine made it from the input. */
export function planCreate(ctx: PaymentContext): Intents {
  const intents: Intents = { effects: [], timers: [] };
  armAt(intents, timerIds.expire, ctx.createdAt, ctx.expiresAt, (at) => ({ type: 'timer.expire', at }));
  return intents;
}

/**
 * A pay request starts a new attempt; flows still pending from earlier attempts are closed at
 * their channels. Balance parts are frozen by this very commit (their prepay is the ledger's
 * conditional freeze, which refuses the whole event when the balance is short), so they are
 * prepared at once; an attempt of balance parts only settles the order here and now.
 */
export function planPayStart(ctx: PaymentContext, at: number, parts: PayPart[], risk?: RiskVerdict): Plan {
  const plan = newPlan(ctx, at);
  if (risk) plan.ctx.risk = risk;
  for (const earlier of pendingFlows(plan.ctx)) closeAtChannel(plan, earlier);
  const attemptId = parts[0]?.flowId;
  if (!attemptId) throw new Error('assertion failed: a pay attempt without parts');
  for (const part of parts) {
    const flow: Flow = {
      id: part.flowId, attemptId, method: part.method, channel: part.channel, amount: part.amount,
      status: 'pending', prepared: part.method === balanceMethod, action: null, channelTradeNo: null, queries: 0, createdAt: at, completedAt: null,
    };
    plan.ctx.flows.push(flow);
    plan.effects.push({
      type: 'channel.prepay',
      params: { flowId: flow.id, channel: flow.channel, method: flow.method, amount: flow.amount, currency: ctx.currency, subject: ctx.subject, expiresAt: ctx.expiresAt },
    });
    if (isExternal(flow)) armQuery(plan, flow, at);
  }
  if (attemptCovers(plan.ctx, attemptId)) settle(plan, attemptId, at);
  return plan;
}

/**
 * Closes a flow at its channel. A balance part's close is the release of its freeze, made in
 * the same commit and certain: the part is closed at once, so its attempt can never settle
 * with money that was given back.
 */
function closeAtChannel(plan: Plan, flow: Flow): void {
  plan.effects.push({ type: 'channel.close', params: { flowId: flow.id, channel: flow.channel } });
  if (isExternal(flow)) return;
  flow.status = 'closed';
  flow.completedAt = plan.ctx.updatedAt;
}

/** The channel accepted a prepay (or the balance part is frozen); returns null when nothing changes. */
export function planPrepared(ctx: PaymentContext, at: number, flowId: string, action: FlowAction | null, phase: Phase): Plan | null {
  const current = findFlow(ctx, flowId);
  if (!current || current.status !== 'pending' || current.prepared) return null;
  const plan = newPlan(ctx, at);
  const flow = flowIn(plan, flowId);
  flow.prepared = true;
  flow.action = action;
  if (canSettle(plan.ctx, phase) && attemptCovers(plan.ctx, flow.attemptId)) settle(plan, flow.attemptId, at);
  return plan;
}

const canSettle = (ctx: PaymentContext, phase: Phase): boolean =>
  (phase === 'open' || phase === 'closing') && ctx.settledAttemptId === null;

/**
 * Settles the order with one attempt, once: balance parts are taken, every other pending
 * flow is closed at its channel (should it succeed anyway, it is refunded automatically).
 */
function settle(plan: Plan, attemptId: string, at: number): void {
  if (plan.ctx.settledAttemptId !== null) throw new Error('assertion failed: order settled twice');
  plan.ctx.settledAttemptId = attemptId;
  plan.ctx.paidAt = at;
  plan.ctx.closeReason = null;
  for (const flow of pendingFlows(plan.ctx)) {
    if (flow.attemptId === attemptId) {
      if (isExternal(flow)) throw new Error('assertion failed: settling with a pending external flow');
      flow.status = 'succeeded';
      flow.completedAt = at;
      plan.effects.push({ type: 'channel.capture', params: { flowId: flow.id, channel: flow.channel } });
    } else {
      closeAtChannel(plan, flow);
    }
  }
  refundStrandedSuccesses(plan, at);
  plan.timers.push({ op: 'disarm', id: timerIds.expire }, { op: 'disarm', id: timerIds.closeRetry });
  plan.effects.push({ type: 'merchant.notify', params: { event: 'payment.succeeded', refundId: null } });
}

/**
 * An external part that collected while its attempt waited (a combined payment's balance part
 * was still freezing) is stranded once the order settles otherwise, closes, or its attempt
 * breaks: that money goes back.
 */
function refundStrandedSuccesses(plan: Plan, at: number): void {
  for (const flow of plan.ctx.flows) {
    const stranded = isExternal(flow) && flow.status === 'succeeded' && flow.attemptId !== plan.ctx.settledAttemptId;
    const attemptOver = plan.ctx.settledAttemptId !== null || plan.ctx.closedAt !== null || attemptBroken(plan.ctx, flow.attemptId);
    if (stranded && attemptOver) refundAutomatically(plan, flow, at);
  }
}

// ---------- what channels report about flows ----------

/** Applies a channel's word on a flow. A success is money: it settles the order or is refunded. */
export function planFlowReport(ctx: PaymentContext, report: FlowReport, phase: Phase): { plan: Plan; outcome: FlowReportOutcome } {
  const plan = newPlan(ctx, report.at);
  const current = findFlow(ctx, report.flowId);
  if (!current) {
    flag(plan, report.at, report.flowId, 'unknown_flow', `${report.source} reported ${report.status} for a flow this order does not have`);
    return { plan, outcome: plan.effects.length > 0 ? 'changed' : 'unchanged' };
  }
  switch (report.status) {
    case 'succeeded':
      return reportSucceeded(plan, report, phase);
    case 'failed':
    case 'closed':
      return { plan, outcome: reportEnded(plan, report.flowId, report.status, report.at) ? 'changed' : 'unchanged' };
    case 'pending':
      if (phase !== 'closing' || current.status !== 'pending' || !isExternal(current)) return { plan, outcome: 'unchanged' };
      closeAtChannel(plan, flowIn(plan, report.flowId));
      return { plan, outcome: 'changed' };
  }
}

function reportSucceeded(plan: Plan, report: FlowReport, phase: Phase): { plan: Plan; outcome: FlowReportOutcome } {
  const flow = flowIn(plan, report.flowId);
  // A balance part succeeds only by being captured when its order settles, never by a report.
  if (!isExternal(flow)) return { plan, outcome: 'unchanged' };
  const collected = report.currency === plan.ctx.currency && report.amount !== undefined && report.amount > 0 ? report.amount : undefined;
  if (report.amount !== flow.amount || collected === undefined) {
    const told = moneyText(report.amount, report.currency);
    flag(plan, report.at, flow.id, 'amount_mismatch', `${report.source} reported ${told}, flow is ${moneyText(flow.amount, plan.ctx.currency)}`);
    // Money of another currency, or of no (or no positive) amount, cannot be given back by us: the flow stays
    // pending, still asked about, and the flag is the operator's to resolve. Its attempt can never
    // settle, so its frozen balance parts go back now rather than wait for that.
    if (collected === undefined) {
      releaseFrozenParts(plan, flow.attemptId);
      return { plan, outcome: plan.effects.length > 0 ? 'changed' : 'unchanged' };
    }
  }
  if (flow.status === 'succeeded' || flow.status === 'refunded') return { plan, outcome: plan.effects.length > 0 ? 'changed' : 'unchanged' };
  flow.status = 'succeeded';
  flow.completedAt = report.at;
  flow.channelTradeNo = report.channelTradeNo ?? flow.channelTradeNo;
  plan.timers.push({ op: 'disarm', id: timerIds.query(flow.id) });
  if (collected !== flow.amount) return { plan, outcome: collectedOtherAmount(plan, flow, collected, report.at) };
  if (canSettle(plan.ctx, phase) && attemptCovers(plan.ctx, flow.attemptId)) {
    settle(plan, flow.attemptId, report.at);
    return { plan, outcome: 'settled' };
  }
  const cannotSettle = plan.ctx.settledAttemptId !== null || phase === 'closed' || attemptBroken(plan.ctx, flow.attemptId);
  if (cannotSettle) refundAutomatically(plan, flow, report.at);
  return { plan, outcome: 'changed' };
}

/**
 * The channel took another amount than the flow asked (same currency): that money never settles
 * the order (DESIGN: flagged, never settling), so it breaks its attempt and goes back — all of
 * what the channel says it took — like any money beyond what settles the order. Without this the
 * flow would stay pending for ever, its order unable to close and a balance part frozen.
 */
function collectedOtherAmount(plan: Plan, flow: Flow, collected: number, at: number): FlowReportOutcome {
  flow.collected = collected;
  releaseFrozenParts(plan, flow.attemptId);
  refundStrandedSuccesses(plan, at);
  return 'changed';
}

/** A pending flow that failed or closed; its attempt's frozen balance parts are released. */
function reportEnded(plan: Plan, flowId: string, status: 'failed' | 'closed', at: number): boolean {
  const flow = flowIn(plan, flowId);
  if (flow.status !== 'pending') return false;
  flow.status = status;
  flow.completedAt = at;
  plan.timers.push({ op: 'disarm', id: timerIds.query(flow.id) });
  releaseFrozenParts(plan, flow.attemptId);
  refundStrandedSuccesses(plan, at);
  return true;
}

/** An attempt that can no longer settle gives its frozen balance parts back. */
function releaseFrozenParts(plan: Plan, attemptId: string): void {
  const frozenParts = pendingFlows(plan.ctx).filter((f) => f.attemptId === attemptId && !isExternal(f));
  for (const part of frozenParts) closeAtChannel(plan, part);
}

/** Money beyond what settles the order goes back through the channel that took it. */
function refundAutomatically(plan: Plan, flow: Flow, at: number): void {
  const id = autoRefundId(flow.id);
  if (findRefund(plan.ctx, id)) return;
  const amount = collectedBy(flow);
  const refund: Refund = {
    id, refundNo: null, amount, reason: 'collected beyond what settles the order', status: 'pending',
    automatic: true, parts: [{ flowId: flow.id, amount, status: 'pending' }], queries: 0, createdAt: at, completedAt: null,
  };
  plan.ctx.refunds.push(refund);
  startRefundPart(plan, refund, at);
  // DESIGN.md: refunded automatically *and reported* — money came in that the merchant never sees settle.
  flag(plan, at, flow.id, 'auto_refund', `${moneyText(amount, plan.ctx.currency)} collected by flow ${flow.id} beyond what settles the order; refunding it as ${id}`);
}

/** Re-arms a pending flow's active query with the next, longer gap; flags it once the attempts run out. */
export function planQueryTimer(ctx: PaymentContext, at: number, flowId: string): Plan | null {
  const current = findFlow(ctx, flowId);
  if (!current || current.status !== 'pending' || !isExternal(current)) return null;
  const plan = newPlan(ctx, at);
  const flow = flowIn(plan, flowId);
  flow.queries += 1;
  plan.effects.push({ type: 'channel.query', params: { flowId, channel: flow.channel } });
  if (flow.queries === plan.ctx.queryAttemptsMax) {
    flag(plan, at, flowId, 'query_exhausted', `no final answer after ${flow.queries} queries; still asking`);
  }
  armQuery(plan, flow, at);
  return plan;
}

// ---------- closing ----------

/** Asks every pending external flow's channel first (a timeout may hide a payment), releases balance parts. */
export function planBeginClose(ctx: PaymentContext, at: number, reason: 'timeout' | 'merchant' | 'failed'): Plan {
  const plan = newPlan(ctx, at);
  plan.ctx.closeReason = reason;
  askBeforeClosing(plan);
  armAt(plan, timerIds.closeRetry, at, at + close_retry_gap_ms, (due) => ({ type: 'timer.close_retry', at: due }));
  return plan;
}

/**
 * A balance part whose attempt still waits for its channel stays frozen: the channel may yet
 * say it was paid, and then the attempt settles the order; if it ends unpaid, its balance
 * parts are released with it (reportEnded).
 */
function askBeforeClosing(plan: Plan): void {
  const waitingAttempts = new Set(pendingFlows(plan.ctx).filter(isExternal).map((f) => f.attemptId));
  for (const flow of pendingFlows(plan.ctx)) {
    if (isExternal(flow)) plan.effects.push({ type: 'channel.query', params: { flowId: flow.id, channel: flow.channel } });
    else if (!waitingAttempts.has(flow.attemptId)) closeAtChannel(plan, flow);
  }
}

/** Channels that have not confirmed the close are asked again; nothing waits forever. */
export function planCloseRetry(ctx: PaymentContext, at: number): Plan {
  const plan = newPlan(ctx, at);
  plan.ctx.closeRetries += 1;
  askBeforeClosing(plan);
  if (plan.ctx.closeRetries === plan.ctx.queryAttemptsMax) {
    flag(plan, at, null, 'query_exhausted', `close not confirmed after ${plan.ctx.closeRetries} retries; still asking`);
  }
  armAt(plan, timerIds.closeRetry, at, at + close_retry_gap_ms, (due) => ({ type: 'timer.close_retry', at: due }));
  return plan;
}

/** The order is closed here once no flow is pending; it can never settle after this. */
export function planClosed(ctx: PaymentContext, at: number, reason: 'timeout' | 'merchant' | 'failed'): Plan {
  const plan = newPlan(ctx, at);
  if (pendingFlows(plan.ctx).length > 0) throw new Error('assertion failed: closing an order with pending flows');
  plan.ctx.closeReason = plan.ctx.closeReason ?? reason;
  plan.ctx.closedAt = at;
  refundStrandedSuccesses(plan, at);
  plan.timers.push({ op: 'disarm', id: timerIds.expire }, { op: 'disarm', id: timerIds.closeRetry });
  plan.effects.push({ type: 'merchant.notify', params: { event: 'payment.closed', refundId: null } });
  return plan;
}

// ---------- refunds ----------

export function planRefundRequest(ctx: PaymentContext, at: number, request: RefundRequest): Plan {
  const plan = newPlan(ctx, at);
  const refund: Refund = {
    id: request.refundId, refundNo: request.refundNo, amount: request.amount, reason: request.reason, status: 'pending',
    automatic: false, parts: allocateRefund(plan.ctx, request.amount), queries: 0, createdAt: at, completedAt: null,
  };
  plan.ctx.refunds.push(refund);
  startRefundPart(plan, refund, at);
  return plan;
}

function currentPart(refund: Refund) {
  return refund.parts.find((p) => p.status !== 'succeeded');
}

/**
 * Starts the refund's next part at its flow's channel. A balance part is given back to the
 * payer's available balance in this same commit, so it succeeds at once and the next part (or
 * the end of the refund) follows.
 */
function startRefundPart(plan: Plan, refund: Refund, at: number): void {
  const part = currentPart(refund);
  if (!part) throw new Error(`assertion failed: refund ${refund.id} has no part left`);
  const flow = flowIn(plan, part.flowId);
  plan.effects.push({
    type: 'channel.refund',
    params: { refundId: refund.id, flowId: flow.id, channel: flow.channel, amount: part.amount, currency: plan.ctx.currency },
  });
  if (!isExternal(flow)) {
    part.status = 'succeeded';
    continueRefund(plan, refund, at);
    return;
  }
  refund.queries = 0;
  const gap = queryGap(plan.ctx.querySchedule, 0);
  armAt(plan, timerIds.refundQuery(refund.id), at, at + gap, (due) => ({ type: 'timer.refund_query', at: due, refundId: refund.id }));
}

/**
 * A channel's word on the refund part in progress. A merchant refund fails only when nothing
 * of it went back; anything else that fails is flagged and kept pending for an operator.
 */
export function planRefundReport(ctx: PaymentContext, at: number, refundId: string, flowId: string, status: 'succeeded' | 'failed' | 'pending'): Plan | null {
  const existing = findRefund(ctx, refundId);
  if (!existing || existing.status !== 'pending' || currentPart(existing)?.flowId !== flowId || status === 'pending') return null;
  const plan = newPlan(ctx, at);
  const refund = findRefund(plan.ctx, refundId)!;
  const part = currentPart(refund)!;
  if (status === 'succeeded') {
    part.status = 'succeeded';
    continueRefund(plan, refund, at);
    return plan;
  }
  const nothingReturned = refund.parts.every((p) => p.status === 'pending');
  if (!refund.automatic && nothingReturned) {
    part.status = 'failed';
    finishRefund(plan, refund, 'failed', at);
  } else {
    flag(plan, at, flowId, 'refund_part_failed', `refund ${refund.id} part of ${moneyText(part.amount, plan.ctx.currency)} failed at the channel; kept pending`);
  }
  return plan;
}

function continueRefund(plan: Plan, refund: Refund, at: number): void {
  if (currentPart(refund)) startRefundPart(plan, refund, at);
  else finishRefund(plan, refund, 'succeeded', at);
}

function finishRefund(plan: Plan, refund: Refund, status: 'succeeded' | 'failed', at: number): void {
  refund.status = status;
  refund.completedAt = at;
  plan.timers.push({ op: 'disarm', id: timerIds.refundQuery(refund.id) });
  if (refund.automatic) {
    if (status === 'succeeded') flowIn(plan, refund.parts[0]!.flowId).status = 'refunded';
    return;
  }
  plan.effects.push({ type: 'merchant.notify', params: { event: status === 'succeeded' ? 'refund.succeeded' : 'refund.failed', refundId: refund.id } });
}

/** Asks the channel about the refund part in progress, with growing gaps, until it is final. */
export function planRefundQueryTimer(ctx: PaymentContext, at: number, refundId: string): Plan | null {
  const existing = findRefund(ctx, refundId);
  if (!existing || existing.status !== 'pending') return null;
  const plan = newPlan(ctx, at);
  const refund = findRefund(plan.ctx, refundId)!;
  const part = currentPart(refund)!;
  const flow = flowIn(plan, part.flowId);
  refund.queries += 1;
  plan.effects.push({ type: 'channel.refund_query', params: { refundId, flowId: flow.id, channel: flow.channel } });
  // Once per refund (its count reaches the limit once), not once per flow: a flow's earlier flag
  // (its own queries, or another refund's) must not hide a refund that is stuck now.
  if (refund.queries === plan.ctx.queryAttemptsMax) {
    raise(plan, at, flow.id, 'query_exhausted', `refund ${refundId} not final after ${refund.queries} queries; still asking`);
  }
  const gap = queryGap(plan.ctx.querySchedule, refund.queries);
  armAt(plan, timerIds.refundQuery(refundId), at, at + gap, (due) => ({ type: 'timer.refund_query', at: due, refundId }));
  return plan;
}
