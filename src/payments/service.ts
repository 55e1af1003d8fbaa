/**
 * What merchants can do to payments, as values: create, read, close, refund. Every change
 * goes through the order's actor (engine.create / engine.dispatch); this module makes the
 * ids, reads the clock, scopes everything to the asking merchant, and names each outcome.
 */
import type { EffectRunner } from '../../actors/effect-runner.ts';
import type { Engine, OrderState } from '../../actors/engine.ts';
import { type Flow, type OrderDetails, balanceMethod, type PayDecision, type PaymentContext, type Refund, type RiskVerdict, checkPayParts, checkRefund, flows_per_order_max } from '../../machines/payment.model.ts';
import type { ChannelRegistry } from '../channels/registry.ts';
import { Balances } from '../balance/balances.ts';
import { balance_channel } from '../balance/order-entries.ts';
import type { Clock } from '../clock.ts';
import type { ErrorCode } from '../http/errors.ts';
import { newId } from '../ids.ts';
import type { Merchant } from '../merchants/directory.ts';
import type { Currency } from '../money.ts';
import type { RiskCenter } from '../risk/center.ts';
import { type PrepayFailure, channels_per_pay_max, movesOn, prepayFailure } from '../routing/failover.ts';
import type { RoutingNote, Router } from '../routing/router.ts';
import type { MerchantEventRow, NonceClaim, Store } from '../store/store.ts';

export type Failure = { ok: false; error: ErrorCode; message: string; field?: string };
export type Result<T> = ({ ok: true } & T) | Failure;

const fail = (error: ErrorCode, message: string, field?: string): Failure => ({ ok: false, error, message, field });

function methodRefusal(merchant: Merchant, methods: string[]): Failure | null {
  const refused = methods.find((m) => !merchant.methods.includes(m));
  return refused ? fail('unsupported_method', `method ${refused} is not enabled for this merchant`, 'method') : null;
}

/** API.md: paying from a balance needs the order's payer. */
const balanceRefusal = (userId: string | null): Failure | null =>
  userId === null ? fail('invalid_request', 'paying with balance needs an order with user_id', 'user_id') : null;
const riskRefusal = (rules: string[]): Failure => fail('risk_rejected', `refused by risk rules: ${rules.join(', ')}`);

const noChannel = (methods: string[], currency: string): Failure =>
  fail('no_channel_available', `no channel can serve ${methods.join(' + ')} in ${currency} now`);

export type NewPayment = {
  merchantOrderNo: string;
  amount: number;
  currency: Currency;
  subject: string;
  expireSeconds: number;
  details: OrderDetails;
};

export type PaymentsOptions = { querySchedule?: number[]; queryAttemptsMax?: number };

/** One part of a pay request: a method and the minor units it pays. */
export type PayPartRequest = { method: string; amount: number };

export type PaymentsDeps = {
  engine: Engine; store: Store; clock: Clock; channels: ChannelRegistry; router: Router; runner: EffectRunner; risk: RiskCenter;
  /** A pay request moved on from a channel whose prepay failed (a metric). */
  onFailover?: (channel: string) => void;
};

/** The answer once no channel is left after failures: what the last failure says about the payer. */
function exhausted(last: PrepayFailure, methods: string[], currency: string): Failure {
  switch (last.kind) {
    case 'refused': return fail('channel_error', `${last.reason}; nothing was charged`);
    case 'not_accepted': return noChannel(methods, currency);
    case 'unknown':
    case 'elsewhere': return fail('unavailable', `${last.reason}; retry the request`);
  }
}

/** Why the order's machine would refuse these parts, as the API answers it; null when it would not. */
function payPartsRefusal(decision: PayDecision): Failure | null {
  if (decision.ok) return null;
  switch (decision.error) {
    case 'amount_mismatch': return fail('amount_mismatch', 'parts must add up to the order amount', 'parts');
    case 'invalid_parts': return fail('invalid_request', 'parts must be positive and at most one may be an external channel', 'parts');
    case 'too_many_flows': return fail('invalid_state', `this payment has had ${flows_per_order_max} payment attempts; create a new one`);
  }
}

