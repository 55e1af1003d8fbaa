/**
 * The console's home counts today's orders once per home_stats_fresh_ms in an instance, however
 * many tabs refresh it and whether they ask for the page or its JSON: the count scans the day's
 * orders, and on SQLite every payment waits for it. After the window the figures move on, and a
 * new China day is counted at once. Counts are observed on the real store, in both stores.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { decodeTime } from 'ulid';
import { chinaDate, chinaDayStart } from '../../src/channels/china-time.ts';
import { ManualClock } from '../../src/clock.ts';
import { newId } from '../../src/ids.ts';
import { home_stats_fresh_ms } from '../../src/console/home-stats.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';
import { browse, signIn } from './fixtures.ts';

const day_ms = 86_400_000;

/**
 * Noon in China on a day after every id minted so far: the test's moves stay inside one China day
 * until it crosses to the next on purpose, and an order's creation time is its id's (ULID's
 * monotonic factory never goes back, so files run before this one that moved their clocks ahead
 * would otherwise date its orders).
 */
function chinaNoonAfterEveryId(): number {
  return chinaDayStart(decodeTime(newId('req').slice(4))) + day_ms + day_ms / 2;
}

for (const kind of storeKinds) {
  describe(`the home's order figures, counted once a window (${kind})`, () => {
    const clock = new ManualClock(chinaNoonAfterEveryId());
    let booted: Booted;
    let merchant: MerchantClient;
    let cookie: string;
    let counts = 0;
    beforeAll(async () => {
      booted = await bootPaycenter(kind, {}, { clock });
      merchant = await MerchantClient.create(booted.url, { methods: ['alipay_qr'] });
      cookie = await signIn(booted.url);
      // Observes the console's calls on the real store; what they answer is the store's own.
      const store = booted.paycenter.store;
      const count = store.orderStatsSince.bind(store);
      store.orderStatsSince = (idFrom) => (counts++, count(idFrom));
    }, 30_000);
    afterAll(() => booted?.stop());

    const order = async () => {
      const created = await merchant.createPayment({ amount: '10.00' }, { timestamp: Math.floor(clock.now() / 1000) });
      expect(created.status).toBe(201);
    };
    const ordersToday = async () => (await adminCall(booted.url, 'GET', '/admin')).body.today.currencies.find((c: { currency: string }) => c.currency === 'CNY')?.orders;

    test('tabs and the JSON route within the window share one count; after it the figures move on', async () => {
      await order();
      const before = counts;
      expect(await ordersToday()).toBe(1);
      await order();
      clock.advance(home_stats_fresh_ms - 1);
      const [page, json, again] = await Promise.all([browse(booted.url, '/admin', cookie), ordersToday(), ordersToday()]);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('data-field="today.currencies.currency=CNY.orders">1<');
      expect([json, again]).toEqual([1, 1]);
      expect(counts - before).toBe(1);

      clock.advance(1);
      expect(await ordersToday()).toBe(2);
      expect(await ordersToday()).toBe(2);
      expect(counts - before).toBe(2);
    });

    test('a new China day is counted at once, without waiting for the window', async () => {
      const before = counts;
      expect(await ordersToday()).toBe(2);
      expect(counts - before).toBe(0);
      clock.advance(day_ms);
      expect((await adminCall(booted.url, 'GET', '/admin')).body.today).toEqual({ date: chinaDate(clock.now()), currencies: [] });
      expect(counts - before).toBe(1);
    });
  });
}
