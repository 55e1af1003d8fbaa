/** @jsxImportSource hono/jsx */
/**
 * The cashier (收银台): the page a payer's browser opens from a payment's cashier_url, and the
 * few JSON routes its inline script calls. Every route needs the payment's signed token; a
 * missing or wrong one answers the same 404 as an unknown payment (an HTML page for the page,
 * API.md's error body for the JSON routes), so a link reveals nothing about other payments.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { html } from 'hono/html';
import * as v from 'valibot';
import type { EffectRunner } from '../../actors/effect-runner.ts';
import type { Engine, OrderState } from '../../actors/engine.ts';
import type { Clock } from '../clock.ts';
import { scriptHash } from '../http/edge.ts';
import { cashierCheck, cashierPayment, cashierStatus } from '../http/answers.ts';
import { ApiError } from '../http/errors.ts';
import { describeIn, jsonAnswer, textAnswer } from '../http/openapi.ts';
import { failed } from '../http/routes/merchant.ts';
import { method } from '../http/schemas.ts';
import { jsonBody } from '../http/validate.ts';
import { type Links, paymentWithActionOf } from '../http/views.ts';
import type { Merchant, MerchantDirectory } from '../merchants/directory.ts';
import type { PayPartRequest, Payments } from '../payments/service.ts';
import { methodLabel } from '../channels/plugins.ts';
import type { Router } from '../routing/router.ts';
import { balanceMethod } from '../../machines/payment.model.ts';
import { type Balances, balancePays } from '../balance/balances.ts';
import { WriteOrderedMap } from '../write-ordered-map.ts';
import { NotFoundPage, Page, type PageProps, expiresIn, page_script, qrSvg, viewOf } from './page.tsx';
import { cashierTokenValid } from './token.ts';

export type CashierDeps = {
  payments: Payments;
  engine: Engine;
  merchants: MerchantDirectory;
  runner: EffectRunner;
  clock: Clock;
  links: Links;
  router: Router;
  /** The payers' balances the page offers beside the channels. */
  balances: Balances;
  /** One check per payment per this gap (default 5 s). */
  checkGapMs?: number;
};

/** The page's "check now" button waits the same gap (it is rendered into the page). */
export const default_check_gap_ms = 5_000;
/**
 * One pay per payment per this gap: each switch of method may open a trade at a channel (and
 * close the previous one there), so a link must not be able to do that without pause. A payer
 * who changes their mind takes longer than this to do it. A pay refused before it opened a trade
 * gives its slot back: the payer may at once try another way.
 */
const pay_gap_ms = 3_000;
const gate_entries_max = 10_000;

/** Remembers the last request per payment, in this process only; bounded, dropping stale and then oldest entries. */
class PaymentGate {
  private readonly last = new WriteOrderedMap<string, number>();
  constructor(private readonly gapMs: number, private readonly max: number) {}

  /** null when a request may go now (and records it), else the milliseconds to wait. */
  claim(id: string, now: number): number | null {
    const previous = this.last.get(id);
    if (previous !== undefined && now - previous < this.gapMs) return this.gapMs - (now - previous);
    this.last.set(id, now);
    // The oldest requests are the stale ones: they go first, then any beyond the bound.
    this.last.deleteOldestWhile((at) => this.last.size > this.max || now - at >= this.gapMs);
    return null;
  }

  /** Gives back the slot `claim` recorded at `at`, unless a later request holds it by now. */
  release(id: string, at: number): void {
    if (this.last.get(id) === at) this.last.delete(id);
  }
}

/** Lets the request through `gate`, or refuses it as API.md's 429 with the seconds to wait. */
function passGate(gate: PaymentGate, id: string, now: number, message: string): void {
  const wait = gate.claim(id, now);
  if (wait !== null) throw new ApiError('rate_limited', message, null, { 'retry-after': String(Math.max(1, Math.ceil(wait / 1000))) });
}

/**
 * The pay answer as the payer's browser gets it: the payment object without what the merchant
 * gave paycenter for itself. A notify URL often carries a secret, metadata is the merchant's
 * own, and `risk` holds internal scores and rule codes a payer could tune their tries against.
 */
function payerViewOf<T extends { notify_url: unknown; metadata: unknown; risk: unknown }>(payment: T): Omit<T, 'notify_url' | 'metadata' | 'risk'> {
  const { notify_url, metadata, risk, ...shown } = payment;
  return shown;
}

/** One method for the whole amount, or the payer's balance first and the method for the rest. */
const cashierPay = v.strictObject({ method, use_balance: v.optional(v.boolean(), false) });

/**
 * What the cashier asks to pay: the balance alone when it was picked or covers the amount, the
 * balance first and the method for the rest when it does not, or the method alone.
 */
