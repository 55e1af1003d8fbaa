/**
 * bun run bench ticker [--orders N] — due timers drained per second by the Ticker, and the
 * memory the drain takes.
 *
 * For each mode (store polling first, then the Redis ZSET index), a fresh SQLite store gets N
 * orders (BENCH_ORDERS or --orders, default 100,000) whose `expire` timers are due at the same
 * instant of a ManualClock. One child process creates the orders and exits; a second one opens
 * the same database, as a restarted or another instance would, moves its clock to that instant
 * and runs `ticker.tick()` in a loop until no timer is due; every order must then be `closed`.
 * Timers per second = N / drain seconds. rss_mb is the drain process's peak RSS over its whole
 * life (the kernel's VmHWM): what draining 100k timers costs. Creating them costs memory of its
 * own, which the table reports apart as "create rss"; before the processes were split, both were
 * one figure (about 530–600 MB, most of it the engine's cache of recently created orders, which
 * no longer keeps new orders that no event follows at once). The drain process also samples its
 * heap after forced collections (bench/memory.ts) and says whether it trends. The parent starts
 * Redis on 127.0.0.1 for the redis mode (which needs redis-server installed; said up front when it
 * is missing, and the store mode still runs).
 *
 * Both modes use the in-process lock, so the only difference is where due timers are found
 * (the timers table vs the ZSET); in redis mode the index follows commits as src/wiring.ts
 * wires it (onCommitted), in the creating process. Prints one
 * `RESULT ticker mode=… timers_per_s=… rss_mb=…` per mode as soon as it is measured.
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
import { type MemorySampler, describeMemory, procMemoryMb, startMemorySampler } from './memory.ts';
import { freshDatabase } from '../test/store/stores.ts';

type Mode = 'store' | 'redis';
const modes: Mode[] = ['store', 'redis'];
type Role = 'create' | 'drain';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const orders_total = Number(argValue('--orders') ?? process.env.BENCH_ORDERS ?? 100_000);
/** Per child (creating, or draining), from its start; the parent kills a child that outlives it by a margin. */
const child_time_max_ms = Number(process.env.BENCH_TICKER_MAX_S ?? 600) * 1000;
const create_lanes = 256;
const expiry_ms = 1_800_000;
/**
 * The drain's heap is sampled after a forced collection this many times, spread over the timers
 * fired (each costs a few ms of the drain, more on a busy machine: the table says how long in all).
 */
const heap_samples_per_drain = 10;
/** Orders per page of the closing check, which runs in the drain process: 5,000 parsed orders a page cost 80 MB of its peak. */
const verify_page_orders = 500;
/** Config defaults (src/config.ts) for group commit, as the service runs it on SQLite. */
const group_commit = { batchMax: 64, waitMaxMs: 1, inFlightMax: commitsInFlightFor('sqlite'), queueWritesMax: commit_queue_writes_max };
const child_marker = 'TICKER_CHILD ';

type CreateResult = { createSeconds: number; rssPeakCreateMb: number };
type DrainResult = {
  drainSeconds: number; ticks: number; fired: number; rssStartMb: number; rssPeakMb: number; fireErrors: number;
  commits: number; writes: number; memory: string;
};
type ModeResult = CreateResult & DrainResult & { mode: Mode; orders: number; timersPerSecond: number };

/** What a child needs to find the shared database and the index. */
type ChildSetup = { mode: Mode; databaseUrl: string; redisUrl?: string; indexKey: string };

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
  if (Date.now() > deadline) throw new Error(`ticker bench mode=${mode}: gave up ${what} after ${child_time_max_ms / 1000} s (BENCH_TICKER_MAX_S)`);
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

/** The store, the engine on it and (in redis mode) the index, as src/wiring.ts wires them; `close` undoes it. */
async function open(setup: ChildSetup, clock: ManualClock, log: Logger) {
  const store = await openStore(setup.databaseUrl);
  await store.migrate();
  const redis = setup.redisUrl ? new Redis(setup.redisUrl, { maxRetriesPerRequest: 2, protocol: 2 } as never) : undefined;
  const index = redis ? new RedisTimerIndex(redis, setup.indexKey) : undefined;
  const committer = new DurableCommitter(store, clock, group_commit);
  const engine = new Engine(
    { store, committer, lock: new LocalLock(), renderNotification: renderForTests, onCommitted: index && ((write) => void index.follow(write, log)) },
    default_engine_options,
  );
  const close = async () => {
    await redis?.quit();
    await store.close();
  };
  return { store, redis, index, engine, close };
}

