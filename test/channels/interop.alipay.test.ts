/**
 * Interop with Alipay's own Node SDK (alipay-sdk 4.x), both directions, no mocks of our code:
 * what our adapter signs, the SDK re-signs byte for byte and verifies as the gateway would;
 * what the SDK side accepts as a notify or a gateway answer, our adapter accepts too — and a
 * tampered one is refused by both.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createSign } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import { AlipayAdapter, type AlipayConfig } from '../../src/channels/alipay/adapter.ts';
import { signRequest, signingText } from '../../src/channels/alipay/signing.ts';
import { alipayTime } from '../../src/channels/alipay/transformers.ts';
import { type FakeProvider, type RsaPair, fakeProvider, rsaPair } from './interop-keys.ts';

const app_id = '2021000000000042';
const seller_id = '2088000000000001';
const now = Date.UTC(2026, 10, 24, 10, 0, 0);
const options = { notifyUrl: 'https://pay.example.com/callbacks/alipay/alipay_main', timeoutMs: 2_000 };

let appKeys: RsaPair;
let alipayKeys: RsaPair;
let otherKeys: RsaPair;
/** The merchant's side as the SDK sees it: signs with the app key, verifies with Alipay's public key. */
let merchantSdk: AlipaySdk;
/** The gateway's side: verifies requests with the app's public key. */
let gatewaySdk: AlipaySdk;

beforeAll(() => {
  appKeys = rsaPair();
  alipayKeys = rsaPair();
  otherKeys = rsaPair();
  // alipay-sdk's formatKey breaks on a PEM with a trailing newline: it gets trimmed keys.
  merchantSdk = new AlipaySdk({ appId: app_id, keyType: 'PKCS8', privateKey: appKeys.privateKey.trim(), alipayPublicKey: alipayKeys.publicKey.trim() });
  gatewaySdk = new AlipaySdk({ appId: app_id, keyType: 'PKCS8', privateKey: alipayKeys.privateKey.trim(), alipayPublicKey: appKeys.publicKey.trim() });
});

/** Our adapter gets the keys exactly as node:crypto wrote them (trailing newline and all). */
const configFor = (gateway_url: string, extra: Partial<AlipayConfig> = {}): AlipayConfig => ({
  app_id, private_key: appKeys.privateKey, alipay_public_key: alipayKeys.publicKey, gateway_url, ...extra,
});

/** RSA2 with node:crypto, independent of src/channels/rsa.ts. */
const sha256WithRsa = (privateKeyPem: string, text: string) => createSign('RSA-SHA256').update(text, 'utf8').sign(privateKeyPem, 'base64');

/** What Alipay signs a notify over: every parameter but sign and sign_type, sorted, `k=v&…`. */
function signNotify(params: Record<string, string>, privateKeyPem: string): Record<string, string> {
  const text = Object.keys(params).filter((key) => key !== 'sign' && key !== 'sign_type').sort().map((key) => `${key}=${params[key]}`).join('&');
  return { ...params, sign: sha256WithRsa(privateKeyPem, text) };
}

/** The SDK's own re-signing of a parameter set (sdkExecute), as parameters. */
function sdkSigned(params: Record<string, string>): Record<string, string> {
  const { method, biz_content, timestamp, format, notify_url } = params;
  if (!method || !biz_content || !timestamp) throw new Error('assertion failed: not a request parameter set');
  const query = merchantSdk.sdkExecute(method, {
    bizContent: JSON.parse(biz_content) as Record<string, unknown>, timestamp, ...(format ? { format } : {}), ...(notify_url ? { notifyUrl: notify_url } : {}),
  });
  return Object.fromEntries(new URLSearchParams(query));
}

const withoutSign = ({ sign: _sign, ...rest }: Record<string, string>) => rest;