export function cashierParts(amount: number, method: string, available: number | null): PayPartRequest[] {
  if (method === balanceMethod || (available !== null && available >= amount)) return [{ method: balanceMethod, amount }];
  if (available === null || available === 0) return [{ method, amount }];
  return [{ method: balanceMethod, amount: available }, { method, amount: amount - available }];
}

type Link = { id: string; token: string; order: OrderState; merchant: Merchant };
type CashierEnv = { Variables: { link: Link } };

/** The page's own script only, by its hash: anything injected into the page cannot run. */
const page_csp = `default-src 'none'; style-src 'unsafe-inline'; script-src ${scriptHash(page_script)}; connect-src 'self'; img-src 'self' data:; `
  + "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * A cashier link works until a day after its order's deadline — long enough for a payer to see
 * the outcome, then it expires like the order: the token is bound to the payment, its life to
 * the payment's deadline, so the link a merchant stored never changes.
 */
export const cashier_link_life_after_expiry_ms = 24 * 3_600_000;

export function cashierRoutes(deps: CashierDeps): Hono<CashierEnv> {
  const app = new Hono<CashierEnv>();
  const checkGapMs = deps.checkGapMs ?? default_check_gap_ms;
  mountPage(app, deps, checkGapMs);
  mountPayerCalls(app, deps, { pay: new PaymentGate(pay_gap_ms, gate_entries_max), check: new PaymentGate(checkGapMs, gate_entries_max) });
  return app;
}

/**
 * What of the payer's balance this order can pay with, or null when it cannot pay from one (no
 * payer named, the method not enabled, an order not in the balances' currency): the account's
 * available amount and what this order's waiting attempt froze already — paying again, or
 * another way, releases that freeze in the same commit that makes the new one.
 */
async function offeredBalance(deps: CashierDeps, { order, merchant }: Pick<Link, 'order' | 'merchant'>): Promise<number | null> {
  const { userId } = order.context.details;
  if (userId === null || !merchant.methods.includes(balanceMethod) || !balancePays(order.context.currency)) return null;
  const frozenHere = order.context.flows.filter((f) => f.method === balanceMethod && f.status === 'pending').reduce((sum, f) => sum + f.amount, 0);
  return (await deps.balances.account(merchant.id, userId)).available + frozenHere;
}

/**
 * Whether the order has a flow it did not have as `before`: a refused pay that added none (short
 * balance, risk, no channel, the order's state) opened nothing at any channel, so it need not
 * hold the pay gate; one that tried a channel and failed there did open a trade.
 */
async function addedFlow(deps: CashierDeps, before: OrderState): Promise<boolean> {
  const now = await deps.engine.load(before.context.id);
  return (now?.context.flows.length ?? 0) > before.context.flows.length;
}

/** The order and its merchant when the token is this payment's, else null (→ 404). */
async function authorized(deps: CashierDeps, c: Context): Promise<Link | null> {
  const id = c.req.param('id');
  const token = c.req.query('t');
  if (!id || !token || !cashierTokenValid(deps.links.secretKey, id, token)) return null;
  const order = await deps.engine.load(id);
  if (!order || deps.clock.now() > order.context.expiresAt + cashier_link_life_after_expiry_ms) return null;
  const merchant = await deps.merchants.find(order.context.merchantId);
  return merchant ? { id, token, order, merchant } : null;
}

/** The cashier's methods that some channel can serve now (routing.ts: health, never a channel call). */
const shownOf = (deps: CashierDeps, { merchant, order }: Link) =>
  deps.router.shownMethods(merchant.methods.filter((m) => methodLabel(m) !== null), order.context.currency, order.context.amount);

const noStore = (c: Context) => {
  c.header('cache-control', 'no-store');
  c.header('x-robots-tag', 'noindex');
};

const htmlPage = (c: Context, page: ReturnType<typeof Page>, status: 200 | 404) => {
  noStore(c);
  c.header('content-security-policy', page_csp);
  return c.html(html`<!DOCTYPE html>${page}`, status);
};

