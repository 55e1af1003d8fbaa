/**
 * The console's reconciliation pages over HTTP, in both stores: the runs page takes the JSON
 * route's filters and both page on (limit, after, has_more; newest day first, a day's channels by
 * code); totals say their currency; a difference shows our record and the statement's line
 * (amount, status, fee) and links its flow to the payment's timeline, found from the flow.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { feeText } from '../../src/console/recon.tsx';
import { type Booted, MerchantClient, adminCall, bootPaycenter, settleThroughActor } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';
import { browse, seedReconRun, signIn } from './fixtures.ts';

const hrefs = (html: string, containing: string) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&')).filter((h) => h.includes(containing));
/** The days the runs page lists, in its order. */
const daysOn = (html: string) => [...html.matchAll(/href="\/admin\/reconciliations\/rcn_[0-9A-Z]+">([0-9-]+)<\/a><\/td><td>([a-z_]+)</g)].map((m) => `${m[1]} ${m[2]}`);

for (const kind of storeKinds) {
  describe(`the reconciliation pages (${kind})`, () => {
    let booted: Booted;
    let cookie: string;
    beforeAll(async () => {
      booted = await bootPaycenter(kind);
      cookie = await signIn(booted.url);
      const seed = (channel: string, date: string) => seedReconRun(booted.paycenter, channel, date, [], { channel_amount: '1.00', local_amount: '1.00', channel_fee: '0.01', currency: 'CNY' });
      for (const date of ['2026-11-01', '2026-11-02', '2026-11-03']) {
        for (const channel of ['alipay_main', 'wechat_main']) await seed(channel, date);
      }
    }, 30_000);
    afterAll(() => booted?.stop());

    test('the runs page filters by channel and day as the JSON route does', async () => {
      const json = (await adminCall(booted.url, 'GET', '/admin/reconciliations?channel=wechat_main&date=2026-11-02')).body;
      expect(json.data.map((r: { channel: string; date: string }) => `${r.date} ${r.channel}`)).toEqual(['2026-11-02 wechat_main']);
      const html = await (await browse(booted.url, '/admin/reconciliations?channel=wechat_main&date=2026-11-02', cookie)).text();
      expect(daysOn(html)).toEqual(['2026-11-02 wechat_main']);
      expect(daysOn(await (await browse(booted.url, '/admin/reconciliations?channel=alipay_main', cookie)).text()))
        .toEqual(['2026-11-03 alipay_main', '2026-11-02 alipay_main', '2026-11-01 alipay_main']);
      expect(html).toContain('<input name="date" type="date" value="2026-11-02"');
      expect((await browse(booted.url, '/admin/reconciliations?date=yesterday', cookie)).status).toBe(400);
    });

    test('runs page on, newest day first, in JSON and on the page; totals name their currency', async () => {
      const first = (await adminCall(booted.url, 'GET', '/admin/reconciliations?limit=4')).body;
      expect(first.has_more).toBe(true);
      expect(first.data.map((r: { channel: string; date: string }) => `${r.date} ${r.channel}`))
        .toEqual(['2026-11-03 alipay_main', '2026-11-03 wechat_main', '2026-11-02 alipay_main', '2026-11-02 wechat_main']);
      expect(first.data[0].totals).toEqual({ channel_amount: '1.00', local_amount: '1.00', channel_fee: '0.01', currency: 'CNY' });
      const rest = (await adminCall(booted.url, 'GET', `/admin/reconciliations?limit=4&after=${first.data[3].id}`)).body;
      expect(rest).toMatchObject({ has_more: false, data: [{ date: '2026-11-01', channel: 'alipay_main' }, { date: '2026-11-01', channel: 'wechat_main' }] });
      expect((await adminCall(booted.url, 'GET', '/admin/reconciliations?after=rcn_01JD0000000000000000000000')).body.error.field).toBe('after');

      const page = await (await browse(booted.url, '/admin/reconciliations?limit=4', cookie)).text();
      expect(daysOn(page)).toHaveLength(4);
      expect(page).toContain('1.00 CNY');
      expect(page).toContain('0.01 CNY');
      const older = hrefs(page, 'after=rcn_');
      expect(older).toEqual([`/admin/reconciliations?after=${first.data[3].id}&limit=4`]);
      const second = await (await browse(booted.url, older[0]!, cookie)).text();
      expect(daysOn(second)).toEqual(['2026-11-01 alipay_main', '2026-11-01 wechat_main']);
      expect(hrefs(second, 'after=rcn_')).toEqual([]);
      expect(hrefs(second, '/admin/reconciliations?limit=4')).toHaveLength(1);
    });

    test("a difference shows both sides' amount, status and fee, and its flow links to the payment's timeline", async () => {
      const merchant = await MerchantClient.create(booted.url);
      const paymentId = (await merchant.createPayment({ amount: '100.00' })).body.id as string;
      await settleThroughActor(booted.paycenter, paymentId);
      const flowId = `flw_${paymentId.slice(4)}`;
      const local = { kind: 'payment' as const, flowId, refundId: null, orderId: paymentId, amount: 10000, status: 'succeeded', channelTradeNo: null, completedAt: Date.now() };
      const line = { kind: 'payment', channelTradeNo: '2026120522001347547586791368', flowId, refundId: null, amount: 9900, feeMilli: 60123, at: Date.now(), status: 'succeeded' };
      const { run } = await seedReconRun(booted.paycenter, 'alipay_main', '2026-12-05', [
        { resolution: 'open', kind: 'amount_mismatch', flowId, recordKey: flowId, local, channelRow: line },
        // A refund line naming a refund we do not know, of a flow we do: no record, but the payment is found from the flow.
        { resolution: 'open', kind: 'missing_local', flowId, refundId: 'rfd_01JD0000000000000000000001', recordKey: 'x/rfd', channelRow: { ...line, kind: 'refund', amount: 3000, feeMilli: 18000 } },
        { resolution: 'open', kind: 'missing_channel', flowId: 'flw_01JD0000000000000000000009', recordKey: 'flw_01JD0000000000000000000009', local: { ...local, amount: 500 } },
      ], { channel_amount: '99.00', local_amount: '100.00', channel_fee: '0.60', currency: 'CNY' });

      const html = await (await browse(booted.url, `/admin/reconciliations/${run.id}`, cookie)).text();
      expect(hrefs(html, '/timeline')).toEqual([`/admin/payments/${paymentId}/timeline`, `/admin/payments/${paymentId}/timeline`]);
      for (const shown of ['100.00 CNY', '99.00 CNY', 'fee 0.60123 CNY', 'refund 30.00 CNY', 'fee 0.18 CNY', '5.00 CNY', 'succeeded', 'no record', 'not on the statement']) {
        expect(html).toContain(shown);
      }
      expect(html).toContain('<div class="value">99.00 CNY</div>');
      expect(html).toContain('<div class="value">0.60 CNY</div>');
    });
  });
}

test('a fee is shown to the thousandth of a minor unit the statement gives, in currencies with and without minor digits', () => {
  expect(feeText(60_123, 'CNY')).toBe('0.60123 CNY');
  expect(feeText(600_000, 'CNY')).toBe('6.00 CNY');
  expect(feeText(180_500, 'CNY')).toBe('1.805 CNY');
  expect(feeText(15_120, 'JPY')).toBe('15.12 JPY');
  expect(feeText(15_000, 'JPY')).toBe('15 JPY');
  expect(feeText(7, null)).toBe('7 (thousandths of a minor unit)');
});
