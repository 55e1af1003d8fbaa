/**
 * bun run bench routing — what routing costs a pay, with 50 channels serving the method.
 *
 * For each mode (local: windows in the process, breakers in the SQLite store; redis: windows and
 * breakers in Redis) it measures, in one run:
 *   pay:      the CPU time of a whole pay in a paycenter process (signed POST /pay, the prepay
 *             through WeChat Pay's wire protocol at the sandbox), with all 50 channels routable
 *             and with one (bench/routing/pay.ts);
 *   decision: Router.decide for one pay part, in this process: its rate, p99 and CPU time, with
 *             breakers and windows cached as in production (warm) and with every cache empty
 *             (cold: a new router each decision, the cost once per cache period);
 *   record:   the health recording of one prepay through the observed adapter over a provider
 *             that answers at once: its CPU time and the Redis round trips it makes, counted at
 *             the client.
 * The decision's share of a pay's CPU is decision_cpu_us / pay_cpu_us (the target: under
 * 5 %); a cold decision happens once per cache period (1 s) and instance, so at R pays/s it adds
 * cold_decision_cpu_us / R to each; pay_delta_share is what the same server spends more per pay
 * with 50 routable channels than with one (the decision, its refreshes and its longer timeline
 * note; within the run-to-run noise of about ±10 %). Ends with one `RESULT routing …` line per mode.
 */
import Redis from 'ioredis';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ChannelRegistry } from '../src/channels/registry.ts';
import { systemClock } from '../src/clock.ts';
import { createLogger } from '../src/log.ts';
import { default_breaker_settings } from '../src/routing/breaker.ts';
import { type BreakerBoard, RedisBoard, StoreBoard } from '../src/routing/breaker-board.ts';
import { Breakers } from '../src/routing/breakers.ts';
import { ChannelHealth } from '../src/routing/channel-health.ts';
import { DailyVolumes } from '../src/routing/daily-volume.ts';
import { type HealthWindows, LocalHealth, RedisHealth } from '../src/routing/health.ts';
import { ObservedAdapter } from '../src/routing/observed-adapter.ts';
import { Router } from '../src/routing/router.ts';
import { seal } from '../src/secrets.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { countedRedis } from '../test/harness/redis-trips.ts';
import { startRedis } from '../test/harness/services.ts';
import { InstantProvider, prepayRequest } from '../test/routing/instant-provider.ts';
import { payCpu } from './routing/pay.ts';
import { percentile } from './stats.ts';

const channels_total = 50;
const decisions_total = Number(process.env.BENCH_DECISIONS ?? 20_000);
const cold_decisions_total = 500;
const records_total = 5_000;
const warmup_total = 500;
const pays_per_turn = Number(process.env.BENCH_PAYS ?? 400);
const secretKey = new Uint8Array(32).fill(5);


/** CPU this process has used so far, all threads, in µs. */
const cpuUs = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

type Timing = { perSecond: number; p99Us: number; cpuUs: number };

/** Runs `count` jobs one after the other: their rate, the p99 of their wall time and their mean CPU time, in µs. */
async function timed(count: number, job: (i: number) => Promise<unknown>): Promise<Timing> {
  const times: number[] = [];
  const cpuBefore = cpuUs();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await job(i);
    times.push((performance.now() - t) * 1000);
  }
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: count / seconds, p99Us: percentile(times.sort((a, b) => a - b), 0.99), cpuUs: (cpuUs() - cpuBefore) / count };
}

async function seedChannels(store: Store): Promise<string[]> {
  const now = Date.now();
  const codes = Array.from({ length: channels_total }, (_, i) => `bench_${String(i).padStart(2, '0')}`);
  for (const [i, code] of codes.entries()) {
    await store.insertChannel({
      code, provider: i % 2 ? 'alipay' : 'wechatpay', methods: ['alipay_qr', 'wechat_native'], currencies: ['CNY'], weight: 10 + i,
      singleLimit: i % 5 === 0 ? 5_000_000 : null, dailyLimit: null, status: 'enabled', configEnc: seal(secretKey, '{}'),
      feeRate: `0.00${i % 10}`, createdAt: now, updatedAt: now,
    });
  }
  return codes;
}

type Shared = { windows: () => HealthWindows; board: BreakerBoard; trips: () => number };

/** The routing stack as wiring.ts builds it, over `shared`'s windows and board. */
function routingOf(store: Store, shared: Shared, windows: HealthWindows) {
  const log = createLogger('error');
  const clock = systemClock;
  const breakers = new Breakers({ board: shared.board, store, health: windows, clock, log }, default_breaker_settings);
  const health = new ChannelHealth({ windows, breakers, store, clock, log });
  const router = new Router({
    channels: new ChannelRegistry({ store, secretKey, clock, publicUrl: 'http://127.0.0.1' }), volumes: new DailyVolumes({ store, clock }), health, random: Math.random,
  });
  return { health, router };
}

