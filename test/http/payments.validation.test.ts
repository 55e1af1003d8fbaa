/**
 * Bad requests: each is answered with the right status and code, names the field where there
 * is one, never echoes the body, and changes nothing in the store.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, bootPaycenter, tableCounts } from './harness.ts';

const good = { merchant_order_no: 'ORD-V', amount: '100.00', subject: 'Hotel booking' };
const long = (n: number) => 'x'.repeat(n);

/** `message`, where given, is the whole message: the field named once, in words a person reads. */
type Case = { name: string; body: unknown; code: string; field?: string | null; status?: number; path?: string; contentType?: string | null; message?: string };

const order_number_rule = 'must be 1–64 characters of A-Z a-z 0-9 _ -';
const not_json = 'body must be JSON (Content-Type: application/json)';

const createCases: Case[] = [
  // amounts (API.md)
  ...['100', '1e2', '-1.00', '0.00', '100.001', ' 1.00', '1.00 ', '1.0', '01.00', '', '.50', '+1.00', '1,000.00', '100000000.01', '99999999999.00', 'NaN', 'Infinity', '0x10', '１.00', '1.00\n']
    .map((amount) => ({ name: `amount ${JSON.stringify(amount)}`, body: { ...good, amount }, code: 'invalid_amount', field: 'amount' })),
  { name: 'JPY with decimals', body: { ...good, currency: 'JPY', amount: '1500.00' }, code: 'invalid_amount', field: 'amount' },
  { name: 'amount as a number', body: { ...good, amount: 100 }, code: 'invalid_request', field: 'amount' },
  { name: 'amount as null', body: { ...good, amount: null }, code: 'invalid_request', field: 'amount' },
  { name: 'amount as an object', body: { ...good, amount: { value: '1.00' } }, code: 'invalid_request', field: 'amount' },
  { name: 'amount far too long', body: { ...good, amount: `1${'0'.repeat(40)}.00` }, code: 'invalid_request', field: 'amount' },
  // missing and unknown fields
  { name: 'no merchant_order_no', body: { amount: '1.00', subject: 's' }, code: 'invalid_request', field: 'merchant_order_no', message: 'merchant_order_no is required' },
  { name: 'no amount', body: { merchant_order_no: 'A', subject: 's' }, code: 'invalid_request', field: 'amount' },
  { name: 'no subject', body: { merchant_order_no: 'A', amount: '1.00' }, code: 'invalid_request', field: 'subject' },
  { name: 'an unknown field', body: { ...good, colour: 'red' }, code: 'invalid_request', field: 'colour', message: 'colour is not a known field' },
  { name: 'a snake/camel mix-up', body: { ...good, merchantOrderNo: 'A' }, code: 'invalid_request', field: 'merchantOrderNo' },
  { name: 'an empty object', body: {}, code: 'invalid_request' },
  { name: 'an array', body: [good], code: 'invalid_request' },
  { name: 'a string', body: 'hello', code: 'invalid_request' },
  { name: 'null', body: null, code: 'invalid_request' },
  { name: 'a number', body: 42, code: 'invalid_request' },
  // merchant_order_no
  { name: 'empty merchant_order_no', body: { ...good, merchant_order_no: '' }, code: 'invalid_request', field: 'merchant_order_no' },
  { name: '65-char merchant_order_no', body: { ...good, merchant_order_no: long(65) }, code: 'invalid_request', field: 'merchant_order_no', message: `merchant_order_no ${order_number_rule}` },
  { name: 'merchant_order_no with a space', body: { ...good, merchant_order_no: 'A 1' }, code: 'invalid_request', field: 'merchant_order_no' },
  { name: 'merchant_order_no with SQL', body: { ...good, merchant_order_no: "A';DROP TABLE orders;--" }, code: 'invalid_request', field: 'merchant_order_no' },
  { name: 'merchant_order_no with Chinese', body: { ...good, merchant_order_no: '订单1' }, code: 'invalid_request', field: 'merchant_order_no' },
  { name: 'merchant_order_no as a number', body: { ...good, merchant_order_no: 123 }, code: 'invalid_request', field: 'merchant_order_no' },
  { name: 'merchant_order_no with a slash', body: { ...good, merchant_order_no: '../A' }, code: 'invalid_request', field: 'merchant_order_no' },
  // subject and texts
  { name: 'empty subject', body: { ...good, subject: '' }, code: 'invalid_request', field: 'subject' },
  { name: '129-char subject', body: { ...good, subject: long(129) }, code: 'invalid_request', field: 'subject' },
  { name: 'subject as an array', body: { ...good, subject: ['a'] }, code: 'invalid_request', field: 'subject' },
  { name: '513-char body', body: { ...good, body: long(513) }, code: 'invalid_request', field: 'body' },
  { name: 'user_id too long', body: { ...good, user_id: long(65) }, code: 'invalid_request', field: 'user_id' },
  { name: 'client_ip as a number', body: { ...good, client_ip: 1234 }, code: 'invalid_request', field: 'client_ip' },
  { name: 'device_id too long', body: { ...good, device_id: long(129) }, code: 'invalid_request', field: 'device_id' },
  // currency
  { name: 'currency XYZ', body: { ...good, currency: 'XYZ' }, code: 'invalid_request', field: 'currency' },
  { name: 'currency in lower case', body: { ...good, currency: 'cny' }, code: 'invalid_request', field: 'currency' },
  { name: 'currency as a number', body: { ...good, currency: 156 }, code: 'invalid_request', field: 'currency' },
  // expire_seconds
  { name: 'expire_seconds 59', body: { ...good, expire_seconds: 59 }, code: 'invalid_request', field: 'expire_seconds', message: 'expire_seconds must be at least 60' },
  { name: 'expire_seconds 86401', body: { ...good, expire_seconds: 86_401 }, code: 'invalid_request', field: 'expire_seconds' },
  { name: 'expire_seconds 60.5', body: { ...good, expire_seconds: 60.5 }, code: 'invalid_request', field: 'expire_seconds' },
  { name: 'expire_seconds as a string', body: { ...good, expire_seconds: '600' }, code: 'invalid_request', field: 'expire_seconds' },
  { name: 'expire_seconds negative', body: { ...good, expire_seconds: -1 }, code: 'invalid_request', field: 'expire_seconds' },
  // urls
  { name: 'notify_url not a URL', body: { ...good, notify_url: 'not a url' }, code: 'invalid_request', field: 'notify_url' },
  { name: 'notify_url javascript:', body: { ...good, notify_url: 'javascript:alert(1)' }, code: 'invalid_request', field: 'notify_url' },
  { name: 'notify_url file:', body: { ...good, notify_url: 'file:///etc/passwd' }, code: 'invalid_request', field: 'notify_url' },
  { name: 'return_url ftp:', body: { ...good, return_url: 'ftp://x.example/' }, code: 'invalid_request', field: 'return_url' },
  { name: 'notify_url too long', body: { ...good, notify_url: `https://x.example/${long(600)}` }, code: 'invalid_request', field: 'notify_url' },
  // metadata
  { name: 'metadata as an array', body: { ...good, metadata: [1, 2] }, code: 'invalid_request', field: 'metadata' },
  { name: 'metadata as a string', body: { ...good, metadata: 'x' }, code: 'invalid_request', field: 'metadata' },
  { name: 'metadata over 4 KB', body: { ...good, metadata: { blob: long(5_000) } }, code: 'invalid_request', field: 'metadata' },
  // methods
  { name: 'a method the merchant lacks', body: { ...good, method: 'wechat_jsapi' }, code: 'unsupported_method', field: 'method', status: 400 },
  { name: 'an unknown method', body: { ...good, method: 'paypal' }, code: 'unsupported_method', field: 'method', status: 400 },
  { name: 'method as a number', body: { ...good, method: 7 }, code: 'invalid_request', field: 'method' },
  // script injection stays data, but here it breaks the pattern
  { name: 'script in merchant_order_no', body: { ...good, merchant_order_no: '<script>alert(1)</script>' }, code: 'invalid_request', field: 'merchant_order_no' },
];

