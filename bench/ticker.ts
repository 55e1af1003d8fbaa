/**
 * bun run bench ticker [--orders N] — due timers drained per second by the Ticker.
 *
 * For each mode (store polling first, then the Redis ZSET index), a fresh SQLite store gets N
 * orders (BENCH_ORDERS or --orders, default 100,000) whose `expire` timers are due at the same
 * instant of a ManualClock; creating them is not timed. The clock then moves to that instant
 * and `ticker.tick()` runs in a loop until no timer is due; every order must then be `closed`.
 * Timers per second = N / drain seconds; peak RSS is sampled every 100 ms (and every tick)
 * during the drain. Each mode runs in its own child process so one mode's heap does not
 * inflate the other's RSS; the parent starts Redis on 127.0.0.1 for the redis mode (which needs
 * redis-server installed; said up front when it is missing, and the store mode still runs).
 *
 * Both modes use the in-process lock, so the only difference is where due timers are found
 * (the timers table vs the ZSET); in redis mode the index follows commits as src/wiring.ts
 * wires it (onCommitted). Prints one `RESULT ticker mode=… timers_per_s=… rss_mb=…` per mode as
 * soon as it is measured.
 */
import Redis from 'ioredis';
import { DurableCommitter, commit_queue_writes_max, commitsInFlightFor } from '../actors/durable-commit.ts';
import { Engine, default_engine_options } from '../actors/engine.ts';
import { Parking } from '../actors/parking.ts';
import { RedisTimerIndex } from '../actors/redis-timers.ts';
import { Ticker, default_ticker_options } from '../actors/ticker.ts';
import { ManualClock } from '../src/clock.ts';
import { newId } from '../src/ids.ts';
import { LocalLock } from '../src/lock/local.ts';
import type { Logger } from '../src/log.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { orderInput, renderForTests, t0 } from '../test/engine/fixtures.ts';
import { startRedis } from '../test/harness/services.ts';
import { runConfigurations } from './configurations.ts';
import { freshDatabase } from '../test/store/stores.ts';

type Mode = 'store' | 'redis';
const modes: Mode[] = ['store', 'redis'];

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const orders_total = Number(argValue('--orders') ?? process.env.BENCH_ORDERS ?? 100_000);
/** Per mode, creation and drain together; the parent kills a child that outlives it by a margin. */
const mode_time_max_ms = Number(process.env.BENCH_TICKER_MAX_S ?? 600) * 1000;
const create_lanes = 256;
const expiry_ms = 1_800_000;
const rss_sample_interval_ms = 100;
const verify_page_orders = 5_000;
/** Config defaults (src/config.ts) for group commit, as the service runs it on SQLite. */
const group_commit = { batchMax: 64, waitMaxMs: 1, inFlightMax: commitsInFlightFor('sqlite'), queueWritesMax: commit_queue_writes_max };
const child_marker = 'TICKER_CHILD ';

type ModeResult = {
  mode: Mode; orders: number; createSeconds: number; drainSeconds: number; ticks: number; fired: number;
  timersPerSecond: number; rssPeakMb: number; rssStartMb: number; fireErrors: number; commits: number; writes: number;
};

const mb = (bytes: number) => bytes / 2 ** 20;

if (!Number.isInteger(orders_total) || orders_total < 1) {
  console.error(`--orders / BENCH_ORDERS must be a positive integer, got ${orders_total}`);
  process.exit(2);
}

/** A logger that counts errors (one per failed timer dispatch) and prints only the first few. */
function countingLogger(): { log: Logger; errors: () => number } {
  let errors = 0;
  const print = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    if (level === 'error') errors++;
    if (level === 'error' && errors > 5) return;
    if (level === 'error' || level === 'warn') console.error(JSON.stringify({ level, msg: message, ...fields }));
  };
  return { log: { debug: () => {}, info: () => {}, warn: print('warn'), error: print('error') }, errors: () => errors };
}

