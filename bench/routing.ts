/**
 * bun run bench routing — what routing costs a pay, with 50 channels serving the method.
 *
 * For each mode (local: windows in the process, breakers in a SQLite store; redis: windows and
 * breakers in Redis) it measures, in one run:
 *   decision: Router.decide for one pay part (breakers and windows as the router reads them,
 *             cached for up to a second as in production), sequentially, with its p99;
 *   record:   the health recording of one channel call (one scripted round trip with Redis),
 *             the only cost routing adds to a pay's critical path besides the decision.
 * Ends with one `RESULT routing …` line per mode.
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
import { Router } from '../src/routing/router.ts';
import { seal } from '../src/secrets.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { startRedis } from '../test/harness/services.ts';

const channels_total = 50;
const decisions_total = Number(process.env.BENCH_DECISIONS ?? 20_000);
const records_total = 5_000;
const warmup_total = 500;
const secretKey = new Uint8Array(32).fill(5);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** Runs `count` jobs one after the other; per-job times in µs. */
async function timed(count: number, job: (i: number) => Promise<unknown>): Promise<{ perSecond: number; p99Us: number }> {
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await job(i);
    times.push((performance.now() - t) * 1000);
  }
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: count / seconds, p99Us: percentile(times.sort((a, b) => a - b), 0.99) };
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

async function measure(mode: string, store: Store, windows: HealthWindows, board: BreakerBoard): Promise<string> {
  const log = createLogger('error');
  const clock = systemClock;
  const codes = await seedChannels(store);
  const breakers = new Breakers({ board, store, health: windows, clock, log }, default_breaker_settings);
  const health = new ChannelHealth({ windows, breakers, store, clock, log });
  const router = new Router({
    channels: new ChannelRegistry({ store, secretKey, clock, publicUrl: 'http://127.0.0.1' }), volumes: new DailyVolumes({ store, clock }), health, random: Math.random,
  });
  // Some history, a few failures: the windows are not empty.
  for (let i = 0; i < warmup_total; i++) await health.record(codes[i % codes.length]!, i % 13 === 0 ? 'failed' : 'answered', 40 + (i % 200));
  const decision = await timed(decisions_total, () => router.decide({ method: 'alipay_qr', currency: 'CNY', amount: 10_000 }, 'smart'));
  const record = await timed(records_total, (i) => health.record(codes[i % codes.length]!, 'answered', 120));
  return `RESULT routing mode=${mode} channels=${channels_total} decisions_per_s=${decision.perSecond.toFixed(0)} p99_us=${decision.p99Us.toFixed(0)} record_per_s=${record.perSecond.toFixed(0)} record_p99_us=${record.p99Us.toFixed(0)}`;
}

const dir = join('.test-tmp', `bench-routing-${process.pid}`);
mkdirSync(dir, { recursive: true });
const results: string[] = [];
try {
  const local = await openStore(`sqlite:${join(dir, 'local.db')}`);
  await local.migrate();
  results.push(await measure('local', local, new LocalHealth(), new StoreBoard(local)));
  await local.close();

  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url, { protocol: 2 } as never);
  const shared = await openStore(`sqlite:${join(dir, 'redis.db')}`);
  await shared.migrate();
  const scope = await shared.loadRoutingScope();
  try {
    results.push(await measure('redis', shared, new RedisHealth(redis, `paycenter:${scope}:health`), new RedisBoard(redis, shared, `paycenter:${scope}:breaker`)));
  } finally {
    await shared.close();
    redis.disconnect();
    await redisServer.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
for (const line of results) console.log(line);
