import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { AlipaySdk } from 'alipay-sdk';
import { type AlipayCreds, type Started, alipayCall, post, startReceiver, startSandbox } from './helpers.ts';

let sb: Started;
let creds: AlipayCreds;
let sdk: AlipaySdk;
const receiver = startReceiver(() => new Response('success'));

beforeAll(async () => {
  sb = await startSandbox();
  const res = await post(`${sb.base}/alipay/apps`, {});
  expect(res.status).toBe(201);
  creds = (await res.json()) as AlipayCreds;
  sdk = new AlipaySdk({ appId: creds.app_id, privateKey: creds.private_key, alipayPublicKey: creds.alipay_public_key, gateway: creds.gateway_url, keyType: 'PKCS8' });
});

afterAll(async () => {
  await sb.stop();
  receiver.stop();
});

/** The SDK's own check of a response signature over the exact response member text. */
function sdkChecksResponse(text: string, key: string, sign: string | undefined): boolean {
  try {
    sdk.checkResponseSign(text, key, sign ?? '', 'test');
    return true;
  } catch {
    return false;
  }
}

describe('alipay sandbox', () => {
  test('provisioning hands out PEM keys and the gateway', () => {
    expect(creds.app_id).toMatch(/^\d{16}$/);
    expect(creds.private_key.startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
    expect(creds.alipay_public_key.startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
    expect(creds.gateway_url).toBe(`${sb.base}/alipay/gateway.do`);
    expect(creds.seller_id).toMatch(/^2088\d{12}$/);
  });

  test('precreate through the official SDK, pay, signed notify delivered', async () => {
    const r = await sdk.exec('alipay.trade.precreate', {
      notify_url: receiver.url,
      bizContent: { out_trade_no: 'A-1', total_amount: '100.00', subject: 'Coffee' },
    }, { validateSign: true });
    expect(r.code).toBe('10000');
    expect(r.qrCode).toBe(`${sb.base}/pay/alipay/${creds.app_id}/A-1`);

    // Idempotent on the same amount, refused on another.
    const again = await alipayCall(creds, 'alipay.trade.precreate', { out_trade_no: 'A-1', total_amount: '100.00', subject: 'Coffee' });
    expect(again.data.qr_code).toBe(r.qrCode);
    const other = await alipayCall(creds, 'alipay.trade.precreate', { out_trade_no: 'A-1', total_amount: '99.00', subject: 'Coffee' });
    expect(other.data).toMatchObject({ code: '40004', sub_code: 'ACQ.CONTEXT_INCONSISTENT' });

    const page = await fetch(r.qrCode);
    const html = await page.text();
    expect(html).toContain('100.00');
    expect(html).toContain('Coffee');

    const before = receiver.received.length;
    const paid = await post(r.qrCode, { outcome: 'pay' });
    expect(await paid.json()).toMatchObject({ status: 'TRADE_SUCCESS' });
    const got = await receiver.waitFor(before + 1);
    const notify = Object.fromEntries(new URLSearchParams(got[before]!.body));
    expect(notify).toMatchObject({ notify_type: 'trade_status_sync', trade_status: 'TRADE_SUCCESS', out_trade_no: 'A-1', total_amount: '100.00', app_id: creds.app_id, seller_id: creds.seller_id, sign_type: 'RSA2' });
    expect(notify.gmt_payment).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(sdk.checkNotifySignV2(notify)).toBe(true);
    expect(sdk.checkNotifySignV2({ ...notify, total_amount: '1.00' })).toBe(false);

    await Bun.sleep(30);
    const rec = (await (await fetch(`${sb.base}/trades/alipay/${creds.app_id}/A-1`)).json()) as { notify: { delivered: number } };
    expect(rec.notify.delivered).toBe(1);

    const q = await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: 'A-1' } }, { validateSign: true });
    expect(q).toMatchObject({ code: '10000', tradeStatus: 'TRADE_SUCCESS', totalAmount: '100.00', buyerPayAmount: '100.00', tradeNo: notify.trade_no });
  });

  test('a bad signature is refused the gateway way, and the answer is signed', async () => {
    const other = (await (await post(`${sb.base}/alipay/apps`, {})).json()) as AlipayCreds;
    const r = await alipayCall(creds, 'alipay.trade.query', { out_trade_no: 'A-1' }, {}, other.private_key);
    expect(r.status).toBe(200);
    expect(r.key).toBe('alipay_trade_query_response');
    expect(r.data).toMatchObject({ code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature' });
    expect(sdkChecksResponse(r.text, r.key, r.sign)).toBe(true);
    expect(sdk.rsaCheck(JSON.stringify(r.data), r.sign ?? '', 'RSA2')).toBe(true);

    const unknown = await alipayCall({ ...creds, app_id: '2021000000000000' }, 'alipay.trade.query', { out_trade_no: 'A-1' });
    expect(unknown.data.sub_code).toBe('isv.invalid-app-id');
  });

  test('query / close / refund / refund query', async () => {
    expect((await alipayCall(creds, 'alipay.trade.query', { out_trade_no: 'nope' })).data).toMatchObject({ code: '40004', sub_code: 'ACQ.TRADE_NOT_EXIST' });

    await alipayCall(creds, 'alipay.trade.precreate', { out_trade_no: 'A-2', total_amount: '10.00', subject: 'Tea' });
    const waiting = await alipayCall(creds, 'alipay.trade.query', { out_trade_no: 'A-2' });
    expect(waiting.data).toMatchObject({ code: '10000', trade_status: 'WAIT_BUYER_PAY', total_amount: '10.00' });
    expect(sdkChecksResponse(waiting.text, waiting.key, waiting.sign)).toBe(true);
    // Refund of an unpaid trade.
    expect((await alipayCall(creds, 'alipay.trade.refund', { out_trade_no: 'A-2', refund_amount: '1.00', out_request_no: 'R0' })).data.sub_code).toBe('ACQ.TRADE_STATUS_ERROR');
    const closed = await alipayCall(creds, 'alipay.trade.close', { out_trade_no: 'A-2' });
    expect(closed.data).toMatchObject({ code: '10000', out_trade_no: 'A-2' });
    expect((await alipayCall(creds, 'alipay.trade.query', { out_trade_no: 'A-2' })).data.trade_status).toBe('TRADE_CLOSED');
    // Closed trades cannot be paid... unless forced (payment landing after close).
    const payUrl = `${sb.base}/pay/alipay/${creds.app_id}/A-2`;
    expect((await post(payUrl, { outcome: 'pay' })).status).toBe(409);
    expect((await post(payUrl, { outcome: 'pay', force: true })).status).toBe(200);
    expect((await alipayCall(creds, 'alipay.trade.query', { out_trade_no: 'A-2' })).data.trade_status).toBe('TRADE_SUCCESS');
    expect((await alipayCall(creds, 'alipay.trade.close', { out_trade_no: 'A-2' })).data.sub_code).toBe('ACQ.TRADE_STATUS_ERROR');

    const r1 = await alipayCall(creds, 'alipay.trade.refund', { out_trade_no: 'A-2', refund_amount: '4.00', out_request_no: 'R1', refund_reason: 'x' });
    expect(r1.data).toMatchObject({ code: '10000', fund_change: 'Y', refund_fee: '4.00', out_trade_no: 'A-2' });
    const again = await alipayCall(creds, 'alipay.trade.refund', { out_trade_no: 'A-2', refund_amount: '4.00', out_request_no: 'R1' });
    expect(again.data).toMatchObject({ code: '10000', fund_change: 'N', refund_fee: '4.00' });
    expect((await alipayCall(creds, 'alipay.trade.refund', { out_trade_no: 'A-2', refund_amount: '6.01', out_request_no: 'R2' })).data.sub_code).toBe('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL');

    const rq = await alipayCall(creds, 'alipay.trade.fastpay.refund.query', { out_trade_no: 'A-2', out_request_no: 'R1' });
    expect(rq.data).toMatchObject({ code: '10000', refund_status: 'REFUND_SUCCESS', refund_amount: '4.00', out_request_no: 'R1' });
    const none = await alipayCall(creds, 'alipay.trade.fastpay.refund.query', { out_trade_no: 'A-2', out_request_no: 'R9' });
    expect(none.data.code).toBe('10000');
    expect(none.data.refund_status).toBeUndefined();
  });

  test('page.pay redirects the browser to the pay page', async () => {
    const url = sdk.pageExecute('alipay.trade.page.pay', 'GET', {
      notifyUrl: receiver.url,
      bizContent: { out_trade_no: 'A-PAGE', total_amount: '0.01', subject: 'Page', product_code: 'FAST_INSTANT_TRADE_PAY' },
    });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${sb.base}/pay/alipay/${creds.app_id}/A-PAGE`);
    const form = await fetch(res.headers.get('location')!, { method: 'POST', body: new URLSearchParams({ outcome: 'fail' }) });
    expect(form.headers.get('content-type')).toContain('text/html');
    // A failed attempt leaves the Alipay trade waiting, as Alipay does.
    expect((await alipayCall(creds, 'alipay.trade.query', { out_trade_no: 'A-PAGE' })).data.trade_status).toBe('WAIT_BUYER_PAY');
  });

  test('bill download url serves the day statement', async () => {
    const day = new Date(sb.clock.now + 8 * 3600e3).toISOString().slice(0, 10);
    const early = await alipayCall(creds, 'alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: day });
    expect(early.data.code).toBe('40004'); // today's bill does not exist yet
    sb.clock.now += 86_400_000;
    const r = await alipayCall(creds, 'alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: day });
    sb.clock.now -= 86_400_000;
    expect(r.data.code).toBe('10000');
    // A zip of GBK CSVs: the detail entry and the totals entry.
    const zip = unzipSync(new Uint8Array(await (await fetch(r.data.bill_download_url!)).arrayBuffer()));
    const names = Object.keys(zip);
    expect(names.sort()).toEqual([`${creds.app_id}_${day.replaceAll('-', '')}_业务明细(汇总).csv`, `${creds.app_id}_${day.replaceAll('-', '')}_业务明细.csv`]);
    const csv = new TextDecoder('gbk').decode(zip[names.find((n) => n.endsWith('业务明细.csv'))!]);
    const rows = csv.split('\r\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').map((cell) => cell.replace(/\t$/, '')));
    const header = rows[0]!;
    expect(header.slice(0, 3)).toEqual(['支付宝交易号', '商户订单号', '业务类型']);
    const col = (name: string) => header.indexOf(name);
    const paid = rows.find((l) => l[col('商户订单号')] === 'A-1' && l[col('业务类型')] === '交易')!;
    expect(paid[col('订单金额（元）')]).toBe('100.00');
    expect(paid[col('服务费（元）')]).toBe('-0.60');
    const refund = rows.find((l) => l[col('商户订单号')] === 'A-2' && l[col('业务类型')] === '退款')!;
    expect(refund[col('商家实收（元）')]).toBe('-4.00');
    expect(refund[col('退款批次号/请求号')]).toBe('R1');
  });

  test('faults: 5xx-equivalent, dropped and duplicated notifies (seeded)', async () => {
    const faultsUrl = `${sb.base}/faults/alipay/${creds.app_id}`;
    const put = await fetch(faultsUrl, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_error_rate: 1, seed: 7 }) });
    expect(await put.json()).toMatchObject({ api_error_rate: 1, seed: 7 });
    const down = await alipayCall(creds, 'alipay.trade.query', { out_trade_no: 'A-1' });
    expect(down.data).toMatchObject({ code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error' });
    expect(sdkChecksResponse(down.text, down.key, down.sign)).toBe(true);

    // Every delivery dropped: the sandbox gives up after 1 + 3 attempts.
    await fetch(faultsUrl, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drop_notify_rate: 1, seed: 7 }) });
    await alipayCall(creds, 'alipay.trade.precreate', { out_trade_no: 'A-DROP', total_amount: '1.00', subject: 'Drop' }, { notify_url: receiver.url });
    const before = receiver.received.length;
    await post(`${sb.base}/pay/alipay/${creds.app_id}/A-DROP`, { outcome: 'pay' });
    await Bun.sleep(200);
    let rec = (await (await fetch(`${sb.base}/trades/alipay/${creds.app_id}/A-DROP`)).json()) as { notify: { attempts: number; failed: number; delivered: number } };
    expect(rec.notify).toMatchObject({ attempts: 4, failed: 1, delivered: 0, recent: ['dropped', 'dropped', 'dropped', 'dropped'] });
    expect(receiver.received.length).toBe(before);

    // Each notify sent three times.
    await fetch(faultsUrl, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ duplicate_notify: 3, seed: 7 }) });
    await alipayCall(creds, 'alipay.trade.precreate', { out_trade_no: 'A-DUP', total_amount: '1.00', subject: 'Dup' }, { notify_url: receiver.url });
    await post(`${sb.base}/pay/alipay/${creds.app_id}/A-DUP`, { outcome: 'pay' });
    const got = await receiver.waitFor(before + 3);
    expect(got.slice(before).every((r) => new URLSearchParams(r.body).get('out_trade_no') === 'A-DUP')).toBe(true);

    // A timed-out call is held (30 s) — the client gives up first; stop() releases the hold.
    await fetch(faultsUrl, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_timeout_rate: 1, seed: 7 }) });
    const held = alipayCall(creds, 'alipay.trade.query', { out_trade_no: 'A-1' }, {}, undefined, AbortSignal.timeout(150));
    await expect(held).rejects.toThrow();

    expect((await fetch(faultsUrl, { method: 'DELETE' })).status).toBe(200);
    expect((await alipayCall(creds, 'alipay.trade.query', { out_trade_no: 'A-DUP' })).data.code).toBe('10000');
    rec = (await (await fetch(`${sb.base}/trades/alipay/${creds.app_id}/A-DUP`)).json()) as typeof rec;
    expect(rec.notify.delivered).toBe(1);
  });

  test('notify retried until the merchant answers success', async () => {
    const flaky = startReceiver((_r, n) => new Response(n < 3 ? 'fail' : 'success'));
    await alipayCall(creds, 'alipay.trade.precreate', { out_trade_no: 'A-RETRY', total_amount: '2.00', subject: 'Retry' }, { notify_url: flaky.url });
    await post(`${sb.base}/pay/alipay/${creds.app_id}/A-RETRY`, { outcome: 'pay' });
    await flaky.waitFor(3);
    await Bun.sleep(30);
    const rec = (await (await fetch(`${sb.base}/trades/alipay/${creds.app_id}/A-RETRY`)).json()) as { notify: { attempts: number; delivered: number } };
    expect(rec.notify).toMatchObject({ attempts: 3, delivered: 1, recent: ['200 fail', '200 fail', '200 success'] });
    flaky.stop();
  });
});
