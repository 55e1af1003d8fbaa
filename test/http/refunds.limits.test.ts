/**
 * Refunds per order over real HTTP and the channel sandbox (issue 11, item 9): an order takes at
 * most refunds_per_order_max merchant refunds, the next is refused as invalid_state, and the
 * order's stored snapshot does not grow with its refunds (finished ones live in their rows).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { refunds_per_order_max } from '../../machines/payment.model.ts';
import { type World, bootWorld, payerDecides, waitForPayment } from '../channels/world.ts';
import { onDatabase } from '../store/stores.ts';

let world: World;
beforeAll(async () => {
  world = await bootWorld('sqlite');
}, 60_000);
afterAll(() => world?.stop());

const snapshotBytes = async (paymentId: string): Promise<number> =>
  Number((await onDatabase(world.booted.databaseUrl, `SELECT length(snapshot) AS n FROM orders WHERE id = '${paymentId}'`))[0]!.n);

async function refundsOf(paymentId: string): Promise<any[]> {
  return (await world.merchant.call('GET', `/v1/payments/${paymentId}/refunds`)).body.data;
}

async function waitForRefunds(paymentId: string, count: number): Promise<any[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const refunds = await refundsOf(paymentId);
    if (refunds.length === count && refunds.every((r) => r.status === 'succeeded')) return refunds;
    if (Date.now() > deadline) throw new Error(`refunds stayed ${JSON.stringify(refunds.map((r) => r.status))}`);
    await Bun.sleep(50);
  }
}

describe('refunds per order', () => {
  test(`${refunds_per_order_max} refunds of 0.01 go through; the next is refused; the snapshot stays the size it had after the first`, async () => {
    const created = await world.merchant.createPayment({ method: 'alipay_qr', amount: '10.00' });
    await payerDecides(created.body.action.qr_code, 'pay');
    await waitForPayment(world.merchant, created.body.id, (p) => p.status === 'succeeded');
    const id = created.body.id;
    const refundNo = (i: number) => ({ refund_no: `R-${i}`, amount: '0.01', reason: `goodwill ${i}` });

    expect((await world.merchant.call('POST', `/v1/payments/${id}/refunds`, refundNo(0))).status).toBe(201);
    await waitForRefunds(id, 1);
    expect((await world.merchant.call('POST', `/v1/payments/${id}/refunds`, refundNo(1))).status).toBe(201);
    const withSecond = await snapshotBytes(id);

    for (let i = 2; i < refunds_per_order_max; i++) {
      const answer = await world.merchant.call('POST', `/v1/payments/${id}/refunds`, refundNo(i));
      expect([answer.status, answer.body.refund_no]).toEqual([201, `R-${i}`]);
    }
    const over = await world.merchant.call('POST', `/v1/payments/${id}/refunds`, refundNo(refunds_per_order_max));
    expect([over.status, over.body.error.code]).toEqual([409, 'invalid_state']);
    expect(over.body.error.message).toContain(`${refunds_per_order_max} refunds`);

    const refunds = await waitForRefunds(id, refunds_per_order_max);
    // Finished refunds answer from their rows, reason included; a retry of an early one is the same refund.
    expect(refunds[0]).toMatchObject({ refund_no: 'R-0', reason: 'goodwill 0', status: 'succeeded', amount: '0.01' });
    const again = await world.merchant.call('POST', `/v1/payments/${id}/refunds`, refundNo(0));
    expect([again.status, again.body.id]).toEqual([200, refunds[0].id]);
    const conflict = await world.merchant.call('POST', `/v1/payments/${id}/refunds`, { ...refundNo(0), amount: '0.02' });
    expect([conflict.status, conflict.body.error.code]).toEqual([409, 'order_conflict']);
    expect((await world.merchant.call('GET', `/v1/refunds/${refunds[7].id}`)).body).toMatchObject({ refund_no: 'R-7', reason: 'goodwill 7' });

    const payment = (await world.merchant.call('GET', `/v1/payments/${id}`)).body;
    expect([payment.status, payment.refunded_amount]).toEqual(['partially_refunded', '0.50']);
    // At most the refund that the last event finished is still in the snapshot (one more than with the 2nd pending).
    expect(await snapshotBytes(id)).toBeLessThan(withSecond + 400);
  }, 60_000);
});
