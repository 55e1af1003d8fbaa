/** Authentication, replay, scoping and rate limits of the /v1 and /admin routes. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from './harness.ts';

for (const kind of storeKinds) {
  describe(`security on ${kind}`, () => {
    let booted: Booted;
    let merchant: MerchantClient;
    beforeAll(async () => {
      booted = await bootPaycenter(kind, { RATE_LIMIT_PER_S: '20', RATE_LIMIT_BURST: '40' });
      merchant = await MerchantClient.create(booted.url);
    });
    afterAll(async () => {
      await booted?.stop();
    });

    const now = () => Math.floor(Date.now() / 1000);
    const cases: Array<[string, () => Promise<{ status: number; body: any }>, number, string]> = [
      ['no Authorization header', () => merchant.createPayment({}, { authorization: null }), 401, 'unauthenticated'],
      ['another scheme', () => merchant.createPayment({}, { authorization: 'Bearer abc' }), 401, 'unauthenticated'],
      ['a header missing its signature', () => merchant.createPayment({}, { authorization: `PAYC-HMAC-SHA256 merchant_id="${merchant.merchantId}",timestamp="${now()}",nonce="n1"` }), 401, 'unauthenticated'],
      ['an unknown merchant', () => merchant.createPayment({}, { merchantId: 'M_NOBODY' }), 401, 'unauthenticated'],
      ['a wrong secret', () => merchant.createPayment({}, { secret: 'sk_wrong' }), 401, 'unauthenticated'],
      ['a signature over a different body', () => merchant.createPayment({ amount: '1.00' }, { signedBody: '{"amount":"100.00"}' }), 401, 'unauthenticated'],
      ['a timestamp 305 s old', () => merchant.createPayment({}, { timestamp: now() - 305 }), 401, 'timestamp_out_of_window'],
      ['a timestamp 305 s ahead', () => merchant.createPayment({}, { timestamp: now() + 305 }), 401, 'timestamp_out_of_window'],
    ];
    test.each(cases)('%s is refused', async (_, send, status, code) => {
      const answer = await send();
      expect([answer.status, answer.body.error.code]).toEqual([status, code]);
    });

    test('a nonce is used once; the replay is refused even with a valid signature', async () => {
      const first = await merchant.call('GET', '/v1/events', undefined, { nonce: 'nonce-once-1' });
      expect(first.status).toBe(200);
      const replay = await merchant.call('GET', '/v1/events', undefined, { nonce: 'nonce-once-1' });
      expect([replay.status, replay.body.error.code]).toEqual([401, 'replayed_request']);
    });

    test('a create carries its nonce into its own write: replaying it is refused, the nonce stays used', async () => {
      const body = { merchant_order_no: 'ORD-REPLAY', amount: '10.00', subject: 'replay' };
      const first = await merchant.call('POST', '/v1/payments', body, { nonce: 'create-nonce-1' });
      expect(first.status).toBe(201);
      const replay = await merchant.call('POST', '/v1/payments', body, { nonce: 'create-nonce-1' });
      expect([replay.status, replay.body.error.code]).toEqual([401, 'replayed_request']);
      expect((await merchant.call('GET', '/v1/events', undefined, { nonce: 'create-nonce-1' })).body.error.code).toBe('replayed_request');
      const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => merchant.call('POST', '/v1/payments', { ...body, merchant_order_no: `ORD-REPLAY-${i}` }, { nonce: 'create-nonce-2' })));
      expect(concurrent.filter((a) => a.status === 201)).toHaveLength(1);
      expect(concurrent.filter((a) => a.status === 401).every((a) => a.body.error.code === 'replayed_request')).toBe(true);
    });

    test('another merchant’s payment is not found, never forbidden', async () => {
      const created = await merchant.createPayment();
      const stranger = await MerchantClient.create(booted.url);
      for (const [method, path] of [['GET', `/v1/payments/${created.body.id}`], ['POST', `/v1/payments/${created.body.id}/close`], ['GET', `/v1/payments/${created.body.id}/refunds`]] as const) {
        const answer = await stranger.call(method, path, method === 'POST' ? {} : undefined);
        expect([answer.status, answer.body.error.code]).toEqual([404, 'not_found']);
      }
      expect((await merchant.call('GET', `/v1/payments/${created.body.id}`)).body.status).toBe('created');
    });

    test('a disabled merchant is told so, once its signature verifies', async () => {
      const disabled = await MerchantClient.create(booted.url);
      expect((await adminCall(booted.url, 'PATCH', `/admin/merchants/${disabled.merchantId}`, { status: 'disabled' })).status).toBe(200);
      const answer = await disabled.createPayment();
      expect([answer.status, answer.body.error.code]).toEqual([403, 'merchant_disabled']);
      expect((await disabled.createPayment({}, { secret: 'sk_wrong' })).status).toBe(401);
    });

    test('operator routes need the admin token', async () => {
      expect((await adminCall(booted.url, 'GET', '/admin/channels', undefined, '')).status).toBe(401);
      expect((await adminCall(booted.url, 'GET', '/admin/channels', undefined, 'adm_wrong_token_xxxxxxxx')).body.error.code).toBe('unauthenticated');
      expect((await adminCall(booted.url, 'POST', '/admin/merchants', { name: 'x' }, 'nope')).status).toBe(401);
    });

    test('past its rate the merchant gets 429 with Retry-After, other merchants do not', async () => {
      const busy = await MerchantClient.create(booted.url);
      const answers = await Promise.all(Array.from({ length: 80 }, () => busy.call('GET', '/v1/events')));
      const limited = answers.filter((a) => a.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(limited[0]!.body.error.code).toBe('rate_limited');
      expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const calm = await MerchantClient.create(booted.url);
      expect((await calm.call('GET', '/v1/events')).status).toBe(200);
    });
  });
}

describe('with Redis: nonces and rate limits are shared', () => {
  let booted: Booted;
  beforeAll(async () => {
    booted = await bootPaycenter('postgres', { REDIS_URL: process.env.TEST_REDIS_URL!, RATE_LIMIT_PER_S: '5', RATE_LIMIT_BURST: '5' });
  });
  afterAll(async () => {
    await booted?.stop();
  });

  test('a replayed nonce and an exhausted bucket are refused', async () => {
    const merchant = await MerchantClient.create(booted.url);
    expect((await merchant.call('GET', '/v1/events', undefined, { nonce: 'redis-nonce' })).status).toBe(200);
    expect((await merchant.call('GET', '/v1/events', undefined, { nonce: 'redis-nonce' })).body.error.code).toBe('replayed_request');
    const answers = await Promise.all(Array.from({ length: 12 }, () => merchant.call('GET', '/v1/events')));
    expect(answers.some((a) => a.status === 429)).toBe(true);
    const ready: any = await (await fetch(`${booted.url}/readyz`)).json();
    expect(ready.checks).toEqual({ store: 'ok', redis0: 'ok' });
  });
});

describe('with Redis: a create\'s nonce is claimed with its risk reservation', () => {
  let booted: Booted;
  let merchant: MerchantClient;
  beforeAll(async () => {
    booted = await bootPaycenter('postgres', { REDIS_URL: process.env.TEST_REDIS_URL! });
    merchant = await MerchantClient.create(booted.url);
    const limit = { code: 'two_a_day', kind: 'limit', action: 'reject', params: { subject: 'user', period: 'day', count: 2 } };
    expect((await adminCall(booted.url, 'POST', '/admin/risk/rules', limit)).status).toBe(201);
  });
  afterAll(async () => {
    await booted?.stop();
  });

  const create = (order: string, nonce: string, user: string | null = 'nonce-payer') =>
    merchant.call('POST', '/v1/payments', { merchant_order_no: order, amount: '10.00', subject: 'nonce', ...(user ? { user_id: user } : {}) }, { nonce });

  test('a replay is refused and reserves nothing; a refused create spends its nonce too', async () => {
    expect((await create('RN-1', 'rn-1')).status).toBe(201);
    expect((await create('RN-1', 'rn-1')).body.error.code).toBe('replayed_request');
    // Had the replay been counted, the payer's limit of two would be full now.
    expect((await create('RN-2', 'rn-2')).status).toBe(201);
    const refused = await create('RN-3', 'rn-3');
    expect([refused.status, refused.body.error.code]).toEqual([422, 'risk_rejected']);
    expect((await create('RN-3', 'rn-3')).body.error.code).toBe('replayed_request');
    expect((await merchant.call('GET', '/v1/events', undefined, { nonce: 'rn-3' })).body.error.code).toBe('replayed_request');
  });

  test('concurrent creates with one nonce: one order; a nonce another route used is used for creates too', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => create(`RN-C-${i}`, 'rn-c', `nonce-payer-${i}`)));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status !== 201).every((a) => a.body.error.code === 'replayed_request')).toBe(true);
    expect((await merchant.call('GET', '/v1/events', undefined, { nonce: 'rn-e' })).status).toBe(200);
    expect((await create('RN-E', 'rn-e', 'nonce-payer-e')).body.error.code).toBe('replayed_request');
    expect((await merchant.call('GET', '/v1/payments?merchant_order_no=RN-E')).status).toBe(404);
  });

  test('a create no rule counts (no payer) claims its nonce on its own, before its write', async () => {
    expect((await create('RN-N', 'rn-n', null)).status).toBe(201);
    expect((await create('RN-N', 'rn-n', null)).body.error.code).toBe('replayed_request');
    expect((await merchant.call('GET', '/v1/events', undefined, { nonce: 'rn-n' })).body.error.code).toBe('replayed_request');
    expect((await merchant.call('GET', '/v1/events', undefined, { nonce: 'rn-g' })).status).toBe(200);
    expect((await create('RN-G', 'rn-g', null)).body.error.code).toBe('replayed_request');
    expect((await merchant.call('GET', '/v1/payments?merchant_order_no=RN-G')).status).toBe(404);
  });
});