/**
 * The flow of the latest attempt waiting for the payer with this one method, if any: paying the
 * same way again answers it instead of opening another trade (a refreshed cashier page, a retried
 * create). Earlier attempts' flows may still be pending, but they are being closed at their channel.
 */
function waitingFlow(ctx: PaymentContext, method: string): Flow | undefined {
  const latestAttempt = ctx.flows.at(-1)?.attemptId;
  if (ctx.closeReason !== null || latestAttempt === undefined) return undefined;
  return ctx.flows.find((f) => f.attemptId === latestAttempt && f.status === 'pending' && f.prepared && f.method === method);
}

export class Payments {
  private readonly engine: Engine;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly balances: Balances;

  constructor(
    private readonly deps: PaymentsDeps,
    private readonly options: PaymentsOptions = {},
  ) {
    this.engine = deps.engine;
    this.store = deps.store;
    this.clock = deps.clock;
    this.balances = new Balances({ ledger: deps.store.ledger, clock: deps.clock });
  }

  /**
   * A new order (created: true), or the same one again for a retry with the same amount,
   * currency and subject. A request nonce given here is claimed with the order, durably together.
   * `payRefusal` (see payRefusal) refuses a new order that is to be paid at once.
   */
  async create(merchant: Merchant, request: NewPayment, nonce?: NonceClaim, payRefusal: Failure | null = null): Promise<Result<{ created: boolean; order: OrderState }>> {
    const now = this.clock.now();
    const id = newId('pay', now);
    const { userId, deviceId, clientIp } = request.details;
    // Risk is asked only for an order that could be created; it reserves the order's counters.
    const risk = payRefusal ? null : await this.deps.risk.assessCreate({
      orderId: id, merchantId: merchant.id, amount: request.amount, currency: request.currency, userId, deviceId, clientIp, at: now,
    });
    const refusal = payRefusal ?? (risk && !risk.ok ? riskRefusal(risk.rules) : null);
    // A retry of an order that exists opens nothing new: only new orders are refused.
    if (refusal && !(await this.store.findOrderByMerchantOrderNo(merchant.id, request.merchantOrderNo))) return refusal;
    const assessed = risk?.ok ? risk : null;
    const result = await this.engine.create({
      id, merchantId: merchant.id, merchantOrderNo: request.merchantOrderNo, amount: request.amount,
      currency: request.currency, subject: request.subject, expiresAt: now + request.expireSeconds * 1000, createdAt: now,
      details: { ...request.details, notifyUrl: request.details.notifyUrl ?? merchant.notifyUrl }, ...this.options,
      risk: assessed?.verdict, riskHolds: assessed?.holds,
    }, nonce);
    if (result.outcome !== 'created') await assessed?.cancel();
    if (result.outcome === 'replayed') return fail('replayed_request', 'this nonce was used before');
    if (result.outcome === 'created') {
      if (assessed) await this.deps.risk.flagged(id, assessed.verdict, undefined);
      return { ok: true, created: true, order: result.order };
    }
    const existing = result.order.context;
    const same = existing.merchantId === merchant.id && existing.amount === request.amount && existing.currency === request.currency && existing.subject === request.subject;
    if (!same) return fail('order_conflict', `merchant_order_no ${request.merchantOrderNo} exists with a different amount, currency or subject`, 'merchant_order_no');
    return { ok: true, created: false, order: result.order };
  }

  async get(merchant: Merchant, paymentId: string): Promise<Result<{ order: OrderState }>> {
    const order = await this.engine.load(paymentId);
    if (!order || order.context.merchantId !== merchant.id) return fail('not_found', `no payment ${paymentId}`);
    return { ok: true, order };
  }

