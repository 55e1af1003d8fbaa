/** Nothing waits forever: an unpaid order closes when its time is up, once, even if its timer fires twice. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/clock.ts';
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
