/**
 * A payer's entries are listed in the order they were committed, whatever their ids. Ids are made
 * before the commit (a freeze's with its order's write set, queued for the writer; a credit's by
 * its request), so a later id can commit first; pages by id then passed the earlier id's entry
 * once the later one had been listed, and `after=` never showed it. Both stores, through the
 * ledger's own programs; and an `after` that names no entry of the payer is refused over HTTP.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Balances, balance_currency } from '../../src/balance/balances.ts';
import { applyOp } from '../../src/balance/ledger.ts';
import { ManualClock } from '../../src/clock.ts';
import { newId } from '../../src/ids.ts';
import { type Booted, MerchantClient, bootPaycenter } from '../http/harness.ts';
import { t0, unique } from '../store/fixtures.ts';
import { type FreshStore, freshStore, storeKinds } from '../store/stores.ts';

for (const kind of storeKinds) {
  describe(`a payer's entries (${kind})`, () => {
    let fresh: FreshStore;
    beforeAll(async () => {
      fresh = await freshStore(kind);
    });
    afterAll(() => fresh?.dispose());

    test('are listed in commit order: an entry whose id is older but committed later is on the next page', async () => {
      const balances = new Balances({ ledger: fresh.store.ledger, clock: new ManualClock(t0) });
      const [merchantId, userId] = [`M${unique()}`, `u${unique()}`];
      const credit = (entryId: string, reference: string) => fresh.store.ledger.transact(applyOp({
        kind: 'credit', entryId, merchantId, userId, currency: balance_currency, amount: 100, at: t0,
        paymentId: null, refundId: null, reference, reason: null, freezeId: null,
      }));
      const [older, newer] = [newId('bal', t0), newId('bal', t0 + 1)];
      expect(older < newer).toBe(true);
      await credit(newer, 'SECOND-ID-FIRST');
      const first = await balances.entries(merchantId, userId, null, 10);
      expect(first!.entries.map((e) => e.id)).toEqual([newer]);

      await credit(older, 'FIRST-ID-SECOND');
      const next = await balances.entries(merchantId, userId, newer, 10);
      expect(next!.entries.map((e) => [e.id, e.availableAfter])).toEqual([[older, 200]]);
      expect((await balances.entries(merchantId, userId, null, 10))!.entries.map((e) => e.availableAfter)).toEqual([100, 200]);
      expect(await balances.entries(merchantId, userId, newId('bal', t0 + 2), 10)).toBeNull();
    });
  });
}

describe('GET …/entries with an `after` of no entry of this payer', () => {
  let booted: Booted;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
  });
  afterAll(() => booted?.stop());

  test('is invalid_request naming `after`, not a silent empty page', async () => {
    const merchant = await MerchantClient.create(booted.url, { methods: ['balance'] });
    const credited = await merchant.call('POST', '/v1/balances/u1/credits', { credit_no: 'T1', amount: '1.00' });
    expect(credited.status).toBe(201);
    const answer = await merchant.call('GET', `/v1/balances/u2/entries?after=${credited.body.id}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'invalid_request', field: 'after' });
  });
});
