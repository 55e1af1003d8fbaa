/**
 * Migration 0012 and payment machine v2 (issue 11, item 9): refund rows carry their reason, taken
 * from the stored snapshots for refunds written before; an order stored by machine v1 still loads,
 * and its refunds stay readable once they leave the snapshot.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { restore } from '../../actors/engine.ts';
import { writeSetOf } from '../../actors/write-set.ts';
import { paymentMachine } from '../../machines/payment.machine.ts';
import { Order, pay, refund, refundReport, report, t0 } from '../machines/driver.ts';
import { type FreshStore, freshStore, onDatabase, storeKinds } from './stores.ts';

const A = 'flw_01AAAAAAAAAAAAAAAAAAAAAAAA';

/** An order as machine v1 stored it: a settled payment with one finished refund, no refundsDone. */
function v1Order(id: string) {
  const order = new Order({ id, merchantOrderNo: id });
  order.send(pay(t0 + 1_000, { flowId: A }));
  order.send(report(t0 + 2_000, A, 'succeeded'));
  order.send(refund(t0 + 3_000, 'rfd_1', 'R1', 2_500, 0));
  order.send(refundReport(t0 + 4_000, 'rfd_1', A, 'succeeded'));
  const persisted = paymentMachine.getPersistedSnapshot(order.snapshot) as unknown as { context: Record<string, unknown> };
  const { refundsDone: _, ...context } = persisted.context;
  // The whole order in one insert, its refund row as v1 wrote it (v1 had no reason column).
  const write = writeSetOf({ before: null, after: order.snapshot, actions: [], event: { type: 'payment.create' }, at: t0, expectedVersion: 0 }, () => null);
  return {
    ...write,
    order: { ...write.order, machineVersion: 1, snapshot: { ...persisted, context } },
    refunds: write.refunds.map((r) => ({ ...r, reason: null })),
  };
}

describe.each(storeKinds)('migration 0012 on %s', (kind) => {
  let fresh: FreshStore;
  afterAll(() => fresh?.dispose());

  test('fills the reason of refunds written before from their snapshot, and v1 orders load', async () => {
    fresh = await freshStore(kind);
    const id = `pay_v1_${kind}`;
    const write = v1Order(id);
    // The reason the merchant gave, as v1 kept it in the snapshot only.
    const refunds = (write.order.snapshot.context as { refunds: Array<{ reason: string | null }> }).refunds;
    refunds[0]!.reason = 'damaged in transit';
    expect(await fresh.store.commit([write])).toEqual(['committed']);
    // Back to the database as v1 left it: no reason column, migration 0012 not applied.
    await onDatabase(fresh.url, 'ALTER TABLE refunds DROP COLUMN reason');
    await onDatabase(fresh.url, 'DELETE FROM schema_migrations WHERE version = 12');

    await fresh.store.migrate();
    expect((await fresh.store.findRefund('rfd_1'))?.reason).toBe('damaged in transit');
    const loaded = restore((await fresh.store.loadOrder(id))!);
    expect(loaded.row.status).toBe('partially_refunded');
    expect(loaded.context.refundsDone.merchantCount).toBe(0);
    expect(loaded.context.refunds.map((r) => [r.id, r.status])).toEqual([['rfd_1', 'succeeded']]);
  });
});
