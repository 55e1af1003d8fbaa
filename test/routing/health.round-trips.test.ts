/**
 * A pay's health recording adds one Redis round trip (API.md's target for routing: no round trip
 * on the pay's critical path beyond one pipelined call): the prepay's admission reads the breaker
 * through the cache the routing decision just refreshed, and the call is recorded by one script
 * that also answers the window the breaker needs. The decision itself reads Redis at most once per
 * cache period (breakers and windows, each one pipeline). Real Redis and store, real router and
 * observed adapters; only the provider is played; round trips counted at the client.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { ChannelRegistry } from '../../src/channels/registry.ts';
import { ManualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { seal } from '../../src/secrets.ts';
import { default_breaker_settings } from '../../src/routing/breaker.ts';
import { RedisBoard } from '../../src/routing/breaker-board.ts';
import { Breakers, breaker_cache_ms } from '../../src/routing/breakers.ts';
import { ChannelHealth } from '../../src/routing/channel-health.ts';
import { DailyVolumes } from '../../src/routing/daily-volume.ts';
import { RedisHealth } from '../../src/routing/health.ts';
import { ObservedAdapter } from '../../src/routing/observed-adapter.ts';
import { Router } from '../../src/routing/router.ts';
import { type CountedRedis, countedRedis } from '../harness/redis-trips.ts';
import { t0, unique } from '../store/fixtures.ts';
import { type FreshStore, freshStore } from '../store/stores.ts';
import { InstantProvider, prepayRequest } from './instant-provider.ts';

const channels_total = 5;
const secretKey = new Uint8Array(32).fill(9);

let fresh: FreshStore;
let redis: Redis;
let counted: CountedRedis;
const clock = new ManualClock(t0);

beforeAll(async () => {
  fresh = await freshStore('sqlite');
  redis = new Redis(process.env.TEST_REDIS_URL!);
  counted = countedRedis(redis);
});
afterAll(async () => {
  redis.disconnect();
  await fresh.dispose();
});

/** A router over `channels_total` channels of a new method, and each channel's observed adapter. */
async function world() {
  const scope = unique();
  const method = `m_${scope}`;
  const windows = new RedisHealth(counted.client, `paycenter:${scope}:health`);
  const board = new RedisBoard(counted.client, fresh.store, `paycenter:${scope}:breaker`);
  const log = createLogger('error');
  const breakers = new Breakers({ board, store: fresh.store, health: windows, clock, log }, default_breaker_settings);
  const health = new ChannelHealth({ windows, breakers, store: fresh.store, clock, log });
  const codes = Array.from({ length: channels_total }, (_, i) => `c_${scope}_${i}`);
  for (const [i, code] of codes.entries()) {
    await fresh.store.insertChannel({
      code, provider: 'wechatpay', methods: [method], currencies: ['CNY'], weight: 10 + i, singleLimit: null, dailyLimit: null,
      status: 'enabled', configEnc: seal(secretKey, '{}'), feeRate: '0', createdAt: t0, updatedAt: t0,
    });
  }
  const router = new Router({ channels: new ChannelRegistry({ store: fresh.store, secretKey, clock, publicUrl: 'http://127.0.0.1' }), volumes: new DailyVolumes({ store: fresh.store, clock }), health, random: () => 0.5 });
  const adapters = new Map(codes.map((code) => [code, new ObservedAdapter(new InstantProvider(), code, health)]));
  return { method, router, adapters };
}

describe("a pay's Redis round trips for routing", () => {
  test('the health recording: exactly one a pay; the decision: none while cached, two pipelines when it refreshes', async () => {
    const { method, router, adapters } = await world();
    const decisionTrips = new Set<number>();
    for (let pay = 0; pay < 30; pay++) {
      // 0, 1/3, 2/3, 1, … of the cache period: the decision refreshes every third pay.
      clock.advance(breaker_cache_ms / 3 + 1);
      const start = counted.trips();
      const decision = await router.decide({ method, currency: 'CNY', amount: 10_000 }, 'smart');
      const decided = counted.trips();
      expect((await adapters.get(decision.order[0]!)!.prepay(prepayRequest(`flw_${unique()}`, clock.now()))).ok).toBe(true);
      expect(counted.trips() - decided).toBe(1);
      decisionTrips.add(decided - start);
    }
    expect([...decisionTrips].sort()).toEqual([0, 2]);
  });

  test('pays that find the caches stale at once read Redis once between them', async () => {
    const { method, router } = await world();
    await router.decide({ method, currency: 'CNY', amount: 10_000 }, 'smart');
    clock.advance(breaker_cache_ms);
    const start = counted.trips();
    const decisions = await Promise.all(Array.from({ length: 10 }, () => router.decide({ method, currency: 'CNY', amount: 10_000 }, 'smart')));
    for (const decision of decisions) expect(decision.order).toHaveLength(channels_total);
    expect(counted.trips() - start).toBe(2);
  });
});
