/**
 * A pay tries at most channels_per_pay_max channels. When that many fail and another channel could
 * still serve the method, the answer is `unavailable` (retry), not `no_channel_available` — which
 * API.md keeps for "when none is left". Four Alipay channels of the sandbox, the three cheapest
 * failing, routed `lowest_fee`; the clock moved by hand.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/clock.ts';
import { channels_per_pay_max } from '../../src/routing/failover.ts';
import { type World, bootWorld } from '../channels/world.ts';
import { MerchantClient, adminCall } from '../http/harness.ts';

const clock = new ManualClock(Date.now());
let world: World;
let merchant: MerchantClient;

async function alipayChannel(code: string, feeRate: string): Promise<string> {
  const app = (await (await fetch(`${world.sandboxUrl}/alipay/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as Record<string, string>;
  const created = await adminCall(world.url, 'POST', '/admin/channels', { code, provider: 'alipay', methods: ['alipay_qr'], fee_rate: feeRate, config: app });
  expect(created.status).toBe(201);
  return app.app_id!;
}

const failing = (appId: string) => fetch(`${world.sandboxUrl}/faults/alipay/${appId}`, {
  method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_error_rate: 1, seed: 3 }),
});

beforeAll(async () => {
  world = await bootWorld('sqlite', { clock, manualTicker: true });
  expect((await adminCall(world.url, 'PATCH', '/admin/channels/alipay_main', { fee_rate: '0.0010' })).status).toBe(200);
  await failing(world.alipay.app_id!);
  await failing(await alipayChannel('alipay_b', '0.0020'));
  await failing(await alipayChannel('alipay_c', '0.0030'));
  await alipayChannel('alipay_d', '0.0040');
  merchant = await MerchantClient.create(world.url, { methods: ['alipay_qr'], routing: 'lowest_fee' });
  clock.advance(2_001); // the channel list is cached for 2 s
}, 60_000);
afterAll(() => world?.stop());

describe('the failover cap (sqlite, sandbox faults)', () => {
  test(`${channels_per_pay_max} channels failing with a fourth left: unavailable, and the flows say which failed`, async () => {
    const created = await merchant.createPayment();
    const paid = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'alipay_qr' });
    expect(paid.status).toBe(503);
    expect(paid.body.error.code).toBe('unavailable');
    const payment = (await merchant.call('GET', `/v1/payments/${created.body.id}`)).body;
    expect(payment.flows.map((f: { channel: string; status: string }) => [f.channel, f.status]))
      .toEqual([['alipay_main', 'failed'], ['alipay_b', 'failed'], ['alipay_c', 'failed']]);
  }, 30_000);
});
