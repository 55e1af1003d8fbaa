/**
 * The HTTP contract of API.md "Payer balances": read, credit, debit, entries, the operator's
 * read, and paying a whole order from the balance — every route and error, on both stores.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { auditStore } from '../../src/audit/audit.ts';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter, tableCounts } from './harness.ts';

const payer = () => `u.${randomBytes(4).toString('hex')}@x`;

describe.each(storeKinds)('payer balances on %s', (kind) => {
  let booted: Booted;
  let merchant: MerchantClient;
  beforeAll(async () => {
    booted = await bootPaycenter(kind);
    merchant = await MerchantClient.create(booted.url, { methods: ['alipay_qr', 'balance'] });
  });
  afterAll(async () => {
    const audit = await auditStore(booted.paycenter.store, { nowMs: Date.now() });
    expect(audit.breaches).toEqual([]);
    await booted.stop();
  });

  const credit = (user: string, no: string, amount: string) => merchant.call('POST', `/v1/balances/${user}/credits`, { credit_no: no, amount, reason: 'top-up' });
  const debit = (user: string, no: string, amount: string) => merchant.call('POST', `/v1/balances/${user}/debits`, { debit_no: no, amount });
  const balanceOf = async (user: string) => (await merchant.call('GET', `/v1/balances/${user}`)).body;

  test('a payer never seen has zeros, not 404', async () => {
    const user = payer();
    const answer = await merchant.call('GET', `/v1/balances/${user}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ user_id: user, currency: 'CNY', available: '0.00', frozen: '0.00', updated_at: null });
  });

  test('credit: 201 entry; the same credit_no and amount → 200 the same entry; another amount → 409', async () => {
    const user = payer();
    const first = await credit(user, 'TOPUP-1', '100.00');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ user_id: user, kind: 'credit', amount: '100.00', available_after: '100.00', frozen_after: '0.00', payment_id: null, refund_id: null, reference: 'TOPUP-1' });
    expect(first.body.id).toMatch(/^bal_[0-9A-Z]{26}$/);
    const again = await credit(user, 'TOPUP-1', '100.00');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const conflict = await credit(user, 'TOPUP-1', '90.00');
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatchObject({ code: 'order_conflict', field: 'credit_no' });
    expect(await balanceOf(user)).toMatchObject({ available: '100.00', frozen: '0.00' });
  });

  test('debit: within available → 201; beyond → 422 insufficient_balance and nothing changes; replay → 200', async () => {
    const user = payer();
    await credit(user, 'T1', '50.00');
    const over = await debit(user, 'D0', '50.01');
    expect(over.status).toBe(422);
    expect(over.body.error.code).toBe('insufficient_balance');
    const ok = await debit(user, 'D1', '20.00');
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ kind: 'debit', amount: '20.00', available_after: '30.00' });
    expect((await debit(user, 'D1', '20.00')).status).toBe(200);
    expect((await debit(user, 'D1', '21.00')).status).toBe(409);
    expect(await balanceOf(user)).toMatchObject({ available: '30.00' });
  });

  test('concurrent debits never take available below zero', async () => {
    const user = payer();
    await credit(user, 'T1', '10.00');
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => debit(user, `D${i}`, '3.00')));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3);
    expect(answers.filter((a) => a.status === 422)).toHaveLength(5);
    expect(await balanceOf(user)).toMatchObject({ available: '1.00' });
  });

  test('invalid requests: amount rules, unknown fields, a bad user_id, a bad page', async () => {
    const user = payer();
    for (const [i, amount] of ['100', '0.00', '-1.00', '1.001'].entries()) {
      const answer = await credit(user, `X${i}`, amount);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'invalid_amount', field: 'amount' });
    }
    const unknown = await merchant.call('POST', `/v1/balances/${user}/credits`, { credit_no: 'A', amount: '1.00', extra: 1 });
    expect(unknown.body.error).toMatchObject({ code: 'invalid_request', field: 'extra' });
    const missing = await merchant.call('POST', `/v1/balances/${user}/debits`, { amount: '1.00' });
    expect(missing.body.error).toMatchObject({ code: 'invalid_request', field: 'debit_no' });
    const badUser = await merchant.call('GET', `/v1/balances/${'x'.repeat(65)}`);
    expect(badUser.body.error).toMatchObject({ code: 'invalid_request', field: 'user_id' });
    const badPage = await merchant.call('GET', `/v1/balances/${user}/entries?limit=101`);
    expect(badPage.body.error).toMatchObject({ code: 'invalid_request', field: 'limit' });
    const unsigned = await merchant.call('GET', `/v1/balances/${user}`, undefined, { authorization: null });
    expect(unsigned.status).toBe(401);
  });

  test('entries page on, oldest first', async () => {
    const user = payer();
    for (let i = 0; i < 5; i++) await credit(user, `T${i}`, '1.00');
    const first = await merchant.call('GET', `/v1/balances/${user}/entries?limit=2`);
    expect(first.body.data.map((e: any) => e.reference)).toEqual(['T0', 'T1']);
    expect(first.body.has_more).toBe(true);
    const rest = await merchant.call('GET', `/v1/balances/${user}/entries?after=${first.body.data[1].id}&limit=100`);
    expect(rest.body.data.map((e: any) => e.available_after)).toEqual(['3.00', '4.00', '5.00']);
    expect(rest.body.has_more).toBe(false);
  });

  test("a merchant sees only its own payers; the operator reads any merchant's", async () => {
    const user = payer();
    await credit(user, 'T1', '7.00');
    const other = await MerchantClient.create(booted.url, { methods: ['balance'] });
    expect((await other.call('GET', `/v1/balances/${user}`)).body.available).toBe('0.00');
    const operator = await adminCall(booted.url, 'GET', `/admin/balances/${merchant.merchantId}/${user}`);
    expect(operator.status).toBe(200);
    expect(operator.body).toMatchObject({ merchant_id: merchant.merchantId, user_id: user, available: '7.00' });
    expect(operator.body.entries).toHaveLength(1);
    expect((await adminCall(booted.url, 'GET', `/admin/balances/${merchant.merchantId}/${user}`, undefined, 'wrong')).status).toBe(401);
  });

  test('pay with balance: succeeded at once, action none, the flow captured; a refund goes back to available', async () => {
    const user = payer();
    await credit(user, 'T1', '150.00');
    const created = await merchant.createPayment({ amount: '100.00', user_id: user });
    const paid = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'balance' });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'succeeded', paid_amount: '100.00', action: { type: 'none' } });
    expect(paid.body.flows).toEqual([expect.objectContaining({ method: 'balance', channel: 'balance', status: 'succeeded', amount: '100.00' })]);
    expect(await balanceOf(user)).toMatchObject({ available: '50.00', frozen: '0.00' });
    const again = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'balance' });
    expect(again.body.error.code).toBe('invalid_state');

    const refund = await merchant.call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R1', amount: '30.00' });
    expect(refund.status).toBe(201);
    expect(refund.body.status).toBe('succeeded');
    expect(await balanceOf(user)).toMatchObject({ available: '80.00' });
    const entries = (await merchant.call('GET', `/v1/balances/${user}/entries`)).body.data;
    expect(entries.map((e: any) => e.kind)).toEqual(['credit', 'freeze', 'capture', 'refund']);
    expect(entries[3]).toMatchObject({ payment_id: created.body.id, refund_id: refund.body.id, amount: '30.00' });
    const events = (await merchant.call('GET', '/v1/events')).body.data.filter((e: any) => e.data.id === refund.body.id);
    expect(events.map((e: any) => e.type)).toEqual(['refund.succeeded']);
  });

  test('pay with balance beyond available: 422 insufficient_balance, nothing written, no flow', async () => {
    const user = payer();
    await credit(user, 'T1', '99.99');
    const created = await merchant.createPayment({ amount: '100.00', user_id: user });
    const before = await tableCounts(booted.databaseUrl);
    const paid = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'balance' });
    expect(paid.status).toBe(422);
    expect(paid.body.error.code).toBe('insufficient_balance');
    expect(await tableCounts(booted.databaseUrl)).toEqual(before);
    const order = await merchant.call('GET', `/v1/payments/${created.body.id}`);
    expect(order.body).toMatchObject({ status: 'created', flows: [] });
    expect(await balanceOf(user)).toMatchObject({ available: '99.99', frozen: '0.00' });
  });

  test('pay with balance needs user_id, and the method enabled for the merchant', async () => {
    const created = await merchant.createPayment({ amount: '1.00' });
    const paid = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'balance' });
    expect(paid.status).toBe(400);
    expect(paid.body.error).toMatchObject({ code: 'invalid_request', field: 'user_id' });
    const atCreate = await merchant.createPayment({ amount: '1.00', method: 'balance' });
    expect(atCreate.body.error).toMatchObject({ code: 'invalid_request', field: 'user_id' });
    const without = await MerchantClient.create(booted.url, { methods: ['alipay_qr'] });
    const order = await without.createPayment({ amount: '1.00', user_id: 'u1' });
    const refused = await without.call('POST', `/v1/payments/${order.body.id}/pay`, { method: 'balance' });
    expect(refused.body.error).toMatchObject({ code: 'unsupported_method' });
  });

  test('create with method balance beyond available: 422 insufficient_balance, no order left behind', async () => {
    const user = payer();
    await credit(user, 'T1', '4.99');
    const created = await merchant.createPayment({ merchant_order_no: `SHORT-${user.slice(2, 10)}`, amount: '5.00', user_id: user, method: 'balance' });
    expect(created.status).toBe(422);
    expect(created.body.error.code).toBe('insufficient_balance');
    expect((await merchant.call('GET', `/v1/payments?merchant_order_no=SHORT-${user.slice(2, 10)}`)).status).toBe(404);
  });

  test('the OpenAPI document describes the balance routes', async () => {
    const doc = (await (await fetch(`${booted.url}/openapi.json`)).json()) as any;
    for (const path of ['/v1/balances/{user_id}', '/v1/balances/{user_id}/credits', '/v1/balances/{user_id}/debits', '/v1/balances/{user_id}/entries', '/admin/balances/{merchant_id}/{user_id}']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });

  test('create with method balance pays at once', async () => {
    const user = payer();
    await credit(user, 'T1', '5.00');
    const created = await merchant.createPayment({ amount: '5.00', user_id: user, method: 'balance' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'succeeded', action: { type: 'none' } });
    expect(await balanceOf(user)).toMatchObject({ available: '0.00', frozen: '0.00' });
  });

  test('two orders of one payer paying at once never overdraw', async () => {
    const user = payer();
    await credit(user, 'T1', '10.00');
    const orders = await Promise.all(Array.from({ length: 6 }, () => merchant.createPayment({ amount: '4.00', user_id: user })));
    const paid = await Promise.all(orders.map((o) => merchant.call('POST', `/v1/payments/${o.body.id}/pay`, { method: 'balance' })));
    expect(paid.filter((p) => p.status === 200)).toHaveLength(2);
    expect(paid.filter((p) => p.status === 422 && p.body.error.code === 'insufficient_balance')).toHaveLength(4);
    expect(await balanceOf(user)).toMatchObject({ available: '2.00', frozen: '0.00' });
  });
});
