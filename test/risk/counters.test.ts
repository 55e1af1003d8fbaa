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
import { type CounterAsk, type CountingPlans, counterAsks, counterHits, countingPlans } from '../../src/risk/counting.ts';
import { compileLists, compileRule, factsOf } from '../../src/risk/evaluate.ts';
import { openRiskDatabase } from '../../src/risk/repo.ts';
import { regionOf } from '../../src/risk/region.ts';
import { ruleOf } from '../../src/risk/rules.ts';
import { type FreshStore, freshStore } from '../store/stores.ts';

/** Order ids are made unique per test (its merchant `m` in front): an order has one amount wherever it is counted. */
const backends = ['memory', 'postgres', 'redis'] as const;

/** 12:00 on 2026-12-01 in China: its day ends in 12 hours, and a limit is kept a day longer. */
const t0 = Date.parse('2026-12-01T04:00:00.000Z');
const limit_ttl_ms = 36 * 3_600_000;

type Spec = { code?: string; review?: boolean; subject?: 'user' | 'device' | 'merchant'; count?: number; amount?: string; window_s?: number };
/** A day limit (a velocity when `window_s` is given) on the user unless said, refusing unless `review`. */
function rule(spec: Spec) {
  const velocity = spec.window_s !== undefined;
  const params = velocity
    ? { subject: spec.subject ?? 'user', count: spec.count, window_s: spec.window_s }
    : { subject: spec.subject ?? 'user', period: 'day', ...(spec.count !== undefined ? { count: spec.count } : {}), ...(spec.amount ? { amount: spec.amount } : {}) };
  const parsed = ruleOf({
    code: spec.code ?? 'r', kind: velocity ? 'velocity' : 'limit', action: spec.review ? 'review' : 'reject', score: 1, status: 'enabled', params, createdAt: 0, updatedAt: 0,
  });
  if (!parsed.ok) throw new Error(`${parsed.issue.field} ${parsed.issue.message}`);
  return compileRule(parsed.rule);
}
const plans = (...specs: Spec[]): CountingPlans => countingPlans(specs.map(rule));

