import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Aes, Formatter, Rsa } from 'wechatpay-axios-plugin';
import { type Started, type WechatCreds, post, startReceiver, startSandbox, wechatCall } from './helpers.ts';

let sb: Started;
let creds: WechatCreds;
const receiver = startReceiver(() => new Response(null, { status: 204 }));

beforeAll(async () => {
  sb = await startSandbox();
  const res = await post(`${sb.base}/wechatpay/merchants`, {});
  expect(res.status).toBe(201);
  creds = (await res.json()) as WechatCreds;
});

afterAll(async () => {
  await sb.stop();
  receiver.stop();
});

/** The official plugin's check of the Wechatpay-* response/notify signature. */
function platformSigned(headers: Headers, body: string): boolean {
  const ts = headers.get('wechatpay-timestamp') ?? '';
  const nonce = headers.get('wechatpay-nonce') ?? '';
  expect(headers.get('wechatpay-serial')).toBe(creds.platform_serial);
  return Rsa.verify(Formatter.response(ts, nonce, body), headers.get('wechatpay-signature') ?? '', creds.platform_public_key);
}

const order = (out_trade_no: string, total: number, extra: Record<string, unknown> = {}) => ({
  appid: creds.appid,
  mchid: creds.mchid,
  description: `Item ${out_trade_no}`,
  out_trade_no,
  notify_url: receiver.url,
  amount: { total, currency: 'CNY' },
  ...extra,
});

