/**
 * bun run bench balance — combined pays (balance + WeChat Pay native through the sandbox)
 * against single-channel pays, in the same run, on each store.
 *
 * A paycenter process per store (SQLite; Postgres) and the channel sandbox in this process, on
 * 127.0.0.1. 1,000 payers are credited; orders are created up front; then `pay_workers`
 * concurrent clients send POST /v1/payments/{id}/pay for `BENCH_SECONDS` (default 8) per mode, in turns:
 * first `{ method: "wechat_native" }`, then `{ parts: [balance 20 %, wechat_native 80 %] }`
 * where 10 % of pays fall on 10 hot payers (contention on their accounts). Each pay runs its
 * prepay at the sandbox inline, as a payer waits for it. Ends with one RESULT line per store:
 * combined pays per second and p99, and the single-channel figure with the ratio.
 */
import { Hono } from 'hono';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { requestSignature } from '../src/http/signature.ts';
import { createSandbox } from '../src/sandbox/sandbox.ts';
import { freePort, startPostgres } from '../test/harness/services.ts';
import { paycenterProcess } from '../test/reliability/harness.ts';

/** Turns each mode takes; a turn lasts BENCH_SECONDS / rounds. */
const rounds = 4;
const duration_ms = (Number(process.env.BENCH_SECONDS ?? 8) * 1_000) / rounds;
const pay_workers = 32;
const payers_total = 1_000;
const hot_payers = 10;
const hot_share = 0.1;
/** Orders created up front per mode: more than the pays a run can make. */
const orders_per_mode = Number(process.env.BENCH_ORDERS ?? 4_000);
const admin_token = 'adm_bench_0123456789abcdef';
const secret_key = Buffer.alloc(32, 3).toString('base64');
const repo = join(import.meta.dir, '..');

type Merchant = { url: string; id: string; secret: string };

async function signed(m: Merchant, method: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const raw = body === undefined ? '' : JSON.stringify(body);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(9).toString('base64url');
  const signature = requestSignature(m.secret, method, path, timestamp, nonce, raw);
  const response = await fetch(m.url + path, {
    method, body: method === 'GET' ? undefined : raw,
    headers: { 'content-type': 'application/json', authorization: `PAYC-HMAC-SHA256 merchant_id="${m.id}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"` },
  });
  return { status: response.status, body: await response.json() };
}

async function admin(url: string, path: string, body: unknown): Promise<any> {
  const response = await fetch(url + path, { method: 'POST', headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (response.status !== 201) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

/** Runs `work` on `workers` lanes over `items` until they or the time run out; latencies in ms. */
async function drive<T>(items: T[], workers: number, work: (item: T) => Promise<boolean>): Promise<{ ok: number; failed: number; ms: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < items.length && performance.now() - started < duration_ms) {
      const item = items[next++]!;
      const t = performance.now();
      if (await work(item)) latencies.push(performance.now() - t);
      else failed += 1;
    }
  }));
  return { ok: latencies.length, failed, ms: performance.now() - started, latencies };
}

const p99 = (latencies: number[]) => [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.99)] ?? 0;

