/**
 * Operator alerts: rows raised once per id, listed newest first, acknowledged once — in both
 * stores — and raised for real by the order's actor (a late payment refunded automatically) and
 * by notification delivery (a notification that ran out of tries), seen over the admin API.
 */
import { describe, expect, test } from 'bun:test';
import { Alerts } from '../../src/alerts/alerts.ts';
import { ManualClock } from '../../src/clock.ts';
import { newId } from '../../src/ids.ts';
import { drive, payerDecides, worldWithMovedClock } from '../channels/world.ts';
import { startReceiver } from '../sandbox/helpers.ts';
import { freshStoreFor, storeKinds } from '../store/stores.ts';
import { adminCall } from './harness.ts';

for (const kind of storeKinds) {
  describe(`alerts in the store (${kind})`, () => {
    const store = freshStoreFor(kind);
    const clock = new ManualClock(1_764_000_000_000);

    test('raising twice with one id records one alert; listing is newest first and pages on', async () => {
      const alerts = new Alerts({ store, clock });
      const id = newId('alr', clock.now());
      expect(await alerts.raise({ id, kind: 'parked', message: 'first' })).toBe(true);
      expect(await alerts.raise({ id, kind: 'parked', message: 'again' })).toBe(false);
      clock.advance(1);
      await alerts.raise({ kind: 'breaker_open', message: 'alipay_main opened', channel: 'alipay_main' });
      clock.advance(1);
      await alerts.raise({ kind: 'risk_review', message: 'score 60', paymentId: 'pay_01JD0000000000000000000000' });
      const first = await alerts.list({ limit: 2 });
      expect(first.data.map((a) => a.kind)).toEqual(['risk_review', 'breaker_open']);
      expect(first.hasMore).toBe(true);
      const rest = await alerts.list({ limit: 2, beforeId: first.data[1]!.id });
      expect(rest.data.map((a) => a.message)).toEqual(['first']);
      expect(rest.hasMore).toBe(false);
      expect((await alerts.list({ kind: 'breaker_open', limit: 10 })).data[0]!.channel).toBe('alipay_main');
    });

    test('an acknowledgement is kept once; open listings and counts leave it out', async () => {
      const alerts = new Alerts({ store, clock });
      const before = await store.countOpenAlerts();
      const id = newId('alr', clock.now());
      await alerts.raise({ id, kind: 'recon_diff', message: 'amount differs' });
      expect((await store.countOpenAlerts()).recon_diff).toBe((before.recon_diff ?? 0) + 1);
      clock.advance(5);
      const acked = await alerts.ack(id, 'admin');
      expect(acked).toMatchObject({ acked: true, alert: { ackedAt: clock.now() } });
      clock.advance(5);
      expect(await alerts.ack(id, 'someone else')).toMatchObject({ acked: false, alert: { ackedAt: acked!.alert.ackedAt, ackedBy: 'admin' } });
      expect((await alerts.list({ open: true, limit: 200 })).data.some((a) => a.id === id)).toBe(false);
      expect((await store.countOpenAlerts()).recon_diff ?? 0).toBe(before.recon_diff ?? 0);
      expect(await alerts.ack(newId('alr', clock.now()), 'admin')).toBeNull();
    });
  });
}

describe('alerts raised by the engine and delivery, over the admin API (sqlite, a moved clock)', () => {
  const { world, clock } = worldWithMovedClock();

  test('a payment that lands after its order closed raises one auto_refund alert; an operator acknowledges it', async () => {
    const created = await world.merchant.createPayment({ method: 'wechat_native', expire_seconds: 60 });
    clock.advance(60_001);
    await drive(world);
    await fetch(`${world.sandboxUrl}/faults/wechatpay/${world.wechatpay.mchid}`, { method: 'DELETE' });
    expect((await payerDecides(created.body.action.qr_code, 'pay', { force: true })).status).toBe(200);
    let alerts: any[] = [];
    for (let i = 0; i < 100 && alerts.length === 0; i++) {
      await Bun.sleep(20);
      await drive(world);
      alerts = (await adminCall(world.url, 'GET', `/admin/alerts?open=true&payment_id=${created.body.id}`)).body.data;
    }
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'auto_refund', payment_id: created.body.id, acked_at: null });
    const acked = await adminCall(world.url, 'POST', `/admin/alerts/${alerts[0].id}/ack`);
    expect(acked.status).toBe(200);
    expect(acked.body.acked_at).not.toBeNull();
    expect((await adminCall(world.url, 'GET', `/admin/alerts?open=true&payment_id=${created.body.id}`)).body.data).toEqual([]);
    const metrics = await (await fetch(`${world.url}/metrics`)).text();
    expect(metrics).toMatch(/paycenter_alerts_raised_total\{kind="auto_refund"\} [1-9]/);
  });

  test('a notification that runs out of tries raises notify_failed once, and again when a redelivery runs out too', async () => {
    // The order's notify_url refuses every delivery; move the clock past the whole schedule.
    const refusing = startReceiver(() => new Response('nope', { status: 500 }));
    const created = await world.merchant.createPayment({ expire_seconds: 60, notify_url: refusing.url });
    const close = await world.merchant.call('POST', `/v1/payments/${created.body.id}/close`);
    expect(close.body.status).toBe('closed');
    for (let round = 0; round < 10; round++) {
      await world.booted.paycenter.delivery.tick();
      clock.advance(3 * 3600_000);
    }
    const alerts = async () => (await adminCall(world.url, 'GET', `/admin/alerts?kind=notify_failed&payment_id=${created.body.id}`)).body.data;
    expect(await alerts()).toHaveLength(1);
    expect((await alerts())[0].message).toContain('ran out of tries');
    await world.booted.paycenter.delivery.tick();
    expect(await alerts()).toHaveLength(1);

    // The merchant fixes nothing and asks again: the fresh schedule runs out too, and says so again.
    const [event] = (await world.merchant.call('GET', '/v1/events', undefined, { timestamp: Math.floor(clock.now() / 1000) })).body.data
      .filter((e: any) => e.data.id === created.body.id);
    const again = await world.merchant.call('POST', `/v1/events/${event.id}/redeliver`, undefined, { timestamp: Math.floor(clock.now() / 1000) });
    expect(again.status).toBe(202);
    for (let round = 0; round < 10; round++) {
      await world.booted.paycenter.delivery.tick();
      clock.advance(3 * 3600_000);
    }
    expect(await alerts()).toHaveLength(2);
    refusing.stop();
  });

  test('bad listings are refused; an unknown alert is not found', async () => {
    expect((await adminCall(world.url, 'GET', '/admin/alerts?kind=nope')).body.error).toMatchObject({ code: 'invalid_request', field: 'kind' });
    expect((await adminCall(world.url, 'GET', '/admin/alerts?limit=1000')).body.error.field).toBe('limit');
    expect((await adminCall(world.url, 'POST', '/admin/alerts/alr_nope/ack')).status).toBe(404);
    expect((await adminCall(world.url, 'GET', '/admin/alerts', undefined, 'wrong-token-0123456789')).status).toBe(401);
  });
});
