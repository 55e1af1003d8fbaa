/**
 * The counters on every backend (a single instance's memory, Postgres, Redis): limits and
 * windows at their boundaries, releases, and 50 concurrent reservations against a limit of 10.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { type Counters, PostgresCounters } from '../../src/risk/counters.ts';
import { MemoryCounters } from '../../src/risk/counters-memory.ts';
import { RedisCounters } from '../../src/risk/counters-redis.ts';
import { type CounterCheck, counterHit } from '../../src/risk/evaluate.ts';
import { openRiskDatabase } from '../../src/risk/repo.ts';
import { type FreshStore, freshStore } from '../store/stores.ts';

const backends = ['memory', 'postgres', 'redis'] as const;

const t0 = Date.parse('2026-12-01T04:00:00.000Z');

/** A check of the limit counter `id` (a test's own, so its prefix carries it; the order's subject is fixed). */
function limit(id: string, over: Partial<CounterCheck> = {}): CounterCheck {
  return {
    code: 'r', prefix: `l|${id}|`, key: 'M1|u1', period: '2026-12-01', hold: `l|${id}|day`, kind: 'limit',
    countMax: null, amountMax: null, amount: 0, spanMs: 0, expiresAt: t0 + 86_400_000, enforce: true, ...over,
  };
}
function window(id: string, spanMs: number, countMax: number, over: Partial<CounterCheck> = {}): CounterCheck {
  return { code: 'r', prefix: `w|${id}|`, key: 'M1|u1', period: 'w', hold: `w|${id}|w`, kind: 'window', countMax, amountMax: null, amount: 0, spanMs, expiresAt: t0 + spanMs, enforce: true, ...over };
}