describe('alipay requests: our signature is the SDK\'s', () => {
  const params = (): Record<string, string> => ({
    app_id, method: 'alipay.trade.precreate', format: 'JSON', charset: 'utf-8', sign_type: 'RSA2', timestamp: alipayTime(now), version: '1.0',
    notify_url: options.notifyUrl,
    biz_content: JSON.stringify({ out_trade_no: 'F01JTESTFLOW', total_amount: '12.34', subject: '测试 商品 & a=b+c%20', time_expire: alipayTime(now + 600_000) }),
  });

  test('signRequest equals the SDK\'s sdkExecute signature byte for byte, over the same parameters', async () => {
    const ours = params();
    const sdk = sdkSigned(ours);
    expect(withoutSign(sdk)).toEqual(ours);
    expect(await signRequest(ours, appKeys.privateKey)).toBe(sdk.sign!);
  });

  test('the SDK (as the gateway) verifies signRequest over signingText; a tampered amount fails', async () => {
    const ours = params();
    const sign = await signRequest(ours, appKeys.privateKey);
    expect(gatewaySdk.rsaCheck(signingText(ours, ['sign']), sign)).toBe(true);
    // The SDK's own content builder (sorted k=v, sign_type kept on its first try) agrees.
    expect(gatewaySdk.checkNotifySignV2({ ...ours, sign })).toBe(true);
    const tampered = { ...ours, biz_content: ours.biz_content!.replace('"12.34"', '"0.01"') };
    expect(tampered.biz_content).not.toBe(ours.biz_content);
    expect(gatewaySdk.rsaCheck(signingText(tampered, ['sign']), sign)).toBe(false);
    expect(gatewaySdk.checkNotifySignV2({ ...tampered, sign })).toBe(false);
  });
});

