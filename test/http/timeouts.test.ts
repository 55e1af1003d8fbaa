/** Nothing waits forever: an unpaid order closes when its time is up, once, even if its timer fires twice. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { RedisTimerIndex } from '../../actors/redis-timers.ts';
import { default_ticker_options } from '../../actors/ticker.ts';
import { ManualClock } from '../../src/clock.ts';
import { isDependencyFailure } from '../../src/failures.ts';
import { createLogger } from '../../src/log.ts';
import { next, orderRow, unique, writeOf } from '../store/fixtures.ts';
import { startRedis } from '../harness/services.ts';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, bootPaycenter, settleThroughActor } from './harness.ts';

for (const kind of storeKinds) {
  describe(`timeouts on ${kind}`, () => {
    const clock = new ManualClock(Date.now());
    let booted: Booted;
    let merchant: MerchantClient;
    beforeAll(async () => {
      booted = await bootPaycenter(kind, {}, { clock, manualTicker: true });
      merchant = await MerchantClient.create(booted.url);
    });
    afterAll(async () => {
      await booted?.stop();
    });

    test('an unpaid order closes at expires_at with payment.closed; a paid one does not', async () => {
      const unpaid = await merchant.createPayment({ expire_seconds: 60 });
      const paid = await merchant.createPayment({ expire_seconds: 60 });
      await settleThroughActor(booted.paycenter, paid.body.id);
      expect(await booted.paycenter.ticker.tick()).toBe(0);
      clock.advance(59_000);
      expect(await booted.paycenter.ticker.tick()).toBe(0);
      clock.advance(1_000);
      expect(await booted.paycenter.ticker.tick()).toBeGreaterThanOrEqual(1);
      const closed = await merchant.call('GET', `/v1/payments/${unpaid.body.id}`);
      expect(closed.body).toMatchObject({ status: 'closed', close_reason: 'timeout' });
      expect((await merchant.call('GET', `/v1/payments/${paid.body.id}`)).body.status).toBe('succeeded');
      expect(await booted.paycenter.store.listTimers(unpaid.body.id)).toEqual([]);
      const events = (await merchant.call('GET', '/v1/events')).body.data.filter((e: any) => e.data.id === unpaid.body.id);
      expect(events.map((e: any) => e.type)).toEqual(['payment.closed']);
    });

    test('a timer that fires again (its lease ran out) changes nothing', async () => {
      const order = await merchant.createPayment({ expire_seconds: 60 });
      const [timer] = await booted.paycenter.store.listTimers(order.body.id);
      clock.advance(60_000);
      await booted.paycenter.ticker.tick();
      const version = (await booted.paycenter.store.loadOrder(order.body.id))!.version;
      await booted.paycenter.engine.dispatch(order.body.id, timer!.event as never);
      expect((await booted.paycenter.store.loadOrder(order.body.id))!.version).toBe(version);
      const events = (await merchant.call('GET', '/v1/events')).body.data.filter((e: any) => e.data.id === order.body.id);
      expect(events).toHaveLength(1);
    });

    test('a timer claimed by a ticker that died fires again after its lease', async () => {
      const order = await merchant.createPayment({ expire_seconds: 60 });
      clock.advance(60_000);
      // A ticker claims the timer and dies before dispatching it.
      const claimed = await booted.paycenter.store.claimDueTimers(clock.now(), 30_000, 1_000);
      expect(claimed.map((t) => t.orderId)).toContain(order.body.id);
      expect(await booted.paycenter.ticker.tick()).toBe(0);
      clock.advance(30_001);
      expect(await booted.paycenter.ticker.tick()).toBeGreaterThanOrEqual(1);
      expect((await merchant.call('GET', `/v1/payments/${order.body.id}`)).body.status).toBe('closed');
    });
  });
}

/** How long a test waits for paycenter's own connection to have written an index update. */
const index_wait_ms = 2_000;

