/**
 * bun run bench http — signed, durable POST /v1/payments through the real server.
 *
 * For each store (SQLite; Postgres), a paycenter process serves on 127.0.0.1 and autocannon,
 * in this process, drives it at 64 connections for 10 s: first the bare Hono route /healthz
 * (the ceiling of this stack on this machine), then signed creates, each with its own nonce
 * and merchant_order_no; then the same creates again with the 100 risk rules of
 * bench/risk-rules.ts enabled (both runs carry a payer: user, device and address, out of 1000).
 * Peak RSS is the server's VmHWM. Prints one RESULT line per store as soon as it is measured.
 *
 * Postgres runs twice: alone (one instance; risk's counters in Postgres), and with Redis, as a
 * deployment of several instances must run it (docs/operations.md): per-order locks and risk's
 * counters in Redis, orders still in Postgres. The console line also gives the server's CPU time
 * per create (utime + stime over the run), which a busy machine disturbs less than a rate.
 *
 * BENCH_STORES=sqlite,postgres+redis runs only those configurations; BENCH_PROFILE=1 runs
 * paycenter under `--cpu-prof-md` and prints where each profile is written (kept after the run).
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { requestSignature } from '../src/http/signature.ts';
import { freePort, startPostgres, startRedis } from '../test/harness/services.ts';
import { benchListEntries, benchPayer, benchRules } from './risk-rules.ts';
import { type Configuration, runConfigurations } from './configurations.ts';
import { cpuSeconds, peakRssMb } from './lifecycle/proc.ts';

const connections = 64;
const duration_s = Number(process.env.BENCH_SECONDS ?? 10);
const server_start_timeout_ms = 20_000;
const admin_token = 'adm_bench_0123456789abcdef';
const secret_key = Buffer.alloc(32, 3).toString('base64');
const repo = join(import.meta.dir, '..');
const profile = process.env.BENCH_PROFILE === '1';

type Server = { url: string; pid: number; stop: () => Promise<void> };

async function startServer(databaseUrl: string, redisUrl: string | null, profileName: string): Promise<Server> {
  const port = await freePort();
  const profileFlags = profile ? ['--cpu-prof-md', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${profileName}.md`] : [];
  const child = Bun.spawn(['bun', ...profileFlags, join(repo, 'src/main.ts')], {
    env: {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, ADMIN_TOKEN: admin_token, SECRET_KEY: secret_key,
      LOG_LEVEL: 'warn', RATE_LIMIT_PER_S: '1000000', RATE_LIMIT_BURST: '1000000', ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    },
    stdout: 'ignore',
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + server_start_timeout_ms;
  while (!(await fetch(`${url}/healthz`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error('paycenter did not start');
    await Bun.sleep(50);
  }
  return { url, pid: child.pid, stop: async () => { child.kill('SIGTERM'); await child.exited; } };
}

/** CPU time the process has used (utime + stime), in ms. */
const cpuMs = (pid: number): number => cpuSeconds(pid) * 1000;

async function createMerchant(url: string): Promise<{ id: string; secret: string }> {
  const response = await fetch(`${url}/admin/merchants`, {
    method: 'POST', headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }),
  });
  const body = (await response.json()) as { merchant_id: string; secret: string };
  return { id: body.merchant_id, secret: body.secret };
}

function run(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon({ connections, duration: duration_s, ...options }, (error, result) => (error ? reject(error) : resolve(result))));
}

