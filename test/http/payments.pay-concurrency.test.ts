/**
 * Identical pay requests at once open ONE trade at the channel (issue 11, item 3). API.md: a retry
 * means no second charge, and paying again the same way answers the same flow. The sandbox counts
 * the trades paycenter opens, and holds each opening a little so that every request overlaps it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { storeKinds } from '../store/stores.ts';
import { type World, bootWorld, tradeOpenings } from '../channels/world.ts';

/** Long enough that all requests arrive while the first trade is being opened. */
const provider_hold_ms = 300;

describe.each(storeKinds)('identical pays at once on %s', (kind) => {
  let world: World;
  const openings = tradeOpenings(provider_hold_ms);
  beforeAll(async () => {
    world = await bootWorld(kind, {}, openings.gate);
  }, 60_000);
  afterAll(() => world?.stop());

  test('10 identical creates with method alipay_qr: one order, one precreate, the same QR code for all', async () => {
    const before = openings.count();
    const create = { merchant_order_no: `ORD-SAME-${kind}`, method: 'alipay_qr' };
    const answers = await Promise.all(Array.from({ length: 10 }, () => world.merchant.createPayment(create)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(openings.count() - before).toBe(1);
    const qrCodes = new Set(answers.map((a) => a.body.action?.qr_code));
    expect(qrCodes.size).toBe(1);
    expect([...qrCodes][0]).toStartWith(world.sandboxUrl);
    const stored = await world.merchant.call('GET', `/v1/payments/${answers[0]!.body.id}`);
    expect(stored.body.flows).toHaveLength(1);
  });

  test('5 identical /pay at once: one trade, every answer names the same flow and action', async () => {
    const created = await world.merchant.createPayment();
    const before = openings.count();
    const answers = await Promise.all(Array.from({ length: 5 }, () => world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'wechat_native' })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(openings.count() - before).toBe(1);
    expect(new Set(answers.map((a) => a.body.flows.at(-1).id)).size).toBe(1);
    expect(new Set(answers.map((a) => a.body.action.qr_code)).size).toBe(1);
    const stored = await world.merchant.call('GET', `/v1/payments/${created.body.id}`);
    expect(stored.body.flows.map((f: any) => f.status)).toEqual(['pending']);
  });

  test('another method at once still switches: two trades, the first closed', async () => {
    const created = await world.merchant.createPayment();
    const before = openings.count();
    const [alipay, wechat] = await Promise.all(['alipay_qr', 'wechat_native'].map((method) => world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method })));
    expect(openings.count() - before).toBe(2);
    // Whichever came second replaced the first; neither answer claims the channel was down.
    expect([alipay!.status, wechat!.status].every((s) => s === 200 || s === 409)).toBe(true);
    expect([alipay!.status, wechat!.status]).toContain(200);
  });
});