type Measured = { decision: Timing; cold: Timing; record: Timing; recordTrips: number };

async function measureRouting(store: Store, shared: Shared): Promise<Measured> {
  const codes = await seedChannels(store);
  const windows = shared.windows();
  const { health, router } = routingOf(store, shared, windows);
  const need = { method: 'alipay_qr', currency: 'CNY', amount: 10_000 };
  // Some history, a few failures: the windows are not empty.
  for (let i = 0; i < warmup_total; i++) {
    const failed = i % 13 === 0;
    await health.record(codes[i % codes.length]!, { call: 'prepay', outcome: failed ? 'failed' : 'answered', latencyMs: 40 + (i % 200), probe: false, error: failed ? 'warm-up failure' : null });
  }
  const decision = await timed(decisions_total, () => router.decide(need, 'smart'));
  // Every cache empty: what a decision costs once per cache period (and at an instance's first pay).
  const cold = await timed(cold_decisions_total, () => routingOf(store, shared, windows).router.decide(need, 'smart'));
  const adapters = codes.map((code) => new ObservedAdapter(new InstantProvider(), code, health));
  const tripsBefore = shared.trips();
  const record = await timed(records_total, (i) => adapters[i % adapters.length]!.prepay(prepayRequest(`flw_bench_${i}`, Date.now())));
  return { decision, cold, record, recordTrips: (shared.trips() - tripsBefore) / records_total };
}

function resultLine(mode: string, m: Measured, pay: { withAllUs: number; withOneUs: number; pays: number }): string {
  const share = (us: number) => ((100 * us) / pay.withAllUs).toFixed(2);
  console.log(`${mode}: pay ${pay.withAllUs.toFixed(0)} µs CPU with ${channels_total} routable channels, ${pay.withOneUs.toFixed(0)} µs with one (${pay.pays} pays each); `
    + `decision ${m.decision.cpuUs.toFixed(0)} µs CPU warm (${share(m.decision.cpuUs)} % of a pay), ${m.cold.cpuUs.toFixed(0)} µs cold (once per cache period and instance); `
    + `health recording ${m.record.cpuUs.toFixed(0)} µs CPU, ${m.recordTrips.toFixed(2)} Redis round trips a prepay`);
  return `RESULT routing mode=${mode} channels=${channels_total} decisions_per_s=${m.decision.perSecond.toFixed(0)} p99_us=${m.decision.p99Us.toFixed(0)} `
    + `decision_cpu_us=${m.decision.cpuUs.toFixed(1)} cold_decision_cpu_us=${m.cold.cpuUs.toFixed(0)} pay_cpu_us=${pay.withAllUs.toFixed(0)} pay_one_channel_cpu_us=${pay.withOneUs.toFixed(0)} `
    + `pay_cpu_share=${share(m.decision.cpuUs)}% pay_delta_share=${share(pay.withAllUs - pay.withOneUs)}% `
    + `record_cpu_us=${m.record.cpuUs.toFixed(1)} record_p99_us=${m.record.p99Us.toFixed(0)} record_redis_round_trips=${m.recordTrips.toFixed(2)}`;
}

const dir = join('.test-tmp', `bench-routing-${process.pid}`);
mkdirSync(dir, { recursive: true });
const results: string[] = [];
try {
  const local = await openStore(`sqlite:${join(dir, 'local.db')}`);
  await local.migrate();
  const measured = await measureRouting(local, { windows: () => new LocalHealth(), board: new StoreBoard(local), trips: () => 0 });
  await local.close();
  results.push(resultLine('local', measured, await payCpu({ databaseUrl: `sqlite:${join(dir, 'pay-local.db')}`, redisUrl: null, channels: channels_total, paysPerTurn: pays_per_turn })));
  console.log(results.at(-1));

  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url, { protocol: 2 } as never);
  const counted = countedRedis(redis);
  const shared = await openStore(`sqlite:${join(dir, 'redis.db')}`);
  await shared.migrate();
  const scope = await shared.loadRoutingScope();
  try {
    const board = new RedisBoard(counted.client, shared, `paycenter:${scope}:breaker`);
    const m = await measureRouting(shared, { windows: () => new RedisHealth(counted.client, `paycenter:${scope}:health`), board, trips: counted.trips });
    results.push(resultLine('redis', m, await payCpu({ databaseUrl: `sqlite:${join(dir, 'pay-redis.db')}`, redisUrl: redisServer.url, channels: channels_total, paysPerTurn: pays_per_turn })));
    console.log(results.at(-1));
  } finally {
    await shared.close();
    redis.disconnect();
    await redisServer.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
