/**
 * A provider call whose connection is closed under it before its answer was read (a pooled
 * keep-alive socket the provider had just closed) is sent once more on another connection, with
 * the same body; a provider that keeps closing them is `unavailable` after that one retry. Each
 * resend is told (onConnectionReset), and the channel registry tells it with the channel's code
 * (wiring counts it in /metrics and logs it). A real loopback TCP server reads each request and
 * either closes the socket unanswered or answers it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { type Server, type Socket, createServer } from 'node:net';
import { callProvider } from '../../src/channels/adapter.ts';
import { ChannelRegistry } from '../../src/channels/registry.ts';
import { ManualClock } from '../../src/clock.ts';
import { seal } from '../../src/secrets.ts';
import { t0 } from '../store/fixtures.ts';
import { type FreshStore, freshStore } from '../store/stores.ts';
import { rsaPair } from './interop-keys.ts';

type Seen = { connections: number; bodies: string[] };

/** Closes the first `unanswered` connections as soon as a request arrives on them; answers `ok` on the rest. */
async function closingServer(unanswered: number): Promise<{ url: string; seen: Seen; server: Server }> {
  const seen: Seen = { connections: 0, bodies: [] };
  const server = createServer((socket: Socket) => {
    const connection = ++seen.connections;
    socket.once('data', (request) => {
      seen.bodies.push(request.toString().split('\r\n\r\n')[1] ?? '');
      if (connection <= unanswered) socket.destroy();
      else socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/gateway.do`, seen, server };
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

const request = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'out_trade_no=flw_1&total_amount=1.00' };

describe('a provider call whose connection closes before the answer', () => {
  test('is sent once more, with the same body, and its answer is the call\'s', async () => {
    const { url, seen, server } = await closingServer(1);
    servers.push(server);
    let resets = 0;
    const answer = await callProvider(url, request, { timeoutMs: 5_000, onConnectionReset: () => resets++ });
    expect(answer).toMatchObject({ ok: true, status: 200, text: 'ok' });
    expect(resets).toBe(1);
    expect(seen.connections).toBe(2);
    expect(seen.bodies).toEqual([request.body, request.body]);
  });

  test('is unavailable when the second connection closes too, after exactly one retry', async () => {
    const { url, seen, server } = await closingServer(Number.POSITIVE_INFINITY);
    servers.push(server);
    let resets = 0;
    const answer = await callProvider(url, request, { timeoutMs: 5_000, onConnectionReset: () => resets++ });
    expect(answer).toMatchObject({ ok: false, code: 'unavailable' });
    expect(answer.ok ? '' : answer.message).toContain('ECONNRESET');
    expect(resets).toBe(1);
    expect(seen.connections).toBe(2);
  });
});

describe('a channel whose provider closes a connection under a call', () => {
  const secretKey = new Uint8Array(32).fill(7);
  let fresh: FreshStore;
  beforeAll(async () => {
    fresh = await freshStore('sqlite');
  });
  afterAll(() => fresh.dispose());

  test('is named to the registry\'s listener, once for its one resend', async () => {
    const { url, seen, server } = await closingServer(1);
    servers.push(server);
    const config = { app_id: '2021000000000042', private_key: rsaPair().privateKey, alipay_public_key: rsaPair().publicKey, gateway_url: url };
    await fresh.store.insertChannel({
      code: 'alipay_resets', provider: 'alipay', methods: ['alipay_qr'], currencies: ['CNY'], weight: 100, singleLimit: null, dailyLimit: null,
      status: 'enabled', configEnc: seal(secretKey, JSON.stringify(config)), feeRate: '0', createdAt: t0, updatedAt: t0,
    });
    const reset: string[] = [];
    const registry = new ChannelRegistry({ store: fresh.store, secretKey, clock: new ManualClock(t0), publicUrl: 'http://127.0.0.1', onConnectionReset: (code) => reset.push(code) });
    const channel = await registry.get('alipay_resets');
    // The second connection's answer is no signed Alipay answer: what counts here is that it was asked for.
    expect(await channel!.adapter.query({ flowId: 'flw_RESET', payableUntil: t0, now: t0 })).toMatchObject({ ok: false, code: 'bad_response' });
    expect(reset).toEqual(['alipay_resets']);
    expect(seen.connections).toBe(2);
  });
});
