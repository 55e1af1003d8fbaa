/**
 * A prepay that times out at channel A: nobody knows whether Alipay opened the trade, so the pay
 * request moves on to channel B with a new flow and A's flow is closed at its channel like any
 * replaced flow. The payer pays A's trade anyway (Alipay opened it after paycenter gave up): the
 * order settles through that flow, B's flow is closed — and when the payer pays B too, that money
 * is refunded automatically. The money audit stays clean.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { auditStore } from '../../src/audit/audit.ts';
import { ManualClock } from '../../src/clock.ts';
import { MerchantClient, adminCall } from '../http/harness.ts';
import { type World, bootWorld, drive, payerDecides, waitForPayment } from '../channels/world.ts';

const clock = new ManualClock(Date.now());
const channel_timeout_ms = 300;
const sandbox_hold_ms = 800;
let world: World;
let merchant: MerchantClient;

beforeAll(async () => {
  world = await bootWorld('sqlite', { clock, manualTicker: true, random: () => 0.5, registry: { requestTimeoutMs: channel_timeout_ms } });
  const app = await fetch(`${world.sandboxUrl}/alipay/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const second = await app.json();
  expect((await adminCall(world.url, 'POST', '/admin/channels', { code: 'alipay_b', provider: 'alipay', methods: ['alipay_qr'], weight: 50, config: second })).status).toBe(201);
  merchant = await MerchantClient.create(world.url, { methods: ['alipay_qr'], routing: 'weighted' });
  clock.advance(2_001); // the channel list is cached for 2 s
}, 60_000);
afterAll(() => world?.stop());

const sandboxFaults = (body: object | null) => fetch(`${world.sandboxUrl}/faults/alipay/${world.alipay.app_id}`, body
  ? { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
  : { method: 'DELETE' });

describe('a prepay timeout at A, then the payer pays A anyway (sqlite, sandbox)', () => {
  test('the order settles through A’s flow, B’s payment is refunded automatically, one payment.succeeded, the audit is clean', async () => {
    expect((await sandboxFaults({ api_timeout_rate: 1, api_timeout_hold_ms: sandbox_hold_ms, seed: 5 })).status).toBe(200);
    const created = await merchant.createPayment();
    const paid = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'alipay_qr' });
    expect(paid.status).toBe(200);
    const [timedOut, served] = paid.body.flows;
    expect([timedOut.channel, timedOut.status, served.channel, served.status]).toEqual(['alipay_main', 'pending', 'alipay_b', 'pending']);
    expect(paid.body.action.qr_code).toContain(served.id);

    // Alipay processes the held precreate after paycenter gave up: A's trade exists after all.
    await Bun.sleep(sandbox_hold_ms + 200);
    expect((await sandboxFaults(null)).status).toBe(200);
    const lateTrade = `${world.sandboxUrl}/pay/alipay/${encodeURIComponent(world.alipay.app_id!)}/${encodeURIComponent(timedOut.id)}`;
    expect((await payerDecides(lateTrade, 'pay')).status).toBe(200);
    const settled = await waitForPayment(merchant, created.body.id, (p) => p.status === 'succeeded');
    expect(settled.flows.find((f: any) => f.id === timedOut.id).status).toBe('succeeded');

    // The payer pays B's trade too before its close arrives: that money goes back by itself.
    expect((await payerDecides(paid.body.action.qr_code, 'pay')).status).toBe(200);
    await waitForPayment(merchant, created.body.id, (p) => p.flows.find((f: any) => f.id === served.id)?.status !== 'pending');
    await drive(world);
    const after = (await merchant.call('GET', `/v1/payments/${created.body.id}`)).body;
    expect(after).toMatchObject({ status: 'succeeded', paid_amount: '100.00', refunded_amount: '0.00' });
    expect(after.flows.map((f: any) => [f.channel, f.status])).toEqual([['alipay_main', 'succeeded'], ['alipay_b', 'refunded']]);
    const events = (await merchant.call('GET', '/v1/events?limit=100')).body.data.filter((e: any) => e.data.id === created.body.id);
    expect(events.map((e: any) => e.type)).toEqual(['payment.succeeded']);
    expect((await auditStore(world.booted.paycenter.store, { nowMs: clock.now() })).breaches).toEqual([]);
  }, 30_000);
});