/** What an order of `merchant` (each test its own, so its counters are too) asks, by payer u1 on device d1. */
function asks(of: CountingPlans, merchant: string, at: number, amount = 0, currency: 'CNY' | 'USD' = 'CNY'): CounterAsk[] {
  const candidate = { orderId: `${merchant}_pay_x`, merchantId: merchant, amount, currency, userId: 'u1', deviceId: 'd1', clientIp: null, at };
  return counterAsks(currency === 'CNY' ? of.cny : of.other, factsOf(candidate, compileLists([]), null, regionOf));
}
const limitHeld = (count: number, amount = 0) => ({ count, amount, spans: [] });
/** A window's: its count within each span of its plan, longest first. */
const windowHeld = (...spans: number[]) => ({ count: spans[0]!, amount: 0, spans });

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
      const m = unique();
      const p = plans({ count: 10 });
      for (let i = 0; i < 10; i++) expect((await counters.reserve(`${m}_pay_${i}`, t0, asks(p, m, t0))).allowed).toBe(true);
      expect(await counters.reserve(`${m}_pay_10`, t0, asks(p, m, t0))).toEqual({ allowed: false, held: [limitHeld(10)] });
      expect((await counters.reserve(`${m}_pay_11`, t0, asks(p, m, t0))).held).toEqual([limitHeld(10)]);
    });

    test('an amount limit takes payments up to the limit itself and refuses one fen more', async () => {
      const m = unique();
      const p = plans({ amount: '100.00' });
      expect((await counters.reserve(`${m}_pay_a`, t0, asks(p, m, t0, 6_000))).allowed).toBe(true);
      expect((await counters.reserve(`${m}_pay_b`, t0, asks(p, m, t0, 4_000))).allowed).toBe(true);
      expect(await counters.reserve(`${m}_pay_c`, t0, asks(p, m, t0, 1))).toEqual({ allowed: false, held: [limitHeld(2, 10_000)] });
    });

    test('a window counts an order until its last millisecond and forgets it at span_ms', async () => {
      const m = unique();
      const p = plans({ count: 1, window_s: 60 });
      expect((await counters.reserve(`${m}_pay_a`, t0, asks(p, m, t0))).allowed).toBe(true);
      expect((await counters.reserve(`${m}_pay_b`, t0 + 59_999, asks(p, m, t0 + 59_999))).allowed).toBe(false);
      expect((await counters.reserve(`${m}_pay_c`, t0 + 60_000, asks(p, m, t0 + 60_000))).allowed).toBe(true);
    });

    test('windows on one counter: each span is counted, the longest keeps the orders, and its rules hit by their own span', async () => {
      const m = unique();
      // The review rule's minute and the reject rule's hour read one set of orders. The minute's
      // maximum is low enough that it could hit once the hour holds two orders, so even Redis counts it.
      const p = plans({ code: 'minute', review: true, count: 2, window_s: 60 }, { code: 'hour', count: 3, window_s: 3_600 });
      const reserve = async (order: string, at: number) => {
        const asked = asks(p, m, at);
        const reservation = await counters.reserve(order, at, asked);
        return { ...reservation, hits: counterHits(asked[0]!, reservation.held[0]!).map((h) => h.code) };
      };
      expect(await reserve(`${m}_pay_a`, t0)).toEqual({ allowed: true, held: [windowHeld(0, 0)], hits: [] });
      expect(await reserve(`${m}_pay_b`, t0 + 1_000)).toEqual({ allowed: true, held: [windowHeld(1, 1)], hits: [] });
      // pay_a has left the minute at its 60,000th ms, not the hour.
      expect(await reserve(`${m}_pay_c`, t0 + 60_000)).toEqual({ allowed: true, held: [windowHeld(2, 1)], hits: [] });
      expect(await reserve(`${m}_pay_d`, t0 + 120_000)).toEqual({ allowed: false, held: [windowHeld(3, 0)], hits: ['hour'] });
      // pay_a has left the hour at its last millisecond; the refused pay_d was never counted.
      expect(await reserve(`${m}_pay_e`, t0 + 3_600_000)).toEqual({ allowed: true, held: [windowHeld(2, 0)], hits: [] });
      // pay_b leaves the hour; then two orders in the minute and three in the hour: both rules hit.
      expect(await reserve(`${m}_pay_f`, t0 + 3_601_000)).toEqual({ allowed: true, held: [windowHeld(2, 1)], hits: [] });
      expect(await reserve(`${m}_pay_g`, t0 + 3_601_001)).toEqual({ allowed: false, held: [windowHeld(3, 2)], hits: ['minute', 'hour'] });
    });

    test('an order reserved at an earlier time than the last (a clock behind) leaves the window at its own time', async () => {
      const m = unique();
      const p = plans({ count: 100, window_s: 60 });
      await counters.reserve(`${m}_pay_a`, t0 + 10_000, asks(p, m, t0 + 10_000));
      await counters.reserve(`${m}_pay_b`, t0 + 5_000, asks(p, m, t0 + 5_000));
      expect((await counters.reserve(`${m}_pay_c`, t0 + 64_000, asks(p, m, t0 + 64_000))).held).toEqual([windowHeld(2)]);
      // pay_b has left (a, c remain); kept in arrival order instead of time order, it would still count.
      expect((await counters.reserve(`${m}_pay_d`, t0 + 66_000, asks(p, m, t0 + 66_000))).held).toEqual([windowHeld(2)]);
    });

    test('a crowded window (more orders than Redis reads at once) is counted as exactly', async () => {
      const m = unique();
      const p = plans({ code: 'minute', review: true, count: 30, window_s: 60 }, { code: 'hour', count: 40, window_s: 3_600 });
      for (let i = 0; i < 40; i++) expect((await counters.reserve(`${m}_pay_${i}`, t0 + i * 1_000, asks(p, m, t0 + i * 1_000))).allowed).toBe(true);
      // At 70 s the minute holds the orders after 10 s (11 to 39); the hour all 40, its maximum.
      const at = t0 + 70_000;
      expect(await counters.reserve(`${m}_pay_40`, at, asks(p, m, at))).toEqual({ allowed: false, held: [windowHeld(40, 29)] });
    });

    test('a span on which no rule could hit, even with its whole window in it, may read the window\'s count; one that could is counted', async () => {
      const m = unique();
      const withMinute = (count: number) => plans({ code: 'minute', review: true, count, window_s: 60 }, { code: 'hour', count: 10, window_s: 3_600 });
      for (const [order, at] of [[`${m}_pay_a`, t0], [`${m}_pay_b`, t0 + 1_000], [`${m}_pay_c`, t0 + 120_000]] as const) await counters.reserve(order, at, asks(withMinute(5), m, at));
      // The minute holds pay_c alone, the hour three orders: 3 + 1 ≤ 5, so the minute's rule cannot hit whatever the count.
      const at = t0 + 121_000;
      const asked = asks(withMinute(5), m, at);
      const bounded = await counters.reserve(`${m}_pay_d`, at, asked);
      expect(bounded.allowed).toBe(true);
      expect(bounded.held[0]!.count).toBe(3);
      expect(bounded.held[0]!.spans[1]).toBeWithin(1, 4);
      expect(counterHits(asked[0]!, bounded.held[0]!)).toEqual([]);
      // Four orders in the hour against a minute's maximum of 4: the rule could hit, so its span is counted (pay_c, pay_d).
      const next = t0 + 122_000;
      expect(await counters.reserve(`${m}_pay_e`, next, asks(withMinute(4), m, next))).toEqual({ allowed: true, held: [windowHeld(4, 2)] });
    });

    test('a release gives the share back once, however often it is asked; a reservation counts an order once', async () => {
      const m = unique();
      const p = plans({ count: 2, amount: '10000.00' });
      const asked = asks(p, m, t0, 500);
      await counters.reserve(`${m}_pay_a`, t0, asked);
      await counters.reserve(`${m}_pay_a`, t0, asked);
      await counters.reserve(`${m}_pay_b`, t0, asked);
      expect((await counters.reserve(`${m}_pay_c`, t0, asked)).allowed).toBe(false);
      await counters.release(`${m}_pay_a`, asked);
      await counters.release(`${m}_pay_a`, asked);
      expect(await counters.reserve(`${m}_pay_c`, t0, asked)).toEqual({ allowed: true, held: [limitHeld(1, 500)] });
      expect((await counters.reserve(`${m}_pay_d`, t0, asked)).allowed).toBe(false);
    });

    test('an order in another currency counts without an amount, and gives its count back', async () => {
      const m = unique();
      const p = plans({ count: 1, amount: '1.00' });
      const asked = asks(p, m, t0, 50_000, 'USD');
      expect(asked.map((a) => a.amount)).toEqual([0]);
      expect((await counters.reserve(`${m}_pay_a`, t0, asked)).allowed).toBe(true);
      await counters.release(`${m}_pay_a`, asked);
      expect(await counters.reserve(`${m}_pay_b`, t0, asked)).toEqual({ allowed: true, held: [limitHeld(0)] });
    });

    test('all or nothing: a refused counter reserves none of the others; a review counter counts past its max', async () => {
      const m = unique();
      const open = { subject: 'user', count: 100 } as const;
      const full = { subject: 'device', count: 1 } as const;
      const review = { subject: 'merchant', count: 1, review: true } as const;
      await counters.reserve(`${m}_pay_a`, t0, asks(plans(full, review), m, t0));
      expect((await counters.reserve(`${m}_pay_b`, t0, asks(plans(open, full), m, t0))).allowed).toBe(false);
      expect((await counters.reserve(`${m}_pay_c`, t0, asks(plans(open), m, t0))).held).toEqual([limitHeld(0)]);
      expect(await counters.reserve(`${m}_pay_d`, t0, asks(plans(review), m, t0))).toEqual({ allowed: true, held: [limitHeld(1)] });
      expect((await counters.reserve(`${m}_pay_e`, t0, asks(plans(review), m, t0))).held).toEqual([limitHeld(2)]);
    });

    test('rules on one counter ask it once: the tightest refusing maximum refuses, a review rule refuses nothing', async () => {
      const m = unique();
      const p = plans({ code: 'review', review: true, count: 1 }, { code: 'loose', count: 5 }, { code: 'by_amount', amount: '10.00' });
      const asked = asks(p, m, t0, 500);
      expect(asked).toHaveLength(1);
      expect((await counters.reserve(`${m}_pay_a`, t0, asked)).allowed).toBe(true);
      expect((await counters.reserve(`${m}_pay_b`, t0, asked)).allowed).toBe(true);
      expect(await counters.reserve(`${m}_pay_c`, t0, asked)).toEqual({ allowed: false, held: [limitHeld(2, 1_000)] });
      // The refusal reserved nothing: the counter itself refused, not only its caller.
      expect((await counters.reserve(`${m}_pay_c2`, t0, asked)).held).toEqual([limitHeld(2, 1_000)]);

      const minutes = plans(
        { code: 'review', review: true, count: 1, window_s: 60 }, { code: 'loose', count: 10, window_s: 60 },
        { code: 'tight', count: 2, window_s: 60 }, { code: 'two', count: 10, window_s: 120 },
      );
      expect((await counters.reserve(`${m}_pay_d`, t0, asks(minutes, m, t0))).allowed).toBe(true);
      expect((await counters.reserve(`${m}_pay_e`, t0 + 1, asks(minutes, m, t0 + 1))).allowed).toBe(true);
      expect(await counters.reserve(`${m}_pay_f`, t0 + 2, asks(minutes, m, t0 + 2))).toEqual({ allowed: false, held: [windowHeld(2, 2)] });
      expect((await counters.reserve(`${m}_pay_g`, t0 + 3, asks(minutes, m, t0 + 3))).held).toEqual([windowHeld(2, 2)]);
    });

    test('50 concurrent reservations against a limit of 10 let exactly 10 in', async () => {
      const p = plans({ subject: 'user', count: 10 }, { subject: 'device', amount: '1000.00' });
      const m = unique();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => counters.reserve(`${m}_pay_${i}`, t0, asks(p, m, t0, 10_000))));
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
      const onlyAmount = plans({ amount: '1000.00' });
      const n = unique();
      const byAmount = await Promise.all(Array.from({ length: 50 }, (_, i) => counters.reserve(`${n}_pay_${i}`, t0, asks(onlyAmount, n, t0, 10_000))));
      expect(byAmount.filter((r) => r.allowed)).toHaveLength(10);
    });
  });
}

