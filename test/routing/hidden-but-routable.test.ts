/**
 * A channel the cashier hides (a success rate under CASHIER_HIDE_BELOW) while its breaker stays
 * closed is still routable, and a create that pays at once is routed like a pay: it used to be
 * refused `no_channel_available` by the cashier's stricter rule, while the same method through
 * `/pay` was served. Against the sandbox, the clock moved by hand.
 */
import { describe, expect, test } from 'bun:test';
import { default_breaker_settings as settings } from '../../src/routing/breaker.ts';
import { worldWithMovedClock } from '../channels/world.ts';
import { adminCall } from '../http/harness.ts';

describe('a channel hidden in the cashier, its breaker closed (sqlite, sandbox faults)', () => {
  const { world } = worldWithMovedClock();
  const faults = (body: object | null) => fetch(`${world.sandboxUrl}/faults/alipay/${world.alipay.app_id}`, {
    method: body ? 'PUT' : 'DELETE', headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  });

  test('a create with its method is paid at once, as a pay would be', async () => {
    const failing = settings.consecutive - 2;
    await faults({ api_error_rate: 1, seed: 3 });
    for (let i = 0; i < failing; i++) expect((await world.merchant.createPayment({ method: 'alipay_qr' })).status).not.toBe(201);
    await faults(null);
    for (let i = failing; i < settings.minCalls; i++) expect((await world.merchant.createPayment({ method: 'alipay_qr' })).status).toBe(201);
    expect((await adminCall(world.url, 'GET', '/admin/channels/alipay_main/health')).body)
      .toMatchObject({ breaker: 'closed', calls: settings.minCalls, failures: failing, hidden_in_cashier: true });

    const created = await world.merchant.createPayment({ method: 'alipay_qr' });
    expect(created.status).toBe(201);
    expect(created.body.action.type).toBe('qr_code');
    expect(created.body.flows.map((f: { channel: string }) => f.channel)).toEqual(['alipay_main']);
  }, 30_000);
});
