/**
 * bun run bench http — signed, durable POST /v1/payments through the real server.
 *
 * For each store (SQLite; Postgres), a paycenter process serves on 127.0.0.1 and autocannon,
 * in this process, drives it at 64 connections for 10 s each (BENCH_SECONDS): the bare Hono
 * route /healthz (the ceiling of this stack on this machine), signed creates, each with its own nonce and
 * merchant_order_no, and the same creates with the 100 risk rules of bench/risk-rules.ts enabled
 * (every create carries a payer: user, device and address, out of 1000). The three take turns,
 * three of each, the rules switched on and off between them: this machine's speed drifts by a
 * fifth within a minute, and turns side by side see the same machine. Latencies are the worst
 * turn's. Peak RSS is the server's VmHWM. Prints one RESULT line per store as soon as it
 * is measured.
 *
 * Postgres runs twice: alone (one instance; risk's counters in Postgres), and with Redis, as a
 * deployment of several instances must run it (docs/operations.md): per-order locks and risk's
 * counters in Redis, orders still in Postgres. The console line also gives the server's CPU time
 * per create (utime + stime over the run; its main thread's and SQLite writer's apart), which a
 * busy machine disturbs less than a rate, the database's (Postgres's and Redis's process trees)
 * and this process's (the client's), how long the main thread waited for a core, and
 * hello_ratio_ceiling: the ratio these CPU costs would allow with every core busy.
 *
 * BENCH_STORES=sqlite,postgres+redis runs only those configurations; BENCH_PROFILE=1 runs
 * paycenter under `--cpu-prof` and `--cpu-prof-md` and prints where each profile is written (kept
 * after the run; `bun bench/profile-samples.ts` ranks a `.cpuprofile`'s frames by samples).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres, startRedis } from '../test/harness/services.ts';
import { benchListEntries, benchRules } from './risk-rules.ts';
import { type Configuration, runConfigurations } from './configurations.ts';
import { type CostUs, type Turns, admin_token, costUs, createMerchant, noTurns, perSecond, profiling, ratioCeiling, run, runCreates, startPaycenter, turn } from './http-load.ts';
import { peakRssMb } from './lifecycle/proc.ts';

const duration_s = Number(process.env.BENCH_SECONDS ?? 10);
const repo = join(import.meta.dir, '..');
const dir = join(repo, '.test-tmp', `bench-http-${process.pid}`);
const profiles = profiling(dir, 'http');

/** Turns of the bare route, of creates without the rules and of creates with them, each (duration_s / turns) s long. */
const turns = 3;
const turn_s = duration_s / turns;

async function admin(url: string, method: 'POST' | 'PATCH', path: string, body: unknown): Promise<void> {
  // A fresh connection: one pooled before the load run may have been closed by the server meanwhile.
  const response = await fetch(`${url}${path}`, {
    keepalive: false, method, headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (response.status !== (method === 'POST' ? 201 : 200)) throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
}

async function switchRules(url: string, status: 'enabled' | 'disabled'): Promise<void> {
  for (const rule of benchRules()) await admin(url, 'PATCH', `/admin/risk/rules/${rule.code}`, { status });
}

/**
 * Creates a second, their CPU per create in µs (the database's where there is one; the SQLite
 * writer's where there is none), and how long the main thread waited for a core.
 */
function described(sum: Turns, withDatabase: boolean): { perSecond: number; cost: CostUs; text: string } {
  const rate = perSecond(sum);
  const cost = costUs(sum);
  const databaseCpu = withDatabase ? `, database CPU ${cost.side.toFixed(0)}` : '';
  return {
    perSecond: rate,
    cost,
    text: `creates ${rate.toFixed(0)}/s p50 ${sum.p50Ms} ms p99 ${sum.p99Ms} ms · non-2xx ${sum.non2xx} errors ${sum.errors}`
      + ` · server CPU ${cost.server.toFixed(0)} µs/create (main thread ${cost.main.toFixed(0)}${withDatabase ? '' : `, SQLite writer ${cost.writer.toFixed(0)}`})${databaseCpu}, client ${cost.client.toFixed(0)}`
      + ` · main thread waited for a core ${((100 * sum.mainWaitS) / sum.seconds).toFixed(0)} % of the time`,
  };
}

async function benchStore(name: 'sqlite' | 'postgres' | 'postgres+redis', databaseUrl: string, redisUrl: string | null = null, databasePids: number[] = []): Promise<string> {
  const server = await startPaycenter(databaseUrl, redisUrl, profiles.flags(name));
  try {
    const merchant = await createMerchant(server.url);
    for (const rule of benchRules()) await admin(server.url, 'POST', '/admin/risk/rules', { ...rule, status: 'disabled' });
    for (const entry of benchListEntries()) await admin(server.url, 'POST', '/admin/risk/lists', entry);
    const hello = noTurns();
    const bare = noTurns();
    const guarded = noTurns();
    for (let t = 0; t < turns; t++) {
      await turn(server, databasePids, hello, turn_s, (seconds) => run({ url: `${server.url}/healthz`, duration: seconds }));
      await turn(server, databasePids, bare, turn_s, (seconds) => runCreates(server.url, merchant, `bare${t}`, seconds));
      await switchRules(server.url, 'enabled');
      await turn(server, databasePids, guarded, turn_s, (seconds) => runCreates(server.url, merchant, `risk${t}`, seconds));
      await switchRules(server.url, 'disabled');
    }
    const helloPerSecond = perSecond(hello);
    const helloCost = costUs(hello);
    const without = described(bare, databasePids.length > 0);
    const withRules = described(guarded, databasePids.length > 0);
    const rss = peakRssMb(server.pid);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    console.log(`${name}: hello ${helloPerSecond.toFixed(0)} req/s p99 ${hello.p99Ms} ms (server CPU ${helloCost.server.toFixed(0)} µs, client ${helloCost.client.toFixed(0)})`
      + ` · ${without.text} · server peak RSS ${rss.toFixed(0)} MB`);
    console.log(`${name}: with 100 risk rules: ${withRules.text} · load average ${load}`);
    return `RESULT http store=${name} creates_per_s=${without.perSecond.toFixed(0)} p99_ms=${bare.p99Ms} hello_ratio=${(without.perSecond / helloPerSecond).toFixed(3)} rss_mb=${rss.toFixed(0)}`
      + ` server_us_per_create=${without.cost.server.toFixed(0)} main_us_per_create=${without.cost.main.toFixed(0)} client_us_per_create=${without.cost.client.toFixed(0)}`
      + ` hello_ratio_ceiling=${ratioCeiling(without.cost, helloPerSecond).toFixed(3)}`
      + ` risk100_creates_per_s=${withRules.perSecond.toFixed(0)} risk100_p99_ms=${guarded.p99Ms} risk100_ratio=${(withRules.perSecond / without.perSecond).toFixed(3)}`;
  } finally {
    await server.stop();
  }
}

async function benchPostgres(withRedis: boolean): Promise<string> {
  const postgres = await startPostgres();
  const redis = withRedis ? await startRedis().catch(async (error) => { await postgres.stop(); throw error; }) : null;
  try {
    return await benchStore(redis ? 'postgres+redis' : 'postgres', postgres.url, redis?.url ?? null, [postgres.pid, ...(redis ? [redis.pid] : [])]);
  } finally {
    await redis?.stop();
    await postgres.stop();
  }
}

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
  profiles.finish();
}
process.exit(code);