describe('risk_reserve in Postgres', () => {
  let fresh: FreshStore;
  let db: Awaited<ReturnType<typeof openRiskDatabase>>;
  beforeAll(async () => {
    fresh = await freshStore('postgres');
    db = await openRiskDatabase(fresh.url);
  }, 60_000);
  afterAll(async () => {
    await db?.counters?.close();
    await db?.sql.close();
    await fresh?.dispose();
  }, 60_000);

  test('a window whose rows come out of order (a shorter span first) still counts its longer span exactly', async () => {
    const counters = new PostgresCounters(db.counters!);
    const p = plans({ code: 'minute', review: true, count: 5, window_s: 60 }, { code: 'hour', count: 10, window_s: 3_600 });
    for (const [order, at] of [['pay_a', t0], ['pay_b', t0 + 1_000], ['pay_c', t0 + 120_000]] as const) await counters.reserve(order, at, asks(p, 'M1', at));
    const at = t0 + 121_000;
    const row = { bucket: 'w|user|M1|u1|w', kind: 'window', amount_max: null, amount: 0, expires_at: at + 3_600_000, enforce: false };
    // The minute first: its one order must not stand for the hour's three, whatever the hour's `need`.
    const checks = [{ ...row, span_ms: 60_000, count_max: null }, { ...row, span_ms: 3_600_000, count_max: null, need: 100 }];
    const [answer] = await db.counters!.unsafe('SELECT risk_reserve($1, $2, $3::text::jsonb) AS seen', ['pay_d', at, JSON.stringify(checks)]);
    expect(answer.seen).toEqual([[1, 0], [3, 0]]);
  });
});

