/**
 * A provider call whose connection is closed under it before its answer was read (a pooled
 * keep-alive socket the provider had just closed) is sent once more on another connection, with
 * the same body; a provider that keeps closing them is `unavailable` after that one retry. A real
 * loopback TCP server reads each request and either closes the socket unanswered or answers it.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import { type Server, type Socket, createServer } from 'node:net';
import { callProvider } from '../../src/channels/adapter.ts';

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
    const answer = await callProvider(url, request, { timeoutMs: 5_000 });
    expect(answer).toMatchObject({ ok: true, status: 200, text: 'ok' });
    expect(seen.connections).toBe(2);
    expect(seen.bodies).toEqual([request.body, request.body]);
  });

  test('is unavailable when the second connection closes too, after exactly one retry', async () => {
    const { url, seen, server } = await closingServer(Number.POSITIVE_INFINITY);
    servers.push(server);
    const answer = await callProvider(url, request, { timeoutMs: 5_000 });
    expect(answer).toMatchObject({ ok: false, code: 'unavailable' });
    expect(answer.ok ? '' : answer.message).toContain('ECONNRESET');
    expect(seen.connections).toBe(2);
  });
});
