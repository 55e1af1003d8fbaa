/**
 * End to end: a channel whose gateway closes the first connection under paycenter's prepay. The
 * pay is answered all the same (the prepay was sent once more, on another connection), and
 * /metrics counts the resend for that channel. A TCP proxy in front of the sandbox closes the
 * first connection as soon as a request arrives on it and relays every later one.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { MerchantClient, adminCall } from '../http/harness.ts';
import { type World, bootWorld } from './world.ts';

let world: World;
let proxy: Server;
let connections = 0;

/** Closes its first connection once a request arrives; pipes the others to `target`. */
function closingProxy(target: URL): Server {
  return createServer((client: Socket) => {
    if (++connections === 1) {
      client.once('data', () => client.destroy());
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream).pipe(client);
  });
}

beforeAll(async () => {
  world = await bootWorld('sqlite', { registry: { cacheMs: 0 } });
  const sandbox = new URL(world.sandboxUrl);
  proxy = closingProxy(sandbox);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };
  const config = { ...world.alipay, gateway_url: world.alipay.gateway_url!.replace(sandbox.origin, `http://127.0.0.1:${port}`) };
  expect((await adminCall(world.url, 'POST', '/admin/channels', { code: 'alipay_flaky', provider: 'alipay', methods: ['alipay_qr'], config })).status).toBe(201);
  expect((await adminCall(world.url, 'PATCH', '/admin/channels/alipay_main', { status: 'disabled' })).status).toBe(200);
}, 60_000);
afterAll(async () => {
  proxy?.close();
  await world?.stop();
});

describe('a prepay whose connection the channel closes before answering', () => {
  test('is answered after one resend, and /metrics counts that resend for the channel', async () => {
    const merchant = await MerchantClient.create(world.url, { methods: ['alipay_qr'] });
    const created = await merchant.createPayment();
    const paid = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'alipay_qr' });
    expect(paid.status).toBe(200);
    expect(paid.body.flows.map((f: { channel: string; status: string }) => [f.channel, f.status])).toEqual([['alipay_flaky', 'pending']]);
    expect(connections).toBe(2);

    const metrics = await (await fetch(`${world.url}/metrics`)).text();
    const resets = metrics.split('\n').filter((line) => line.startsWith('paycenter_channel_connection_resets_total'));
    expect(resets).toEqual(['paycenter_channel_connection_resets_total{channel="alipay_flaky"} 1']);
  });
});
