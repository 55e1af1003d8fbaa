/**
 * Statement lines paycenter has no record of (another system's trades on a shared account, a
 * trade made in the provider's own tools without an out_trade_no) are each a missing_local
 * difference of their own, found under the channel's trade number — however many share an
 * out_trade_no, or have none.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chinaDate } from '../../src/channels/china-time.ts';
import { admin_token } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';
import { type Day, bootDay } from './day.ts';
import { wechatCsv } from './files.ts';

for (const kind of storeKinds) {
  describe(`statement lines paycenter does not know (${kind})`, () => {
    let day: Day;
    beforeAll(async () => {
      day = await bootDay(kind);
    }, 30_000);
    afterAll(() => day?.stop());

    const upload = async (csv: string, date: string) => {
      const response = await fetch(`${day.booted.url}/admin/reconciliations/upload?channel=wechat_main&date=${date}&rerun=true`, {
        method: 'POST', headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'text/csv' }, body: csv,
      });
      return { status: response.status, body: (await response.json()) as any };
    };
    const unknown = (tradeNo: string, outTradeNo: string, time: string) => ({
      交易时间: time, 微信订单号: tradeNo, 商户订单号: outTradeNo, 交易状态: 'SUCCESS', 订单金额: '5.00', 应结订单金额: '5.00', 手续费: '0.03000',
    });

    test('two lines without an out_trade_no are two missing_local differences under their trade numbers, and stay so on a rerun', async () => {
      const date = chinaDate(day.clock.now());
      const csv = wechatCsv([unknown('4200000001', '', `${date} 10:00:01`), unknown('4200000002', '', `${date} 11:00:01`)]);
      const first = await upload(csv, date);
      expect(first.body).toMatchObject({ status: 'done', error: null, counts: { missing_local: 2, matched: 0 } });
      const keys = (run: any) => run.diffs.map((d: any) => [d.kind, d.flow_id, d.channel_trade_no, d.resolution]).sort();
      expect(keys(first.body)).toEqual([['missing_local', '', '4200000001', 'open'], ['missing_local', '', '4200000002', 'open']]);
      const again = await upload(csv, date);
      expect(again.body.diffs.map((d: any) => d.id).sort()).toEqual(first.body.diffs.map((d: any) => d.id).sort());
    });

    test('a payment line and its refund line of one unknown trade are two differences, as are two trades under one unknown out_trade_no', async () => {
      const date = chinaDate(day.clock.now() - 86_400_000);
      const refund = { 交易时间: `${date} 12:00:00`, 微信订单号: '4200000003', 商户订单号: 'other-1', 交易状态: 'REFUND', 商户退款单号: 'other-r1', 退款金额: '2.00', 申请退款金额: '2.00', 手续费: '-0.01200' };
      const csv = wechatCsv([unknown('4200000003', 'other-1', `${date} 10:00:01`), refund, unknown('4200000004', 'other-2', `${date} 10:00:02`), unknown('4200000005', 'other-2', `${date} 10:00:03`)]);
      const run = await upload(csv, date);
      expect(run.body).toMatchObject({ status: 'done', counts: { missing_local: 4 } });
      expect(run.body.diffs.map((d: any) => [d.flow_id, d.refund_id]).sort()).toEqual([['other-1', null], ['other-1', 'other-r1'], ['other-2', null], ['other-2', null]]);
    });
  });
}