describe('wechatpay sandbox', () => {
  test('provisioning hands out merchant keys, APIv3 key and platform key', () => {
    expect(creds.mchid).toMatch(/^\d{10}$/);
    expect(creds.apiv3_key).toHaveLength(32);
    expect(creds.private_key.startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
    expect(creds.platform_public_key.startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
    expect(creds.base_url).toBe(`${sb.base}/wechatpay`);
  });

  test('native order, pay, encrypted notify verified and decrypted with the official plugin', async () => {
    const expire = new Date(Date.now() + 15 * 60e3).toISOString().replace(/\.\d+Z$/, '+00:00');
    const r = await wechatCall(creds, 'POST', '/v3/pay/transactions/native', order('WX-0001', 12345, { time_expire: expire }));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ code_url: `${sb.base}/pay/wechatpay/${creds.mchid}/WX-0001` });
    expect(platformSigned(r.headers, r.text)).toBe(true);
    // Idempotent.
    expect((await wechatCall(creds, 'POST', '/v3/pay/transactions/native', order('WX-0001', 12345))).json).toEqual(r.json!);
    expect((await wechatCall(creds, 'POST', '/v3/pay/transactions/native', order('WX-0001', 1))).json?.code).toBe('INVALID_REQUEST');

    const before = receiver.received.length;
    expect(await (await post(r.json!.code_url, { outcome: 'pay' })).json()).toMatchObject({ status: 'SUCCESS' });
    const [notify] = (await receiver.waitFor(before + 1)).slice(before);
    expect(platformSigned(notify!.headers, notify!.body)).toBe(true);
    const event = JSON.parse(notify!.body);
    expect(event).toMatchObject({ event_type: 'TRANSACTION.SUCCESS', resource_type: 'encrypt-resource', summary: '支付成功', resource: { algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction', original_type: 'transaction' } });
    expect(event.resource.nonce).toHaveLength(12);
    const tx = JSON.parse(Aes.AesGcm.decrypt(event.resource.ciphertext, creds.apiv3_key, event.resource.nonce, event.resource.associated_data));
    expect(tx).toMatchObject({ mchid: creds.mchid, appid: creds.appid, out_trade_no: 'WX-0001', trade_state: 'SUCCESS', trade_type: 'NATIVE', amount: { total: 12345, payer_total: 12345, currency: 'CNY' } });

    const q = await wechatCall(creds, 'GET', `/v3/pay/transactions/out-trade-no/WX-0001?mchid=${creds.mchid}`);
    expect(q.status).toBe(200);
    expect(q.json).toEqual(tx);
    expect(platformSigned(q.headers, q.text)).toBe(true);
  });

  test('bad signatures and stale timestamps are 401 SIGN_ERROR, still signed', async () => {
    const other = (await (await post(`${sb.base}/wechatpay/merchants`, {})).json()) as WechatCreds;
    const bad = await wechatCall(creds, 'POST', '/v3/pay/transactions/native', order('WX-BAD0', 100), { signKey: other.private_key });
    expect(bad.status).toBe(401);
    expect(bad.json?.code).toBe('SIGN_ERROR');
    expect(platformSigned(bad.headers, bad.text)).toBe(true);
    const stale = await wechatCall(creds, 'GET', `/v3/pay/transactions/out-trade-no/WX-0001?mchid=${creds.mchid}`, undefined, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    const badBody = await wechatCall(creds, 'POST', '/v3/pay/transactions/native', { appid: creds.appid, mchid: creds.mchid });
    expect(badBody.status).toBe(400);
    expect(badBody.json?.code).toBe('PARAM_ERROR');
  });

  test('jsapi, query, close, refunds', async () => {
    const j = await wechatCall(creds, 'POST', '/v3/pay/transactions/jsapi', order('WX-0002', 500, { payer: { openid: 'o-user' } }));
    expect(j.json?.prepay_id).toMatch(/^wx/);
    expect((await wechatCall(creds, 'GET', `/v3/pay/transactions/out-trade-no/WX-0002?mchid=${creds.mchid}`)).json).toMatchObject({ trade_state: 'NOTPAY', trade_type: 'JSAPI' });
    expect((await wechatCall(creds, 'GET', `/v3/pay/transactions/out-trade-no/none?mchid=${creds.mchid}`)).json?.code).toBe('ORDER_NOT_EXIST');

    await post(`${sb.base}/pay/wechatpay/${creds.mchid}/WX-0002`, { outcome: 'fail' });
    expect((await wechatCall(creds, 'GET', `/v3/pay/transactions/out-trade-no/WX-0002?mchid=${creds.mchid}`)).json?.trade_state).toBe('PAYERROR');
    const close = await wechatCall(creds, 'POST', '/v3/pay/transactions/out-trade-no/WX-0002/close', { mchid: creds.mchid });
    expect(close.status).toBe(204);
    expect(platformSigned(close.headers, '')).toBe(true);
    expect((await wechatCall(creds, 'GET', `/v3/pay/transactions/out-trade-no/WX-0002?mchid=${creds.mchid}`)).json?.trade_state).toBe('CLOSED');
    expect((await post(`${sb.base}/pay/wechatpay/${creds.mchid}/WX-0002`, { outcome: 'pay' })).status).toBe(409);

    // Refunds on WX-0001 (paid 12345).
    expect((await wechatCall(creds, 'POST', '/v3/pay/transactions/out-trade-no/WX-0001/close', { mchid: creds.mchid })).json?.code).toBe('ORDERPAID');
    const refund = { out_trade_no: 'WX-0001', out_refund_no: 'RF-1', reason: 'r', amount: { refund: 2345, total: 12345, currency: 'CNY' } };
    const r1 = await wechatCall(creds, 'POST', '/v3/refund/domestic/refunds', refund);
    expect(r1.status).toBe(200);
    expect(r1.json).toMatchObject({ out_refund_no: 'RF-1', out_trade_no: 'WX-0001', status: 'SUCCESS', amount: { refund: 2345, total: 12345, currency: 'CNY' } });
    expect((await wechatCall(creds, 'POST', '/v3/refund/domestic/refunds', refund)).json).toEqual(r1.json!);
    const over = await wechatCall(creds, 'POST', '/v3/refund/domestic/refunds', { ...refund, out_refund_no: 'RF-2', amount: { refund: 10001, total: 12345, currency: 'CNY' } });
    expect(over.status).toBe(400);
    expect(over.json?.code).toBe('INVALID_REQUEST');
    expect((await wechatCall(creds, 'GET', '/v3/refund/domestic/refunds/RF-1')).json).toEqual(r1.json!);
    expect((await wechatCall(creds, 'GET', '/v3/refund/domestic/refunds/RF-9')).json?.code).toBe('RESOURCE_NOT_EXISTS');
    expect((await wechatCall(creds, 'GET', `/v3/pay/transactions/out-trade-no/WX-0001?mchid=${creds.mchid}`)).json?.trade_state).toBe('REFUND');
  });

  test('trade bill: download url, SHA1 and the backtick CSV parsed by the plugin', async () => {
    const day = new Date(sb.clock.now + 8 * 3600e3).toISOString().slice(0, 10);
    expect((await wechatCall(creds, 'GET', `/v3/bill/tradebill?bill_date=${day}`)).status).toBe(400);
    sb.clock.now += 86_400_000;
    const b = await wechatCall(creds, 'GET', `/v3/bill/tradebill?bill_date=${day}`, undefined, { timestamp: Math.floor(sb.clock.now / 1000) });
    sb.clock.now -= 86_400_000;
    expect(b.status).toBe(200);
    expect(b.json?.hash_type).toBe('SHA1');
    const file = new Uint8Array(await (await fetch(b.json!.download_url)).arrayBuffer());
    expect(createHash('sha1').update(file).digest('hex')).toBe(b.json!.hash_value);
    const { rows, summary } = Formatter.castCsvBill(Buffer.from(file)) as { rows: Record<string, string>[]; summary: Record<string, string> };
    const pay = rows.find((r) => r['商户订单号'] === 'WX-0001' && r['交易状态'] === 'SUCCESS');
    expect(pay?.['订单金额']).toBe('123.45');
    const ref = rows.find((r) => r['商户退款单号'] === 'RF-1');
    expect(ref?.['退款金额']).toBe('23.45');
    expect(summary['总交易单数']).toBe(String(rows.length));
    // tar_type=GZIP: the same CSV gzipped; the published SHA1 covers it after gunzip.
    sb.clock.now += 86_400_000;
    const gz = await wechatCall(creds, 'GET', `/v3/bill/tradebill?bill_date=${day}&tar_type=GZIP`, undefined, { timestamp: Math.floor(sb.clock.now / 1000) });
    sb.clock.now -= 86_400_000;
    expect(gz.json?.download_url).toEndWith('.csv.gz');
    const unzipped = gunzipSync(new Uint8Array(await (await fetch(gz.json!.download_url)).arrayBuffer()));
    expect(Buffer.from(unzipped).equals(Buffer.from(file))).toBe(true);
    expect(createHash('sha1').update(unzipped).digest('hex')).toBe(gz.json!.hash_value);
  });

  test('faults: SYSTEM_ERROR, wrong amount, reorder + flush, duplicates (seeded)', async () => {
    const faultsUrl = `${sb.base}/faults/wechatpay/${creds.mchid}`;
    const setFaults = (f: unknown) => fetch(faultsUrl, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
    await setFaults({ api_error_rate: 1, seed: 3 });
    const down = await wechatCall(creds, 'POST', '/v3/pay/transactions/native', order('WX-ERR0', 100));
    expect(down.status).toBe(500);
    expect(down.json?.code).toBe('SYSTEM_ERROR');
    expect(platformSigned(down.headers, down.text)).toBe(true);

    await setFaults({ reorder: true, wrong_amount: true, duplicate_notify: 2, seed: 3 });
    for (const id of ['WX-R001', 'WX-R002', 'WX-R003']) {
      await wechatCall(creds, 'POST', '/v3/pay/transactions/native', order(id, 100));
      await post(`${sb.base}/pay/wechatpay/${creds.mchid}/${id}`, { outcome: 'pay' });
    }
    const before = receiver.received.length;
    const flushed = await (await fetch(`${sb.base}/notify/flush`, { method: 'POST' })).json();
    expect(flushed).toMatchObject({ flushed: 3 });
    const got = (await receiver.waitFor(before + 6)).slice(before);
    const decrypted = got.map((n) => {
      const { resource } = JSON.parse(n.body);
      return JSON.parse(Aes.AesGcm.decrypt(resource.ciphertext, creds.apiv3_key, resource.nonce, resource.associated_data));
    });
    expect(decrypted.every((t) => t.amount.total === 101)).toBe(true);
    expect(new Set(decrypted.map((t) => t.out_trade_no))).toEqual(new Set(['WX-R001', 'WX-R002', 'WX-R003']));
    expect((await wechatCall(creds, 'GET', `/v3/pay/transactions/out-trade-no/WX-R001?mchid=${creds.mchid}`)).json?.amount.total).toBe(101);
    await fetch(faultsUrl, { method: 'DELETE' });
  });

  test('state survives a restart through statePath', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
    const statePath = join(dir, 'state.json');
    const a = await startSandbox({ statePath });
    const m = (await (await post(`${a.base}/wechatpay/merchants`, {})).json()) as WechatCreds;
    await wechatCall(m, 'POST', '/v3/pay/transactions/native', { ...order('WX-P001', 42), appid: m.appid, mchid: m.mchid });
    await a.stop();
    const b = await startSandbox({ statePath });
    const moved = { ...m, base_url: `${b.base}/wechatpay` };
    const q = await wechatCall(moved, 'GET', `/v3/pay/transactions/out-trade-no/WX-P001?mchid=${m.mchid}`);
    expect(q.json).toMatchObject({ out_trade_no: 'WX-P001', trade_state: 'NOTPAY', amount: { total: 42 } });
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});
