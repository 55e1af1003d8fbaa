/**
 * What merchants can do to payments, as values: create, read, close, refund. Every change
 * goes through the order's actor (engine.create / engine.dispatch); this module makes the
 * ids, reads the clock, scopes everything to the asking merchant, and names each outcome.
 */
import type { EffectRunner } from '../../actors/effect-runner.ts';
import type { Engine, OrderState } from '../../actors/engine.ts';
import type { PaymentEvent } from '../../machines/payment.rules.ts';
import { type Flow, type OrderDetails, balanceMethod, type PayStartDecision, type PaymentContext, type RefundDecision, type RiskVerdict, checkRefund, decidePayStart, flows_per_order_max, refunds_per_order_max } from '../../machines/payment.model.ts';
import type { ChannelRegistry } from '../channels/registry.ts';
import { Balances, balance_currency, balancePays, isPayerId, payer_id_rule } from '../balance/balances.ts';
import { balance_channel } from '../balance/order-entries.ts';
import type { Clock } from '../clock.ts';
import type { ErrorCode } from '../http/errors.ts';
import { newId } from '../ids.ts';
import { isOverload } from '../failures.ts';
import type { Merchant } from '../merchants/directory.ts';
import type { RefundDetail } from './view.ts';
import type { Currency } from '../money.ts';
import type { RiskCenter } from '../risk/center.ts';
import { type PrepayFailure, channels_per_pay_max, movesOn, prepayFailure } from '../routing/failover.ts';
import { type FailoverFrom, type Router, routingNotes } from '../routing/router.ts';
import type { MerchantEventRow, OutboxRow, Store } from '../store/store.ts';
import type { RidingNonce } from '../http/nonces.ts';

export type Failure = { ok: false; error: ErrorCode; message: string; field?: string };
export type Result<T> = ({ ok: true } & T) | Failure;

const fail = (error: ErrorCode, message: string, field?: string): Failure => ({ ok: false, error, message, field });

function methodRefusal(merchant: Merchant, methods: string[]): Failure | null {
  const refused = methods.find((m) => !merchant.methods.includes(m));
  return refused ? fail('unsupported_method', `method ${refused} is not enabled for this merchant`, 'method') : null;
}

/** API.md: paying from a balance needs the order's payer, and balances are in CNY. */
function balanceRefusal(userId: string | null, currency: Currency): Failure | null {
  if (userId === null) return fail('invalid_request', 'paying with balance needs an order with user_id', 'user_id');
  // Any user_id is an order's; a balance is only a payer's whose id its routes can name.
  if (!isPayerId(userId)) return fail('invalid_request', `paying with balance needs a user_id of ${payer_id_rule}`, 'user_id');
  return balancePays(currency) ? null : fail('unsupported_method', `balances are in ${balance_currency}; this payment is in ${currency}`, 'method');
}
/** The order, when it is this merchant's: another merchant's payment is not found, as one that does not exist. */
const ownedBy = (merchant: Merchant, paymentId: string, order: OrderState | null): Result<{ order: OrderState }> =>
  order && order.context.merchantId === merchant.id ? { ok: true, order } : fail('not_found', `no payment ${paymentId}`);

const riskRefusal = (rules: string[]): Failure => fail('risk_rejected', `refused by risk rules: ${rules.join(', ')}`);
const replayedRequest = (): Failure => fail('replayed_request', 'this nonce was used before');
const markSpent = (nonce: RidingNonce | undefined): void => {
  if (nonce) nonce.spent = true;
};

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

/** Why the order's machine refuses a pay request, as the API answers it. */
function payRefusal(error: Exclude<PayStartDecision, { kind: 'start' | 'join' }>['error'], status: string): Failure {
  switch (error) {
    case 'amount_mismatch': return fail('amount_mismatch', 'parts must add up to the order amount', 'parts');
    case 'invalid_parts': return fail('invalid_request', 'parts must be positive and at most one may be an external channel', 'parts');
    case 'too_many_flows': return fail('invalid_state', `this payment has had ${flows_per_order_max} payment attempts; create a new one`);
    case 'nothing_to_join': return fail('invalid_state', `a ${status} payment cannot be paid now`);
    case 'expired': return fail('invalid_state', 'this payment has expired: its time to pay is over');
  }
}

