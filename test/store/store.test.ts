/** The Store port's order writes (commit): fencing, batch isolation, duplicates, round-trips — on both adapters. */
import { describe, expect, test } from 'bun:test';
import type { FlowRow, OrderWrite, RefundRow, Store } from '../../src/store/store.ts';
import { next, orderRow, t0, unique, writeOf } from './fixtures.ts';
import { freshStoreFor, storeKinds } from './stores.ts';

/** Everything a write could have left behind for an order. */
async function traces(store: Store, orderId: string) {
  return {
    journal: (await store.listJournal(orderId)).map((j) => j.seq),
    outbox: await store.listOutbox(orderId),
    timers: await store.listTimers(orderId),
    flows: await store.listFlows(orderId),
    refunds: await store.listRefunds(orderId),
    events: await store.listMerchantEvents(orderId),
  };
}

/** A write that carries one row of every kind, so a refused write has something to leave behind. */
function loaded(write: OrderWrite): OrderWrite {
  const id = write.order.id;
  const n = unique();
  return {
    ...write,
    flows: [{ id: `flw_${n}`, orderId: id, method: 'alipay_qr', channel: 'alipay_main', amount: 1, status: 'pending', channelTradeNo: null, createdAt: t0, completedAt: null }],
    refunds: [{ id: `rfd_${n}`, orderId: id, merchantId: 'M1', refundNo: null, amount: 1, reason: null, status: 'pending', automatic: true, createdAt: t0, completedAt: null, channelFlowId: `flw_${n}`, channelAmount: 1 }],
    outbox: [{ id: `obx_${n}`, orderId: id, kind: 'channel.query', payload: { n }, createdAt: t0, dueAt: t0 }],
    merchantEvents: [{ id: `evt_${n}`, merchantId: 'M1', orderId: id, type: 'payment.succeeded', data: { n }, createdAt: t0 }],
    timersArmed: [{ orderId: id, key: `k_${n}`, dueAt: t0, event: { type: 'timer' } }],
  };
}