const rawCases: Array<{ name: string; raw: string | Uint8Array; code: string; contentType?: string | null; field?: string; message?: string }> = [
  { name: 'malformed JSON', raw: '{"merchant_order_no": "A", ', code: 'invalid_request', field: 'body' },
  { name: 'JSON with a trailing comma', raw: '{"amount":"1.00",}', code: 'invalid_request', field: 'body' },
  { name: 'not JSON at all', raw: 'amount=1.00&subject=x', code: 'invalid_request', field: 'body' },
  { name: 'an empty body', raw: '', code: 'invalid_request' },
  { name: 'bad UTF-8', raw: new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), code: 'invalid_request', field: 'body' },
  { name: 'a body over 64 KiB', raw: JSON.stringify({ ...good, body: long(70_000) }), code: 'invalid_request', field: 'body' },
  { name: 'form content type', raw: JSON.stringify(good), code: 'invalid_request', contentType: 'application/x-www-form-urlencoded', field: 'body', message: not_json },
  { name: 'text content type', raw: JSON.stringify(good), code: 'invalid_request', contentType: 'text/plain', field: 'body', message: not_json },
  { name: 'no content type', raw: JSON.stringify(good), code: 'invalid_request', contentType: null, field: 'body', message: not_json },
  { name: 'JSON with a charset', raw: '{}', code: 'invalid_request', contentType: 'application/json; charset=utf-8', field: 'merchant_order_no', message: 'merchant_order_no is required' },
];

