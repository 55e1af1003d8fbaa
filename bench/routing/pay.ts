/**
 * The CPU time of a whole pay, for bench/routing.ts: a paycenter process on 127.0.0.1 with
 * `channels_total` WeChat Pay channels (keys of one sandbox merchant) serving wechat_native, the
 * channel sandbox in the bench's process. Signed POST /v1/payments/{id}/pay requests run in turns
 * with every channel enabled and with all but one disabled (routing over one channel: the same
 * pay with next to no decision); the server's own CPU (user + system of all its threads, from
 * /proc) is read around each turn. Orders are created between turns, outside the measurement.
 * A warm-up merchant routing `weighted` over channels of equal weight first pays through every
 * channel, so each adapter's one-time setup (keys parsed, built once per channel and process) is
 * not counted as the cost of routing over many channels.
 */
import { Hono } from 'hono';
import { randomBytes } from 'node:crypto';
import { requestSignature } from '../../src/http/signature.ts';
import { createSandbox } from '../../src/sandbox/sandbox.ts';
import { freePort } from '../../test/harness/services.ts';
import { cpuSeconds } from '../lifecycle/proc.ts';
import { paycenterProcess } from '../../test/reliability/harness.ts';

/** Longer than the channel list is cached in the server (default_registry_options.cacheMs). */
const registry_settle_ms = 2_100;
const admin_token = 'adm_bench_0123456789abcdef';
const secret_key = Buffer.alloc(32, 3).toString('base64');
/** Concurrent pay requests: enough that commits group as in production, few enough for two cores. */
const pay_lanes = 4;
/** Turns each phase takes; they alternate so drift weighs on both alike. */
const rounds = 2;
/** Warm-up pays per channel: with uniform weights, each channel is chosen at least once but for a chance of e^-8. */
const warmup_pays_per_channel = 8;

type Merchant = { url: string; id: string; secret: string };

async function signed(m: Merchant, method: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const raw = JSON.stringify(body);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(9).toString('base64url');
  const signature = requestSignature(m.secret, method, path, timestamp, nonce, raw);
  const response = await fetch(m.url + path, {
    method, body: raw,
    headers: { 'content-type': 'application/json', authorization: `PAYC-HMAC-SHA256 merchant_id="${m.id}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"` },
  });
  return { status: response.status, body: await response.json() };
}

async function admin(url: string, method: 'POST' | 'PATCH', path: string, body: unknown): Promise<any> {
  const response = await fetch(url + path, { method, headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (response.status >= 300) throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** CPU the process has used so far (all its threads), in µs. */
const processCpuUs = (pid: number): number => cpuSeconds(pid) * 1_000_000;

async function inLanes<T>(items: T[], lanes: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

export type PayCpu = { withAllUs: number; withOneUs: number; pays: number };

/** Server CPU per pay with every channel routable and with one; `redisUrl` shares health and breakers through Redis. */
export async function payCpu(options: { databaseUrl: string; redisUrl: string | null; channels: number; paysPerTurn: number }): Promise<PayCpu> {
  const sandboxPort = await freePort();
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}/sandbox`;
  const sandbox = createSandbox({ baseUrl: sandboxUrl, notifyRetryMs: [1_000] });
  const sandboxServer = Bun.serve({ port: sandboxPort, hostname: '127.0.0.1', fetch: new Hono().route('/sandbox', sandbox.app).fetch });
  const server = paycenterProcess({
    port: await freePort(), databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, adminToken: admin_token, secretKey: secret_key,
    logName: 'bench-routing-pay.log',
    // No status queries during the run: the measured CPU is the pays'.
    env: { RATE_LIMIT_PER_S: '1000000', RATE_LIMIT_BURST: '1000000', QUERY_SCHEDULE_S: '3600' },
  });
  const url = server.url;
  try {
    await server.start();
    const pid = server.pid()!;
    const keys = await (await fetch(`${sandboxUrl}/wechatpay/merchants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
    const codes = Array.from({ length: options.channels }, (_, i) => `bench_${String(i).padStart(2, '0')}`);
    for (const code of codes) await admin(url, 'POST', '/admin/channels', { code, provider: 'wechatpay', methods: ['wechat_native'], weight: 10, config: keys });
    const merchantOf = async (routing: string): Promise<Merchant> => {
      const created = await admin(url, 'POST', '/admin/merchants', { name: 'bench', methods: ['wechat_native'], routing });
      return { url, id: created.merchant_id, secret: created.secret };
    };
    const turn = async (merchant: Merchant, status: 'enabled' | 'disabled', pays: number): Promise<number> => {
      for (const code of codes.slice(1)) await admin(url, 'PATCH', `/admin/channels/${code}`, { status });
      const orders: string[] = [];
      await inLanes(Array.from({ length: pays }, (_, i) => i), pay_lanes, async () => {
        const answer = await signed(merchant, 'POST', '/v1/payments', { merchant_order_no: `R${randomBytes(8).toString('hex')}`, amount: '100.00', subject: 'bench' });
        if (answer.status !== 201) throw new Error(`create answered ${answer.status}`);
        orders.push(answer.body.id);
      });
      await Bun.sleep(registry_settle_ms);
      const before = processCpuUs(pid);
      await inLanes(orders, pay_lanes, async (id) => {
        const paid = await signed(merchant, 'POST', `/v1/payments/${id}/pay`, { method: 'wechat_native' });
        if (paid.status !== 200) throw new Error(`pay answered ${paid.status}: ${JSON.stringify(paid.body)}`);
      });
      return processCpuUs(pid) - before;
    };
    await turn(await merchantOf('weighted'), 'enabled', warmup_pays_per_channel * options.channels);
    const merchant = await merchantOf('smart');
    let withAll = 0;
    let withOne = 0;
    for (let round = 0; round < rounds; round++) {
      withAll += await turn(merchant, 'enabled', options.paysPerTurn);
      withOne += await turn(merchant, 'disabled', options.paysPerTurn);
    }
    const pays = rounds * options.paysPerTurn;
    return { withAllUs: withAll / pays, withOneUs: withOne / pays, pays };
  } finally {
    await server.stop();
    await sandbox.stop();
    await sandboxServer.stop(true);
  }
}