/** The first child: creates the orders (timed apart) and leaves them in the database. */
async function runCreate(setup: ChildSetup): Promise<CreateResult> {
  const deadline = Date.now() + child_time_max_ms;
  const { log } = countingLogger();
  const { engine, redis, index, store, close } = await open(setup, new ManualClock(t0), log);
  try {
    const started = performance.now();
    await createOrders(engine, orders_total, deadline, setup.mode);
    if (redis && index) {
      // The ZADDs run on the same connection as this ZCARD, so it sees them all; re-seed if any was lost.
      const indexed = await redis.zcard(setup.indexKey);
      if (indexed !== orders_total) await index.seed(store);
    }
    const createSeconds = (performance.now() - started) / 1000;
    return { createSeconds, rssPeakCreateMb: procMemoryMb('self', 'VmHWM') ?? 0 };
  } finally {
    await close();
  }
}

/** Ticks until no timer is due and every order is closed; returns the ticks and timers fired and the drain's milliseconds. */
async function drain(ticker: Ticker, store: Store, clock: ManualClock, deadline: number, mode: Mode, errors: () => number, sampler: MemorySampler) {
  const firedPerSample = Math.max(1, Math.floor(orders_total / heap_samples_per_drain));
  let ticks = 0;
  let fired = 0;
  let drainMs = 0;
  for (let round = 0; ; round++) {
    const started = performance.now();
    for (;;) {
      checkDeadline(deadline, mode, 'draining timers');
      const n = await ticker.tick();
      ticks++;
      if (Math.floor((fired + n) / firedPerSample) > Math.floor(fired / firedPerSample)) await sampler.sample();
      fired += n;
      if (n === 0) break;
    }
    drainMs += performance.now() - started;
    const statuses = await countStatuses(store);
    if ((statuses.get('closed') ?? 0) === orders_total) return { ticks, fired, drainMs };
    // A failed dispatch keeps its lease: let leases run out and tick again (at most a few rounds).
    if (round >= 3) throw new Error(`ticker bench mode=${mode}: not all orders closed after ${round + 1} drains: ${JSON.stringify(Object.fromEntries(statuses))}`);
    console.error(`mode=${mode}: ${orders_total - (statuses.get('closed') ?? 0)} orders not closed yet (${errors()} dispatch errors); advancing past the lease`);
    clock.advance(default_ticker_options.leaseMs + 1);
  }
}

/** The second child: a process that did not create the orders drains their timers. */
async function runDrain(setup: ChildSetup): Promise<DrainResult> {
  const deadline = Date.now() + child_time_max_ms;
  const clock = new ManualClock(t0);
  const { log, errors } = countingLogger();
  const { engine, redis, index, store, close } = await open(setup, clock, log);
  try {
    const ticker = new Ticker({ engine, store, clock, log, index, parking: new Parking({ store, clock, log }) }, default_ticker_options);
    clock.advance(expiry_ms);
    const commitsBefore = { ...engine.commitStats };
    const sampler = startMemorySampler({ pid: 'self' });
    const rssStartMb = procMemoryMb('self', 'VmRSS') ?? 0;
    const { ticks, fired, drainMs } = await drain(ticker, store, clock, deadline, setup.mode, errors, sampler);
    const memory = await sampler.stop();
    const remainingTimers = (await store.scanTimers(null, 10)).length;
    if (remainingTimers > 0) console.error(`mode=${setup.mode}: ${remainingTimers}+ timer rows remain after the drain`);
    const stats = engine.commitStats;
    return {
      drainSeconds: drainMs / 1000, ticks, fired, rssStartMb, rssPeakMb: memory.rssPeakMb, fireErrors: errors(),
      commits: stats.batches - commitsBefore.batches, writes: stats.writes - commitsBefore.writes, memory: describeMemory(memory),
    };
  } finally {
    await redis?.del(setup.indexKey).catch(() => 0);
    await close();
  }
}

