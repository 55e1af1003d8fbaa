/**
 * A page payment (alipay_page) is a link paycenter signs itself; the payer's browser takes it to
 * Alipay. It is no call of the channel's: while Alipay's gateway is down it neither counts in the
 * health window nor serves as a half-open probe — three page payments used to close an open
 * breaker ("3 half-open probes answered") while Alipay had answered nothing. It is still kept
 * from an open breaker. Against the sandbox, the clock moved by hand.
 */
import { describe, expect, test } from 'bun:test';
import { default_breaker_settings as settings } from '../../src/routing/breaker.ts';
import { worldWithMovedClock } from '../channels/world.ts';
import { adminCall } from '../http/harness.ts';

describe('page payments and the breaker (sqlite, sandbox faults)', () => {
  const { world, clock } = worldWithMovedClock();
  const health = async () => (await adminCall(world.url, 'GET', '/admin/channels/alipay_main/health')).body;
  const pay = async (method: string) => {
    const created = await world.merchant.createPayment();
    return world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method });
  };

  test('while the gateway is down, page payments are kept from the open breaker, and neither counted nor probes once it is half-open', async () => {
    await fetch(`${world.sandboxUrl}/faults/alipay/${world.alipay.app_id}`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_error_rate: 1, seed: 3 }),
    });
    for (let i = 0; i < settings.consecutive; i++) expect((await pay('alipay_qr')).status).not.toBe(200);
    expect(await health()).toMatchObject({ breaker: 'open', calls: settings.consecutive, failures: settings.consecutive });
    expect((await pay('alipay_page')).body.error.code).toBe('no_channel_available');

    clock.advance(settings.openMs + 1);
    for (let i = 0; i < settings.halfOpenProbes; i++) {
      const paid = await pay('alipay_page');
      expect(paid.status).toBe(200);
      expect(paid.body.action.type).toBe('redirect');
    }
    const after = await health();
    expect(after).toMatchObject({ breaker: 'half_open', calls: settings.consecutive, failures: settings.consecutive });
    expect(after.transitions.map((t: { to: string }) => t.to)).not.toContain('closed');
  }, 30_000);
});