for (const kind of storeKinds) {
  describe(`store on ${kind}: commit`, () => {
    const store = freshStoreFor(kind);

    test('a new order, then its next versions; the order, journal and JSON values round-trip exactly', async () => {
      const v1 = orderRow(1);
      expect(await store.commit([writeOf(v1)])).toEqual(['committed']);
      expect(await store.loadOrder(v1.id)).toEqual(v1);
      let latest = v1;
      for (let i = 0; i < 4; i++) {
        latest = next(latest, { status: 'paying', paidAmount: 100 * i, snapshot: { value: 'paying', context: { i, list: [i, { i }] } } });
        expect(await store.commit([writeOf(latest)])).toEqual(['committed']);
      }
      const loaded = await store.loadOrder(v1.id);
      expect(loaded).toEqual(latest);
      expect([loaded!.amount, loaded!.version, loaded!.updatedAt].map((v) => typeof v)).toEqual(['number', 'number', 'number']);
      const journal = await store.listJournal(v1.id);
      expect(journal.map((j) => j.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(journal[0]).toEqual(writeOf(v1).journal);
      expect(journal[4]).toEqual(writeOf(latest).journal);
      expect(await store.findOrderByMerchantOrderNo('M1', v1.merchantOrderNo)).toEqual(latest);
      expect(await store.findOrderByMerchantOrderNo('M2', v1.merchantOrderNo)).toBeNull();
    });

    test('a stale version is a conflict and leaves no trace; the good writes of the same batch commit', async () => {
      const a = orderRow(1);
      const b = orderRow(1);
      await store.commit([writeOf(a), writeOf(b)]);
      expect(await store.commit([writeOf(next(a))])).toEqual(['committed']);
      const staleA = loaded(writeOf(next(a, { status: 'closed' })));
      const goodB = loaded(writeOf(next(b, { status: 'paying' })));
      expect(await store.commit([staleA, goodB])).toEqual(['version_conflict', 'committed']);
      expect(await store.loadOrder(a.id)).toEqual(next(a));
      expect(await traces(store, a.id)).toEqual({ journal: [1, 2], outbox: [], timers: [], flows: [], refunds: [], events: [] });
      const traceB = await traces(store, b.id);
      expect(traceB.journal).toEqual([1, 2]);
      expect([traceB.outbox, traceB.timers, traceB.flows, traceB.refunds, traceB.events].map((rows) => rows.length)).toEqual([1, 1, 1, 1, 1]);
      expect(traceB.outbox[0]!.payload).toEqual(goodB.outbox[0]!.payload);
    });

    test('in one batch of 64, every other write is stale: exactly the good ones apply', async () => {
      const rows = Array.from({ length: 64 }, () => orderRow(1));
      await store.commit(rows.map((r) => writeOf(r)));
      await store.commit(rows.filter((_, i) => i % 2 === 0).map((r) => writeOf(next(r))));
      // Even rows are at version 2 now, so their version-2 writes are stale; odd rows' are good.
      const outcomes = await store.commit(rows.map((r) => loaded(writeOf(next(r, { status: 'paying' })))));
      expect(outcomes).toEqual(rows.map((_, i) => (i % 2 === 0 ? 'version_conflict' : 'committed')));
      const versions = await Promise.all(rows.map(async (r) => (await store.loadOrder(r.id))!.version));
      expect(versions).toEqual(rows.map(() => 2));
      const outboxCounts = await Promise.all(rows.map(async (r) => (await store.listOutbox(r.id)).length));
      expect(outboxCounts).toEqual(rows.map((_, i) => i % 2));
    });

    test('a missing order is a version conflict', async () => {
      const ghost = orderRow(2);
      expect(await store.commit([writeOf(ghost)])).toEqual(['version_conflict']);
      expect(await store.loadOrder(ghost.id)).toBeNull();
      expect(await store.listJournal(ghost.id)).toEqual([]);
    });

    test('an insert whose merchant order number or id exists is a duplicate and applies nothing', async () => {
      const first = orderRow(1);
      await store.commit([writeOf(first)]);
      const twinNo = orderRow(1, { merchantOrderNo: first.merchantOrderNo });
      const twinId = orderRow(1, { id: first.id, amount: 1 });
      const other = orderRow(1);
      const sameNoOtherMerchant = orderRow(1, { merchantId: 'M2', merchantOrderNo: first.merchantOrderNo });
      const outcomes = await store.commit([loaded(writeOf(twinNo)), writeOf(other), writeOf(sameNoOtherMerchant)]);
      expect(outcomes).toEqual(['duplicate_order', 'committed', 'committed']);
      expect(await store.commit([loaded(writeOf(twinId))])).toEqual(['duplicate_order']);
      expect(await store.loadOrder(twinNo.id)).toBeNull();
      expect(await store.loadOrder(first.id)).toEqual(first);
      expect(await traces(store, first.id)).toEqual({ journal: [1], outbox: [], timers: [], flows: [], refunds: [], events: [] });
    });

    test('two new orders with one merchant order number in one batch: the first wins', async () => {
      const a = orderRow(1);
      const b = orderRow(1, { merchantOrderNo: a.merchantOrderNo });
      expect(await store.commit([writeOf(a), writeOf(b)])).toEqual(['committed', 'duplicate_order']);
    });

    test('concurrent commits of the same version: exactly one wins', async () => {
      const o = orderRow(1);
      await store.commit([writeOf(o)]);
      const racers = ['paying', 'closed', 'paying', 'closed'].map((status) => store.commit([writeOf(next(o, { status: status as 'paying' }))]));
      const outcomes = (await Promise.all(racers)).flat();
      expect(outcomes.filter((x) => x === 'committed')).toHaveLength(1);
      expect(outcomes.filter((x) => x === 'version_conflict')).toHaveLength(3);
      expect((await store.listJournal(o.id)).map((j) => j.seq)).toEqual([1, 2]);
    });

    test('a batch that breaks the write contract is refused whole', async () => {
      const o = orderRow(1);
      const twice = [writeOf(o), writeOf(orderRow(1, { id: o.id }))];
      let error: unknown = null;
      await store.commit(twice).catch((e) => (error = e));
      expect(String(error)).toContain('one write per order in a batch');
      const skipped = { ...writeOf(orderRow(1)), expectedVersion: 3 };
      error = null;
      await store.commit([skipped]).catch((e) => (error = e));
      expect(String(error)).toContain('advances the version by one');
      expect(await store.loadOrder(o.id)).toBeNull();
    });

    test('flows and refunds upsert by id; numbers, nulls and booleans round-trip', async () => {
      const o = orderRow(1);
      const flow: FlowRow = { id: `flw_${o.id}`, orderId: o.id, method: 'alipay_qr', channel: 'alipay_main', amount: 100, status: 'pending', channelTradeNo: null, createdAt: t0, completedAt: null };
      const refund: RefundRow = { id: `rfd_${o.id}`, orderId: o.id, merchantId: 'M1', refundNo: 'R1', amount: 50, reason: 'damaged', status: 'pending', automatic: false, createdAt: t0, completedAt: null, channelFlowId: flow.id, channelAmount: 50 };
      const auto: RefundRow = { ...refund, id: `rfd_auto_${o.id}`, refundNo: null, automatic: true };
      const auto2: RefundRow = { ...auto, id: `rfd_auto2_${o.id}` };
      await store.commit([writeOf(o, { flows: [flow], refunds: [refund, auto] })]);
      const done = { ...flow, status: 'succeeded', channelTradeNo: 'T1', completedAt: t0 + 1 };
      const refunded = { ...refund, status: 'succeeded', completedAt: t0 + 2 };
      await store.commit([writeOf(next(o), { flows: [done], refunds: [refunded, auto2] })]);
      expect(await store.listFlows(o.id)).toEqual([done]);
      expect(await store.listRefunds(o.id)).toEqual([auto2, auto, refunded].sort((x, y) => (x.id < y.id ? -1 : 1)));
      expect(await store.findRefund(refund.id)).toEqual(refunded);
      expect(await store.findRefund('rfd_none')).toBeNull();
    });
  });
}