  async getByMerchantOrderNo(merchant: Merchant, merchantOrderNo: string): Promise<Result<{ order: OrderState }>> {
    const row = await this.store.findOrderByMerchantOrderNo(merchant.id, merchantOrderNo);
    return row ? this.get(merchant, row.id) : fail('not_found', `no payment with merchant_order_no ${merchantOrderNo}`);
  }

  /**
   * Why this method cannot pay this much now, or null: checked before creating an order that is
   * paid at once, so a create that cannot be paid as asked leaves nothing behind.
   */
  async payRefusal(merchant: Merchant, method: string, currency: Currency, amount: number, userId: string | null = null): Promise<Failure | null> {
    if (method === balanceMethod) return methodRefusal(merchant, [method]) ?? balanceRefusal(userId) ?? (await this.shortBalance(merchant, userId!, amount));
    return methodRefusal(merchant, [method])
      ?? ((await this.deps.router.shownMethods([method], currency, amount)).length > 0 ? null : noChannel([method], currency));
  }

  /**
   * The payer's balance does not cover the amount now. Only a pre-check, so that a create that
   * cannot be paid leaves no order behind: the freeze itself decides, under concurrency too.
   */
  private async shortBalance(merchant: Merchant, userId: string, amount: number): Promise<Failure | null> {
    const { available } = await this.balances.account(merchant.id, userId);
    return available < amount ? fail('insufficient_balance', "the payer's available balance does not cover the amount", 'amount') : null;
  }

  /**
   * Starts paying: picks a channel per part, starts the attempt through the order's actor, and
   * runs its prepay in this request so the answer can carry what the payer is shown. The same
   * single method again while its flow waits for the payer answers that flow again instead of
   * starting another (a refreshed cashier page must not open a new trade each time).
   */
  async pay(merchant: Merchant, paymentId: string, parts: PayPartRequest[], riskAssessedAtCreate = false): Promise<Result<{ order: OrderState; flow: Flow }>> {
    const found = await this.get(merchant, paymentId);
    if (!found.ok) return found;
    const { context, row } = found.order;
    if (row.status !== 'created' && row.status !== 'paying') return fail('invalid_state', `a ${row.status} payment cannot be paid`);
    const refused = methodRefusal(merchant, parts.map((p) => p.method));
    if (refused) return refused;
    const waiting = parts.length === 1 ? waitingFlow(context, parts[0]!.method) : undefined;
    if (waiting) return { ok: true, order: found.order, flow: waiting };
    const now = this.clock.now();
    const flowIds = parts.map(() => newId('flw', now));
    // The machine's own check, asked before any channel is looked for, so the answer can say why.
    const partsRefusal = payPartsRefusal(checkPayParts(context, parts.map((p, i) => ({ ...p, flowId: flowIds[i]!, channel: '' }))));
    if (partsRefusal) return partsRefusal;
    const payerRefusal = parts.some((p) => p.method === balanceMethod) ? balanceRefusal(context.details.userId) : null;
    if (payerRefusal) return payerRefusal;
    // A create that pays at once was just assessed with the same facts: one decision per request.
    const risk = riskAssessedAtCreate ? null : await this.deps.risk.assessPay(context, now);
    if (risk && !risk.ok) return riskRefusal(risk.rules);

    return this.payRouted(merchant, paymentId, parts, context.currency, risk && { verdict: risk.verdict, before: context.risk });
  }