describe('alipay: a real query through a loopback gateway', () => {
  let gateway: FakeProvider;
  /** What the gateway answers next: the raw body text. */
  let nextAnswer: (params: Record<string, string>) => string;

  const member = (flowId: string) =>
    JSON.stringify({
      code: '10000', msg: 'Success', buyer_logon_id: 'pay***@example.com', buyer_pay_amount: '12.00', out_trade_no: flowId,
      point_amount: '0.00', receipt_amount: '12.00', send_pay_date: '2026-11-24 18:00:05', total_amount: '12.34',
      trade_no: '2026112422001400001234567890', trade_status: 'TRADE_SUCCESS',
    });
  const signedAnswer = (memberText: string, key = alipayKeys.privateKey) =>
    `{"alipay_trade_query_response":${memberText},"sign":"${sha256WithRsa(key, memberText)}"}`;

  beforeAll(() => {
    gateway = fakeProvider((request) => new Response(nextAnswer(Object.fromEntries(new URLSearchParams(request.body))), {
      headers: { 'content-type': 'application/json;charset=utf-8' },
    }));
  });
  afterAll(() => gateway.stop());

  test('the captured request verifies with the SDK and re-signs identically; the signed answer is read', async () => {
    nextAnswer = (params) => signedAnswer(member(JSON.parse(params.biz_content ?? '{}').out_trade_no));
    const adapter = new AlipayAdapter(configFor(gateway.url), options);
    const result = await adapter.query({ flowId: 'F01JQUERYFLOW', payableUntil: now, now });
    expect(result).toEqual({
      ok: true,
      trade: { flowId: 'F01JQUERYFLOW', status: 'succeeded', amount: 1234, currency: 'CNY', channelTradeNo: '2026112422001400001234567890' },
    });

    const captured = gateway.requests.at(-1)!;
    expect(captured.method).toBe('POST');
    const sent = Object.fromEntries(new URLSearchParams(captured.body));
    expect(sent).toMatchObject({ app_id, method: 'alipay.trade.query', sign_type: 'RSA2', charset: 'utf-8', timestamp: alipayTime(now) });
    expect(JSON.parse(sent.biz_content!)).toEqual({ out_trade_no: 'F01JQUERYFLOW' });
    // The gateway's check, with the SDK and the app's public key.
    const content = Object.keys(sent).filter((key) => key !== 'sign').sort().map((key) => `${key}=${sent[key]}`).join('&');
    expect(gatewaySdk.rsaCheck(content, sent.sign!)).toBe(true);
    expect(gatewaySdk.checkNotifySignV2(sent)).toBe(true);
    expect(sdkSigned(sent).sign).toBe(sent.sign!);
    // A tampered field fails the same checks.
    const tampered = { ...sent, biz_content: JSON.stringify({ out_trade_no: 'F01JOTHERFLOW' }) };
    const tamperedContent = Object.keys(tampered).filter((key) => key !== 'sign').sort().map((key) => `${key}=${tampered[key as keyof typeof tampered]}`).join('&');
    expect(gatewaySdk.rsaCheck(tamperedContent, sent.sign!)).toBe(false);
    expect(gatewaySdk.checkNotifySignV2(tampered)).toBe(false);
  });

  test('the answer we accept is one the SDK accepts (checkResponseSign over the member text)', () => {
    const raw = signedAnswer(member('F01JQUERYFLOW'));
    const sign = /"sign":"([^"]+)"/.exec(raw)![1]!;
    expect(() => merchantSdk.checkResponseSign(raw, 'alipay_trade_query_response', sign, 'trace-1')).not.toThrow();
    const tampered = raw.replace('"total_amount":"12.34"', '"total_amount":"99.99"');
    expect(() => merchantSdk.checkResponseSign(tampered, 'alipay_trade_query_response', sign, 'trace-2')).toThrow();
  });

  test('a tampered answer, one signed by another key, an unsigned success or one of another shape is bad_response', async () => {
    const adapter = new AlipayAdapter(configFor(gateway.url), options);

    nextAnswer = (params) => signedAnswer(member(JSON.parse(params.biz_content ?? '{}').out_trade_no)).replace('"total_amount":"12.34"', '"total_amount":"99.99"');
    const tampered = await adapter.query({ flowId: 'F01JQUERYFLOW', payableUntil: now, now });
    expect(tampered).toMatchObject({ ok: false, code: 'bad_response', retryable: true });

    nextAnswer = (params) => signedAnswer(member(JSON.parse(params.biz_content ?? '{}').out_trade_no), otherKeys.privateKey);
    expect(await adapter.query({ flowId: 'F01JQUERYFLOW', payableUntil: now, now })).toMatchObject({ ok: false, code: 'bad_response' });

    nextAnswer = (params) => `{"alipay_trade_query_response":${member(JSON.parse(params.biz_content ?? '{}').out_trade_no)}}`;
    expect(await adapter.query({ flowId: 'F01JQUERYFLOW', payableUntil: now, now })).toMatchObject({ ok: false, code: 'bad_response' });

    // Signed as they are, so only reading them can refuse them: a member that is no object of Alipay's shape.
    nextAnswer = () => signedAnswer(JSON.stringify({ code: 10000, msg: 'Success' }));
    expect(await adapter.query({ flowId: 'F01JQUERYFLOW', payableUntil: now, now })).toMatchObject({ ok: false, code: 'bad_response', message: 'Alipay answer: code Invalid type: Expected string but received 10000' });

    // A refusal by the gateway itself comes as error_response, as the SDK reads it: a refusal, not an unreadable answer.
    const gatewayRefusal = JSON.stringify({ code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: 'no such app' });
    nextAnswer = () => `{"error_response":${gatewayRefusal}}`;
    expect(await adapter.query({ flowId: 'F01JQUERYFLOW', payableUntil: now, now })).toMatchObject({ ok: false, code: 'rejected', message: expect.stringContaining('isv.invalid-app-id') });
    nextAnswer = () => `{"error_response":${gatewayRefusal},"sign":"${sha256WithRsa(alipayKeys.privateKey, gatewayRefusal)}"}`;
    expect(await adapter.query({ flowId: 'F01JQUERYFLOW', payableUntil: now, now })).toMatchObject({ ok: false, code: 'rejected', message: expect.stringContaining('isv.invalid-app-id') });

    // And the same gateway, answering properly again, is accepted (the failures above were the answers').
    nextAnswer = (params) => signedAnswer(member(JSON.parse(params.biz_content ?? '{}').out_trade_no));
    expect(await adapter.query({ flowId: 'F01JQUERYFLOW', payableUntil: now, now })).toMatchObject({ ok: true, trade: { status: 'succeeded', amount: 1234 } });
  });
});