const replaced = (): Failure => fail('invalid_state', 'a later pay request replaced this one before the channel answered; pay again');

/** A joined attempt's channels per part: a join keeps the channels its attempt was routed to. */
const attemptChannels = (ctx: PaymentContext, attemptId: string, parts: PayPartRequest[]): (string | null)[] =>
  parts.map((p) => ctx.flows.find((f) => f.attemptId === attemptId && f.method === p.method)?.channel ?? null);

/**
 * How long a pay request waits for the outcome of a prepay that another runner executes (another
 * request's that this one joined, another instance's), in ms: a channel call's timeout and then
 * some. Polled every prepay_poll_interval_ms; a request that runs its own prepay knows at once.
 */
export const prepay_wait_ms = 12_000;
export const prepay_poll_interval_ms = 50;

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
   * currency and subject. A request nonce given here is claimed with the create's first durable
   * step (RidingNonce): its risk reservation or its order's write, and marked spent.
   * `payAtOnce` is given for a create that names a method and is paid right after: its `refusal`
   * (see payRefusal) refuses a new order that cannot be paid as asked.
   */
  async create(merchant: Merchant, request: NewPayment, nonce?: RidingNonce, payAtOnce: { refusal: Failure | null } | null = null): Promise<Result<{ created: boolean; order: OrderState }>> {
    const payRefusal = payAtOnce?.refusal ?? null;
    const now = this.clock.now();
    const id = newId('pay', now);
    const { userId, deviceId, clientIp } = request.details;
    const rides = nonce?.rides;
    const withReservation = rides?.with === 'risk_reservation' ? rides.nonce : undefined;
    // Risk is asked only for an order that could be created; it reserves the order's counters.
    const risk = payRefusal ? null : await this.deps.risk.assessCreate({
      orderId: id, merchantId: merchant.id, amount: request.amount, currency: request.currency, userId, deviceId, clientIp, at: now,
    }, withReservation);
    if (risk && 'replayed' in risk) {
      markSpent(nonce);
      return replayedRequest();
    }
    if (risk?.nonceClaimed) markSpent(nonce);
    const refusal = payRefusal ?? (risk && !risk.ok ? riskRefusal(risk.rules) : null);
    // A retry of an order that exists opens nothing new: only new orders are refused.
    if (refusal && !(await this.store.findOrderByMerchantOrderNo(merchant.id, request.merchantOrderNo))) return refusal;
    const assessed = risk?.ok ? risk : null;
    // A nonce that was to ride a reservation that did not happen (no rule counts this order) is claimed before the write.
    if (nonce && withReservation && !nonce.spent) {
      markSpent(nonce);
      if (!(await nonce.claim())) return replayedRequest();
    }
    const withWrite = rides?.with === 'order_write' ? rides.claim : undefined;
    const result = await this.engine.create({
      id, merchantId: merchant.id, merchantOrderNo: request.merchantOrderNo, amount: request.amount,
      currency: request.currency, subject: request.subject, expiresAt: now + request.expireSeconds * 1000, createdAt: now,
      details: { ...request.details, notifyUrl: request.details.notifyUrl ?? merchant.notifyUrl }, ...this.options,
      risk: assessed?.verdict, riskHolds: assessed?.holds,
    }, { nonce: withWrite, eventFollows: payAtOnce !== null }).catch(async (error: unknown) => {
      // Refused before its write (the commit queue was full): the counters must not count an order that does not exist.
      // After a store failure the commit's fate is unknown and the holds stay: for risk, counting too much is the safe side.
      if (isOverload(error)) await assessed?.cancel();
      throw error;
    });
    // The write claimed the nonce, or found it used, whatever else comes of it.
    if (withWrite) markSpent(nonce);
    if (result.outcome !== 'created') await assessed?.cancel();
    if (result.outcome === 'replayed') return replayedRequest();
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
    return ownedBy(merchant, paymentId, await this.engine.load(paymentId));
  }

  /**
   * The merchant's order as this process last committed it (engine.peek), for what no event
   * changes — its merchant, amount, currency — never for its state: a request that reads only
   * those before its own event skips a read of the order.
   */
  async peek(merchant: Merchant, paymentId: string): Promise<Result<{ order: OrderState }>> {
    return ownedBy(merchant, paymentId, await this.engine.peek(paymentId));
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
    if (method === balanceMethod) return methodRefusal(merchant, [method]) ?? balanceRefusal(userId, currency) ?? (await this.shortBalance(merchant, userId!, amount));
    return methodRefusal(merchant, [method])
      ?? ((await this.deps.router.routableMethods([method], currency, amount)).length > 0 ? null : noChannel([method], currency));
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
   * Starts paying: the order's actor decides whether this request joins the attempt already
   * waiting for the payer the same way (a refreshed cashier page, a retry, identical requests at
   * once: one trade at the channel) or starts a new one, routed per part with failover. The
   * answer carries what the payer is shown, once the flow's prepay has an outcome.
   */
  async pay(merchant: Merchant, paymentId: string, parts: PayPartRequest[], riskAssessedAtCreate = false): Promise<Result<{ order: OrderState; flow: Flow }>> {
    // What startOrJoin reads of the order is a pre-check: the actor decides on the order as it is when the event runs.
    const found = ownedBy(merchant, paymentId, await this.engine.peek(paymentId));
    if (!found.ok) return found;
    const paid = await this.startOrJoin(merchant, found.order, parts, false, riskAssessedAtCreate);
    if (!paid.ok) return paid;
    if (!paid.flow) throw new Error('assertion failed: a pay that may start an attempt answers a flow');
    return { ok: true, order: paid.order, flow: paid.flow };
  }

  /**
   * Pays the order a create with `method` made (`created`) or found again (a retry). Identical
   * creates racing each other pay once, and whichever pay loses finds the order paid already (a
   * balance payment settles in its own event) or closed: it is answered with the order as it is,
   * flow null — never `409` for what its twin did.
   */
  async payCreated(merchant: Merchant, order: OrderState, method: string, created: boolean): Promise<Result<{ order: OrderState; flow: Flow | null }>> {
    const paid = created
      ? await this.pay(merchant, order.context.id, [{ method, amount: order.context.amount }], true)
      : await this.payOnRetry(merchant, order, method);
    if (paid.ok || paid.error !== 'invalid_state') return paid;
    const now = await this.engine.peek(order.context.id);
    return now && now.row.status !== 'created' && now.row.status !== 'paying' ? { ok: true, order: now, flow: null } : paid;
  }

  /**
   * A create with `method` that arrived again (a retry) pays only where the first one stopped:
   * the order has no attempt under way, or that method's flow still waits for the payer (joined
   * and answered again). Otherwise the order is answered as it is (flow null): a retry never pays
   * a paid order again, nor switches away from a method the payer chose since at the cashier.
   */
  private async payOnRetry(merchant: Merchant, order: OrderState, method: string): Promise<Result<{ order: OrderState; flow: Flow | null }>> {
    if (order.row.status !== 'created' && order.row.status !== 'paying') return { ok: true, order, flow: null };
    return this.startOrJoin(merchant, order, [{ method, amount: order.context.amount }], order.row.status === 'paying');
  }

  private async startOrJoin(merchant: Merchant, order: OrderState, parts: PayPartRequest[], rejoinOnly: boolean, riskAssessedAtCreate = false): Promise<Result<{ order: OrderState; flow: Flow | null }>> {
    const { context, row } = order;
    if (row.status !== 'created' && row.status !== 'paying') return fail('invalid_state', `a ${row.status} payment cannot be paid`);
    const refused = methodRefusal(merchant, parts.map((p) => p.method));
    if (refused) return refused;
    // Asked of the order as read, so that a refusal can say why before any channel is looked
    // for; the actor decides again on the order as it is when the event runs.
    const now = this.clock.now();
    const expected = decidePayStart(context, { at: now, parts: parts.map((p) => ({ ...p, flowId: newId('flw', now), channel: '' })), rejoinOnly });
    if (expected.kind === 'refused') return expected.error === 'nothing_to_join' ? { ok: true, order, flow: null } : payRefusal(expected.error, row.status);
    const payerRefusal = parts.some((p) => p.method === balanceMethod) ? balanceRefusal(context.details.userId, context.currency) : null;
    if (payerRefusal) return payerRefusal;
    if (expected.kind === 'start') {
      // A create that pays at once was just assessed with the same facts: one decision per request.
      // Joining an attempt opens nothing new, so only a new attempt is assessed.
      const risk = riskAssessedAtCreate ? null : await this.deps.risk.assessPay(context, now);
      if (risk && !risk.ok) return riskRefusal(risk.rules);
      return this.payRouted(merchant, context.id, parts, context.currency, rejoinOnly, risk && { verdict: risk.verdict, before: context.risk });
    }
    // A join keeps the channels its attempt was routed to; should the attempt be gone by the time
    // the event runs, the actor starts one on them and this request runs its prepay.
    const channels = attemptChannels(context, expected.flow.attemptId, parts);
    const payParts = parts.map((p, i) => ({ flowId: newId('flw', now), method: p.method, channel: channels[i] ?? '', amount: p.amount }));
    const started = await this.startAttempt(context.id, { type: 'pay.start', at: now, parts: payParts, rejoinOnly });
    return 'answer' in started ? started.answer : this.answerPay(context.id, started.flowId, started.prepays);
  }

  /**
   * Sends pay.start to the order's actor: the flow that answers the request and the prepay rows
   * this request is to run (none when it joined the attempt already waiting), or the answer.
   */
  private async startAttempt(paymentId: string, event: Extract<PaymentEvent, { type: 'pay.start' }>): Promise<{ flowId: string; prepays: OutboxRow[] } | { answer: Result<{ order: OrderState; flow: Flow | null }> }> {
    const result = await this.engine.dispatch(paymentId, event);
    if (result.outcome === 'not_found') return { answer: fail('not_found', `no payment ${paymentId}`) };
    if (result.outcome === 'refused') return { answer: fail('insufficient_balance', "the balance part is more than the payer's available balance", 'parts') };
    // What the payer is shown comes from the external part; a balance-only attempt has none to show.
    const lead = event.parts.find((p) => p.method !== balanceMethod) ?? event.parts[0]!;
    if (result.outcome === 'applied') return { flowId: lead.flowId, prepays: result.outbox.filter((r) => r.kind === 'channel.prepay') };
    const decided = decidePayStart(result.order.context, event);
    if (decided.kind === 'join') return { flowId: decided.flow.id, prepays: [] };
    if (decided.kind === 'refused' && decided.error === 'nothing_to_join') return { answer: { ok: true, order: result.order, flow: null } };
    const status = result.order.row.status;
    return { answer: decided.kind === 'refused' ? payRefusal(decided.error, status) : fail('invalid_state', `a ${status} payment cannot be paid now`) };
  }

  /**
   * Routes the parts, starts the attempt through the order's actor and runs its prepay in this
   * request; when the prepay fails, tries the next routable channel with new flows (failover.ts),
   * at most channels_per_pay_max channels. The routing decision rides on the pay event, so the
   * order's timeline shows it. A prepay another runner holds is waited for (awaitPrepay).
   */
  private async payRouted(
    merchant: Merchant, paymentId: string, parts: PayPartRequest[], currency: Currency, rejoinOnly: boolean,
    risk: { verdict: RiskVerdict; before: PaymentContext['risk'] } | null,
  ): Promise<Result<{ order: OrderState; flow: Flow | null }>> {
    const tried: string[] = [];
    let last: (PrepayFailure & { flowId: string; method: string }) | null = null;
    for (let round = 0; round < channels_per_pay_max; round++) {
      // Balance parts go to the ledger; only the external part is routed.
      const decisions = await Promise.all(parts.map((p) => (p.method === balanceMethod ? null : this.deps.router.decide({ ...p, currency }, merchant.routing, tried))));
      const unserved = parts.filter((_, i) => decisions[i]?.order.length === 0).map((p) => p.method);
      if (unserved.length > 0) return last ? exhausted(last, unserved, currency) : noChannel(unserved, currency);
      const now = this.clock.now();
      const payParts = parts.map((p, i) => ({ flowId: newId('flw', now), method: p.method, channel: decisions[i]?.order[0] ?? balance_channel, amount: p.amount }));
      const failoverFrom: FailoverFrom | null = last && { method: last.method, channel: tried.at(-1)!, flow_id: last.flowId, reason: last.reason };
      // One note a routed part; a balance-only attempt has none.
      const notes = routingNotes(payParts, decisions, failoverFrom);
      const routing = notes.length > 0 ? notes : undefined;
      if (failoverFrom) this.deps.onFailover?.(failoverFrom.channel);

      const replaces = last ? { replaces: last.flowId } : {};
      // The risk decision rides on the first attempt only: one decision per request.
      const verdict = round === 0 ? risk?.verdict : undefined;
      const started = await this.startAttempt(paymentId, { type: 'pay.start', at: now, parts: payParts, routing, rejoinOnly, ...replaces, ...(verdict ? { risk: verdict } : {}) });
      if ('answer' in started) return started.answer;
      // Joined the attempt already waiting: its prepay is another request's, and so is its failover.
      if (started.prepays.length === 0) return this.answerPay(paymentId, started.flowId, []);
      if (risk && round === 0) await this.deps.risk.flagged(paymentId, risk.verdict, risk.before);
      const failures = await this.deps.runner.runNow(started.prepays);
      const row = started.prepays.find((r) => (r.payload as { flowId?: unknown }).flowId === started.flowId);
      const { order: after, flow } = await this.awaitPrepay(paymentId, started.flowId, row !== undefined && failures.has(row.id));
      // Another pay request replaced this attempt meanwhile: the provider answered, nothing is down.
      if (!flow.prepared && flow.status === 'closed') return replaced();
      const failed = prepayFailure(flow, row && failures.get(row.id));
      if (!failed) return { ok: true, order: after, flow };
      if (failed.kind === 'not_accepted') await this.engine.dispatch(paymentId, { type: 'flow.report', at: this.clock.now(), flowId: flow.id, status: 'failed', source: 'prepay' });
      if (!movesOn(failed)) return exhausted(failed, parts.map((p) => p.method), currency);
      tried.push(flow.channel);
      last = { ...failed, flowId: flow.id, method: flow.method };
    }
    // Out of tries, not of channels: more may serve the method (no_channel_available is for none left).
    if (last!.kind === 'not_accepted') return fail('unavailable', `${channels_per_pay_max} channels failed this pay (the last: ${last!.reason}); retry the request`);
    return exhausted(last!, parts.map((p) => p.method), currency);
  }

  /**
   * The answer to a pay once the flow's prepay has an outcome, whoever executes it: this request
   * runs its own rows at once; a prepay another runner holds (the request this one joined, another
   * instance's runner) is waited for. 503 only when the channel really did not answer.
   */
  private async answerPay(orderId: string, flowId: string, own: OutboxRow[]): Promise<Result<{ order: OrderState; flow: Flow }>> {
    const ranHere = own.length > 0 && (await this.deps.runner.runNow(own)).size === own.length;
    const { order, flow } = await this.awaitPrepay(orderId, flowId, ranHere);
    if (flow.status === 'failed') return fail('channel_error', `channel ${flow.channel} refused the payment; nothing was charged`);
    if (flow.prepared || flow.status === 'succeeded') return { ok: true, order, flow };
    if (flow.status !== 'pending') return replaced();
    return fail('unavailable', `channel ${flow.channel} did not answer in time; retry the request`);
  }

  /**
   * The order once the flow's prepay has an outcome (prepared, refused, or the flow ended), or as
   * it is after prepay_wait_ms. `known`: this request executed the prepay itself, so whatever
   * the order shows now is its outcome (a channel that did not answer leaves the flow unprepared).
   */
  private async awaitPrepay(orderId: string, flowId: string, known: boolean): Promise<{ order: OrderState; flow: Flow }> {
    for (let waited = 0; ; waited += prepay_poll_interval_ms) {
      // A prepay run here was dispatched here: this process's last commit of the order has its outcome.
      const order = known ? await this.engine.peek(orderId) : await this.engine.load(orderId);
      const flow = order?.context.flows.find((f) => f.id === flowId);
      if (!order || !flow) throw new Error(`assertion failed: the flow ${flowId} a pay answers is in order ${orderId}`);
      if (known || flow.prepared || flow.status !== 'pending' || waited >= prepay_wait_ms) return { order, flow };
      await Bun.sleep(prepay_poll_interval_ms);
    }
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

  /**
   * A merchant refund, idempotent by refund_no: the same number and amount is the same refund.
   * Finished refunds live in their rows, so the number is looked for there first, and the order's
   * actor refuses (`stale`) a request that did not see every refund it has; looking again then
   * sees one more, so this ends within refunds_per_order_max rounds.
   */
  async refund(merchant: Merchant, paymentId: string, request: { refundNo: string; amount: number; reason: string | null }): Promise<Result<{ created: boolean; order: OrderState; refund: RefundDetail }>> {
    const found = await this.get(merchant, paymentId);
    if (!found.ok) return found;
    const refundId = newId('rfd', this.clock.now());
    for (let round = 0; round <= refunds_per_order_max; round++) {
      const seen = (await this.store.listRefunds(paymentId)).filter((r) => !r.automatic);
      const known = seen.find((r) => r.refundNo === request.refundNo);
      if (known) return sameRefund(found.order, known, request.amount);
      const event = { type: 'refund.request' as const, at: this.clock.now(), ...request, refundId, refundsSeen: seen.length };
      const result = await this.engine.dispatch(paymentId, event);
      if (result.outcome === 'not_found') return fail('not_found', `no payment ${paymentId}`);
      if (result.outcome === 'applied') {
        const refund = result.order.context.refunds.find((r) => r.id === refundId);
        if (!refund) throw new Error('assertion failed: an applied refund request added its refund');
        return { ok: true, created: true, order: result.order, refund };
      }
      const decision = checkRefund(result.order.context, event);
      if (decision.ok || decision.error !== 'stale') return refundRefusal(result.order, decision, request);
    }
    throw new Error(`assertion failed: a refund of ${paymentId} was stale more often than an order takes refunds`);
  }

  async getRefund(merchant: Merchant, refundId: string): Promise<Result<{ order: OrderState; refund: RefundDetail }>> {
    const row = await this.store.findRefund(refundId);
    if (!row || row.automatic) return fail('not_found', `no refund ${refundId}`);
    const found = await this.get(merchant, row.orderId);
    return found.ok ? { ok: true, order: found.order, refund: row } : fail('not_found', `no refund ${refundId}`);
  }

  /** The merchant's own refunds of a payment, from their rows (automatic refunds of extra money are paycenter's, shown on flows). */
  async listRefunds(merchant: Merchant, paymentId: string): Promise<Result<{ order: OrderState; refunds: RefundDetail[] }>> {
    const found = await this.get(merchant, paymentId);
    if (!found.ok) return found;
    const rows = await this.store.listRefunds(paymentId);
    return { ok: true, order: found.order, refunds: rows.filter((r) => !r.automatic).sort((a, b) => a.createdAt - b.createdAt) };
  }

  /** The merchant's events after `afterId`, in the order they became visible; null when it names none of theirs. */
  events(merchant: Merchant, afterId: string | null, limit: number): Promise<MerchantEventRow[] | null> {
    return this.store.listMerchantEventsAfter(merchant.id, afterId, limit);
  }
}

/** A refund_no already used: the same refund when the amount is the same, a conflict otherwise. */
function sameRefund(order: OrderState, refund: RefundDetail, amount: number): Result<{ created: boolean; order: OrderState; refund: RefundDetail }> {
  return refund.amount === amount
    ? { ok: true, created: false, order, refund }
    : fail('order_conflict', `refund_no ${refund.refundNo} exists with a different amount`, 'refund_no');
}

/** The answer for a refund request the order's actor did not take. */
function refundRefusal(order: OrderState, decision: RefundDecision, request: { amount: number }): Result<{ created: boolean; order: OrderState; refund: RefundDetail }> {
  if (decision.ok) return fail('invalid_state', 'the payment changed; try again');
  switch (decision.error) {
    case 'already_requested':
    case 'order_conflict':
      return sameRefund(order, decision.refund, request.amount);
    case 'refund_exceeds_paid':
      return fail('refund_exceeds_paid', 'the refunds would exceed what was paid', 'amount');
    case 'invalid_amount':
      return fail('invalid_amount', 'amount must be greater than zero', 'amount');
    case 'too_many_refunds':
      return fail('invalid_state', `this payment has had ${refunds_per_order_max} refunds, the most one payment takes`);
    case 'invalid_state':
    case 'stale':
      return fail('invalid_state', `a ${order.row.status} payment cannot be refunded`);
  }
}
