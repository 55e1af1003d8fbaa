// The channel sandbox: plays Alipay, WeChat Pay v3 and UnionPay ACP 5.1.0 on their real wire protocols for
// development and tests. Imports nothing from paycenter, on purpose (see DESIGN.md).
import { Hono } from 'hono';
import { alipayBill, alipayRoutes } from './alipay.ts';
import type { SandboxContext } from './context.ts';
import { FaultTable, parseFaults } from './faults.ts';
import { Notifier } from './notifier.ts';
import { payerRoutes } from './pages.ts';
import { Store, isProvider } from './state.ts';
import { Timers } from './timers.ts';
import { unionpayRoutes } from './unionpay.ts';
import { wechatBillText, wechatRoutes } from './wechatpay.ts';

export type SandboxOptions = {
  /** Absolute URL where the sandbox app is reachable, e.g. http://127.0.0.1:3000/sandbox (no trailing slash). Used in QR contents, pay-page links, bill download URLs. */
  baseUrl: string;
  /** When given, all state (apps/merchants with keys, trades, refunds) is saved to this JSON file after each change (debounced is fine, but flush on stop()) and loaded at start. */
  statePath?: string;
  /** Gaps before notify retries, ms. Default scaled-down: [1000, 5000, 30000, 120000]; tests pass small ones. */
  notifyRetryMs?: number[];
  now?: () => number; // ms clock, default Date.now
};

/** Bound on retries whatever the caller passes: the providers give up too. */
const MAX_NOTIFY_RETRIES = 20;

export function createSandbox(options: SandboxOptions): { app: Hono; stop(): Promise<void> } {
  const timers = new Timers();
  const faults = new FaultTable();
  const retryMs = (options.notifyRetryMs ?? [1000, 5000, 30000, 120000]).slice(0, MAX_NOTIFY_RETRIES);
  const ctx: SandboxContext = {
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    store: new Store(options.statePath, timers),
    faults,
    notifier: new Notifier(retryMs, faults, timers),
    timers,
    now: options.now ?? Date.now,
  };

  const app = new Hono();
  app.route('/alipay', alipayRoutes(ctx));
  app.route('/wechatpay', wechatRoutes(ctx));
  app.route('/unionpay', unionpayRoutes(ctx));
  app.route('/pay', payerRoutes(ctx));

  app.get('/bills/:provider/:account/:file', (c) => {
    const day = /^(\d{4}-\d{2}-\d{2})\.csv$/.exec(c.req.param('file'))?.[1];
    const provider = c.req.param('provider');
    if (!day) return c.text('not found', 404);
    const account = c.req.param('account');
    let text: string | undefined;
    if (provider === 'alipay' && ctx.store.alipayApps.has(account)) text = alipayBill(ctx, account, day);
    if (provider === 'wechatpay') text = wechatBillText(ctx, account, day);
    if (text === undefined) return c.text('not found', 404);
    return c.body(text, 200, { 'content-type': 'text/csv; charset=utf-8' });
  });

  app.put('/faults/:provider/:account', async (c) => {
    const provider = c.req.param('provider');
    if (!isProvider(provider)) return c.json({ error: 'unknown provider' }, 404);
    const parsed = parseFaults(await c.req.json().catch(() => undefined));
    if (!parsed.ok) return c.json({ error: parsed.error }, 400);
    faults.set(provider, c.req.param('account'), parsed.faults);
    return c.json(parsed.faults);
  });

  app.delete('/faults/:provider/:account', (c) => {
    const provider = c.req.param('provider');
    if (!isProvider(provider)) return c.json({ error: 'unknown provider' }, 404);
    faults.clear(provider, c.req.param('account'));
    return c.json(faults.get(provider, c.req.param('account')));
  });

  app.get('/trades/:provider/:account/:outTradeNo', (c) => {
    const provider = c.req.param('provider');
    const t = isProvider(provider) ? ctx.store.getTrade(provider, c.req.param('account'), c.req.param('outTradeNo')) : undefined;
    return t ? c.json(t) : c.json({ error: 'trade not found' }, 404);
  });

  app.post('/notify/flush', async (c) => {
    const sent = await ctx.notifier.flush();
    return c.json({ flushed: sent, pending: ctx.notifier.pendingCount });
  });

  let stopped = false;
  return {
    app,
    async stop() {
      if (stopped) return;
      stopped = true;
      timers.stop();
      await ctx.notifier.stop();
      ctx.store.flush();
    },
  };
}
