/** @jsxImportSource hono/jsx */
/**
 * The cashier (收银台): the page a payer's browser opens from a payment's cashier_url, and the
 * few JSON routes its inline script calls. Every route needs the payment's signed token; a
 * missing or wrong one answers the same plain 404 as an unknown payment.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { EffectRunner } from '../../actors/effect-runner.ts';
import type { Engine, OrderState } from '../../actors/engine.ts';
import type { Clock } from '../clock.ts';
import { type ErrorCode, errorStatus } from '../http/errors.ts';
import type { Merchant, MerchantDirectory } from '../merchants/directory.ts';
import type { Payments } from '../payments/service.ts';
import { actionView } from '../payments/view.ts';
import { Page, type PageProps, expiresIn, method_labels, qrSvg, viewOf } from './page.tsx';
import { cashierTokenValid } from './token.ts';

export type CashierDeps = {
  payments: Payments;
  engine: Engine;
  merchants: MerchantDirectory;
  runner: EffectRunner;
  clock: Clock;
  secretKey: Uint8Array;
  /** One check per payment per this gap (default 5 s). */
  checkGapMs?: number;
};

const default_check_gap_ms = 5_000;
const check_entries_max = 10_000;

/** Remembers the last check per payment; bounded, dropping stale and then oldest entries. */
class CheckGate {
  private readonly last = new Map<string, number>();
  constructor(private readonly gapMs: number, private readonly max: number) {}

  /** null when a check may go now (and records it), else the milliseconds to wait. */
  claim(id: string, now: number): number | null {
    const previous = this.last.get(id);
    if (previous !== undefined && now - previous < this.gapMs) return this.gapMs - (now - previous);
    this.last.delete(id);
    if (this.last.size >= this.max) {
      for (const [key, at] of this.last) if (now - at >= this.gapMs) this.last.delete(key);
      while (this.last.size >= this.max) {
        const oldest = this.last.keys().next();
        if (oldest.done) break;
        this.last.delete(oldest.value);
      }
    }
    this.last.set(id, now);
    return null;
  }
}

const errorJson = (c: Context, code: ErrorCode, message: string) => c.json({ error: { code, message } }, errorStatus[code]);

/**
 * A cashier link works until a day after its order's deadline — long enough for a payer to see
 * the outcome, then it expires like the order: the token is bound to the payment, its life to
 * the payment's deadline, so the link a merchant stored never changes.
 */
export const cashier_link_life_after_expiry_ms = 24 * 3_600_000;

export function cashierRoutes(deps: CashierDeps): Hono {
  const app = new Hono();
  const gate = new CheckGate(deps.checkGapMs ?? default_check_gap_ms, check_entries_max);
  const notFound = (c: Context) => c.text('Not Found', 404);

  /** The order and its merchant when the token is this payment's, else null (→ 404). */
  async function authorized(c: Context): Promise<{ id: string; token: string; order: OrderState; merchant: Merchant } | null> {
    const id = c.req.param('id');
    const token = c.req.query('t');
    if (!id || !token || !cashierTokenValid(deps.secretKey, id, token)) return null;
    const order = await deps.engine.load(id);
    if (!order || deps.clock.now() > order.context.expiresAt + cashier_link_life_after_expiry_ms) return null;
    const merchant = await deps.merchants.find(order.context.merchantId);
    return merchant ? { id, token, order, merchant } : null;
  }

  const noStore = (c: Context) => {
    c.header('cache-control', 'no-store');
    c.header('x-robots-tag', 'noindex');
  };

  app.get('/:id', async (c) => {
    const found = await authorized(c);
    if (!found) return notFound(c);
    const { order } = found;
    const left = expiresIn(order, deps.clock.now());
    const view = viewOf(order.row.status, left);
    let current: PageProps['current'] = null;
    if (view === 'pay' && order.context.closeReason === null) {
      // A refreshed page shows the trade the payer already started instead of opening another.
      const flow = [...order.context.flows].reverse().find((f) => f.status === 'pending' && f.prepared && f.action);
      if (flow) current = { flow, svg: flow.action?.type === 'qr_code' && flow.action.qrCode ? await qrSvg(flow.action.qrCode) : null };
    }
    noStore(c);
    c.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'");
    return c.html(html`<!DOCTYPE html>${<Page {...found} view={view} expiresInSeconds={left} current={current} />}`);
  });

  app.get('/:id/status', async (c) => {
    const found = await authorized(c);
    if (!found) return notFound(c);
    noStore(c);
    return c.json({ status: found.order.row.status, expires_in: expiresIn(found.order, deps.clock.now()) });
  });

  app.post('/:id/pay', async (c) => {
    const found = await authorized(c);
    if (!found) return notFound(c);
    noStore(c);
    let method: unknown;
    try {
      method = ((await c.req.json()) as { method?: unknown } | null)?.method;
    } catch {
      return errorJson(c, 'invalid_request', 'the body must be JSON {"method": "…"}');
    }
    if (typeof method !== 'string' || method === '') return errorJson(c, 'invalid_request', 'method is required');
    if (!(method in method_labels)) return errorJson(c, 'unsupported_method', `method ${method} cannot be paid at the cashier`);
    if (found.merchant.status !== 'enabled') return errorJson(c, 'merchant_disabled', 'this merchant cannot take payments now');
    const paid = await deps.payments.pay(found.merchant, found.id, [{ method, amount: found.order.context.amount }]);
    if (!paid.ok) return errorJson(c, paid.error, paid.message);
    const action = actionView(paid.flow.action);
    const svg = action.type === 'qr_code' && action.qr_code ? await qrSvg(action.qr_code) : null;
    return c.json({ status: paid.order.row.status, action, ...(svg ? { qr_svg: svg } : {}) });
  });

  app.post('/:id/check', async (c) => {
    const found = await authorized(c);
    if (!found) return notFound(c);
    noStore(c);
    const now = deps.clock.now();
    const wait = gate.claim(found.id, now);
    if (wait !== null) {
      c.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
      return errorJson(c, 'rate_limited', 'checked a moment ago; try again shortly');
    }
    for (const flow of found.order.context.flows.filter((f) => f.status === 'pending')) {
      await deps.runner.queryNow(found.id, flow.id, flow.channel);
    }
    const order = await deps.engine.load(found.id);
    return c.json({ status: (order ?? found.order).row.status });
  });

  return app;
}