function checkDeadline(deadline: number, mode: Mode, what: string): void {
  if (Date.now() > deadline) throw new Error(`ticker bench mode=${mode}: gave up ${what} after ${mode_time_max_ms / 1000} s (BENCH_TICKER_MAX_S)`);
}

async function createOrders(engine: Engine, count: number, deadline: number, mode: Mode): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      checkDeadline(deadline, mode, 'creating orders');
      const i = next++;
      const input = orderInput({ id: newId('pay', t0), merchantOrderNo: `BENCH-TICKER-${i}`, createdAt: t0, expiresAt: t0 + expiry_ms });
      const created = await engine.create(input);
      if (created.outcome !== 'created') throw new Error(`order ${i}: create ${created.outcome}`);
    }
  };
  await Promise.all(Array.from({ length: create_lanes }, lane));
}

/** Orders by status, counted through the store's own scan. */
async function countStatuses(store: Store): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let after = '';
  for (;;) {
    const page = await store.scanOrders(after, verify_page_orders);
    if (page.length === 0) return counts;
    for (const row of page) counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
    after = page.at(-1)!.id;
  }
}

async function runMode(mode: Mode, redisUrl: string | undefined): Promise<ModeResult> {
  const deadline = Date.now() + mode_time_max_ms;
  const database = await freshDatabase('sqlite');
  const store = await openStore(database.url);
  const redis = mode === 'redis' ? new Redis(redisUrl!, { maxRetriesPerRequest: 2, protocol: 2 } as never) : undefined;
  try {
    await store.migrate();
    const clock = new ManualClock(t0);
    const { log, errors } = countingLogger();
    const index = redis ? new RedisTimerIndex(redis, `paycenter:bench-ticker:${process.pid}`) : undefined;
    const committer = new DurableCommitter(store, clock, group_commit);
    const engine = new Engine(
      { store, committer, lock: new LocalLock(), renderNotification: renderForTests, onCommitted: index && ((write) => void index.follow(write, log)) },
      default_engine_options,
    );

    const createStarted = performance.now();
    await createOrders(engine, orders_total, deadline, mode);
    if (redis && index) {
      // The ZADDs run on the same connection as this ZCARD, so it sees them all; re-seed if any was lost.
      const indexed = await redis.zcard(`paycenter:bench-ticker:${process.pid}`);
      if (indexed !== orders_total) await index.seed(store);
    }
    const createSeconds = (performance.now() - createStarted) / 1000;
    const commitsBefore = { ...engine.commitStats };

    const ticker = new Ticker({ engine, store, clock, log, index, parking: new Parking({ store, clock, log }) }, default_ticker_options);
    clock.advance(expiry_ms);
    Bun.gc(true);

    let rssPeak = 0;
    const sampleRss = () => void (rssPeak = Math.max(rssPeak, process.memoryUsage().rss));
    sampleRss();
    const rssStart = rssPeak;
    const sampler = setInterval(sampleRss, rss_sample_interval_ms);
    let ticks = 0;
    let fired = 0;
    let drainMs = 0;
    try {
      for (let round = 0; ; round++) {
        const started = performance.now();
        for (;;) {
          checkDeadline(deadline, mode, 'draining timers');
          const n = await ticker.tick();
          ticks++;
          fired += n;
          sampleRss();
          if (n === 0) break;
        }
        drainMs += performance.now() - started;
        const statuses = await countStatuses(store);
        if ((statuses.get('closed') ?? 0) === orders_total) break;
        // A failed dispatch keeps its lease: let leases run out and tick again (at most a few rounds).
        if (round >= 3) throw new Error(`ticker bench mode=${mode}: not all orders closed after ${round + 1} drains: ${JSON.stringify(Object.fromEntries(statuses))}`);
        console.error(`mode=${mode}: ${orders_total - (statuses.get('closed') ?? 0)} orders not closed yet (${errors()} dispatch errors); advancing past the lease`);
        clock.advance(default_ticker_options.leaseMs + 1);
      }
    } finally {
      clearInterval(sampler);
    }
    const remainingTimers = (await store.scanTimers(null, 10)).length;
    if (remainingTimers > 0) console.error(`mode=${mode}: ${remainingTimers}+ timer rows remain after the drain`);
    const drainSeconds = drainMs / 1000;
    const stats = engine.commitStats;
    return {
      mode, orders: orders_total, createSeconds, drainSeconds, ticks, fired,
      timersPerSecond: orders_total / drainSeconds, rssPeakMb: mb(rssPeak), rssStartMb: mb(rssStart), fireErrors: errors(),
      commits: stats.batches - commitsBefore.batches, writes: stats.writes - commitsBefore.writes,
    };
  } finally {
    if (redis) {
      await redis.del(`paycenter:bench-ticker:${process.pid}`).catch(() => 0);
      await redis.quit();
    }
    await store.close();
    await database.drop();
  }
}

