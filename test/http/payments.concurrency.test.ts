/** Idempotency under concurrency: simultaneous creates of one merchant_order_no make one order. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, bootPaycenter, settleThroughActor, tableCounts } from './harness.ts';

for (const kind of storeKinds) {
  describe(`concurrent creates on ${kind}`, () => {
    let booted: Booted;
    let merchant: MerchantClient;
    beforeAll(async () => {
      booted = await bootPaycenter(kind, { RATE_LIMIT_PER_S: '100000', RATE_LIMIT_BURST: '100000' });
      merchant = await MerchantClient.create(booted.url);
    });
    afterAll(async () => {
      await booted?.stop();
    });

    test('50 simultaneous identical creates: one order, the same id 50 times, one 201', async () => {
      const before = await tableCounts(booted.databaseUrl);
      const answers = await Promise.all(Array.from({ length: 50 }, () => merchant.createPayment({ merchant_order_no: 'ORD-SAME' })));
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(49);
      expect((await tableCounts(booted.databaseUrl)).orders).toBe(before.orders! + 1);
    });

    test('simultaneous creates with different amounts: one order, the others 409', async () => {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => merchant.createPayment({ merchant_order_no: 'ORD-RACE', amount: `${i + 1}.00` })));
      const winners = answers.filter((a) => a.status === 201);
      expect(winners).toHaveLength(1);
      const conflicts = answers.filter((a) => a.status === 409);
      expect(conflicts).toHaveLength(19);
      for (const c of conflicts) expect(c.body.error.code).toBe('order_conflict');
      const stored = await merchant.call('GET', '/v1/payments?merchant_order_no=ORD-RACE');
      expect(stored.body.amount).toBe(winners[0]!.body.amount);
    });

    test('simultaneous refunds with one refund_no: one refund', async () => {
      const p = await merchant.createPayment({ amount: '100.00' });
      await settleThroughActor(booted.paycenter, p.body.id);
      const answers = await Promise.all(Array.from({ length: 20 }, () => merchant.call('POST', `/v1/payments/${p.body.id}/refunds`, { refund_no: 'R-RACE', amount: '10.00' })));
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      const over = await Promise.all(Array.from({ length: 20 }, (_, i) => merchant.call('POST', `/v1/payments/${p.body.id}/refunds`, { refund_no: `R-${i}`, amount: '10.00' })));
      expect(over.filter((a) => a.status === 201)).toHaveLength(9);
      expect(over.filter((a) => a.status === 422).every((a) => a.body.error.code === 'refund_exceeds_paid')).toBe(true);
    });
  });
}

describe('a dependency that cannot keep up', () => {
  let booted: Booted;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite', { MAILBOX_DEPTH_MAX: '1', COMMIT_WAIT_MAX_MS: '20' });
  });
  afterAll(async () => {
    await booted?.stop();
  });

  test('answers 503 unavailable, safe to retry, and nothing half-written', async () => {
    const merchant = await MerchantClient.create(booted.url);
    const p = await merchant.createPayment();
    const answers = await Promise.all(Array.from({ length: 10 }, () => merchant.call('POST', `/v1/payments/${p.body.id}/close`)));
    const unavailable = answers.filter((a) => a.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    expect(unavailable[0]!.body.error.code).toBe('unavailable');
    expect(answers.filter((a) => a.status === 200).every((a) => a.body.status === 'closed')).toBe(true);
    const timeline: any = await (await fetch(`${booted.url}/admin/payments/${p.body.id}/timeline`, { headers: { authorization: 'Bearer adm_test_0123456789abcdef' } })).json();
    expect(timeline.events.map((e: any) => e.event.type)).toEqual(['payment.create', 'close.request']);
  });
});
