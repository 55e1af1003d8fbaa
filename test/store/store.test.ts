/** The Store port's contract, on both adapters. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { Database } from 'bun:sqlite';
import { rmSync } from 'node:fs';
import { DatabaseNewerThanCodeError } from '../../src/store/migrations.ts';
import { openStore } from '../../src/store/open.ts';
import type { OrderRow, OrderWrite } from '../../src/store/store.ts';
import { type FreshStore, freshStore, storeKinds } from './stores.ts';

const t0 = Date.UTC(2026, 10, 24);
let serial = 0;

function order(version: number, overrides: Partial<OrderRow> = {}): OrderRow {
  serial += 1;
  return {
    id: `pay_${serial}`, merchantId: 'M1', merchantOrderNo: `O${serial}`, status: 'created', amount: 12_345, currency: 'CNY',
    paidAmount: 0, refundedAmount: 0, expiresAt: t0 + 1_800_000, createdAt: t0, updatedAt: t0, machineVersion: 1, version,
    snapshot: { value: 'created', context: { nested: [1, 'two', null], big: 9_007_199_254_740_991 } }, ...overrides,
  };
}

function writeOf(row: OrderRow, expectedVersion: number, extra: Partial<OrderWrite> = {}): OrderWrite {
  return {
    expectedVersion, order: row,
    journal: { orderId: row.id, seq: row.version, at: row.updatedAt, event: { type: 'e', n: row.version }, stateBefore: null, stateAfter: 'created', effects: [{ type: 'x' }] },
    flows: [], refunds: [], outbox: [], merchantEvents: [], timersArmed: [], timersDisarmed: [], ...extra,
  };
}

for (const kind of storeKinds) {
  describe(`store on ${kind}`, () => {
    let fresh: FreshStore;
    beforeAll(async () => {
      fresh = await freshStore(kind);
    });
    afterAll(async () => {
      await fresh?.dispose();
    });

    test('migrate again is a no-op', async () => {
      await fresh.store.migrate();
      await fresh.store.migrate();
      expect(await fresh.store.loadOrder('none')).toBeNull();
    });

    test('a new order, then its next versions; JSON and numbers round-trip', async () => {
      const v1 = order(1);
      expect(await fresh.store.commit([writeOf(v1, 0)])).toEqual(['committed']);
      expect(await fresh.store.loadOrder(v1.id)).toEqual(v1);
      const v2 = { ...v1, version: 2, status: 'paying' as const, updatedAt: t0 + 1 };
      expect(await fresh.store.commit([writeOf(v2, 1)])).toEqual(['committed']);
      const loaded = await fresh.store.loadOrder(v1.id);
      expect(loaded).toEqual(v2);
      expect(typeof loaded!.amount).toBe('number');
      expect((await fresh.store.listJournal(v1.id)).map((j) => [j.seq, j.event])).toEqual([[1, { type: 'e', n: 1 }], [2, { type: 'e', n: 2 }]]);
      expect(await fresh.store.findOrderByMerchantOrderNo('M1', v1.merchantOrderNo)).toEqual(v2);
    });

    test('a stale version leaves no trace; the good writes of the same batch commit', async () => {
      const a = order(1);
      const b = order(1);
      await fresh.store.commit([writeOf(a, 0), writeOf(b, 0)]);
      const staleA = writeOf({ ...a, version: 2 }, 1, {
        outbox: [{ id: 'obx_stale', orderId: a.id, kind: 'k', payload: {}, createdAt: t0, dueAt: t0 }],
        timersArmed: [{ orderId: a.id, key: 'expire', dueAt: t0, event: {} }],
      });
      const goodB = writeOf({ ...b, version: 2 }, 1, { outbox: [{ id: 'obx_good', orderId: b.id, kind: 'k', payload: { p: 1 }, createdAt: t0, dueAt: t0 }] });
      await fresh.store.commit([writeOf({ ...a, version: 2 }, 1)]);
      expect(await fresh.store.commit([staleA, goodB])).toEqual(['version_conflict', 'committed']);
      expect((await fresh.store.listJournal(a.id)).map((j) => j.seq)).toEqual([1, 2]);
      expect(await fresh.store.listOutbox(a.id)).toEqual([]);
      expect(await fresh.store.listTimers(a.id)).toEqual([]);
      expect((await fresh.store.listOutbox(b.id)).map((o) => [o.id, o.payload])).toEqual([['obx_good', { p: 1 }]]);
    });

    test('a missing order is a version conflict; a duplicate merchant order number a duplicate', async () => {
      const ghost = order(2);
      expect(await fresh.store.commit([writeOf(ghost, 1)])).toEqual(['version_conflict']);
      const first = order(1);
      await fresh.store.commit([writeOf(first, 0)]);
      const twin = order(1, { merchantOrderNo: first.merchantOrderNo });
      const other = order(1);
      expect(await fresh.store.commit([writeOf(twin, 0), writeOf(other, 0)])).toEqual(['duplicate_order', 'committed']);
      expect(await fresh.store.loadOrder(twin.id)).toBeNull();
    });

    test('timers: arm, replace, disarm; due timers claimed earliest first, limited, once per lease', async () => {
      const o = order(1);
      const timer = (key: string, dueAt: number) => ({ orderId: o.id, key, dueAt, event: { type: `timer.${key}` } });
      await fresh.store.commit([writeOf(o, 0, { timersArmed: [timer('a', t0 + 30), timer('b', t0 + 10), timer('c', t0 + 20)] })]);
      await fresh.store.commit([writeOf({ ...o, version: 2 }, 1, { timersArmed: [timer('a', t0 + 5)], timersDisarmed: ['c'] })]);
      expect(await fresh.store.listTimers(o.id)).toEqual([timer('a', t0 + 5), timer('b', t0 + 10)]);
      expect(await fresh.store.claimDueTimers(t0 + 10, 1_000, 1)).toEqual([timer('a', t0 + 5)]);
      expect(await fresh.store.claimDueTimers(t0 + 10, 1_000, 100)).toEqual([timer('b', t0 + 10)]);
      expect(await fresh.store.claimDueTimers(t0 + 10, 1_000, 100)).toEqual([]);
      expect((await fresh.store.claimDueTimers(t0 + 1_011, 1_000, 100)).map((t) => t.key)).toEqual(['a', 'b']);
      await fresh.store.deleteFiredTimer(timer('a', t0 + 5));
      await fresh.store.deleteFiredTimer(timer('b', t0 + 999));
      expect((await fresh.store.listTimers(o.id)).map((t) => t.key)).toEqual(['b']);
    });

    test('flows and refunds upsert by id', async () => {
      const o = order(1);
      const flow = { id: 'flw_1' + o.id, orderId: o.id, method: 'alipay_qr', channel: 'alipay_main', amount: 100, status: 'pending', channelTradeNo: null, createdAt: t0, completedAt: null };
      const refund = { id: 'rfd_1' + o.id, orderId: o.id, merchantId: 'M1', refundNo: 'R1', amount: 50, status: 'pending', automatic: false, createdAt: t0, completedAt: null };
      await fresh.store.commit([writeOf(o, 0, { flows: [flow], refunds: [refund] })]);
      const done = { ...flow, status: 'succeeded', channelTradeNo: 'T1', completedAt: t0 + 1 };
      await fresh.store.commit([writeOf({ ...o, version: 2 }, 1, { flows: [done], refunds: [{ ...refund, status: 'succeeded', completedAt: t0 + 2 }] })]);
      expect(await fresh.store.listFlows(o.id)).toEqual([done]);
      expect(await fresh.store.listRefunds(o.id)).toEqual([{ ...refund, status: 'succeeded', completedAt: t0 + 2 }]);
    });
  });
}

test('a database with a migration the code does not know is refused (SQLite)', async () => {
  const fresh = await freshStore('sqlite');
  await fresh.store.close();
  const path = fresh.url.slice('sqlite:'.length);
  const db = new Database(path);
  db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, ?, 0)', ['from_the_future']);
  db.close();
  const again = await openStore(fresh.url);
  await expect(again.migrate()).rejects.toBeInstanceOf(DatabaseNewerThanCodeError);
  await again.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
});

test('a database with a migration the code does not know is refused (Postgres)', async () => {
  const fresh = await freshStore('postgres');
  const sql = new SQL({ url: fresh.url, max: 1 });
  await sql.unsafe("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)");
  await sql.close();
  await expect(fresh.store.migrate()).rejects.toThrow('upgrade paycenter');
  await fresh.dispose();
});
