/**
 * The edges of payer balances over HTTP, where an answer used to mislead or a refusal left a trace:
 * a refused debit of a payer never seen changes nothing (API.md: an error changes nothing — the
 * account row and its `updated_at` appeared); paying with the balance for an order whose user_id no
 * balance route can name is `invalid_request` on `user_id` (it was `insufficient_balance`);
 * identical creates that pay with the balance at once, racing, both answer the one payment (the
 * loser's pay found it settled and answered 409); and `balance`, the payer balance's own channel
 * code, cannot be given to a channel.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from './harness.ts';

describe('payer balances at their edges (sqlite)', () => {
  let booted: Booted;
  let merchant: MerchantClient;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
    merchant = await MerchantClient.create(booted.url, { methods: ['balance', 'alipay_qr'] });
  });
  afterAll(() => booted?.stop());

  test('a refused debit of a payer never seen leaves no account behind', async () => {
    const refused = await merchant.call('POST', '/v1/balances/never-seen/debits', { debit_no: 'D1', amount: '1.00' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('insufficient_balance');
    expect((await merchant.call('GET', '/v1/balances/never-seen')).body).toEqual({ user_id: 'never-seen', currency: 'CNY', available: '0.00', frozen: '0.00', updated_at: null });
  });

  test.each(['', 'two words', '用户1'])('paying with the balance for an order whose user_id is %p is invalid_request on user_id', async (userId) => {
    const created = await merchant.createPayment({ user_id: userId });
    expect(created.status).toBe(201);
    const paid = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'balance' });
    expect(paid.status).toBe(400);
    expect(paid.body.error).toMatchObject({ code: 'invalid_request', field: 'user_id' });
    const withMethod = await merchant.createPayment({ user_id: userId, method: 'balance' });
    expect(withMethod.status).toBe(400);
    expect(withMethod.body.error).toMatchObject({ code: 'invalid_request', field: 'user_id' });
  });

  test('identical creates paying with the balance at once race to one payment: both succeed, one 201 and one 200, charged once', async () => {
    const races = 12;
    expect((await merchant.call('POST', '/v1/balances/racer/credits', { credit_no: 'RACE', amount: `${races}.00` })).status).toBe(201);
    for (let i = 0; i < races; i++) {
      const body = { merchant_order_no: `RACE-${i}`, amount: '1.00', subject: 'race', user_id: 'racer', method: 'balance' };
      const answers = await Promise.all([merchant.call('POST', '/v1/payments', body), merchant.call('POST', '/v1/payments', body)]);
      expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
      for (const answer of answers) expect(answer.body).toMatchObject({ id: answers[0]!.body.id, status: 'succeeded' });
    }
    expect((await merchant.call('GET', '/v1/balances/racer')).body).toMatchObject({ available: '0.00', frozen: '0.00' });
  });

  test('a channel cannot take the code `balance`', async () => {
    const answer = await adminCall(booted.url, 'POST', '/admin/channels', { code: 'balance', provider: 'alipay', methods: ['alipay_qr'], config: {} });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'invalid_request', field: 'code' });
  });
});
