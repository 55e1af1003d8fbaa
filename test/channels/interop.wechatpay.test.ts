/**
 * Interop with WeChat Pay's Node SDK (wechatpay-axios-plugin 0.9.x), both directions, no mocks
 * of our code: our Authorization header verifies with the plugin's Rsa/Formatter; answers and
 * notifies the plugin signs (and encrypts) are accepted by our adapter — and tampered ones,
 * a wrong serial or another APIv3 key are refused.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createCipheriv, randomBytes } from 'node:crypto';
import { Aes, Formatter, Rsa } from 'wechatpay-axios-plugin';
import { WechatpayAdapter, type WechatpayConfig } from '../../src/channels/wechatpay/adapter.ts';
import { wechatpay } from '../../src/channels/wechatpay/index.ts';
import { authorization, decryptResource } from '../../src/channels/wechatpay/signing.ts';
import { type FakeProvider, type RsaPair, fakeProvider, rsaPair } from './interop-keys.ts';

const mchid = '1900000109';
const appid = 'wxd678efh567hg6787';
const serial_no = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const platform_serial = '7132D72A03E93CDDF8C03BBD1F37EEDF43E1E3A1';
const apiv3_key = 'aaaaaaaa0123456789abcdef01234567'; // 32 bytes, as WeChat issues it
const other_apiv3_key = 'Z'.repeat(32);
const options = { notifyUrl: 'https://pay.example.com/callbacks/wechatpay/wechat_main', timeoutMs: 2_000 };

let merchantKeys: RsaPair;
let platformKeys: RsaPair;
let otherKeys: RsaPair;

beforeAll(() => {
  merchantKeys = rsaPair();
  platformKeys = rsaPair();
  otherKeys = rsaPair();
});

const configFor = (base_url: string): WechatpayConfig => ({
  mchid, appid, serial_no, private_key: merchantKeys.privateKey, apiv3_key,
  platform_serial, platform_public_key: platformKeys.publicKey, base_url,
});

/** The fields of `WECHATPAY2-SHA256-RSA2048 k="v",…`, whatever their order. */
function authFields(header: string): Record<string, string> {
  expect(header.startsWith('WECHATPAY2-SHA256-RSA2048 ')).toBe(true);
  return Object.fromEntries([...header.slice('WECHATPAY2-SHA256-RSA2048 '.length).matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
}

/** The Wechatpay-* headers the platform puts on an answer or notify, signed with the plugin. */
function platformHeaders(body: string, options: { key?: string; serial?: string; timestamp?: number } = {}): Record<string, string> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  return {
    'wechatpay-timestamp': timestamp,
    'wechatpay-nonce': nonce,
    'wechatpay-signature': Rsa.sign(Formatter.response(timestamp, nonce, body), options.key ?? platformKeys.privateKey),
    'wechatpay-serial': options.serial ?? platform_serial,
  };
}

describe('wechatpay requests: our Authorization verifies with the plugin', () => {
  const path = '/v3/pay/transactions/native';
  const body = JSON.stringify({ appid, mchid, description: '测试 商品', out_trade_no: 'F01JWXFLOW', amount: { total: 1234, currency: 'CNY' } });

  test('Rsa.verify over Formatter.request accepts it with the merchant public key; the plugin signs the same bytes', async () => {
    const nowMs = Date.now();
    const header = await authorization({ mchid, serialNo: serial_no, privateKey: merchantKeys.privateKey }, 'POST', path, body, nowMs);
    const fields = authFields(header);
    expect(fields).toMatchObject({ mchid, serial_no, timestamp: String(Math.floor(nowMs / 1000)) });
    const { timestamp, nonce_str, signature } = fields;
    if (!timestamp || !nonce_str || !signature) throw new Error('assertion failed: incomplete Authorization');
    expect(Rsa.verify(Formatter.request('POST', path, timestamp, nonce_str, body), signature, merchantKeys.publicKey)).toBe(true);
    // PKCS#1 v1.5 is deterministic: the plugin's signature and its whole header are ours.
    expect(Rsa.sign(Formatter.request('POST', path, timestamp, nonce_str, body), merchantKeys.privateKey)).toBe(signature);
    expect(authFields(Formatter.authorization(mchid, nonce_str, signature, timestamp, serial_no))).toEqual(fields);
    // Tampering with the body, the URL or the method fails.
    expect(Rsa.verify(Formatter.request('POST', path, timestamp, nonce_str, body.replace('1234', '1')), signature, merchantKeys.publicKey)).toBe(false);
    expect(Rsa.verify(Formatter.request('POST', `${path}?x=1`, timestamp, nonce_str, body), signature, merchantKeys.publicKey)).toBe(false);
    expect(Rsa.verify(Formatter.request('GET', path, timestamp, nonce_str, body), signature, merchantKeys.publicKey)).toBe(false);
  });
});

describe('wechatpay: a real query through a loopback "WeChat"', () => {
  let wechat: FakeProvider;
  /** How the fake platform answers the next request: the body it sends and the headers it signs. */
  let mode: 'good' | 'wrong_serial' | 'tampered_body' | 'other_key' | 'stale' | 'not_json' | 'wrong_shape' | 'order_closed' = 'good';

  const transaction = (flowId: string) => JSON.stringify({
    appid, mchid, out_trade_no: flowId, transaction_id: '4200001234202611241234567890', trade_type: 'NATIVE', trade_state: 'SUCCESS',
    trade_state_desc: '支付成功', bank_type: 'OTHERS', success_time: '2026-11-24T18:00:05+08:00',
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }, amount: { total: 1234, payer_total: 1234, currency: 'CNY', payer_currency: 'CNY' },
  });

  beforeAll(() => {
    wechat = fakeProvider((request) => {
      const flowId = decodeURIComponent(/out-trade-no\/([^?]+)/.exec(request.pathAndQuery)?.[1] ?? '');
      const body = mode === 'not_json' ? 'SUCCESS' : mode === 'wrong_shape' ? JSON.stringify({ code_url: 42 })
        : mode === 'order_closed' ? JSON.stringify({ code: 'ORDER_CLOSED', message: '订单已关闭' }) : transaction(flowId);
      const headers = {
        'content-type': 'application/json',
        ...platformHeaders(body, {
          ...(mode === 'wrong_serial' ? { serial: 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF' } : {}),
          ...(mode === 'other_key' ? { key: otherKeys.privateKey } : {}),
          ...(mode === 'stale' ? { timestamp: Math.floor(Date.now() / 1000) - 3_600 } : {}),
        }),
      };
      return new Response(mode === 'tampered_body' ? body.replace('"total":1234', '"total":1') : body, { status: mode === 'order_closed' ? 400 : 200, headers });
    });
  });
  afterAll(() => wechat.stop());

  test('the captured request verifies with the plugin; the plugin-signed answer is accepted', async () => {
    mode = 'good';
    const adapter = new WechatpayAdapter(configFor(wechat.url), options);
    const result = await adapter.query({ flowId: 'F01J/WX FLOW', payableUntil: Date.now(), now: Date.now() });
    expect(result).toEqual({
      ok: true,
      trade: { flowId: 'F01J/WX FLOW', status: 'succeeded', amount: 1234, currency: 'CNY', channelTradeNo: '4200001234202611241234567890' },
    });

    const captured = wechat.requests.at(-1)!;
    expect(captured.method).toBe('GET');
    expect(captured.pathAndQuery).toBe(`/v3/pay/transactions/out-trade-no/F01J%2FWX%20FLOW?mchid=${mchid}`);
    expect(captured.body).toBe('');
    const fields = authFields(captured.headers.get('authorization') ?? '');
    expect(fields).toMatchObject({ mchid, serial_no });
    const { timestamp, nonce_str, signature } = fields;
    if (!timestamp || !nonce_str || !signature) throw new Error('assertion failed: incomplete Authorization');
    // What WeChat checks: the method, the path and query as received, the (empty) body.
    expect(Rsa.verify(Formatter.request(captured.method, captured.pathAndQuery, timestamp, nonce_str, captured.body), signature, merchantKeys.publicKey)).toBe(true);
    expect(Rsa.verify(Formatter.request(captured.method, captured.pathAndQuery, timestamp, nonce_str, '{}'), signature, merchantKeys.publicKey)).toBe(false);
    expect(Rsa.verify(Formatter.request(captured.method, captured.pathAndQuery, timestamp, nonce_str, captured.body), signature, otherKeys.publicKey)).toBe(false);
  });

  test('a POST body is signed as sent (close): the plugin verifies it, and tampering fails', async () => {
    mode = 'good';
    const adapter = new WechatpayAdapter(configFor(wechat.url), options);
    await adapter.close('F01JCLOSEFLOW', Date.now());
    const captured = wechat.requests.at(-1)!;
    expect(captured.method).toBe('POST');
    expect(JSON.parse(captured.body)).toEqual({ mchid });
    const { timestamp, nonce_str, signature } = authFields(captured.headers.get('authorization') ?? '');
    if (!timestamp || !nonce_str || !signature) throw new Error('assertion failed: incomplete Authorization');
    expect(Rsa.verify(Formatter.request('POST', captured.pathAndQuery, timestamp, nonce_str, captured.body), signature, merchantKeys.publicKey)).toBe(true);
    expect(Rsa.verify(Formatter.request('POST', captured.pathAndQuery, timestamp, nonce_str, JSON.stringify({ mchid: '1' })), signature, merchantKeys.publicKey)).toBe(false);
  });

  test('closing a trade WeChat Pay already closed (400 ORDER_CLOSED) has the outcome asked for', async () => {
    mode = 'order_closed';
    expect(await new WechatpayAdapter(configFor(wechat.url), options).close('F01JCLOSEDFLOW', Date.now())).toEqual({ ok: true, outcome: 'closed' });
    mode = 'good';
  });

  test.each([
    ['not_json', 'WeChat Pay answer is not JSON'],
    ['wrong_shape', 'WeChat Pay answer: code_url Invalid type: Expected string but received 42'],
  ] as const)('a signed answer that is %s is bad_response, saying so', async (bad, message) => {
    mode = bad;
    const adapter = new WechatpayAdapter(configFor(wechat.url), options);
    expect(await adapter.query({ flowId: 'F01JWXFLOW', payableUntil: Date.now(), now: Date.now() })).toEqual({ ok: false, code: 'bad_response', retryable: true, message });
  });

  test.each(['wrong_serial', 'tampered_body', 'other_key', 'stale'] as const)('an answer with %s is bad_response', async (bad) => {
    mode = bad;
    const adapter = new WechatpayAdapter(configFor(wechat.url), options);
    expect(await adapter.query({ flowId: 'F01JWXFLOW', payableUntil: Date.now(), now: Date.now() })).toMatchObject({ ok: false, code: 'bad_response', retryable: true });
    mode = 'good';
    expect(await adapter.query({ flowId: 'F01JWXFLOW', payableUntil: Date.now(), now: Date.now() })).toMatchObject({ ok: true, trade: { status: 'succeeded', amount: 1234 } });
  });
});

describe('wechatpay notifies built with the plugin', () => {
  const adapter = () => new WechatpayAdapter(configFor('https://api.mch.weixin.qq.com'), options);
  const plaintext = (overrides: Record<string, unknown> = {}) => JSON.stringify({
    mchid, appid, out_trade_no: 'F01JNOTIFYWX', transaction_id: '4200001234202611249876543210', trade_type: 'NATIVE', trade_state: 'SUCCESS',
    trade_state_desc: '支付成功', bank_type: 'OTHERS', attach: '', success_time: '2026-11-24T18:00:05+08:00',
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }, amount: { total: 8888, payer_total: 8888, currency: 'CNY', payer_currency: 'CNY' },
    ...overrides,
  });

  /** A notify as WeChat posts it: the transaction AES-256-GCM encrypted with the plugin, the headers signed with it. */
  function notify(options: { key?: string; plain?: string; mutate?: (ciphertext: string) => string; event?: string } = {}) {
    const nonce = randomBytes(6).toString('hex'); // 12 characters, like WeChat's
    const associated_data = 'transaction';
    const ciphertext = Aes.AesGcm.encrypt(options.plain ?? plaintext(), options.key ?? apiv3_key, nonce, associated_data);
    const body = JSON.stringify({
      id: 'EV-2018022511223320873', create_time: '2026-11-24T18:00:06+08:00', resource_type: 'encrypt-resource', event_type: options.event ?? 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: options.mutate ? options.mutate(ciphertext) : ciphertext, associated_data, nonce },
    });
    return { body, headers: platformHeaders(body), nonce, ciphertext, associated_data };
  }

  test('verifyCallback accepts it with the right flow, amount and status', async () => {
    const { body, headers } = notify();
    expect(await adapter().verifyCallback({ headers, body, now: Date.now() })).toEqual({
      ok: true,
      trade: { flowId: 'F01JNOTIFYWX', status: 'succeeded', amount: 8888, currency: 'CNY', channelTradeNo: '4200001234202611249876543210' },
    });
    const pending = notify({ plain: plaintext({ trade_state: 'NOTPAY' }) });
    expect(await adapter().verifyCallback({ headers: pending.headers, body: pending.body, now: Date.now() })).toMatchObject({ ok: true, trade: { status: 'pending' } });
  });

  test('a tampered ciphertext is refused, whether or not the headers were re-signed over it', async () => {
    const flip = (ciphertext: string) => {
      const bytes = Buffer.from(ciphertext, 'base64');
      bytes[3] = bytes[3]! ^ 0x01;
      return bytes.toString('base64');
    };
    // Re-signed over the tampered body: only the AEAD tag can catch it.
    const resigned = notify({ mutate: flip });
    expect(await adapter().verifyCallback({ headers: resigned.headers, body: resigned.body, now: Date.now() })).toEqual({ ok: false, reason: 'resource does not decrypt with the APIv3 key' });
    // The original headers on a tampered body: the signature catches it.
    const original = notify();
    const tamperedBody = original.body.replace(original.ciphertext, flip(original.ciphertext));
    expect(tamperedBody).not.toBe(original.body);
    expect(await adapter().verifyCallback({ headers: original.headers, body: tamperedBody, now: Date.now() })).toMatchObject({ ok: false, reason: 'signature does not verify' });
  });

  test('a tampered signature, another platform key, a wrong serial or a stale timestamp is refused', async () => {
    const { body, headers } = notify();
    const signature = headers['wechatpay-signature']!;
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    expect(await adapter().verifyCallback({ headers: { ...headers, 'wechatpay-signature': flipped }, body, now: Date.now() })).toMatchObject({ ok: false });
    expect(await adapter().verifyCallback({ headers: platformHeaders(body, { key: otherKeys.privateKey }), body, now: Date.now() })).toMatchObject({ ok: false, reason: 'signature does not verify' });
    expect(await adapter().verifyCallback({ headers: platformHeaders(body, { serial: 'FFFF' }), body, now: Date.now() })).toMatchObject({ ok: false });
    expect(await adapter().verifyCallback({ headers: platformHeaders(body, { timestamp: Math.floor(Date.now() / 1000) - 3_600 }), body, now: Date.now() })).toMatchObject({ ok: false });
  });

  test('during a platform certificate rotation, a notify signed with the next certificate verifies; one with neither is refused', async () => {
    const nextKeys = rsaPair();
    const next_platform_serial = '3775B6A45ACD588826D15E583A95F5DD4E2E2D1F';
    const rotating = new WechatpayAdapter({ ...configFor('https://api.mch.weixin.qq.com'), next_platform_serial, next_platform_public_key: nextKeys.publicKey }, options);
    const { body, headers } = notify();
    const signedByNext = platformHeaders(body, { key: nextKeys.privateKey, serial: next_platform_serial });
    expect(await rotating.verifyCallback({ headers, body, now: Date.now() })).toMatchObject({ ok: true });
    expect(await rotating.verifyCallback({ headers: signedByNext, body, now: Date.now() })).toMatchObject({ ok: true, trade: { status: 'succeeded' } });
    // Each serial names its own key: the next serial over the current key's signature does not verify.
    expect(await rotating.verifyCallback({ headers: { ...headers, 'wechatpay-serial': next_platform_serial }, body, now: Date.now() })).toEqual({ ok: false, reason: 'signature does not verify' });
    expect(await adapter().verifyCallback({ headers: signedByNext, body, now: Date.now() })).toMatchObject({ ok: false, reason: expect.stringContaining(next_platform_serial) });
    // The next certificate comes as a pair, and is another one.
    const base = configFor('https://api.mch.weixin.qq.com');
    expect(wechatpay.readConfig({ ...base, next_platform_serial })).toMatchObject({ ok: false, field: 'config.next_platform_public_key' });
    expect(wechatpay.readConfig({ ...base, next_platform_serial: platform_serial, next_platform_public_key: nextKeys.publicKey })).toMatchObject({ ok: false, field: 'config.next_platform_serial' });
    expect(wechatpay.readConfig({ ...base, next_platform_serial, next_platform_public_key: nextKeys.publicKey })).toMatchObject({ ok: true });
  });

  test('a notify encrypted under another APIv3 key is refused', async () => {
    const { body, headers } = notify({ key: other_apiv3_key });
    expect(await adapter().verifyCallback({ headers, body, now: Date.now() })).toEqual({ ok: false, reason: 'resource does not decrypt with the APIv3 key' });
  });

  test("a refund's notify (REFUND.*, as WeChat Pay documents its resource) is verified and acknowledged, not refused", async () => {
    const refund = (overrides: Record<string, unknown> = {}) => JSON.stringify({
      mchid, out_trade_no: 'F01JNOTIFYWX', transaction_id: '4200001234202611249876543210', out_refund_no: 'rfd_01JREFUNDWX', refund_id: '50000000382019052709732678859',
      refund_status: 'SUCCESS', success_time: '2026-11-24T18:10:05+08:00', user_received_account: '招商银行信用卡0403',
      amount: { total: 8888, refund: 1000, payer_total: 8888, payer_refund: 1000 }, ...overrides,
    });
    const done = notify({ plain: refund(), event: 'REFUND.SUCCESS' });
    expect(await adapter().verifyCallback({ headers: done.headers, body: done.body, now: Date.now() }))
      .toEqual({ ok: true, acknowledged: 'refund rfd_01JREFUNDWX SUCCESS, settled by the refund query' });
    const abnormal = notify({ plain: refund({ refund_status: 'ABNORMAL' }), event: 'REFUND.ABNORMAL' });
    expect(await adapter().verifyCallback({ headers: abnormal.headers, body: abnormal.body, now: Date.now() })).toMatchObject({ ok: true, acknowledged: expect.stringContaining('ABNORMAL') });
    const foreign = notify({ plain: refund({ mchid: '1900000999' }), event: 'REFUND.SUCCESS' });
    expect(await adapter().verifyCallback({ headers: foreign.headers, body: foreign.body, now: Date.now() })).toEqual({ ok: false, reason: "mchid is not this channel's" });
    const tampered = notify({ plain: refund(), event: 'REFUND.SUCCESS', mutate: (c) => c.slice(0, -4) + (c.endsWith('AAAA') ? 'BBBB' : 'AAAA') });
    expect(await adapter().verifyCallback({ headers: tampered.headers, body: tampered.body, now: Date.now() })).toMatchObject({ ok: false });
  });

  test('a properly signed notify for another merchant is refused', async () => {
    const { body, headers } = notify({ plain: plaintext({ mchid: '1900000999' }) });
    expect(await adapter().verifyCallback({ headers, body, now: Date.now() })).toMatchObject({ ok: false });
  });

  test('sanity: what WeChat sends (node:crypto AES-256-GCM, tag appended) decrypts with the plugin and with ours', () => {
    const nonce = 'abcdef123456';
    const associated_data = 'transaction';
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiv3_key, 'utf8'), Buffer.from(nonce, 'utf8'));
    cipher.setAAD(Buffer.from(associated_data, 'utf8'));
    const plain = plaintext();
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
    expect(Aes.AesGcm.decrypt(ciphertext, apiv3_key, nonce, associated_data)).toBe(plain);
    expect(decryptResource(apiv3_key, { algorithm: 'AEAD_AES_256_GCM', ciphertext, nonce, associated_data })).toBe(plain);
    // And the plugin's encryption is byte-identical to it.
    expect(Aes.AesGcm.encrypt(plain, apiv3_key, nonce, associated_data)).toBe(ciphertext);
    expect(decryptResource(other_apiv3_key, { algorithm: 'AEAD_AES_256_GCM', ciphertext, nonce, associated_data })).toBeNull();
    expect(() => Aes.AesGcm.decrypt(ciphertext, other_apiv3_key, nonce, associated_data)).toThrow();
  });
});