  /**
   * Routes the parts, starts the attempt through the order's actor and runs its prepay in this
   * request; when the prepay fails, tries the next routable channel with new flows (failover.ts),
   * at most channels_per_pay_max channels. The routing decision rides on the pay event, so the
   * order's timeline shows it.
   */
  private async payRouted(
    merchant: Merchant, paymentId: string, parts: PayPartRequest[], currency: Currency, risk: { verdict: RiskVerdict; before: PaymentContext['risk'] } | null,
  ): Promise<Result<{ order: OrderState; flow: Flow }>> {
    const tried: string[] = [];
    let last: (PrepayFailure & { flowId: string }) | null = null;
    for (let round = 0; round < channels_per_pay_max; round++) {
      // Balance parts go to the ledger; only the external part is routed.
      const decisions = await Promise.all(parts.map((p) => (p.method === balanceMethod ? null : this.deps.router.decide({ ...p, currency }, merchant.routing, tried))));
      const unserved = parts.filter((_, i) => decisions[i]?.order.length === 0).map((p) => p.method);
      if (unserved.length > 0) return last ? exhausted(last, unserved, currency) : noChannel(unserved, currency);
      const now = this.clock.now();
      const payParts = parts.map((p, i) => ({ flowId: newId('flw', now), method: p.method, channel: decisions[i]?.order[0] ?? balance_channel, amount: p.amount }));
      // What the payer is shown, and what failover is about, is the external part; a balance-only attempt has none.
      const lead = Math.max(0, decisions.findIndex((d) => d !== null));
      const failoverFrom = last && { channel: tried.at(-1)!, flow_id: last.flowId, reason: last.reason };
      const note = decisions[lead]?.note;
      const routing: RoutingNote | undefined = note && { ...note, chosen: payParts[lead]!.channel, ...(failoverFrom ? { failover_from: failoverFrom } : {}) };
      if (failoverFrom) this.deps.onFailover?.(failoverFrom.channel);

      // The risk decision rides on the first attempt only: one decision per request.
      const verdict = round === 0 ? risk?.verdict : undefined;
      const result = await this.engine.dispatch(paymentId, { type: 'pay.start', at: now, parts: payParts, routing, ...(verdict ? { risk: verdict } : {}) });
      if (result.outcome === 'not_found') return fail('not_found', `no payment ${paymentId}`);
      if (result.outcome === 'rejected') return fail('invalid_state', `a ${result.order.row.status} payment cannot be paid now`);
      if (result.outcome === 'refused') return fail('insufficient_balance', "the balance part is more than the payer's available balance", 'parts');
      if (risk && round === 0) await this.deps.risk.flagged(paymentId, risk.verdict, risk.before);
      const prepays = result.outbox.filter((r) => r.kind === 'channel.prepay');
      const failures = await this.deps.runner.runNow(prepays);

      const after = await this.engine.load(paymentId);
      const flow = after?.context.flows.find((f) => f.id === payParts[lead]!.flowId);
      if (!after || !flow) throw new Error('assertion failed: an applied pay.start added its flows');
      const row = prepays.find((r) => (r.payload as { flowId?: unknown }).flowId === flow.id);
      const failed = prepayFailure(flow, row && failures.get(row.id));
      if (!failed) return { ok: true, order: after, flow };
      if (failed.kind === 'not_accepted') await this.engine.dispatch(paymentId, { type: 'flow.report', at: this.clock.now(), flowId: flow.id, status: 'failed', source: 'prepay' });
      if (!movesOn(failed)) return exhausted(failed, parts.map((p) => p.method), currency);
      tried.push(flow.channel);
      last = { ...failed, flowId: flow.id };
    }
    return exhausted(last!, parts.map((p) => p.method), currency);
  }

  /**
   * A create with `method` that arrived again (a retry) pays only where the first one stopped:
   * the order has no attempt yet, or that method's flow still waits for the payer (answered
   * again). Otherwise the order is answered as it is (flow null): a retry never pays a paid order
   * again, nor switches away from a method the payer chose since at the cashier.
   */
  async payOnRetry(merchant: Merchant, order: OrderState, method: string): Promise<Result<{ order: OrderState; flow: Flow | null }>> {
    if (order.row.status !== 'created' && !waitingFlow(order.context, method)) return { ok: true, order, flow: null };
    return this.pay(merchant, order.context.id, [{ method, amount: order.context.amount }]);
  }

