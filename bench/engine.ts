/**
 * bun run bench engine — durable events per second through dispatch().
 *
 * For each configuration (SQLite + in-process lock, Postgres + Redlock) it measures, in one run:
 *   floor: a bare lock acquire+release plus one durable commit of the same rows, per event;
 *   spread: callback-like events over distinct orders through dispatch (group commit);
 *   hot:    the same over 8 hot orders (p50/p99 latency).
 * Peak RSS is sampled across the whole spread phase (BENCH_EVENTS events, default 1,000,000).
 * Prints one `RESULT engine …` line per configuration as soon as it is measured; the Postgres
 * configuration needs PostgreSQL and redis-server installed (said up front when missing).
 */
import Redis from 'ioredis';
import { mkdirSync, rmSync } from 'node:fs';
import { Engine, restore } from '../actors/engine.ts';
import { writeSetOf } from '../actors/write-set.ts';
import { paymentTransitions } from '../machines/payment.machine.ts';
import type { PaymentEvent } from '../machines/payment.rules.ts';
import type { Lock } from '../src/lock/lock.ts';
import { LocalLock } from '../src/lock/local.ts';
import { RedlockLock } from '../src/lock/redlock.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { startPostgres, startRedis } from '../test/harness/services.ts';
import { type Configuration, runConfigurations } from './configurations.ts';
import { percentile } from './stats.ts';
import { engineOn, orderPaying, renderForTests, t0 } from '../test/engine/fixtures.ts';

const events_total = Number(process.env.BENCH_EVENTS ?? 1_000_000);
/** BENCH_ORDERS shrinks the whole run (orders, and the floor and hot phases with them) for a quick check. */
const orders_total = Number(process.env.BENCH_ORDERS ?? 20_000);
const lanes_spread = 512;
const lanes_hot = 64;
const hot_orders = 8;
const hot_events_total = Math.min(20_000, orders_total);
const floor_events_total = Math.min(5_000, orders_total);
const bench_time_max_ms = 15 * 60_000;
const rss_sample_every_events = 1_000;

type Order = { orderId: string; flowId: string };
const deadline = Date.now() + bench_time_max_ms;

function queryEvent(order: Order, at: number): PaymentEvent {
  return { type: 'timer.query', at, flowId: order.flowId };
}

/** Runs `count` jobs over `lanes` concurrent lanes; returns per-job latencies in ms. */
async function drive(count: number, lanes: number, job: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies = new Array<number>(count);
  let next = 0;
  const lane = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      const started = performance.now();
      await job(i);
      latencies[i] = performance.now() - started;
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return latencies.filter((l) => l !== undefined);
}


async function createOrders(engine: Engine, count: number): Promise<Order[]> {
  const orders: Order[] = [];
  // A query schedule that never flags: the bench is about throughput, not operators.
  await drive(count, 256, async () => orders.push(await orderPaying(engine, { queryAttemptsMax: Number.MAX_SAFE_INTEGER })));
  return orders;
}

/** One bare durable commit per event, under the order's lock: what the engine must beat. */
async function measureFloor(store: Store, lock: Lock, orders: Order[]): Promise<number> {
  let at = t0 + 10_000;
  const started = performance.now();
  await drive(floor_events_total, lanes_spread, async (i) => {
    const order = orders[i % orders.length]!;
    const handle = await lock.acquire(`order:${order.orderId}`, 5_000);
    try {
      const current = restore((await store.loadOrder(order.orderId))!);
      const event = queryEvent(order, at++);
      const [next, actions] = paymentTransitions.next(current.snapshot, event);
      const write = writeSetOf({ before: current.snapshot, after: next, actions, event, at: event.at, expectedVersion: current.row.version }, renderForTests);
      await store.commit([write]);
    } finally {
      await handle.release();
    }
  });
  return floor_events_total / ((performance.now() - started) / 1000);
}

type Spread = { perSecond: number; rssMb: number; rssStartMb: number; rssAtTenthMb: number };