const refundCases: Case[] = [
  { name: 'refund without refund_no', body: { amount: '1.00' }, code: 'invalid_request', field: 'refund_no' },
  { name: 'refund with amount 0.00', body: { refund_no: 'R1', amount: '0.00' }, code: 'invalid_amount', field: 'amount' },
  { name: 'refund with amount 1', body: { refund_no: 'R1', amount: '1' }, code: 'invalid_amount', field: 'amount' },
  { name: 'refund with an unknown field', body: { refund_no: 'R1', amount: '1.00', to: 'me' }, code: 'invalid_request', field: 'to' },
  { name: 'refund_no too long', body: { refund_no: long(65), amount: '1.00' }, code: 'invalid_request', field: 'refund_no', message: `refund_no ${order_number_rule}` },
  { name: 'reason too long', body: { refund_no: 'R1', amount: '1.00', reason: long(257) }, code: 'invalid_request', field: 'reason' },
  { name: 'refund of an unpaid order', body: { refund_no: 'R1', amount: '1.00' }, code: 'invalid_state', status: 409 },
];

const payCases: Case[] = [
  { name: 'pay with neither method nor parts', body: {}, code: 'invalid_request' },
  { name: 'pay with both', body: { method: 'alipay_qr', parts: [] }, code: 'invalid_request' },
  { name: 'pay with empty parts', body: { parts: [] }, code: 'invalid_request' },
  { name: 'pay with six parts', body: { parts: Array.from({ length: 6 }, () => ({ method: 'balance', amount: '1.00' })) }, code: 'invalid_request' },
  { name: 'pay as a form', body: 'method=alipay_qr', contentType: 'application/x-www-form-urlencoded', code: 'invalid_request', field: 'body', message: not_json },
  { name: 'pay parts that do not add up', body: { parts: [{ method: 'balance', amount: '1.00' }] }, code: 'amount_mismatch', field: 'parts' },
  { name: 'pay with two external parts', body: { parts: [{ method: 'alipay_qr', amount: '50.00' }, { method: 'alipay_qr', amount: '50.00' }] }, code: 'invalid_request', field: 'parts' },
  { name: 'pay part with a bad amount', body: { parts: [{ method: 'balance', amount: '100' }] }, code: 'invalid_amount', field: 'parts.0.amount' },
  { name: 'pay with a disabled method', body: { method: 'wechat_native' }, code: 'unsupported_method', field: 'method' },
];

