/**
 * NUL (U+0000) in text a caller sends is refused at the edge, naming where: Postgres refuses it in
 * text and JSON columns, and the statement it breaks is the one that commits a whole group of
 * orders' writes — one merchant's `subject` failed every write committed with it (503s for
 * others). On Postgres, over HTTP: JSON bodies (a string, a metadata key, a nested value) and a
 * console form; requests beside them still commit.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from './harness.ts';

describe('NUL in what callers send (postgres)', () => {
  let booted: Booted;
  let merchant: MerchantClient;
  beforeAll(async () => {
    booted = await bootPaycenter('postgres');
    merchant = await MerchantClient.create(booted.url, { methods: ['alipay_qr'] });
  });
  afterAll(() => booted?.stop());

  test.each([
    ['a string', { subject: 'a\u0000b' }, 'subject'],
    ['a metadata key', { metadata: { 'k\u0000': 'v' } }, 'metadata.k\u0000'],
    ['a nested value', { metadata: { note: 'v\u0000' } }, 'metadata.note'],
  ])('in %s: invalid_request naming it, and creates beside it commit', async (_, fields, field) => {
    const [refused, ...others] = await Promise.all([
      merchant.createPayment(fields),
      ...Array.from({ length: 8 }, () => merchant.createPayment()),
    ]);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'invalid_request', field });
    expect(others.map((o) => o.status)).toEqual(Array(8).fill(201));
  });

  test('escaped, as text (a backslash, then u0000), it is no NUL and is kept', async () => {
    const created = await merchant.createPayment({ subject: 'a\\u0000b' });
    expect(created.status).toBe(201);
    expect(created.body.subject).toBe('a\\u0000b');
  });

  test('in an operator\'s JSON (a merchant\'s name): invalid_request naming it', async () => {
    const answer = await adminCall(booted.url, 'POST', '/admin/merchants', { name: 'shop\u0000' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'invalid_request', field: 'name' });
  });
});