for (const backend of backends) {
  describe(`counters on ${backend}`, () => {
    let fresh: FreshStore;
    let counters: Counters;
    let close: () => Promise<void>;
    const unique = () => randomBytes(6).toString('hex');

    beforeAll(async () => {
      fresh = await freshStore(backend === 'memory' ? 'sqlite' : 'postgres');
      const db = await openRiskDatabase(fresh.url);
      if (backend === 'memory') {
        counters = new MemoryCounters();
        close = () => db.sql.close();
      } else if (backend === 'redis') {
        const redis = new Redis(process.env.TEST_REDIS_URL!, { protocol: 2 } as never);
        counters = new RedisCounters(redis);
        close = async () => {
          redis.disconnect();
          await db.sql.close();
        };
      } else {
        // The pool the server counts with (its commits do not wait for the disk).
        counters = new PostgresCounters(db.counters!);
        close = async () => {
          await db.counters!.close();
          await db.sql.close();
        };
      }
    }, 60_000);
    afterAll(async () => {
      await close?.();
      await fresh?.dispose();
    }, 60_000);

    test('a count limit lets the 10th order in and refuses the 11th, reserving nothing for it', async () => {
      const check = limit(unique(), { countMax: 10 });
      for (let i = 0; i < 10; i++) expect((await counters.reserve(`pay_${i}`, t0, [check])).allowed).toBe(true);
      const refused = await counters.reserve('pay_10', t0, [check]);
      expect(refused).toEqual({ allowed: false, seen: [{ count: 10, amount: 0 }] });
      expect((await counters.reserve('pay_11', t0, [check])).seen).toEqual([{ count: 10, amount: 0 }]);
    });

    test('an amount limit takes payments up to the limit itself and refuses one fen more', async () => {
      const bucket = unique();
      const at = (amount: number) => limit(bucket, { amountMax: 10_000, amount });
      expect((await counters.reserve('pay_a', t0, [at(6_000)])).allowed).toBe(true);
      expect((await counters.reserve('pay_b', t0, [at(4_000)])).allowed).toBe(true);
      expect(await counters.reserve('pay_c', t0, [at(1)])).toEqual({ allowed: false, seen: [{ count: 2, amount: 10_000 }] });
    });

    test('a window counts an order until its last millisecond and forgets it at span_ms', async () => {
      const check = window(unique(), 60_000, 1);
      expect((await counters.reserve('pay_a', t0, [check])).allowed).toBe(true);
      expect((await counters.reserve('pay_b', t0 + 59_999, [check])).allowed).toBe(false);
      expect((await counters.reserve('pay_c', t0 + 60_000, [check])).allowed).toBe(true);
    });

    test('windows on one counter: each rule counts the orders of its own span, and the longest keeps them', async () => {
      const id = unique();
      // The review rule's minute and the reject rule's hour read one set of orders (reserved at the check's own time).
      // The minute's maximum is low enough that it could hit once the hour holds two orders, so even Redis counts it.
      const minute = (at: number) => window(id, 60_000, 2, { code: 'minute', enforce: false, expiresAt: at + 60_000 });
      const hour = (at: number) => window(id, 3_600_000, 3, { code: 'hour', expiresAt: at + 3_600_000 });
      const reserve = (order: string, at: number) => counters.reserve(order, at, [minute(at), hour(at)]);
      expect((await reserve('pay_a', t0)).seen).toEqual([{ count: 0, amount: 0 }, { count: 0, amount: 0 }]);
      expect((await reserve('pay_b', t0 + 1_000)).seen).toEqual([{ count: 1, amount: 0 }, { count: 1, amount: 0 }]);
      // pay_a has left the minute at its 60,000th ms, not the hour.
      expect((await reserve('pay_c', t0 + 60_000)).seen).toEqual([{ count: 1, amount: 0 }, { count: 2, amount: 0 }]);
      expect(await reserve('pay_d', t0 + 120_000)).toEqual({ allowed: false, seen: [{ count: 0, amount: 0 }, { count: 3, amount: 0 }] });
      // pay_a has left the hour at its last millisecond; the refused pay_d was never counted.
      expect(await reserve('pay_e', t0 + 3_600_000)).toEqual({ allowed: true, seen: [{ count: 0, amount: 0 }, { count: 2, amount: 0 }] });
    });

    test('an order reserved at an earlier time than the last (a clock behind) leaves the window at its own time', async () => {
      const id = unique();
      const check = (at: number) => window(id, 60_000, 100, { expiresAt: at + 60_000 });
      await counters.reserve('pay_a', t0 + 10_000, [check(t0 + 10_000)]);
      await counters.reserve('pay_b', t0 + 5_000, [check(t0 + 5_000)]);
      expect((await counters.reserve('pay_c', t0 + 64_000, [check(t0 + 64_000)])).seen).toEqual([{ count: 2, amount: 0 }]);
      // pay_b has left (a, c remain); kept in arrival order instead of time order, it would still count.
      expect((await counters.reserve('pay_d', t0 + 66_000, [check(t0 + 66_000)])).seen).toEqual([{ count: 2, amount: 0 }]);
    });

    test('a crowded window (more orders than Redis reads at once) is counted as exactly', async () => {
      const id = unique();
      const minute = (at: number) => window(id, 60_000, 30, { code: 'minute', enforce: false, expiresAt: at + 60_000 });
      const hour = (at: number) => window(id, 3_600_000, 40, { code: 'hour', expiresAt: at + 3_600_000 });
      for (let i = 0; i < 40; i++) expect((await counters.reserve(`pay_${i}`, t0 + i * 1_000, [minute(t0 + i * 1_000), hour(t0 + i * 1_000)])).allowed).toBe(true);
      // At 70 s the minute holds the orders after 10 s (11 to 39); the hour all 40, its maximum.
      const at = t0 + 70_000;
      expect(await counters.reserve('pay_40', at, [minute(at), hour(at)])).toEqual({ allowed: false, seen: [{ count: 29, amount: 0 }, { count: 40, amount: 0 }] });
    });

    test('a span on which no rule could hit, even with its whole window in it, may see the window\'s count; one that could is counted', async () => {
      const id = unique();
      const minute = (at: number, countMax: number) => window(id, 60_000, countMax, { code: 'minute', enforce: false, expiresAt: at + 60_000 });
      const hour = (at: number) => window(id, 3_600_000, 10, { code: 'hour', expiresAt: at + 3_600_000 });
      for (const [order, at] of [['pay_a', t0], ['pay_b', t0 + 1_000], ['pay_c', t0 + 120_000]] as const) await counters.reserve(order, at, [minute(at, 5), hour(at)]);
      // The minute holds pay_c alone, the hour three orders: 3 + 1 ≤ 5, so the minute's rule cannot hit whatever the count.
      const at = t0 + 121_000;
      const bounded = await counters.reserve('pay_d', at, [minute(at, 5), hour(at)]);
      expect(bounded.allowed).toBe(true);
      expect(bounded.seen[1]).toEqual({ count: 3, amount: 0 });
      expect(bounded.seen[0]!.count).toBeGreaterThanOrEqual(1);
      expect(bounded.seen[0]!.count).toBeLessThanOrEqual(3);
      expect(counterHit(minute(at, 5), bounded.seen[0]!)).toBe(false);
      // Four orders in the hour against a minute's maximum of 4: the rule could hit, so its span is counted (pay_c, pay_d).
      const next = t0 + 122_000;
      expect(await counters.reserve('pay_e', next, [minute(next, 4), hour(next)])).toEqual({ allowed: true, seen: [{ count: 2, amount: 0 }, { count: 4, amount: 0 }] });
    });

    test('a release gives the share back once, however often it is asked; a reservation counts an order once', async () => {
      const check = limit(unique(), { countMax: 2, amountMax: 1_000_000, amount: 500 });
      await counters.reserve('pay_a', t0, [check]);
      await counters.reserve('pay_a', t0, [check]);
      await counters.reserve('pay_b', t0, [check]);
      expect((await counters.reserve('pay_c', t0, [check])).allowed).toBe(false);
      await counters.release('pay_a', [check]);
      await counters.release('pay_a', [check]);
      expect(await counters.reserve('pay_c', t0, [check])).toEqual({ allowed: true, seen: [{ count: 1, amount: 500 }] });
      expect((await counters.reserve('pay_d', t0, [check])).allowed).toBe(false);
    });

    test('an order that added nothing to the amount (another currency) gives its count back', async () => {
      const check = limit(unique(), { countMax: 1, amount: 0 });
      expect((await counters.reserve('pay_a', t0, [check])).allowed).toBe(true);
      await counters.release('pay_a', [check]);
      expect(await counters.reserve('pay_b', t0, [check])).toEqual({ allowed: true, seen: [{ count: 0, amount: 0 }] });
    });

    test('all or nothing: a refused counter reserves none of the others; a review counter counts past its max', async () => {
      const open = limit(unique(), { countMax: 100 });
      const full = limit(unique(), { countMax: 1 });
      const review = limit(unique(), { countMax: 1, enforce: false });
      await counters.reserve('pay_a', t0, [full, review]);
      expect((await counters.reserve('pay_b', t0, [open, full])).allowed).toBe(false);
      expect((await counters.reserve('pay_c', t0, [open])).seen).toEqual([{ count: 0, amount: 0 }]);
      expect(await counters.reserve('pay_d', t0, [review])).toEqual({ allowed: true, seen: [{ count: 1, amount: 0 }] });
      expect((await counters.reserve('pay_e', t0, [review])).seen).toEqual([{ count: 2, amount: 0 }]);
    });

    test('limits on one counter read one count: each judges it by its own maximum, and an order joins it once', async () => {
      const id = unique();
      const tight = limit(id, { code: 'tight', countMax: 2, amountMax: 1_000_000, amount: 500 });
      const loose = limit(id, { code: 'loose', countMax: 100, enforce: false, amount: 500 });
      expect(await counters.reserve('pay_a', t0, [tight, loose])).toEqual({ allowed: true, seen: [{ count: 0, amount: 0 }, { count: 0, amount: 0 }] });
      expect((await counters.reserve('pay_b', t0, [tight, loose])).seen).toEqual([{ count: 1, amount: 500 }, { count: 1, amount: 500 }]);
      expect(await counters.reserve('pay_c', t0, [loose, tight])).toEqual({ allowed: false, seen: [{ count: 2, amount: 1_000 }, { count: 2, amount: 1_000 }] });
      await counters.release('pay_a', [tight]);
      expect((await counters.reserve('pay_c', t0, [loose])).seen).toEqual([{ count: 1, amount: 500 }]);
    });


    test('rules asking the same of one counter: the tightest refusing maximum refuses, whichever comes first; a review rule refuses nothing', async () => {
      const id = unique();
      const loose = limit(id, { code: 'loose', countMax: 5, amount: 500 });
      const byAmount = limit(id, { code: 'by_amount', amountMax: 1_000, amount: 500 });
      const review = limit(id, { code: 'review', countMax: 1, enforce: false, amount: 500 });
      const checks = [review, loose, byAmount];
      expect((await counters.reserve('pay_a', t0, checks)).allowed).toBe(true);
      expect((await counters.reserve('pay_b', t0, checks)).allowed).toBe(true);
      expect(await counters.reserve('pay_c', t0, checks)).toEqual({ allowed: false, seen: Array(3).fill({ count: 2, amount: 1_000 }) });
      // The refusal reserved nothing: the counter itself refused, not only its caller.
      expect((await counters.reserve('pay_c2', t0, checks)).seen[0]).toEqual({ count: 2, amount: 1_000 });

      const span = unique();
      const minute = (code: string, countMax: number, enforce = true) => window(span, 60_000, countMax, { code, enforce });
      const rules = [minute('review', 1, false), minute('loose', 10), minute('tight', 2), window(span, 120_000, 10, { code: 'two' })];
      expect((await counters.reserve('pay_d', t0, rules)).allowed).toBe(true);
      expect((await counters.reserve('pay_e', t0 + 1, rules)).allowed).toBe(true);
      const refused = await counters.reserve('pay_f', t0 + 2, rules);
      expect(refused).toEqual({ allowed: false, seen: Array(4).fill({ count: 2, amount: 0 }) });
      expect((await counters.reserve('pay_g', t0 + 3, rules)).seen[0]).toEqual({ count: 2, amount: 0 });
    });
    test('50 concurrent reservations against a limit of 10 let exactly 10 in', async () => {
      const count = limit(unique(), { countMax: 10 });
      const amount = limit(unique(), { amountMax: 100_000, amount: 10_000 });
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => counters.reserve(`pay_${i}`, t0, [count, amount])));
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
      const onlyAmount = limit(unique(), { amountMax: 100_000, amount: 10_000 });
      const byAmount = await Promise.all(Array.from({ length: 50 }, (_, i) => counters.reserve(`pay_${i}`, t0, [onlyAmount])));
      expect(byAmount.filter((r) => r.allowed)).toHaveLength(10);
    });
  });
}

