/**
 * One merchant's endpoint that accepts connections and never answers must not delay another
 * merchant's notifications: each row is delivered on its own, within a per-merchant cap, and a
 * merchant that keeps timing out is backed off alone. Real delivery over real HTTP on loopback,
 * bounded in time (a few seconds) and in load (a few hundred events).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Server, type Socket, createServer } from 'node:net';
import { Parking } from '../../actors/parking.ts';
import { type Clock, ManualClock, systemClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { type DeliveryOptions, NotificationDelivery, default_delivery_options } from '../../src/notify/delivery.ts';
import { type Booted, MerchantClient, bootPaycenter } from '../http/harness.ts';

/** Accepts every connection and never answers; counts connections, and how many were open at once at most. */
async function blackHole() {
  const sockets = new Set<Socket>();
  const stats = { connections: 0, openMax: 0 };
  const server: Server = createServer((socket) => {
    stats.connections += 1;
    sockets.add(socket);
    stats.openMax = Math.max(stats.openMax, sockets.size);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/notify`,
    stats,
    /** Hangs up on everyone, so deliveries still waiting end at once. */
    stop: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** A healthy endpoint: answers 200 at once and records each event's delay from its creation to its arrival. */
function healthy() {
  const delaysMs: number[] = [];
  const server = Bun.serve({
    port: 0, hostname: '127.0.0.1',
    async fetch(request) {
      const event = (await request.json()) as { created_at: string };
      delaysMs.push(Date.now() - Date.parse(event.created_at));
      return new Response('ok');
    },
  });
  return { url: `http://127.0.0.1:${server.port}/notify`, delaysMs, stop: () => server.stop(true) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.99))]!;

/** Closes a new payment of `merchant`: one `payment.closed` notification, written at once. */
async function closedPayment(merchant: MerchantClient): Promise<void> {
  const created = await merchant.createPayment();
  if (created.status !== 201) throw new Error(`create answered ${created.status}`);
  const closed = await merchant.call('POST', `/v1/payments/${created.body.id}/close`);
  if (closed.status !== 200) throw new Error(`close answered ${closed.status}`);
}

/** For `durationMs`, the slow merchant gets `slowPerSecond` events a second and the other one every `fastEveryMs`. */
async function feed(slow: MerchantClient, fast: MerchantClient, durationMs: number, slowPerSecond: number, fastEveryMs: number): Promise<number> {
  const until = Date.now() + durationMs;
  let fastSent = 0;
  const slowLoop = (async () => {
    while (Date.now() < until) {
      const started = Date.now();
      // A few at once, as a busy merchant's orders close.
      await Promise.all(Array.from({ length: 5 }, () => closedPayment(slow)));
      await sleep(Math.max(0, (5 * 1000) / slowPerSecond - (Date.now() - started)));
    }
  })();
  const fastLoop = (async () => {
    while (Date.now() < until) {
      await closedPayment(fast);
      fastSent += 1;
      await sleep(fastEveryMs);
    }
  })();
  await Promise.all([slowLoop, fastLoop]);
  return fastSent;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition() && Date.now() < until) await sleep(20);
}

/**
 * A paycenter whose own loops stay off, and a delivery of its own with these options (short
 * timeouts), started: the only one delivering.
 */
async function bootWithDelivery(options: Partial<DeliveryOptions>, clock: Clock = systemClock): Promise<{ booted: Booted; delivery: NotificationDelivery }> {
  const booted = await bootPaycenter('sqlite', {}, { manualTicker: true, clock });
  const { store, committer, engine, merchants } = booted.paycenter;
  const log = createLogger('error');
  const delivery = new NotificationDelivery(
    { store, committer, engine, merchants, clock, log, parking: new Parking({ store, clock, log }), outbound: { allowPrivate: true } },
    { ...default_delivery_options, ...options },
  );
  // A moved clock means the test drives delivery itself, tick by tick.
  if (clock === systemClock) delivery.start();
  return { booted, delivery };
}

describe('notification delivery isolates merchants', () => {
  let booted: Booted;
  const hole = blackHole();
  const ok = healthy();
  afterAll(async () => {
    (await hole).stop();
    ok.stop();
    await booted?.stop();
  });

  test('a black-hole merchant at full tilt: the other merchant’s p99 delivery stays under 1 s, and the black hole never holds more than its cap', async () => {
    const black = await hole;
    booted = await bootPaycenter('sqlite');
    const slow = await MerchantClient.create(booted.url, { notify_url: black.url });
    const fast = await MerchantClient.create(booted.url, { notify_url: ok.url });
    const fastSent = await feed(slow, fast, 4_000, 30, 200);
    await waitFor(() => ok.delaysMs.length >= fastSent, 2_000);
    expect(ok.delaysMs.length).toBe(fastSent);
    expect(p99(ok.delaysMs)).toBeLessThan(1_000);
    expect(black.stats.connections).toBeGreaterThan(0);
    expect(black.stats.openMax).toBeLessThanOrEqual(default_delivery_options.merchantInFlightMax);
  }, 30_000);
});

describe('a merchant that keeps timing out is backed off alone', () => {
  const timeoutsBeforeBackoff = 2;
  const merchantInFlightMax = 4;
  let booted: Booted;
  let delivery: NotificationDelivery;
  const hole = blackHole();
  const ok = healthy();
  beforeAll(async () => {
    ({ booted, delivery } = await bootWithDelivery({ requestTimeoutMs: 200, merchantTimeoutsBeforeBackoff: timeoutsBeforeBackoff, merchantBackoffMs: 60_000, merchantInFlightMax }));
  });
  afterAll(async () => {
    (await hole).stop();
    await delivery?.stop();
    ok.stop();
    await booted?.stop();
  });

  test('after its timeouts the black hole gets no more connections for its pause; the other merchant is served throughout', async () => {
    const black = await hole;
    const slow = await MerchantClient.create(booted.url, { notify_url: black.url });
    const fast = await MerchantClient.create(booted.url, { notify_url: ok.url });
    const fastSent = await feed(slow, fast, 2_500, 20, 200);
    await waitFor(() => ok.delaysMs.length >= fastSent, 2_000);
    expect(ok.delaysMs.length).toBe(fastSent);
    expect(p99(ok.delaysMs)).toBeLessThan(1_000);
    // Its first deliveries (at most its cap at once, and those started before the second timeout
    // came back) time out; then it is paused. Without the pause, 200 ms timeouts at its cap of 4
    // would have made some fifty connections in these 2.5 s.
    expect(black.stats.connections).toBeGreaterThan(0);
    expect(black.stats.connections).toBeLessThanOrEqual(merchantInFlightMax + timeoutsBeforeBackoff);
  }, 30_000);
});

describe('a merchant whose 2xx answer never finishes its body', () => {
  let booted: Booted;
  let delivery: NotificationDelivery;
  // Answers 200 at once, then sends one chunk of body and never ends it.
  const stalling = Bun.serve({
    port: 0, hostname: '127.0.0.1',
    fetch: () => new Response(new ReadableStream({ start: (controller) => controller.enqueue(new TextEncoder().encode('ok')) }), { status: 200 }),
  });
  beforeAll(async () => {
    ({ booted, delivery } = await bootWithDelivery({ requestTimeoutMs: 200 }));
  });
  afterAll(async () => {
    await delivery?.stop();
    stalling.stop(true);
    await booted?.stop();
  });

  test('acknowledged it: the notification is delivered, not retried', async () => {
    const merchant = await MerchantClient.create(booted.url, { notify_url: `http://127.0.0.1:${stalling.port}/notify` });
    await closedPayment(merchant);
    const [event] = (await merchant.call('GET', '/v1/events')).body.data;
    const status = async () => (await booted.paycenter.store.loadMerchantEvent(event.id))?.status;
    // Its first try ends within the 200 ms timeout either way: delivered, or a failure waiting for its retry.
    let seen = await status();
    for (const until = Date.now() + 3_000; seen === 'pending' && (await booted.paycenter.store.loadMerchantEvent(event.id))!.attempts === 0 && Date.now() < until; seen = await status()) await sleep(20);
    expect(seen).toBe('delivered');
  }, 10_000);
});

describe('deliveries in flight together when a merchant times out', () => {
  const in_flight_n = 5;
  const backoff_ms = 10_000;
  // Requests are signed with real time: the clock moves well within their ±300 s window.
  const clock = new ManualClock(Date.now());
  let booted: Booted;
  let delivery: NotificationDelivery;
  const hole = blackHole();
  beforeAll(async () => {
    ({ booted, delivery } = await bootWithDelivery({
      requestTimeoutMs: 200, merchantTimeoutsBeforeBackoff: 1, merchantBackoffMs: backoff_ms, merchantBackoffMaxMs: 100 * backoff_ms, merchantInFlightMax: in_flight_n,
    }, clock));
  });
  afterAll(async () => {
    (await hole).stop();
    await delivery?.stop();
    await booted?.stop();
  });

  test('pause the merchant once, and once more (twice as long) when the tries after that pause time out too', async () => {
    const black = await hole;
    const merchant = await MerchantClient.create(booted.url, { notify_url: black.url });
    for (let i = 0; i < in_flight_n; i++) await closedPayment(merchant);
    // All five start together and time out together: one pause, not five doubling ones.
    expect(await delivery.tick()).toBe(in_flight_n);
    clock.advance(backoff_ms + 1);
    expect(await delivery.tick()).toBe(in_flight_n);
    // Their tries after the pause timed out as well: the pause doubles, once.
    clock.advance(backoff_ms + 1);
    expect(await delivery.tick()).toBe(0);
    clock.advance(backoff_ms);
    expect(await delivery.tick()).toBe(in_flight_n);
    expect(black.stats.connections).toBe(3 * in_flight_n);
  }, 10_000);
});