async function adminPost(url: string, path: string, body: unknown): Promise<void> {
  // A fresh connection: one pooled before the load run may have been closed by the server meanwhile.
  const response = await fetch(`${url}${path}`, {
    keepalive: false, method: 'POST', headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
}

/** Signed creates for duration_s at `connections`, each by one of the bench's payers. */
function runCreates(url: string, merchant: { id: string; secret: string }, tag: string): Promise<autocannon.Result> {
  let serial = 0;
  return run({
    url,
    requests: [{
      method: 'POST',
      path: '/v1/payments',
      setupRequest: (request) => {
        const n = serial++;
        const body = JSON.stringify({ merchant_order_no: `B${process.pid}-${tag}-${n}`, amount: '100.00', subject: 'bench', ...benchPayer(n) });
        const timestamp = String(Math.floor(Date.now() / 1000));
        const nonce = randomBytes(9).toString('base64url');
        const signature = requestSignature(merchant.secret, 'POST', '/v1/payments', timestamp, nonce, body);
        return {
          ...request, body,
          headers: {
            'content-type': 'application/json',
            authorization: `PAYC-HMAC-SHA256 merchant_id="${merchant.id}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"`,
          },
        };
      },
    }],
  });
}

/** Creates for duration_s, with the server's CPU time per successful create in µs. */
async function measuredCreates(server: Server, merchant: { id: string; secret: string }, tag: string): Promise<{ result: autocannon.Result; cpuUs: number }> {
  const before = cpuMs(server.pid);
  const result = await runCreates(server.url, merchant, tag);
  return { result, cpuUs: ((cpuMs(server.pid) - before) * 1000) / Math.max(1, result['2xx']) };
}

async function benchStore(name: 'sqlite' | 'postgres' | 'postgres+redis', databaseUrl: string, redisUrl: string | null = null): Promise<string> {
  const server = await startServer(databaseUrl, redisUrl, `http-${name}`);
  try {
    const merchant = await createMerchant(server.url);
    const hello = await run({ url: `${server.url}/healthz` });
    const { result: creates, cpuUs } = await measuredCreates(server, merchant, 'bare');
    const bareRss = peakRssMb(server.pid);
    for (const rule of benchRules()) await adminPost(server.url, '/admin/risk/rules', rule);
    for (const entry of benchListEntries()) await adminPost(server.url, '/admin/risk/lists', entry);
    const { result: guarded, cpuUs: guardedCpuUs } = await measuredCreates(server, merchant, 'risk');
    const perSecond = creates['2xx'] / duration_s;
    const guardedPerSecond = guarded['2xx'] / duration_s;
    const rss = peakRssMb(server.pid);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    console.log(`${name}: hello ${hello.requests.average.toFixed(0)} req/s p99 ${hello.latency.p99} ms · creates ${perSecond.toFixed(0)}/s p50 ${creates.latency.p50} ms p99 ${creates.latency.p99} ms · non-2xx ${creates.non2xx} errors ${creates.errors} · server CPU ${cpuUs.toFixed(0)} µs/create · server peak RSS ${rss.toFixed(0)} MB`);
    console.log(`${name}: with 100 risk rules: creates ${guardedPerSecond.toFixed(0)}/s p50 ${guarded.latency.p50} ms p99 ${guarded.latency.p99} ms · non-2xx ${guarded.non2xx} errors ${guarded.errors} · server CPU ${guardedCpuUs.toFixed(0)} µs/create · server peak RSS ${bareRss.toFixed(0)} MB before the rules, ${rss.toFixed(0)} MB after · load average ${load}`);
    return `RESULT http store=${name} creates_per_s=${perSecond.toFixed(0)} p99_ms=${creates.latency.p99} hello_ratio=${(perSecond / hello.requests.average).toFixed(3)} rss_mb=${rss.toFixed(0)}`
      + ` risk100_creates_per_s=${guardedPerSecond.toFixed(0)} risk100_p99_ms=${guarded.latency.p99} risk100_ratio=${(guardedPerSecond / perSecond).toFixed(3)}`;
  } finally {
    await server.stop();
    if (profile) console.log(`${name}: CPU profile ${join(dir, `http-${name}.md`)}`);
  }
}

async function benchPostgres(withRedis: boolean): Promise<string> {
  const postgres = await startPostgres();
  const redis = withRedis ? await startRedis().catch(async (error) => { await postgres.stop(); throw error; }) : null;
  try {
    return await benchStore(redis ? 'postgres+redis' : 'postgres', postgres.url, redis?.url ?? null);
  } finally {
    await redis?.stop();
    await postgres.stop();
  }
}

const dir = join(repo, '.test-tmp', `bench-http-${process.pid}`);
mkdirSync(dir, { recursive: true });
const configurations: Configuration[] = [
  { name: 'store=sqlite', needs: [], run: () => benchStore('sqlite', `sqlite:${join(dir, 'bench.db')}`) },
  { name: 'store=postgres', needs: ['postgres'], run: () => benchPostgres(false) },
  { name: 'store=postgres+redis', needs: ['postgres', 'redis-server'], run: () => benchPostgres(true) },
];
const chosen = process.env.BENCH_STORES?.split(',').map((s) => `store=${s.trim()}`);
let code: number;
try {
  code = await runConfigurations('http', configurations.filter((c) => !chosen || chosen.includes(c.name)));
} finally {
  // A profile outlives the run; the databases do not.
  for (const file of readdirSync(dir)) if (!(profile && file.endsWith('.md'))) rmSync(join(dir, file), { recursive: true, force: true });
}
process.exit(code);