describe('alipay notifies signed the way Alipay signs them', () => {
  const notify = (): Record<string, string> => ({
    gmt_create: '2026-11-24 18:00:00', charset: 'utf-8', seller_email: 'seller@example.com', subject: '测试商品 & more',
    buyer_id: '2088102177846880', invoice_amount: '80.00', notify_id: '2026112400222180005001234567890123', notify_type: 'trade_status_sync',
    trade_status: 'TRADE_SUCCESS', receipt_amount: '80.00', buyer_pay_amount: '80.00', app_id, sign_type: 'RSA2', seller_id,
    gmt_payment: '2026-11-24 18:00:05', notify_time: '2026-11-24 18:00:06', version: '1.0', out_trade_no: 'F01JNOTIFYFLOW',
    total_amount: '88.88', trade_no: '2026112422001446881234567890', auth_app_id: app_id, buyer_logon_id: 'pay***@example.com',
    point_amount: '0.00', fund_bill_list: '[{"amount":"80.00","fundChannel":"ALIPAYACCOUNT"},{"amount":"8.88","fundChannel":"MDISCOUNT"}]', passback_params: 'merchant%3Dm1%26x%3D1',
  });
  /** The form body as Alipay posts it (spaces as '+', everything percent-encoded). */
  const formOf = (params: Record<string, string>) => new URLSearchParams(params).toString();
  const adapter = () => new AlipayAdapter(configFor('http://127.0.0.1:9/unused', { seller_id }), options);

  test('the SDK\'s checkNotifySignV2 accepts it, and so does verifyCallback, with the right trade', async () => {
    const signed = signNotify(notify(), alipayKeys.privateKey);
    const form = formOf(signed);
    // What a web framework hands the SDK: the decoded form fields.
    expect(merchantSdk.checkNotifySignV2(Object.fromEntries(new URLSearchParams(form)))).toBe(true);
    const verdict = await adapter().verifyCallback({ headers: {}, body: form, now });
    expect(verdict).toEqual({
      ok: true,
      trade: { flowId: 'F01JNOTIFYFLOW', status: 'succeeded', amount: 8888, currency: 'CNY', channelTradeNo: '2026112422001446881234567890' },
    });
  });

  test('a waiting-for-payment notify maps to pending; a closed one to closed', async () => {
    for (const [trade_status, status] of [['WAIT_BUYER_PAY', 'pending'], ['TRADE_CLOSED', 'closed'], ['TRADE_FINISHED', 'succeeded']] as const) {
      const signed = signNotify({ ...notify(), trade_status }, alipayKeys.privateKey);
      expect(merchantSdk.checkNotifySignV2(signed)).toBe(true);
      expect(await adapter().verifyCallback({ headers: {}, body: formOf(signed), now })).toMatchObject({ ok: true, trade: { status } });
    }
  });

  test('a tampered total_amount is refused by both the SDK and our adapter', async () => {
    const signed = signNotify(notify(), alipayKeys.privateKey);
    const tampered = { ...signed, total_amount: '0.01' };
    expect(merchantSdk.checkNotifySignV2(tampered)).toBe(false);
    expect(await adapter().verifyCallback({ headers: {}, body: formOf(tampered), now })).toMatchObject({ ok: false });
  });

  test('a notify signed with another key, or with no sign, is refused by both', async () => {
    const forged = signNotify(notify(), otherKeys.privateKey);
    expect(merchantSdk.checkNotifySignV2(forged)).toBe(false);
    expect(await adapter().verifyCallback({ headers: {}, body: formOf(forged), now })).toMatchObject({ ok: false });
    const unsigned = notify();
    expect(merchantSdk.checkNotifySignV2(unsigned)).toBe(false);
    expect(await adapter().verifyCallback({ headers: {}, body: formOf(unsigned), now })).toMatchObject({ ok: false });
  });

  // alipay-sdk (checkNotifySign), like Alipay's Java rsaCheckV1, keeps empty-valued parameters in a
  // notify's signed text (`body=`); requests leave them out.
  test('a notify with an empty-valued field, signed as the SDK verifies it, is accepted by our adapter too', async () => {
    const params = { ...notify(), body: '' };
    const text = Object.keys(params).filter((key) => key !== 'sign_type').sort().map((key) => `${key}=${params[key as keyof typeof params]}`).join('&');
    const signed = { ...params, sign: sha256WithRsa(alipayKeys.privateKey, text) };
    expect(merchantSdk.checkNotifySignV2(signed)).toBe(true);
    expect(await adapter().verifyCallback({ headers: {}, body: formOf(signed), now })).toMatchObject({ ok: true, trade: { amount: 8888 } });
  });

  test('a validly signed notify for another app or seller is refused by our adapter', async () => {
    const otherApp = signNotify({ ...notify(), app_id: '2021000000009999' }, alipayKeys.privateKey);
    expect(merchantSdk.checkNotifySignV2(otherApp)).toBe(true);
    expect(await adapter().verifyCallback({ headers: {}, body: formOf(otherApp), now })).toMatchObject({ ok: false });
    const otherSeller = signNotify({ ...notify(), seller_id: '2088000000009999' }, alipayKeys.privateKey);
    expect(await adapter().verifyCallback({ headers: {}, body: formOf(otherSeller), now })).toMatchObject({ ok: false });
  });
});