async function runChild<T>(role: Role, setup: ChildSetup): Promise<T> {
  const child = Bun.spawn(['bun', import.meta.path, '--child', role, '--orders', String(orders_total)], {
    env: { ...process.env, BENCH_TICKER_SETUP: JSON.stringify(setup) },
    stdin: 'ignore', stdout: 'pipe', stderr: 'inherit',
  });
  const killer = setTimeout(() => {
    console.error(`mode=${setup.mode}: ${role} child still running ${child_time_max_ms / 1000 + 60} s after start; killing it`);
    child.kill('SIGKILL');
  }, child_time_max_ms + 60_000);
  const [code, out] = await Promise.all([child.exited, new Response(child.stdout).text()]);
  clearTimeout(killer);
  const line = out.split('\n').find((l) => l.startsWith(child_marker));
  if (code !== 0 || !line) throw new Error(`ticker bench mode=${setup.mode} ${role} failed (exit ${code}):\n${out.trim()}`);
  return JSON.parse(line.slice(child_marker.length)) as T;
}

const childRole = argValue('--child') as Role | undefined;
if (childRole) {
  // The parent wrote this setup; a child only ever runs under it.
  const setup = JSON.parse(process.env.BENCH_TICKER_SETUP!) as ChildSetup;
  if (!modes.includes(setup.mode)) throw new Error(`unknown mode ${setup.mode}`);
  const result = childRole === 'create' ? await runCreate(setup) : await runDrain(setup);
  console.log(child_marker + JSON.stringify(result));
  process.exit(0);
}

/** One mode: a fresh database, its orders created by one child and drained by another. */
async function runMode(mode: Mode, redisUrl: string | undefined): Promise<ModeResult> {
  const database = await freshDatabase('sqlite');
  const setup: ChildSetup = { mode, databaseUrl: database.url, redisUrl, indexKey: `paycenter:bench-ticker:${process.pid}` };
  try {
    const created = await runChild<CreateResult>('create', setup);
    const drained = await runChild<DrainResult>('drain', setup);
    return { mode, orders: orders_total, timersPerSecond: orders_total / drained.drainSeconds, ...drained, ...created };
  } finally {
    await database.drop();
  }
}

console.log(`ticker bench: ${orders_total} orders per mode, expire timers all due at once; SQLite store, in-process lock, ticker batch ${default_ticker_options.batchMax}`);
console.log('orders are created in one process and drained in another: "create rss" is the first one\'s peak, "rss peak" the drain process\'s');
const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(6) : c.padStart(12))).join(' ');
const describe = (r: ModeResult) => row([
  r.mode, String(r.orders), r.createSeconds.toFixed(1), `${r.rssPeakCreateMb.toFixed(0)} MB`, r.drainSeconds.toFixed(2), r.timersPerSecond.toFixed(0), String(r.ticks),
  `${r.commits} (${(r.writes / Math.max(1, r.commits)).toFixed(1)}/tx)`, `${r.rssStartMb.toFixed(0)} MB`, `${r.rssPeakMb.toFixed(0)} MB`, String(r.fireErrors),
]);
const resultLine = (r: ModeResult) => `RESULT ticker mode=${r.mode} timers_per_s=${r.timersPerSecond.toFixed(0)} rss_mb=${r.rssPeakMb.toFixed(0)}`;

/** One mode's children; its table row, its memory line and its RESULT line as soon as it is done. */
async function measure(mode: Mode, redisUrl: string | undefined): Promise<string> {
  const result = await runMode(mode, redisUrl);
  console.log(describe(result));
  console.log(`${''.padEnd(6)} drain memory: ${result.memory}`);
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

console.log(row(['mode', 'orders', 'create s', 'create rss', 'drain s', 'timers/s', 'ticks', 'commits', 'rss start', 'rss peak', 'errors']));
process.exit(await runConfigurations('ticker', [
  { name: 'mode=store', needs: [], run: () => measure('store', undefined) },
  { name: 'mode=redis', needs: ['redis-server'], run: measureWithRedis },
]));
