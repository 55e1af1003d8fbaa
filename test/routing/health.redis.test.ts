/**
 * Windows shared through Redis read exactly what one process's windows read: the same calls
 * (outcomes, latencies, times across more than a window, several channels) recorded into both —
 * a failure answers the window after it, an answer is read back after it — then both read at
 * moments that cut buckets in and out. The Redis scripts sum the buckets, the process sums them in
 * memory. Real Redis; the seed is printed. And a Redis that stops fails health and breakers as a
 * dependency (retried, 503), not as a bug (parked, logged with a stack).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { DependencyError } from '../../src/failures.ts';
import { RedisBoard } from '../../src/routing/breaker-board.ts';
import { redisClient } from '../../src/redis-client.ts';
import { LocalHealth, RedisHealth } from '../../src/routing/health.ts';
import { startRedis } from '../harness/services.ts';
import { freshStore } from '../store/stores.ts';
import { health_bucket_ms, health_window_ms } from '../../src/routing/window.ts';
import { unique } from '../store/fixtures.ts';

const t0 = 1_764_547_200_000; // a bucket boundary
const calls_total = 600;
const seed = Number(process.env.HEALTH_REDIS_SEED ?? Date.now() % 2_147_483_647);
console.log(`health.redis.test.ts seed ${seed} (HEALTH_REDIS_SEED=${seed} replays it)`);

let redis: Redis;
beforeAll(() => {
  redis = new Redis(process.env.TEST_REDIS_URL!);
});
afterAll(() => redis.disconnect());

describe('Redis health windows', () => {
  test('read the same totals, latency bins and failures in a row as the process’s windows', async () => {
    const local = new LocalHealth();
    const shared = new RedisHealth(redis, `paycenter:${unique()}:health`);
    const codes = ['a', 'b', 'c', 'quiet'];
    let r = seed;
    const random = () => (r = (r * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    // Calls over one and a half windows, in time order as Redis receives them.
    const span = health_window_ms * 1.5;
    const times = Array.from({ length: calls_total }, () => t0 + Math.floor(random() * span)).sort((x, y) => x - y);
    for (const at of times) {
      const code = codes[Math.floor(random() * 3)]!;
      const outcome = random() < 0.3 ? 'failed' : 'answered';
      const latency = Math.floor(random() * 12_000);
      // Read back (every failure, and an answer that could trip), a call answers the window after it
      // (calls, failures, failures in a row; the script sums no latency); otherwise Redis answers nothing.
      const readBack = outcome === 'failed' || random() < 0.5;
      const [mine, theirs] = await Promise.all([local.add(code, outcome, latency, at, readBack), shared.add(code, outcome, latency, at, readBack)]);
      if (!readBack) expect(theirs).toBeNull();
      else expect({ calls: theirs!.totals.calls, failures: theirs!.totals.failures, row: theirs!.consecutiveFailures })
        .toEqual({ calls: mine.totals.calls, failures: mine.totals.failures, row: mine.consecutiveFailures });
      if (outcome === 'answered') expect(await shared.read([code], at)).toEqual(await local.read([code], at));
    }
    const end = times.at(-1)!;
    for (const at of [end, end + health_bucket_ms - 1, end + health_bucket_ms, end + health_window_ms / 2, end + health_window_ms]) {
      expect(await shared.read(codes, at)).toEqual(await local.read(codes, at));
    }
    expect(await shared.read([], end)).toEqual(new Map());
  });
});

describe('a Redis that stops', () => {
  test('fails recording a call, reading windows and reading or moving breakers as Redis, a dependency', async () => {
    const server = await startRedis();
    const fresh = await freshStore('sqlite');
    // As the service connects: a command gives up after two retries.
    const client = redisClient(server.url);
    try {
      const health = new RedisHealth(client, `paycenter:${unique()}:health`);
      const board = new RedisBoard(client, fresh.store, `paycenter:${unique()}:breakers`);
      await health.add('c', 'answered', 5, t0, true);
      await server.stop();
      for (const failing of [health.add('c', 'failed', 5, t0, true), health.read(['c'], t0), board.read(['c']), board.claimProbe('c', t0, 1_000)]) {
        const error = await failing.then(() => null, (e: unknown) => e);
        expect(error).toBeInstanceOf(DependencyError);
        expect((error as DependencyError).dependency).toBe('redis');
      }
    } finally {
      client.disconnect();
      await fresh.dispose();
    }
  }, 30_000);

  test('that stops answering without closing its connections fails a command after redis_command_timeout_ms, as Redis', async () => {
    const server = await startRedis();
    const client = redisClient(server.url);
    try {
      const health = new RedisHealth(client, `paycenter:${unique()}:health`);
      await health.add('c', 'answered', 5, t0, true);
      process.kill(server.pid, 'SIGSTOP');
      const error = await health.add('c', 'failed', 5, t0, true).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyError);
      expect((error as Error).message).toContain('timed out');
    } finally {
      process.kill(server.pid, 'SIGCONT');
      client.disconnect();
      await server.stop();
    }
  }, 30_000);
});
