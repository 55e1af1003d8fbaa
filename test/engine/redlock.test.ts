/**
 * The order lock on Redis (Redlock): releasing a lock that is no longer ours — it expired under a
 * slow step, or a flush took its key — is tried once and let go. The redlock package retries a
 * release as often as an acquire (200 tries, 2–4 s), and every one of them ran inside the order's
 * mailbox, holding up its next event. Counted by Redis itself (INFO commandstats), not timed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { RedlockLock } from '../../src/lock/redlock.ts';
import { unique } from '../store/fixtures.ts';

/** Scripts Redis has run so far (EVAL and EVALSHA, however the client sent them). */
async function scriptsRun(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  return [...stats.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('the Redis order lock', () => {
  let redis: Redis;
  let observer: Redis;
  beforeAll(() => {
    redis = new Redis(process.env.TEST_REDIS_URL!, { protocol: 2 } as never);
    observer = new Redis(process.env.TEST_REDIS_URL!);
  });
  afterAll(() => {
    redis.disconnect();
    observer.disconnect();
  });

  test('a lock whose key is gone is released in one try, and the release does not throw', async () => {
    const key = `order:${unique()}`;
    const lock = new RedlockLock([redis]);
    const held = await lock.acquire(key, 5_000);
    await observer.del(`lock:${key}`);
    const before = await scriptsRun(observer);
    await held.release();
    // One try: its EVALSHA, and the EVAL it is sent as when the server does not know the script yet.
    expect((await scriptsRun(observer)) - before).toBeLessThanOrEqual(2);
  });
});