/** The payer's page: the trade already started, or the methods offered now; a page saying 404 for a wrong link. */
function mountPage(app: Hono<CashierEnv>, deps: CashierDeps, checkGapMs: number): void {
  app.get('/:id', describeIn('cashier', {
    summary: 'The cashier page: time left, amount, order, the methods offered now, a QR code or redirect, and a "check now" button',
    responses: { 200: textAnswer('text/html', 'The page.'), 404: textAnswer('text/html', 'A page saying the payment is unknown, or the link wrong or expired.') },
  }), async (c) => {
    const found = await authorized(deps, c);
    if (!found) return htmlPage(c, <NotFoundPage />, 404);
    const { order } = found;
    const left = expiresIn(order, deps.clock.now());
    const view = viewOf(order.row.status, left);
    let current: PageProps['current'] = null;
    if (view === 'pay' && order.context.closeReason === null) {
      // A refreshed page shows the trade the payer already started instead of opening another.
      const flow = [...order.context.flows].reverse().find((f) => f.status === 'pending' && f.prepared && f.action);
      if (flow) current = { flow, svg: flow.action?.type === 'qr_code' && flow.action.qrCode ? await qrSvg(flow.action.qrCode) : null };
    }
    const balance = view === 'pay' ? await offeredBalance(deps, found) : null;
    const shown = await shownOf(deps, found);
    return htmlPage(c, <Page {...found} view={view} expiresInSeconds={left} current={current} shown={shown} checkGapMs={checkGapMs} balance={balance} />, 200);
  });
}

/** The JSON routes the page's script calls: status, pay and check, each behind the link's token. */
function mountPayerCalls(app: Hono<CashierEnv>, deps: CashierDeps, gates: { pay: PaymentGate; check: PaymentGate }): void {
  /** The link's payment in `link`, or API.md's 404. */
  const linked = createMiddleware<CashierEnv>(async (c, next) => {
    // First: the 404 below is an answer about this link too, and must not be cached either.
    noStore(c);
    const found = await authorized(deps, c);
    if (!found) throw new ApiError('not_found', 'no such payment, or the link is wrong or expired');
    c.set('link', found);
    await next();
  });

  app.get('/:id/status', describeIn('cashier', {
    summary: 'The payment’s status, seconds left and the methods offered now, from paycenter’s own records', responses: { 200: jsonAnswer(cashierStatus, 'The status.') },
  }), linked, async (c) => {
    const link = c.get('link');
    return c.json({ status: link.order.row.status, expires_in: expiresIn(link.order, deps.clock.now()), methods: await shownOf(deps, link) });
  });

  /** As /v1/payments/{id}/pay (API.md): the payment object as the payer sees it and its `action`, plus the QR drawn as SVG for the page. */
  app.post('/:id/pay', describeIn('cashier', {
    summary: 'Start paying with one method (use_balance: the payer\'s balance first), as /v1/payments/{id}/pay',
    responses: { 200: jsonAnswer(cashierPayment, 'The payment as the payer sees it, and the action.') }, errors: [400, 403, 409, 422, 429, 502],
  }), linked, jsonBody(cashierPay), async (c) => {
    const { id, order, merchant } = c.get('link');
    const { method, use_balance } = c.req.valid('json');
    const available = method === balanceMethod || use_balance ? await offeredBalance(deps, { order, merchant }) : null;
    if (method === balanceMethod ? available === null : !methodLabel(method)) {
      throw new ApiError('unsupported_method', `method ${method} cannot be paid at the cashier`, 'method');
    }
    if (merchant.status !== 'enabled') throw new ApiError('merchant_disabled', 'this merchant cannot take payments now');
    // Claimed before paying, so that pays racing each other are bounded too.
    const claimedAt = deps.clock.now();
    passGate(gates.pay, id, claimedAt, 'a payment was started a moment ago; try again shortly');
    const paid = await deps.payments.pay(merchant, id, cashierParts(order.context.amount, method, available));
    if (!paid.ok) {
      if (!(await addedFlow(deps, order))) gates.pay.release(id, claimedAt);
      // The cashier's request has no `parts`: they are what it made of the payer's choice.
      throw failed(paid.field === 'parts' ? { ...paid, field: method === balanceMethod ? 'method' : 'use_balance' } : paid);
    }
    const answer = payerViewOf(paymentWithActionOf(paid, deps.links));
    const svg = answer.action.type === 'qr_code' && answer.action.qr_code ? await qrSvg(answer.action.qr_code) : null;
    return c.json({ ...answer, ...(svg ? { qr_svg: svg } : {}) });
  });

  app.post('/:id/check', describeIn('cashier', {
    summary: 'Ask the channel once (rate limited per payment)', responses: { 200: jsonAnswer(cashierCheck, 'The status after asking.') }, errors: [429],
  }), linked, async (c) => {
    const link = c.get('link');
    passGate(gates.check, link.id, deps.clock.now(), 'checked a moment ago; try again shortly');
    for (const flow of link.order.context.flows.filter((f) => f.status === 'pending')) {
      await deps.runner.queryNow(link.id, flow.id, flow.channel);
    }
    const order = await deps.engine.load(link.id);
    return c.json({ status: (order ?? link.order).row.status });
  });
}
