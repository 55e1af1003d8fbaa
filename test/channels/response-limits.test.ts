/**
 * Answers are read with a limit: a provider's (API calls and statements) and a merchant's notify
 * endpoint's. Real loopback servers stream bodies past the limits, or without end; the reader
 * must stop and cancel rather than hold them (or wait for them) in memory.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { callProvider, provider_response_bytes_max } from '../../src/channels/adapter.ts';
import { WechatpayAdapter } from '../../src/channels/wechatpay/adapter.ts';
import { ManualClock } from '../../src/clock.ts';
import { type Booted, MerchantClient, bootPaycenter } from '../http/harness.ts';
import { rsaPair } from './interop-keys.ts';

const chunk = new Uint8Array(64 * 1024).fill(0x61);

/** A body of `chunks` 64 KiB chunks (Infinity: without end) that tells whether the reader cancelled it. */
function streamedBody(chunks: number) {
  let sent = 0;
  const seen = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= chunks) return controller.close();
      sent += 1;
      controller.enqueue(chunk);
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

/** Bun.serve on 127.0.0.1, port 0, answering each request with a streamed body of `chunks` chunks. */
function streamingServer(chunks: () => number, status = 200) {
  const bodies: Array<ReturnType<typeof streamedBody>['seen']> = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      await request.arrayBuffer();
      const body = streamedBody(chunks());
      bodies.push(body.seen);
      return new Response(body.stream, { status, headers: { 'content-type': 'application/json' } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, bodies, stop: () => server.stop(true) };
}

/** Waits (bounded) until `holds`, for what the server side sees after the client has gone. */
async function eventually(holds: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !holds(); i++) await Bun.sleep(20);
  expect(holds()).toBe(true);
}

describe('provider answers', () => {
  let size = 0;
  const provider = streamingServer(() => size);
  afterAll(() => provider.stop());

  test('an answer up to the limit is read whole', async () => {
    size = provider_response_bytes_max / chunk.byteLength;
    const answer = await callProvider(`${provider.url}/gateway`, { method: 'POST', body: 'x' }, { timeoutMs: 5_000 });
    expect(answer).toMatchObject({ ok: true, status: 200 });
    expect(answer.ok && answer.text.length).toBe(provider_response_bytes_max);
  });

  test('an answer past the limit is a retryable bad_response naming the limit, and its stream is cancelled', async () => {
    size = Number.POSITIVE_INFINITY;
    const started = performance.now();
    const answer = await callProvider(`${provider.url}/gateway`, { method: 'POST', body: 'x' }, { timeoutMs: 5_000 });
    expect(answer).toEqual({
      ok: false, code: 'bad_response', retryable: true,
      message: `${new URL(provider.url).host}: answer (HTTP 200) is over ${provider_response_bytes_max} bytes`,
    });
    // Stopped at the limit, not at the timeout.
    expect(performance.now() - started).toBeLessThan(4_000);
    await eventually(() => provider.bodies.at(-1)!.cancelled);
  });

  test('a statement download has its own, larger limit', async () => {
    size = 2 * provider_response_bytes_max / chunk.byteLength;
    const options = { timeoutMs: 5_000, bytesMax: 4 * provider_response_bytes_max };
    const answer = await callProvider(`${provider.url}/bill.csv`, { method: 'GET' }, options);
    expect(answer.ok && answer.text.length).toBe(2 * provider_response_bytes_max);
  });

  test('an adapter answers an endless gateway answer with a retryable failure, not a crash or a hang', async () => {
    size = Number.POSITIVE_INFINITY;
    const keys = rsaPair();
    const adapter = new WechatpayAdapter({
      mchid: '1900000109', appid: 'wxd678efh567hg6787', serial_no: 'SERIAL', private_key: keys.privateKey, apiv3_key: 'a'.repeat(32),
      platform_serial: 'PLATFORM', platform_public_key: keys.publicKey, base_url: provider.url,
    }, { notifyUrl: 'http://127.0.0.1/callbacks/wechatpay/wx', timeoutMs: 5_000 });
    expect(await adapter.query({ flowId: 'flw_ENDLESS', payableUntil: Date.now(), now: Date.now() })).toMatchObject({ ok: false, code: 'bad_response', retryable: true });
  });
});

describe('merchant notify answers', () => {
  // Requests are signed with real time, so the clock stays near it.
  const clock = new ManualClock(Date.now());
  let booted: Booted;
  const merchantEndpoint = streamingServer(() => Number.POSITIVE_INFINITY);
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite', {}, { clock, manualTicker: true, random: () => 0.5 });
  });
  afterAll(async () => {
    await booted?.stop();
    await merchantEndpoint.stop();
  });

  test('a 2xx whose body never ends is delivered at once: the body is read up to the limit and cancelled', async () => {
    const merchant = await MerchantClient.create(booted.url, { notify_url: `${merchantEndpoint.url}/notify` });
    const payment = await merchant.createPayment();
    await merchant.call('POST', `/v1/payments/${payment.body.id}/close`);
    const started = performance.now();
    expect(await booted.paycenter.delivery.tick()).toBe(1);
    // Well under the 10 s request timeout a body read without a limit would run into.
    expect(performance.now() - started).toBeLessThan(5_000);
    const events = await merchant.call('GET', '/v1/events?limit=100');
    const closed = events.body.data.find((e: any) => e.type === 'payment.closed');
    expect((await booted.paycenter.store.loadMerchantEvent(closed.id))?.status).toBe('delivered');
    await eventually(() => merchantEndpoint.bodies.at(-1)!.cancelled);
  });
});