describe('counters in Redis expire with their period', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(process.env.TEST_REDIS_URL!, { protocol: 2 } as never);
  });
  afterAll(() => redis.disconnect());

  test('a limit keeps the expiry its first order set; a window moves it with its latest order', async () => {
    const counters = new RedisCounters(redis);
    const p = plans({ count: 10 }, { count: 10, window_s: 60 });
    const m = randomBytes(6).toString('hex');
    const [day, minute] = asks(p, m, t0);
    const ttl = (ask: CounterAsk) => redis.pttl(`risk:${ask.prefix}${ask.key}|${ask.period}`);
    await counters.reserve(`${m}_pay_a`, t0, [day!, minute!]);
    expect(await ttl(day!)).toBeWithin(limit_ttl_ms - 5_000, limit_ttl_ms + 1);
    expect(await ttl(minute!)).toBeWithin(60_000 - 5_000, 60_001);
    // Ten minutes later by the caller's clock: the limit's period ends when it did, the window a minute after this order.
    await counters.reserve(`${m}_pay_b`, t0 + 600_000, asks(p, m, t0 + 600_000));
    expect(await ttl(day!)).toBeWithin(limit_ttl_ms - 5_000, limit_ttl_ms + 1);
    expect(await ttl(minute!)).toBeWithin(60_000 - 5_000, 60_001);
  });
});

describe('counters in memory keep one record an order', () => {
  test('an order is forgotten once every counter it joined has let it go, and a release then changes nothing', async () => {
    const counters = new MemoryCounters();
    const p = plans({ count: 10 }, { count: 10, window_s: 60 });
    await counters.reserve('pay_a', t0, asks(p, 'M1', t0));
    await counters.reserve('pay_b', t0 + 1_000, asks(p, 'M1', t0 + 1_000));
    expect(counters.countedOrders).toBe(2);
    // Past the window, within the day's limit: both still count there.
    await counters.purge(t0 + 120_000);
    expect(counters.countedOrders).toBe(2);
    // A close gives back the limit's share; the record stays for its window until purged.
    await counters.release('pay_a', asks(p, 'M1', t0).filter((a) => a.period !== 'w'));
    await counters.release('pay_a', asks(p, 'M1', t0).filter((a) => a.period !== 'w'));
    expect((await counters.reserve('pay_c', t0 + 2_000, asks(p, 'M1', t0 + 2_000))).held[0]).toEqual(limitHeld(1));
    expect(counters.countedOrders).toBe(3);
    // A day past the day's end: the limit and its orders are gone.
    await counters.purge(t0 + limit_ttl_ms);
    expect(counters.countedOrders).toBe(0);
    await counters.release('pay_b', asks(p, 'M1', t0));
    const next = t0 + limit_ttl_ms + 1;
    expect((await counters.reserve('pay_d', next, asks(p, 'M1', next))).held).toEqual([limitHeld(0), windowHeld(0)]);
  });
});
