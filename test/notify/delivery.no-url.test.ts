/**
 * A payment whose order and merchant have no notify_url: the merchant reads its events at
 * GET /v1/events, so delivery spends no tries on them and raises no alert. The real app; the
 * clock is moved through the whole retry schedule.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/clock.ts';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from '../http/harness.ts';

for (const kind of storeKinds) {
  describe(`a payment with no notify_url anywhere (${kind})`, () => {
    const clock = new ManualClock(Date.now());
    let booted: Booted;
    beforeAll(async () => {
      booted = await bootPaycenter(kind, {}, { clock, manualTicker: true });
    });
    afterAll(async () => {
      await booted?.stop();
    });

    test('its event is listed for the merchant, looked at once and never tried again, and raises no alert', async () => {
      const merchant = await MerchantClient.create(booted.url);
      const payment = await merchant.createPayment();
      await merchant.call('POST', `/v1/payments/${payment.body.id}/close`);
      const [event] = (await merchant.call('GET', '/v1/events')).body.data;
      expect(event).toMatchObject({ type: 'payment.closed', data: { id: payment.body.id } });

      const delivery = booted.paycenter.delivery;
      expect(await delivery.tick()).toBe(1);
      // Past the whole schedule (1 s … 30 min): nothing is due again.
      for (let round = 0; round < 8; round++) {
        clock.advance(1_800_000);
        expect(await delivery.tick()).toBe(0);
      }
      expect(await booted.paycenter.store.loadMerchantEvent(event.id)).toMatchObject({ status: 'unsent', lastError: 'no notify_url for this payment or merchant' });
      const alerts = await adminCall(booted.url, 'GET', `/admin/alerts?kind=notify_failed&payment_id=${payment.body.id}`);
      expect(alerts.body.data).toEqual([]);
      expect(await booted.paycenter.store.listFailedOutbox(1_000)).toEqual([]);
    });
  });
}