describe('timeouts with the Redis timer index', () => {
  const clock = new ManualClock(Date.now());
  let booted: Booted;
  let merchant: MerchantClient;
  let redis: Redis;
  beforeAll(async () => {
    booted = await bootPaycenter('postgres', { REDIS_URL: process.env.TEST_REDIS_URL! }, { clock, manualTicker: true });
    merchant = await MerchantClient.create(booted.url);
    redis = new Redis(process.env.TEST_REDIS_URL!);
  });
  afterAll(async () => {
    await redis?.quit();
    await booted?.stop();
  });

  /** The index follows a commit without holding up its answer (the rows are the truth), so this connection may see it a moment later. */
  async function indexedScore(member: string): Promise<string | null> {
    const deadline = Date.now() + index_wait_ms;
    let score = await redis.zscore('paycenter:timers', member);
    while (score === null && Date.now() < deadline) {
      await Bun.sleep(5);
      score = await redis.zscore('paycenter:timers', member);
    }
    return score;
  }

  test('armed timers are indexed; a due one fires from the index and leaves it', async () => {
    const order = await merchant.createPayment({ expire_seconds: 60 });
    expect(await indexedScore(`${order.body.id}\u0000expire`)).toBe(String(Date.parse(order.body.expires_at)));
    await booted.paycenter.ticker.tick();
    clock.advance(60_000);
    expect(await booted.paycenter.ticker.tick()).toBeGreaterThanOrEqual(1);
    expect((await merchant.call('GET', `/v1/payments/${order.body.id}`)).body.status).toBe('closed');
    expect(await redis.zscore('paycenter:timers', `${order.body.id}\u0000expire`)).toBeNull();
  });

  test('after FLUSHALL the table sweep still fires an overdue timer, and a re-seed restores the index', async () => {
    const order = await merchant.createPayment({ expire_seconds: 60 });
    await redis.flushall();
    expect(await new RedisTimerIndex(redis).seed(booted.paycenter.store)).toBeGreaterThanOrEqual(1);
    expect(await redis.zscore('paycenter:timers', `${order.body.id}\u0000expire`)).not.toBeNull();
    await redis.flushall();
    clock.advance(60_000 + 10_001);
    expect(await booted.paycenter.ticker.tick()).toBeGreaterThanOrEqual(1);
    expect((await merchant.call('GET', `/v1/payments/${order.body.id}`)).body.status).toBe('closed');
  });

  test('an index a flush emptied is seeded again from the store at the next sweep', async () => {
    const order = await merchant.createPayment({ expire_seconds: 600 });
    const member = `${order.body.id}\u0000expire`;
    expect(await indexedScore(member)).not.toBeNull();
    await redis.flushall();
    clock.advance(default_ticker_options.sweepIntervalMs);
    await booted.paycenter.ticker.tick();
    expect(await indexedScore(member)).toBe(String(Date.parse(order.body.expires_at)));
  });

  test('a timer overdue past the sweep grace, found by the index and the sweep in one tick, fires once', async () => {
    const order = await merchant.createPayment({ expire_seconds: 60 });
    clock.advance(60_000 + 10_001);
    expect(await booted.paycenter.ticker.tick()).toBe(1);
    const journal = await booted.paycenter.store.listJournal(order.body.id);
    expect(journal.filter((j) => (j.event as { type: string }).type === 'timer.expire')).toHaveLength(1);
  });

  test('two tickers claiming at once never take the same member', async () => {
    const index = new RedisTimerIndex(redis, 'paycenter:test-claims');
    await index.add(Array.from({ length: 50 }, (_, i) => ({ orderId: `pay_${i}`, key: 'expire', dueAt: 1_000, event: {} })));
    const [a, b] = await Promise.all([index.claim(2_000, 30_000, 40), index.claim(2_000, 30_000, 40)]);
    expect(a.length + b.length).toBe(50);
    expect(new Set([...a, ...b].map((r) => r.orderId)).size).toBe(50);
    expect(await index.claim(2_000, 30_000, 40)).toEqual([]);
    expect(await index.claim(32_001, 30_000, 100)).toHaveLength(50);
  });

  test('Redis down is a dependency failure of the index, which the ticker retries, not a bug', async () => {
    const server = await startRedis();
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, protocol: 2 });
    const index = new RedisTimerIndex(client, 'paycenter:test-down');
    expect(await index.claim(2_000, 30_000, 10)).toEqual([]);
    await server.stop();
    for (const call of [() => index.claim(2_000, 30_000, 10), () => index.add([{ orderId: 'pay_down', key: 'expire', dueAt: 1, event: {} }]), () => index.remove([{ orderId: 'pay_down', key: 'expire' }])]) {
      const failure = await call().then(() => null, (error: unknown) => error);
      expect(isDependencyFailure(failure)).toBe(true);
    }
    client.disconnect();
  });

  test("a write's timer changes are sent before the next write's: a timer disarmed then re-armed stays indexed", async () => {
    const index = new RedisTimerIndex(redis, 'paycenter:test-follow');
    const row = orderRow(2, { id: `pay_${unique()}` });
    const timer = (key: string, dueAt: number) => ({ orderId: row.id, key, dueAt, event: {} });
    const log = createLogger('error');
    await index.add([timer('query', 1_000)]);
    // The first write arms one timer and disarms `query`; the next re-arms `query`, before the first is indexed.
    const first = index.follow(writeOf(row, { timersArmed: [timer('expire', 5_000)], timersDisarmed: ['query'] }), log);
    const second = index.follow(writeOf(next(row), { timersArmed: [timer('query', 2_000)] }), log);
    await Promise.all([first, second]);
    expect(await redis.zscore('paycenter:test-follow', `${row.id}\u0000query`)).toBe('2000');
    expect(await redis.zscore('paycenter:test-follow', `${row.id}\u0000expire`)).toBe('5000');
  });
});
