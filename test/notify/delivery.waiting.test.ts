/**
 * A merchant with more notifications due than its in-flight cap: the rows beyond the cap wait in
 * the delivering process and start as places free, instead of being put off in the store for a
 * second at a time; a stopping delivery hands the waiting rows back at once. Real delivery over
 * real HTTP on loopback, a few dozen events.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Parking } from '../../actors/parking.ts';
import { systemClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { NotificationDelivery, default_delivery_options } from '../../src/notify/delivery.ts';
import { type Booted, MerchantClient, bootPaycenter } from '../http/harness.ts';

const in_flight_max = 2;
const events_n = 12;

/** An endpoint that answers 200 after `answerMs`; records when each event arrived and how many were open at once. */
function slowEndpoint(answerMs: number) {
  const stats = { arrivals: [] as number[], open: 0, openMax: 0 };
  const server = Bun.serve({
    port: 0, hostname: '127.0.0.1',
    async fetch(request) {
      await request.text();
      stats.arrivals.push(Date.now());
      stats.openMax = Math.max(stats.openMax, ++stats.open);
      await Bun.sleep(answerMs);
      stats.open -= 1;
      return new Response('ok');
    },
  });
  return { url: `http://127.0.0.1:${server.port}/notify`, stats, stop: () => server.stop(true) };
}

/** `n` closed payments of `merchant`: one `payment.closed` notification each, written before delivery starts. */
async function closedPayments(merchant: MerchantClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const created = await merchant.createPayment();
    if (created.status !== 201) throw new Error(`create answered ${created.status}`);
    const closed = await merchant.call('POST', `/v1/payments/${created.body.id}/close`);
    if (closed.status !== 200) throw new Error(`close answered ${closed.status}`);
  }
}

describe('notifications beyond a merchant\'s in-flight cap', () => {
  let booted: Booted;
  const deliveries: NotificationDelivery[] = [];
  const endpoints: Array<{ stop: () => void }> = [];
  beforeAll(async () => {
    // The service's own loops stay off: the deliveries made here are the only ones.
    booted = await bootPaycenter('sqlite', {}, { manualTicker: true });
  });
  afterAll(async () => {
    for (const delivery of deliveries) await delivery.stop();
    for (const endpoint of endpoints) endpoint.stop();
    await booted?.stop();
  });

  const deliveryWith = () => {
    const { store, committer, engine, merchants } = booted.paycenter;
    const log = createLogger('error');
    const delivery = new NotificationDelivery(
      { store, committer, engine, merchants, clock: systemClock, log, parking: new Parking({ store, clock: systemClock, log }), outbound: { allowPrivate: true } },
      { ...default_delivery_options, merchantInFlightMax: in_flight_max },
    );
    deliveries.push(delivery);
    return delivery;
  };

  test('wait in line and start as places free: all delivered well within the second a row used to be put off, never more than the cap at once', async () => {
    const endpoint = slowEndpoint(40);
    endpoints.push(endpoint);
    const merchant = await MerchantClient.create(booted.url, { notify_url: endpoint.url });
    await closedPayments(merchant, events_n);
    const started = Date.now();
    const delivery = deliveryWith();
    delivery.start();
    while (endpoint.stats.arrivals.length < events_n && Date.now() - started < 5_000) await Bun.sleep(10);
    await delivery.stop();
    expect(endpoint.stats.arrivals.length).toBe(events_n);
    expect(endpoint.stats.openMax).toBeLessThanOrEqual(in_flight_max);
    // Six rounds of two at 40 ms each; rows put off in the store would start a second later at the earliest.
    expect(Math.max(...endpoint.stats.arrivals) - started).toBeLessThan(default_delivery_options.merchantBusyDeferMs);
  }, 20_000);

  test('a delivery that stops hands its waiting rows back to the store at once, for the next one to claim', async () => {
    const endpoint = slowEndpoint(300);
    endpoints.push(endpoint);
    const merchant = await MerchantClient.create(booted.url, { notify_url: endpoint.url });
    await closedPayments(merchant, events_n);
    const delivery = deliveryWith();
    delivery.start();
    while (endpoint.stats.arrivals.length < in_flight_max) await Bun.sleep(10);
    await delivery.stop();
    // Two were delivered; the other ten are due now and leased by no one (not for another minute).
    const free = await booted.paycenter.store.claimOutbox(['merchant.notify'], Date.now(), 1_000, 100);
    expect(free.length).toBe(events_n - in_flight_max);
  }, 20_000);
});