async function runChild(mode: Mode, redisUrl: string | undefined): Promise<ModeResult> {
  const child = Bun.spawn(['bun', import.meta.path, '--child', mode, '--orders', String(orders_total)], {
    env: { ...process.env, ...(redisUrl ? { BENCH_TICKER_REDIS_URL: redisUrl } : {}) },
    stdin: 'ignore', stdout: 'pipe', stderr: 'inherit',
  });
  const killer = setTimeout(() => {
    console.error(`mode=${mode}: child still running ${mode_time_max_ms / 1000 + 60} s after start; killing it`);
    child.kill('SIGKILL');
  }, mode_time_max_ms + 60_000);
  const [code, out] = await Promise.all([child.exited, new Response(child.stdout).text()]);
  clearTimeout(killer);
  const line = out.split('\n').find((l) => l.startsWith(child_marker));
  if (code !== 0 || !line) throw new Error(`ticker bench mode=${mode} failed (exit ${code}):\n${out.trim()}`);
  return JSON.parse(line.slice(child_marker.length)) as ModeResult;
}

const childMode = argValue('--child') as Mode | undefined;
if (childMode) {
  if (!modes.includes(childMode)) throw new Error(`unknown mode ${childMode}`);
  const result = await runMode(childMode, process.env.BENCH_TICKER_REDIS_URL);
  console.log(child_marker + JSON.stringify(result));
  process.exit(0);
}

console.log(`ticker bench: ${orders_total} orders per mode, expire timers all due at once; SQLite store, in-process lock, ticker batch ${default_ticker_options.batchMax}`);
const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(6) : c.padStart(12))).join(' ');
const describe = (r: ModeResult) => row([
  r.mode, String(r.orders), r.createSeconds.toFixed(1), r.drainSeconds.toFixed(2), r.timersPerSecond.toFixed(0), String(r.ticks),
  `${r.commits} (${(r.writes / Math.max(1, r.commits)).toFixed(1)}/tx)`, `${r.rssStartMb.toFixed(0)} MB`, `${r.rssPeakMb.toFixed(0)} MB`, String(r.fireErrors),
]);
const resultLine = (r: ModeResult) => `RESULT ticker mode=${r.mode} timers_per_s=${r.timersPerSecond.toFixed(0)} rss_mb=${r.rssPeakMb.toFixed(0)}`;

/** One mode's child; its table row and its RESULT line as soon as it is done. */
async function measure(mode: Mode, redisUrl: string | undefined): Promise<string> {
  const result = await runChild(mode, redisUrl);
  console.log(describe(result));
  return resultLine(result);
}

async function measureWithRedis(): Promise<string> {
  const redisServer = await startRedis();
  try {
    return await measure('redis', redisServer.url);
  } finally {
    await redisServer.stop();
  }
}

console.log(row(['mode', 'orders', 'create s', 'drain s', 'timers/s', 'ticks', 'commits', 'rss start', 'rss peak', 'errors']));
process.exit(await runConfigurations('ticker', [
  { name: 'mode=store', needs: [], run: () => measure('store', undefined) },
  { name: 'mode=redis', needs: ['redis-server'], run: measureWithRedis },
]));