describe('counters in Redis expire with their period', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(process.env.TEST_REDIS_URL!, { protocol: 2 } as never);
  });
  afterAll(() => redis.disconnect());

  test('a limit keeps the expiry its first order set; a window moves it with its latest order', async () => {
    const counters = new RedisCounters(redis);
    const id = randomBytes(6).toString('hex');
    const day = limit(id, { countMax: 10, expiresAt: t0 + 86_400_000 });
    const minute = window(id, 60_000, 10);
    const ttl = (check: CounterCheck) => redis.pttl(`risk:${check.prefix}${check.key}|${check.period}`);
    await counters.reserve('pay_a', t0, [day, minute]);
    expect(await ttl(day)).toBeWithin(86_400_000 - 5_000, 86_400_001);
    expect(await ttl(minute)).toBeWithin(60_000 - 5_000, 60_001);
    // Ten minutes later by the caller's clock: the limit's period ends when it did, the window a minute after this order.
    await counters.reserve('pay_b', t0 + 600_000, [{ ...day, expiresAt: t0 + 86_400_000 }, { ...minute, expiresAt: t0 + 660_000 }]);
    expect(await ttl(day)).toBeWithin(86_400_000 - 5_000, 86_400_001);
    expect(await ttl(minute)).toBeWithin(60_000 - 5_000, 60_001);
  });
});