  /** Closes an unpaid order; asking again while it closes, or once it is closed, answers the same. */
  async close(merchant: Merchant, paymentId: string): Promise<Result<{ order: OrderState }>> {
    const found = await this.get(merchant, paymentId);
    if (!found.ok) return found;
    const result = await this.engine.dispatch(paymentId, { type: 'close.request', at: this.clock.now(), reason: 'merchant' });
    if (result.outcome === 'not_found') return fail('not_found', `no payment ${paymentId}`);
    const order = result.order;
    const closingOrClosed = order.row.status === 'closed' || (order.row.status === 'paying' && order.context.closeReason !== null);
    if (result.outcome === 'applied' || closingOrClosed) return { ok: true, order };
    return fail('invalid_state', `a ${order.row.status} payment cannot be closed`);
  }

  /** A merchant refund, idempotent by refund_no: the same number and amount is the same refund. */
  async refund(merchant: Merchant, paymentId: string, request: { refundNo: string; amount: number; reason: string | null }): Promise<Result<{ created: boolean; order: OrderState; refund: Refund }>> {
    const found = await this.get(merchant, paymentId);
    if (!found.ok) return found;
    const refundRequest = { ...request, refundId: newId('rfd', this.clock.now()) };
    const verdict = decideRefund(found.order, refundRequest);
    if (verdict) return verdict;
    const result = await this.engine.dispatch(paymentId, { type: 'refund.request', at: this.clock.now(), ...refundRequest });
    if (result.outcome === 'not_found') return fail('not_found', `no payment ${paymentId}`);
    if (result.outcome === 'rejected') return decideRefund(result.order, refundRequest) ?? fail('invalid_state', 'the payment changed; try again');
    const refund = result.order.context.refunds.find((r) => r.id === refundRequest.refundId);
    if (!refund) throw new Error('assertion failed: an applied refund request added its refund');
    return { ok: true, created: true, order: result.order, refund };
  }

  async getRefund(merchant: Merchant, refundId: string): Promise<Result<{ order: OrderState; refund: Refund }>> {
    const row = await this.store.findRefund(refundId);
    if (!row || row.automatic) return fail('not_found', `no refund ${refundId}`);
    const found = await this.get(merchant, row.orderId);
    if (!found.ok) return fail('not_found', `no refund ${refundId}`);
    const refund = found.order.context.refunds.find((r) => r.id === refundId);
    return refund ? { ok: true, order: found.order, refund } : fail('not_found', `no refund ${refundId}`);
  }

  /** The merchant's own refunds of a payment (automatic refunds of extra money are paycenter's, shown on flows). */
  async listRefunds(merchant: Merchant, paymentId: string): Promise<Result<{ order: OrderState; refunds: Refund[] }>> {
    const found = await this.get(merchant, paymentId);
    if (!found.ok) return found;
    return { ok: true, order: found.order, refunds: found.order.context.refunds.filter((r) => !r.automatic) };
  }

  events(merchant: Merchant, afterId: string | null, limit: number): Promise<MerchantEventRow[]> {
    return this.store.listMerchantEventsAfter(merchant.id, afterId, limit);
  }
}

/** The answer for a refund request the order cannot take as new, or null when it can. */
function decideRefund(order: OrderState, request: Parameters<typeof checkRefund>[1]): Result<{ created: boolean; order: OrderState; refund: Refund }> | null {
  const decision = checkRefund(order.context, request);
  if (decision.ok) return null;
  switch (decision.error) {
    case 'already_requested':
      return { ok: true, created: false, order, refund: decision.refund };
    case 'order_conflict':
      return fail('order_conflict', `refund_no ${request.refundNo} exists with a different amount`, 'refund_no');
    case 'refund_exceeds_paid':
      return fail('refund_exceeds_paid', 'the refunds would exceed what was paid', 'amount');
    case 'invalid_amount':
      return fail('invalid_amount', 'amount must be greater than zero', 'amount');
    case 'invalid_state':
      return fail('invalid_state', `a ${order.row.status} payment cannot be refunded`);
  }
}
