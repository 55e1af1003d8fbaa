/**
 * A redelivery asked while an attempt is in flight: the attempt's result, written after the ask,
 * must not undo it. Real delivery through the real app, to a merchant endpoint on loopback that
 * holds the request until the test lets it answer; the clock is moved, not waited for.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/clock.ts';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from '../http/harness.ts';

/** Holds each request until `answer(status)`; afterwards, and once `open(status)` is called, answers at once. */
function heldEndpoint() {
  const held: Array<(status: number) => void> = [];
  let openStatus: number | null = null;
  const received: number[] = [];
  const server = Bun.serve({
    port: 0, hostname: '127.0.0.1',
    async fetch(request) {
      await request.text();
      const status = openStatus ?? (await new Promise<number>((resolve) => held.push(resolve)));
      received.push(status);
      return new Response(status < 300 ? 'ok' : 'nope', { status });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/notify`,
    received,
    /** Waits until a request is held. */
    async arrived() {
      while (held.length === 0) await Bun.sleep(5);
    },
    /** Waits for a request to arrive and answers it with `status`. */
    async answer(status: number) {
      await this.arrived();
      held.shift()!(status);
    },
    open(status: number) {
      openStatus = status;
    },
    stop: () => server.stop(true),
  };
}

for (const kind of storeKinds) {
  describe(`a redelivery asked while an attempt is in flight (${kind})`, () => {
    // Requests are signed with real time: the clock moves a few seconds at most.
    const clock = new ManualClock(Date.now());
    let booted: Booted;
    beforeAll(async () => {
      // One retry after 1 s, no jitter: the second try is the last.
      booted = await bootPaycenter(kind, { NOTIFY_RETRY_S: '1' }, { clock, manualTicker: true, random: () => 0.5 });
    });
    afterAll(async () => {
      await booted?.stop();
    });

    test('is not undone by that attempt running out of tries: the event is sent again, and no alert is raised', async () => {
      const endpoint = heldEndpoint();
      const merchant = await MerchantClient.create(booted.url, { notify_url: endpoint.url });
      const payment = await merchant.createPayment();
      await merchant.call('POST', `/v1/payments/${payment.body.id}/close`);
      const delivery = booted.paycenter.delivery;
      const first = delivery.tick();
      await endpoint.answer(500);
      expect(await first).toBe(1);

      // The last try is in flight when the merchant asks for the event again.
      clock.advance(1_000);
      const last = delivery.tick();
      await endpoint.arrived();
      const [event] = (await merchant.call('GET', '/v1/events')).body.data;
      expect((await merchant.call('POST', `/v1/events/${event.id}/redeliver`)).status).toBe(202);
      await endpoint.answer(500);
      expect(await last).toBe(1);

      expect(await booted.paycenter.store.loadMerchantEvent(event.id)).toMatchObject({ status: 'pending' });
      endpoint.open(200);
      expect(await delivery.tick()).toBe(1);
      expect(endpoint.received).toEqual([500, 500, 200]);
      expect(await booted.paycenter.store.loadMerchantEvent(event.id)).toMatchObject({ status: 'delivered' });
      const alerts = await adminCall(booted.url, 'GET', `/admin/alerts?kind=notify_failed&payment_id=${payment.body.id}`);
      expect(alerts.body.data).toEqual([]);
      endpoint.stop();
    });
  });
}
