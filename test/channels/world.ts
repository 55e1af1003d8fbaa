/**
 * A paycenter and the channel sandbox, each on its own loopback port as in production: channels
 * created through the operator API with credentials the sandbox issued, a merchant with every
 * method, and a payer who pays at the sandbox the way a browser would.
 */
import { Hono } from 'hono';
import { createSandbox } from '../../src/sandbox/sandbox.ts';
import { afterAll, beforeAll } from 'bun:test';
import { ManualClock } from '../../src/clock.ts';
import type { StartOptions } from '../../src/wiring.ts';
import { freePort } from '../harness/services.ts';
import { type Answer, type Booted, MerchantClient, adminCall, answerOf, bootPaycenter } from '../http/harness.ts';
import type { StoreKind } from '../store/stores.ts';

export const all_methods = ['alipay_qr', 'alipay_page', 'wechat_native', 'wechat_jsapi'];

export type World = {
  booted: Booted;
  url: string;
  sandboxUrl: string;
  merchant: MerchantClient;
  alipay: Record<string, string>;
  wechatpay: Record<string, string>;
  stop(): Promise<void>;
};

/** Sees every request before the sandbox does: a test counts the provider calls paycenter makes, or slows them. */
export type SandboxGate = (request: Request) => Promise<void> | void;

/** `now` gives the sandbox a clock (a test that moves paycenter's far). */
export async function startSandbox(notifyRetryMs = [200, 500, 1_000], gate?: SandboxGate, now?: () => number): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/sandbox`;
  const sandbox = createSandbox({ baseUrl: url, notifyRetryMs, ...(now ? { now } : {}) });
  const app = new Hono().route('/sandbox', sandbox.app);
  const fetch = gate ? async (request: Request) => (await gate(request), app.fetch(request)) : app.fetch;
  const server = Bun.serve({ port, hostname: '127.0.0.1', fetch });
  return {
    url,
    async stop() {
      await sandbox.stop();
      await server.stop(true);
    },
  };
}

async function provision(url: string, path: string): Promise<Record<string, string>> {
  const response = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  if (response.status !== 201) throw new Error(`sandbox ${path} answered ${response.status}`);
  return (await response.json()) as Record<string, string>;
}

/** Accounts at the sandbox, and paycenter's channels on them (created through the operator API). */
export async function connectChannels(paycenterUrl: string, sandboxUrl: string): Promise<Pick<World, 'alipay' | 'wechatpay'>> {
  const alipay = await provision(sandboxUrl, '/alipay/apps');
  const wechatpay = await provision(sandboxUrl, '/wechatpay/merchants');
  const channels = [
    { code: 'alipay_main', provider: 'alipay', methods: ['alipay_qr', 'alipay_page'], config: alipay },
    { code: 'wechat_main', provider: 'wechatpay', methods: ['wechat_native', 'wechat_jsapi'], config: wechatpay },
  ];
  for (const channel of channels) {
    const created = await adminCall(paycenterUrl, 'POST', '/admin/channels', channel);
    if (created.status !== 201) throw new Error(`channel not created: ${JSON.stringify(created.body)}`);
  }
  return { alipay, wechatpay };
}

export async function bootWorld(kind: StoreKind, options: StartOptions = {}, env: Record<string, string> = {}, gate?: SandboxGate, sandboxNow?: () => number): Promise<World> {
  const sandbox = await startSandbox(undefined, gate, sandboxNow);
  const port = await freePort();
  const booted = await bootPaycenter(kind, { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...env }, options);
  const { alipay, wechatpay } = await connectChannels(booted.url, sandbox.url);
  const merchant = await MerchantClient.create(booted.url, { methods: all_methods });
  return {
    booted, url: booted.url, sandboxUrl: sandbox.url, merchant, alipay, wechatpay,
    async stop() {
      await booted.stop();
      await sandbox.stop();
    },
  };
}

/** The sandbox page a payer reaches from the answer's action: the QR content, or the redirect through the gateway. */
export async function payerPage(action: { type: string; qr_code: string | null; pay_url: string | null }): Promise<string> {
  if (action.type === 'qr_code' && action.qr_code) return action.qr_code;
  if (action.type === 'redirect' && action.pay_url) {
    const response = await fetch(action.pay_url, { redirect: 'manual' });
    const location = response.headers.get('location');
    await response.arrayBuffer();
    if (!location) throw new Error(`the gateway did not send the payer on (HTTP ${response.status})`);
    return new URL(location, action.pay_url).href;
  }
  throw new Error(`no page for action ${JSON.stringify(action)}`);
}

/** The payer presses Pay or Fail on the sandbox page. */
export async function payerDecides(page: string, outcome: 'pay' | 'fail', extra: Record<string, unknown> = {}): Promise<Answer> {
  return answerOf(await fetch(page, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outcome, ...extra }) }));
}

/** Polls the payment until `done` holds (a notify travels asynchronously), or fails after a bound. */
export async function waitForPayment(merchant: MerchantClient, paymentId: string, done: (payment: any) => boolean, timeoutMs = 10_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await merchant.call('GET', `/v1/payments/${paymentId}`);
    if (done(answer.body)) return answer.body;
    if (Date.now() > deadline) throw new Error(`payment ${paymentId} stayed ${JSON.stringify(answer.body)}`);
    await Bun.sleep(50);
  }
}

/**
 * A SQLite world for the enclosing describe block whose clock tests move by hand, with the ticker
 * and the effect runner driven by hand too (drive), so each step is visible and nothing sleeps.
 * The returned world forwards to the one booted in beforeAll.
 */
export function worldWithMovedClock(): { world: World; clock: ManualClock } {
  const clock = new ManualClock(Date.now());
  let booted: World | undefined;
  beforeAll(async () => {
    booted = await bootWorld('sqlite', { clock, manualTicker: true });
  });
  afterAll(() => booted?.stop());
  const world = new Proxy({} as World, {
    get(_, name) {
      if (!booted) throw new Error('the world boots in beforeAll; use it inside tests');
      return booted[name as keyof World];
    },
  });
  return { world, clock };
}

/** Fires due timers and runs due effects until neither has anything left (bounded). */
export async function drive(world: Pick<World, 'booted'>): Promise<void> {
  const { ticker, runner } = world.booted.paycenter;
  for (let round = 0; round < 20; round++) {
    const fired = await ticker.tick();
    const ran = await runner.tick();
    if (fired === 0 && ran === 0) return;
  }
  throw new Error('timers and effects did not settle in 20 rounds');
}

/**
 * Counts the trades paycenter opens at the sandbox (Alipay precreate and page pay links are
 * opened by the payer, so: precreate; WeChat Pay native and JSAPI orders), and holds each of
 * those calls for `holdMs` first — a provider that takes its time widens every race around it.
 */
export function tradeOpenings(holdMs = 0): { gate: SandboxGate; count(): number } {
  let opened = 0;
  const gate: SandboxGate = async (request) => {
    const path = new URL(request.url).pathname;
    const wechat = request.method === 'POST' && /\/v3\/pay\/transactions\/(native|jsapi)$/.test(path);
    const alipay = path.endsWith('/alipay/gateway.do') && new URLSearchParams(await request.clone().text()).get('method') === 'alipay.trade.precreate';
    if (!wechat && !alipay) return;
    opened += 1;
    if (holdMs > 0) await Bun.sleep(holdMs);
  };
  return { gate, count: () => opened };
}
