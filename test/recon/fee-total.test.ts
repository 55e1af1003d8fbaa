/**
 * A run's fee total is what the channel charged net of the fees its refunds gave back, on both
 * providers' statements as the sandbox writes them (Alipay's 服务费 negative on a payment and
 * positive on a refund, WeChat Pay's 手续费 the other way round), in the currency the totals name.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chinaDate } from '../../src/channels/china-time.ts';
import { drive, payerDecides } from '../channels/world.ts';
import { adminCall } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';
import { type Day, bootDay, day_ms, reconcile, signedNow, statementFaults, waitFor } from './day.ts';

for (const kind of storeKinds) {
  describe(`a day's fee total (${kind})`, () => {
    let day: Day;
    let date = '';
    beforeAll(async () => {
      day = await bootDay(kind);
      date = chinaDate(day.clock.now());
      const payment = async (id: string) => (await day.merchant.call('GET', `/v1/payments/${id}`, undefined, signedNow(day))).body;
      for (const [provider, channel, method] of [['alipay', 'alipay_main', 'alipay_qr'], ['wechatpay', 'wechat_main', 'wechat_native']] as const) {
        expect((await statementFaults(day, provider, { fee_rate: 0.006 })).status).toBe(200);
        expect((await adminCall(day.booted.url, 'PATCH', `/admin/channels/${channel}`, { fee_rate: '0.0060' })).status).toBe(200);
        const created = await day.merchant.createPayment({ method, amount: '100.00' }, signedNow(day));
        expect((await payerDecides(created.body.action.qr_code, 'pay')).status).toBe(200);
        await waitFor(() => payment(created.body.id), (p) => p.status === 'succeeded', 'the payment');
        const refund = await day.merchant.call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: `R-${provider}`, amount: '30.00' }, signedNow(day));
        expect(refund.status).toBe(201);
        await drive(day);
        await waitFor(() => payment(created.body.id), (p) => p.status === 'partially_refunded', 'the refund');
      }
      day.clock.advance(day_ms);
    }, 60_000);
    afterAll(() => day?.stop());

    test('a payment of 100.00 CNY (fee 0.60) refunded 30.00 (fee 0.18 given back) charged 0.42 CNY, on Alipay and WeChat Pay', async () => {
      for (const channel of ['alipay_main', 'wechat_main']) {
        const run = (await reconcile(day, channel, date)).body;
        expect(run).toMatchObject({ channel, status: 'done', counts: { matched: 2, fee_mismatch: 0 } });
        expect(run.totals).toEqual({ channel_amount: '70.00', local_amount: '70.00', channel_fee: '0.42', currency: 'CNY' });
      }
    });
  });
}
