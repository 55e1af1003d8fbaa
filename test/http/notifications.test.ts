/** Merchant notifications: signed, retried on the schedule, recorded, delivered once acknowledged. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { ManualClock } from '../../src/clock.ts';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from './harness.ts';

/** A merchant's notify endpoint that fails its first `failures` requests. */
function merchantEndpoint(failures: number) {
  const received: Array<{ body: string; signature: string | null; status: number }> = [];
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const body = await request.text();
      const status = received.length < failures ? 500 : 200;
      received.push({ body, signature: request.headers.get('paycenter-signature'), status });
      return new Response(status === 200 ? 'ok' : 'nope', { status });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/notify`, received, stop: () => server.stop(true) };
}

for (const kind of storeKinds) {
  describe(`notifications on ${kind}`, () => {
    // Requests are signed with real time, so the clock only moves forward within the ±300 s window before them.
    const clock = new ManualClock(Date.now());
    let booted: Booted;
    beforeAll(async () => {
      // No jitter: the schedule's gaps exactly.
      booted = await bootPaycenter(kind, {}, { clock, manualTicker: true, random: () => 0.5 });
    });
    afterAll(async () => {
      await booted?.stop();
    });

    test('a closed payment is notified, signed, retried after 1 s and 5 s, delivered on the third try', async () => {
      const endpoint = merchantEndpoint(2);
      const merchant = await MerchantClient.create(booted.url, { notify_url: endpoint.url });
      const payment = await merchant.createPayment();
      await merchant.call('POST', `/v1/payments/${payment.body.id}/close`);
      const delivery = booted.paycenter.delivery;
      expect(await delivery.tick()).toBe(1);
      clock.advance(999);
      expect(await delivery.tick()).toBe(0);
      clock.advance(1);
      expect(await delivery.tick()).toBe(1);
      clock.advance(4_999);
      expect(await delivery.tick()).toBe(0);
      clock.advance(1);
      expect(await delivery.tick()).toBe(1);
      clock.advance(100_000);
      expect(await delivery.tick()).toBe(0);
      expect(endpoint.received.map((r) => r.status)).toEqual([500, 500, 200]);
      const sent = JSON.parse(endpoint.received[2]!.body);
      expect(sent).toMatchObject({ type: 'payment.closed', data: { id: payment.body.id, status: 'closed' } });
      expect(sent.id).toMatch(/^evt_/);
      const [t, v1] = endpoint.received[2]!.signature!.split(',').map((p) => p.split('=')[1]);
      expect(v1).toBe(createHmac('sha256', merchant.secret).update(`${t}.${endpoint.received[2]!.body}`).digest('hex'));
      const event = await booted.paycenter.store.loadMerchantEvent(sent.id);
      expect(event).toMatchObject({ status: 'delivered', attempts: 3 });
      endpoint.stop();
    });

    test('after the last retry the event is failed, still listed for the merchant', async () => {
      // Fails its first 7 requests: all the tries the schedule gives, then recovers.
      const endpoint = merchantEndpoint(7);
      const merchant = await MerchantClient.create(booted.url, { notify_url: endpoint.url });
      const payment = await merchant.createPayment();
      await merchant.call('POST', `/v1/payments/${payment.body.id}/close`);
      for (let i = 0; i < 10; i++) {
        await booted.paycenter.delivery.tick();
        clock.advance(1_800_000);
      }
      // (the clock is now far past real time: from here on the test talks to the store and /admin, not to signed /v1 routes)
      expect(endpoint.received).toHaveLength(7);
      const listed = (await booted.paycenter.store.listMerchantEventsAfter(merchant.merchantId, null, 10))!;
      expect(listed.map((e) => e.type)).toEqual(['payment.closed']);
      expect(await booted.paycenter.store.loadMerchantEvent(listed[0]!.id)).toMatchObject({ status: 'failed', attempts: 7 });
      expect(await (await fetch(`${booted.url}/metrics`)).text()).toMatch(/paycenter_notifications_failed_total [1-9]/);

      // The merchant's endpoint is back; an operator sends the event again.
      const resend = await adminCall(booted.url, 'POST', `/admin/events/${listed[0]!.id}/resend`);
      expect(resend.status).toBe(202);
      expect((await adminCall(booted.url, 'POST', '/admin/events/evt_01XXXXXXXXXXXXXXXXXXXXXXXX/resend')).status).toBe(404);
      expect(await booted.paycenter.delivery.tick()).toBe(1);
      expect(endpoint.received.map((r) => r.status).at(-1)).toBe(200);
      expect(await booted.paycenter.store.loadMerchantEvent(listed[0]!.id)).toMatchObject({ status: 'delivered', attempts: 8 });
      endpoint.stop();
    });
  });
}
