/**
 * One write's bug is that write's alone: a grouped transaction that fails on a broken assertion
 * (here a ledger capture of a freeze that does not exist) is committed again one write at a time,
 * so its neighbours commit and only the faulty write fails — as a bug (parked by background work),
 * not as the store's failure (retried for ever, failing its neighbours again each time). Both
 * stores, through the process's durable write path.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { DurableCommitter } from '../../actors/durable-commit.ts';
import { ManualClock } from '../../src/clock.ts';
import { AssertionError } from '../../src/failures.ts';
import { orderRow, t0, writeOf } from './fixtures.ts';
import { type FreshStore, freshStore, storeKinds } from './stores.ts';

for (const kind of storeKinds) {
  describe(`a grouped commit with one faulty write (${kind})`, () => {
    let fresh: FreshStore;
    beforeAll(async () => {
      fresh = await freshStore(kind);
    });
    afterAll(() => fresh?.dispose());

    test('commits the others, and fails the faulty one as a bug', async () => {
      // Long enough a wait that the three writes share one transaction.
      const committer = new DurableCommitter(fresh.store, new ManualClock(t0), { batchMax: 3, waitMaxMs: 1_000, inFlightMax: 1, queueWritesMax: 10 });
      const [before, after] = [orderRow(1), orderRow(1)];
      const faulty = orderRow(1);
      const capture = {
        kind: 'capture' as const, entryId: `bal_${faulty.id}`, merchantId: 'M1', userId: 'u1', currency: 'CNY', amount: 100, at: t0,
        paymentId: faulty.id, refundId: null, reference: null, reason: null, freezeId: 'flw_missing',
      };
      const outcomes = await Promise.allSettled([
        committer.write(writeOf(before)), committer.write(writeOf(faulty, { ledger: [capture] })), committer.write(writeOf(after)),
      ]);
      expect(outcomes[0]).toEqual({ status: 'fulfilled', value: 'committed' });
      expect(outcomes[2]).toEqual({ status: 'fulfilled', value: 'committed' });
      expect(outcomes[1]!.status).toBe('rejected');
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(AssertionError);
      expect(await fresh.store.loadOrder(before.id)).not.toBeNull();
      expect(await fresh.store.loadOrder(after.id)).not.toBeNull();
      expect(await fresh.store.loadOrder(faulty.id)).toBeNull();
    });
  });
}