async function inParallel<T>(items: T[], lanes: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

async function benchStore(name: 'sqlite' | 'postgres', databaseUrl: string, sandboxUrl: string): Promise<string> {
  const server = paycenterProcess({
    port: await freePort(), databaseUrl, redisUrl: null, adminToken: admin_token, secretKey: secret_key, logName: `bench-balance-${name}.log`,
    env: { RATE_LIMIT_PER_S: '1000000', RATE_LIMIT_BURST: '1000000' },
  });
  await server.start();
  const url = server.url;
  try {
    const wechatpay = await (await fetch(`${sandboxUrl}/wechatpay/merchants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
    await admin(url, '/admin/channels', { code: 'wechat_main', provider: 'wechatpay', methods: ['wechat_native'], config: wechatpay });
    const created = await admin(url, '/admin/merchants', { name: 'bench', methods: ['wechat_native', 'balance'] });
    const merchant: Merchant = { url, id: created.merchant_id, secret: created.secret };

    const payers = Array.from({ length: payers_total }, (_, i) => `bench${i}`);
    await inParallel(payers, 16, async (user) => void (await signed(merchant, 'POST', `/v1/balances/${user}/credits`, { credit_no: 'OPEN', amount: '1000000.00' })));
    const payerOf = (i: number) => (Math.random() < hot_share ? payers[i % hot_payers]! : payers[Math.floor(Math.random() * payers_total)]!);
    const createOrders = async () => {
      const ids: string[] = [];
      await inParallel(Array.from({ length: orders_per_mode }, (_, i) => i), 32, async (i) => {
        const answer = await signed(merchant, 'POST', '/v1/payments', { merchant_order_no: `B${randomBytes(8).toString('hex')}`, amount: '100.00', subject: 'bench', user_id: payerOf(i) });
        if (answer.status === 201) ids.push(answer.body.id);
      });
      return ids;
    };

    const modes = {
      single: { orders: await createOrders(), body: { method: 'wechat_native' } },
      combined: { orders: await createOrders(), body: { parts: [{ method: 'balance', amount: '20.00' }, { method: 'wechat_native', amount: '80.00' }] } },
    };
    // The modes take turns, so a machine whose load drifts during the run weighs on both alike.
    const totals = { single: { ok: 0, failed: 0, ms: 0, latencies: [] as number[] }, combined: { ok: 0, failed: 0, ms: 0, latencies: [] as number[] } };
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['single', 'combined'] as const) {
        const { orders, body } = modes[mode];
        const share = orders.splice(0, Math.ceil(orders.length / (rounds - round)));
        const r = await drive(share, pay_workers, async (id) => (await signed(merchant, 'POST', `/v1/payments/${id}/pay`, body)).status === 200);
        const t = totals[mode];
        Object.assign(t, { ok: t.ok + r.ok, failed: t.failed + r.failed, ms: t.ms + r.ms, latencies: [...t.latencies, ...r.latencies] });
      }
    }
    const { single, combined } = totals;
    const rate = (r: { ok: number; ms: number }) => (r.ok * 1_000) / r.ms;
    console.log(`${name}: single ${rate(single).toFixed(0)} pays/s p99 ${p99(single.latencies).toFixed(1)} ms (failed ${single.failed}) · combined ${rate(combined).toFixed(0)} pays/s p99 ${p99(combined.latencies).toFixed(1)} ms (failed ${combined.failed})`);
    return `RESULT balance store=${name} pays_per_s=${rate(combined).toFixed(0)} p99_ms=${p99(combined.latencies).toFixed(1)} single_pays_per_s=${rate(single).toFixed(0)} single_p99_ms=${p99(single.latencies).toFixed(1)} cost_ratio=${(rate(single) / rate(combined)).toFixed(2)}`;
  } finally {
    await server.stop();
  }
}

const sandboxPort = await freePort();
const sandboxUrl = `http://127.0.0.1:${sandboxPort}/sandbox`;
const sandbox = createSandbox({ baseUrl: sandboxUrl, notifyRetryMs: [1_000] });
const sandboxServer = Bun.serve({ port: sandboxPort, hostname: '127.0.0.1', fetch: new Hono().route('/sandbox', sandbox.app).fetch });
const results: string[] = [];
const dir = join(repo, '.test-tmp', `bench-balance-${process.pid}`);
mkdirSync(dir, { recursive: true });
try {
  results.push(await benchStore('sqlite', `sqlite:${join(dir, 'bench.db')}`, sandboxUrl));
  const postgres = await startPostgres();
  try {
    results.push(await benchStore('postgres', postgres.url, sandboxUrl));
  } finally {
    await postgres.stop();
  }
} finally {
  await sandbox.stop();
  await sandboxServer.stop(true);
  rmSync(dir, { recursive: true, force: true });
}
for (const line of results) console.log(line);
