// The channel sandbox: plays Alipay, WeChat Pay v3 and UnionPay ACP 5.1.0 on their real wire protocols for
// development and tests. Imports nothing from paycenter, on purpose (see DESIGN.md).
import { createHash } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { alipayRoutes } from './alipay.ts';
import type { SandboxContext } from './context.ts';
import { FaultTable, parseFaults } from './faults.ts';
import { Notifier } from './notifier.ts';
import { indexPage, payerRoutes } from './pages.ts';
import { Store, isProvider } from './state.ts';
import { Timers } from './timers.ts';
import { alipayStatementZip, gzipped, StatementFaultTable, statementRoutes, wechatStatementCsv } from './statements.ts';
import { unionpayRoutes } from './unionpay.ts';
import { wechatRoutes } from './wechatpay.ts';

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

/** The inline handlers the pages use (closing the tab; UnionPay's auto-submitting return form), allowed by hash. */
const page_handlers = ['window.close()', 'document.forms[0].submit()'];

/**
 * The sandbox's pages play providers' pages: they post the payer back to a merchant's address
 * and run those two handlers, and nothing else — no other script, no framing. Set here, so
 * paycenter's stricter default for its own pages leaves them working when the sandbox is mounted.
 */
const page_policy = `default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; script-src 'unsafe-hashes' ${
  page_handlers.map((h) => `'sha256-${createHash('sha256').update(h).digest('base64')}'`).join(' ')
}; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'`;

const pagePolicy: MiddlewareHandler = async (c, next) => {
  await next();
  if (c.res.headers.get('content-type')?.startsWith('text/html')) c.res.headers.set('Content-Security-Policy', page_policy);
};

export function createSandbox(options: SandboxOptions): { app: Hono; stop(): Promise<void> } {
  const timers = new Timers();
  const faults = new FaultTable();
  const retryMs = (options.notifyRetryMs ?? [1000, 5000, 30000, 120000]).slice(0, MAX_NOTIFY_RETRIES);
  const ctx: SandboxContext = {
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    store: new Store(options.statePath, timers),
    faults,
    statements: new StatementFaultTable(),
    notifier: new Notifier(retryMs, faults, timers),
    timers,
    now: options.now ?? Date.now,
  };

  const app = new Hono();
  app.use(pagePolicy);
  app.route('/alipay', alipayRoutes(ctx));
  app.route('/wechatpay', wechatRoutes(ctx));
  app.route('/unionpay', unionpayRoutes(ctx));
  app.route('/pay', payerRoutes(ctx));
  app.get('/', (c) => c.html(indexPage(ctx)));

  app.route('/statements', statementRoutes(ctx));

  // Statement downloads (the URLs the bill APIs hand out): Alipay's zip, WeChat Pay's CSV or gzip.
  app.get('/bills/:provider/:account/:file', (c) => {
    const file = /^(\d{4}-\d{2}-\d{2})\.(zip|csv|csv\.gz)$/.exec(c.req.param('file'));
    const [provider, account] = [c.req.param('provider'), c.req.param('account')];
    if (!file) return c.text('not found', 404);
    const [day, kind] = [file[1]!, file[2]!];
    if (provider === 'alipay' && kind === 'zip' && ctx.store.alipayApps.has(account)) {
      return c.body(alipayStatementZip(ctx, account, day) as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/zip' });
    }
    const merchant = provider === 'wechatpay' ? ctx.store.wechatMerchants.get(account) : undefined;
    if (!merchant || kind === 'zip') return c.text('not found', 404);
    const csv = wechatStatementCsv(ctx, account, merchant.appid, day);
    return kind === 'csv'
      ? c.body(csv, 200, { 'content-type': 'text/csv; charset=utf-8' })
      : c.body(gzipped(csv) as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/gzip' });
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