/** Peak RSS over the phase, and RSS once a tenth of the events ran (after warm-up) against the end: flat means no growth. */
async function measureSpread(engine: Engine, orders: Order[]): Promise<Spread> {
  let at = t0 + 1_000_000;
  let rssPeak = 0;
  let rssStart = 0;
  let rssAtTenth = 0;
  // Sampled from the jobs themselves: a saturated event loop may starve an interval timer.
  const sampleRss = () => {
    const rss = process.memoryUsage().rss;
    rssPeak = Math.max(rssPeak, rss);
    if (rssStart === 0) rssStart = rss;
  };
  const started = performance.now();
  const done = await drive(events_total, lanes_spread, (i) => {
    if (i === Math.floor(events_total / 10)) rssAtTenth = process.memoryUsage().rss;
    if (i % rss_sample_every_events === 0) sampleRss();
    return engine.dispatch(orders[i % orders.length]!.orderId, queryEvent(orders[i % orders.length]!, at++));
  });
  const seconds = (performance.now() - started) / 1000;
  sampleRss();
  const mb = (bytes: number) => bytes / 2 ** 20;
  return { perSecond: done.length / seconds, rssMb: mb(rssPeak), rssStartMb: mb(rssStart), rssAtTenthMb: mb(rssAtTenth) };
}

async function measureHot(engine: Engine, orders: Order[]): Promise<{ perSecond: number; p50: number; p99: number }> {
  let at = t0 + 100_000_000;
  const hot = orders.slice(0, hot_orders);
  const started = performance.now();
  const latencies = await drive(hot_events_total, lanes_hot, (i) => engine.dispatch(hot[i % hot_orders]!.orderId, queryEvent(hot[i % hot_orders]!, at++)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

async function benchConfiguration(name: 'sqlite' | 'postgres', store: Store, lock: Lock): Promise<string> {
  await store.migrate();
  const engine = engineOn(store, lock);
  const orders = await createOrders(engine, orders_total);
  const floor = await measureFloor(store, lock, orders);
  const hot = await measureHot(engine, orders);
  const spread = await measureSpread(engine, orders);
  const stats = engine.commitStats;
  console.log(`${name}: floor ${floor.toFixed(0)} ev/s · spread ${spread.perSecond.toFixed(0)} ev/s (${(stats.writes / stats.batches).toFixed(1)} writes/commit) · hot ${hot.perSecond.toFixed(0)} ev/s p50 ${hot.p50.toFixed(1)} ms p99 ${hot.p99.toFixed(1)} ms · rss ${spread.rssStartMb.toFixed(0)} MB at start, ${spread.rssAtTenthMb.toFixed(0)} MB after ${events_total / 10} events, peak ${spread.rssMb.toFixed(0)} MB over ${events_total}`);
  return `RESULT engine store=${name} events_per_s=${spread.perSecond.toFixed(0)} floor_ratio=${(spread.perSecond / floor).toFixed(2)} hot_p99_ms=${hot.p99.toFixed(1)} rss_mb=${spread.rssMb.toFixed(0)}`;
}

async function benchPostgres(): Promise<string> {
  const postgres = await startPostgres();
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  try {
    const store = await openStore(postgres.url);
    const result = await benchConfiguration('postgres', store, new RedlockLock([redis]));
    await store.close();
    return result;
  } finally {
    await redis.quit();
    await redisServer.stop();
    await postgres.stop();
  }
}

/** Which configurations run (comma-separated), e.g. BENCH_STORES=sqlite to iterate on one. */
const stores = new Set((process.env.BENCH_STORES ?? 'sqlite,postgres').split(','));

async function benchSqlite(): Promise<string> {
  const dir = `.test-tmp/bench-engine-${process.pid}`;
  mkdirSync(dir, { recursive: true });
  try {
    const store = await openStore(`sqlite:${dir}/bench.db`);
    const result = await benchConfiguration('sqlite', store, new LocalLock());
    await store.close();
    return result;
  } finally {
    // Now, not at exit: deleted files leave no dirty pages for the kernel to write back while the next configuration fsyncs.
    rmSync(dir, { recursive: true, force: true });
  }
}

const configurations: Configuration[] = [
  { name: 'store=sqlite', needs: [], run: benchSqlite },
  { name: 'store=postgres', needs: ['postgres', 'redis-server'], run: benchPostgres },
];
process.exit(await runConfigurations('engine', configurations.filter((c) => stores.has(c.name.slice('store='.length)))));