const queryCases: Array<{ name: string; path: string; code: string; field?: string; message?: string }> = [
  { name: 'events limit 0', path: '/v1/events?limit=0', code: 'invalid_request', field: 'limit', message: 'limit must be at least 1' },
  { name: 'events limit 101', path: '/v1/events?limit=101', code: 'invalid_request', field: 'limit', message: 'limit must be at most 100' },
  { name: 'events limit abc', path: '/v1/events?limit=abc', code: 'invalid_request', field: 'limit' },
  { name: 'events after garbage', path: '/v1/events?after=1%27%20OR%201=1', code: 'invalid_request', field: 'after' },
  { name: 'events with an unknown parameter', path: '/v1/events?page=2', code: 'invalid_request', field: 'page' },
  { name: 'payments without merchant_order_no', path: '/v1/payments', code: 'invalid_request', field: 'merchant_order_no' },
  { name: 'payments by a bad merchant_order_no', path: '/v1/payments?merchant_order_no=%3Cscript%3E', code: 'invalid_request', field: 'merchant_order_no', message: `merchant_order_no ${order_number_rule}` },
  { name: 'an unknown payment', path: '/v1/payments/pay_01XXXXXXXXXXXXXXXXXXXXXXXX', code: 'not_found' },
  { name: 'an unknown refund', path: '/v1/refunds/rfd_01XXXXXXXXXXXXXXXXXXXXXXXX', code: 'not_found' },
  { name: 'an unknown route', path: '/v1/nothing', code: 'not_found' },
];

const statusOf = (code: string) => ({ invalid_request: 400, invalid_amount: 400, amount_mismatch: 400, unsupported_method: 400, not_found: 404, invalid_state: 409 })[code] ?? 0;

test('the table holds at least 80 bad requests', () => {
  expect(createCases.length + rawCases.length + refundCases.length + payCases.length + queryCases.length).toBeGreaterThanOrEqual(80);
});

for (const kind of storeKinds) {
  describe(`bad requests on ${kind}`, () => {
    let booted: Booted;
    let merchant: MerchantClient;
    let paymentId: string;
    beforeAll(async () => {
      booted = await bootPaycenter(kind, { RATE_LIMIT_PER_S: '100000', RATE_LIMIT_BURST: '100000' });
      merchant = await MerchantClient.create(booted.url, { methods: ['alipay_qr', 'balance'] });
      paymentId = (await merchant.createPayment({ merchant_order_no: 'ORD-EXISTS' })).body.id;
    });
    afterAll(async () => {
      await booted?.stop();
    });

    async function expectRefused(send: () => Promise<{ status: number; body: any }>, code: string, field: string | null | undefined, echo?: string, message?: string) {
      const before = await tableCounts(booted.databaseUrl);
      const answer = await send();
      expect(answer.body.error?.code).toBe(code);
      expect(answer.status).toBe(statusOf(code));
      if (field !== undefined) expect(answer.body.error.field).toBe(field);
      if (message !== undefined) expect(answer.body.error.message).toBe(message);
      expect(answer.body.error.request_id).toBeString();
      if (echo) expect(JSON.stringify(answer.body)).not.toContain(echo);
      expect(await tableCounts(booted.databaseUrl)).toEqual(before);
    }

    test.each(createCases.map((c) => [c.name, c] as const))('create: %s', async (_, c) => {
      await expectRefused(() => merchant.call('POST', '/v1/payments', JSON.stringify(c.body)), c.code, c.field, c.name.includes('script') ? '<script>' : undefined, c.message);
    });
    test.each(rawCases.map((c) => [c.name, c] as const))('create: %s', async (_, c) => {
      await expectRefused(() => merchant.call('POST', '/v1/payments', c.raw, { contentType: c.contentType }), c.code, c.field, undefined, c.message);
    });
    test.each(refundCases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
      await expectRefused(() => merchant.call('POST', `/v1/payments/${paymentId}/refunds`, c.body as object), c.code, c.field, undefined, c.message);
    });
    test.each(payCases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
      const body = typeof c.body === 'string' ? c.body : (c.body as object);
      await expectRefused(() => merchant.call('POST', `/v1/payments/${paymentId}/pay`, body, { contentType: c.contentType }), c.code, c.field, undefined, c.message);
    });
    test.each(queryCases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
      await expectRefused(() => merchant.call('GET', c.path), c.code, c.field, undefined, c.message);
    });
  });
}
