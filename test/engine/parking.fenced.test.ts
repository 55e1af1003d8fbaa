/**
 * Parking an outbox row is fenced by the claim that hit the bug: when that claim's lease ran out
 * and another claim took the row meanwhile, the row is not parked and no `parked` alert is raised
 * (the alert used to go out for a row the fence had kept from being parked). Both stores.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Parking } from '../../actors/parking.ts';
import { ManualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import type { StoredOutboxRow } from '../../src/store/store.ts';
import { orderRow, t0, unique, writeOf } from '../store/fixtures.ts';
import { type FreshStore, freshStore, storeKinds } from '../store/stores.ts';

const lease_ms = 1_000;

for (const kind of storeKinds) {
  describe(`parking a row another claim took (${kind})`, () => {
    let fresh: FreshStore;
    beforeAll(async () => {
      fresh = await freshStore(kind);
    });
    afterAll(() => fresh?.dispose());

    test('parks nothing and tells no one; parked by its current claim, it is parked and told', async () => {
      const told: string[] = [];
      const parking = new Parking({ store: fresh.store, clock: new ManualClock(t0), log: createLogger('error'), onParked: (notice) => void told.push(notice.ref) });
      const o = orderRow(1);
      const kindName = `k_${unique()}`;
      const row: StoredOutboxRow = { id: `obx_${o.id}`, orderId: o.id, kind: kindName, payload: {}, createdAt: t0, dueAt: t0 };
      await fresh.store.commit([writeOf(o, { outbox: [row] })]);
      const [first] = await fresh.store.claimOutbox([kindName], t0, lease_ms, 10);
      const [second] = await fresh.store.claimOutbox([kindName], t0 + lease_ms + 1, lease_ms, 10);
      await parking.outboxRow(first!, new Error('a bug'), 'test');
      expect(told).toEqual([]);
      expect((await fresh.store.listParked(100)).filter((p) => p.ref === row.id)).toEqual([]);
      await parking.outboxRow(second!, new Error('a bug'), 'test');
      expect(told).toEqual([row.id]);
      expect((await fresh.store.listParked(100)).filter((p) => p.ref === row.id)).toHaveLength(1);
    });
  });
}
