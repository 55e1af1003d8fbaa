/** The engine against real stores (SQLite file and Postgres), steps 1–6 of DESIGN.md. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { Engine, NewerMachineError } from '../../actors/engine.ts';
import { isDependencyFailure } from '../../src/failures.ts';
import { paymentMachineVersion } from '../../machines/payment.machine.ts';
import { RedlockLock } from '../../src/lock/redlock.ts';
import { LocalLock } from '../../src/lock/local.ts';
import { newId } from '../../src/ids.ts';
import { freshStore, storeKinds } from '../store/stores.ts';
import { engineOn, orderInput, orderPaying, paidReport, payWith, t0 } from './fixtures.ts';

for (const kind of storeKinds) {
  describe(`engine on ${kind}`, () => {
    let fresh: Awaited<ReturnType<typeof freshStore>>;
    let engine: Engine;
    beforeAll(async () => {
      fresh = await freshStore(kind);
      engine = engineOn(fresh.store);
    });
    afterAll(async () => {
      await fresh?.dispose();
    });

    test('create writes version 1, its journal row and the expiry timer', async () => {
      const input = orderInput();
      const result = await engine.create(input);
      expect(result.outcome).toBe('created');
      const row = await fresh.store.loadOrder(input.id);
      expect(row).toMatchObject({ version: 1, status: 'created', amount: 10_000, paidAmount: 0, machineVersion: paymentMachineVersion });
      expect((await fresh.store.listJournal(input.id)).map((j) => j.seq)).toEqual([1]);
      expect(await fresh.store.listTimers(input.id)).toEqual([
        { orderId: input.id, key: 'expire', dueAt: input.expiresAt, event: { type: 'timer.expire', at: input.expiresAt } },
      ]);
    });

    test("an event another instance's commit made moot leaves no stale copy here: peek reads the order as it is", async () => {
      const here = engineOn(fresh.store);
      const there = engineOn(fresh.store);
      const { orderId, flowId } = await orderPaying(here);
      const failed = { type: 'flow.report', at: t0 + 3_000, flowId, status: 'failed', source: 'callback' } as const;
      expect((await there.dispatch(orderId, failed)).outcome).toBe('applied');
      // Rejected on this instance's copy (version 2, paying) and on the fresh one (version 3) alike.
      expect((await here.dispatch(orderId, { type: 'timer.refund_query', at: t0 + 5_000, refundId: 'rfd_none' })).outcome).toBe('rejected');
      expect((await here.peek(orderId))!.row).toMatchObject({ version: 3, status: 'created' });
    });

    test('create with a merchant order number that exists returns the existing order', async () => {
      const first = orderInput();
      await engine.create(first);
      const again = await engine.create(orderInput({ merchantOrderNo: first.merchantOrderNo, amount: 20_000 }));
      if (again.outcome !== 'exists') throw new Error(`expected exists, got ${again.outcome}`);
      expect(again.order.row.id).toBe(first.id);
      expect(again.order.context.amount).toBe(10_000);
    });

    test('creates take no lock: racing creates of one id, and of one merchant order, on two engines make one order each', async () => {
      const other = engineOn(fresh.store, new LocalLock());
      const input = orderInput();
      const sameId = await Promise.all([engine.create(input), other.create(input), engine.create(input), other.create(input)]);
      expect(sameId.map((r) => r.outcome).sort()).toEqual(['created', 'exists', 'exists', 'exists']);
      const first = orderInput();
      const sameOrderNo = await Promise.all([first, ...Array.from({ length: 5 }, () => orderInput({ merchantOrderNo: first.merchantOrderNo }))]
        .map((one, i) => (i % 2 ? other : engine).create(one)));
      expect(sameOrderNo.filter((r) => r.outcome === 'created')).toHaveLength(1);
      const winner = sameOrderNo.find((r) => r.outcome === 'created')!;
      for (const r of sameOrderNo) if (r.outcome === 'exists') expect(r.order.row.id).toBe(winner.order!.row.id);
      for (const id of [input.id, winner.order!.row.id]) expect((await fresh.store.listJournal(id)).map((j) => j.seq)).toEqual([1]);
    });

    test('pay writes the flow, a prepay outbox row and the first query timer', async () => {
      const { orderId, flowId } = await orderPaying(engine);
      const row = await fresh.store.loadOrder(orderId);
      expect(row).toMatchObject({ version: 2, status: 'paying' });
      expect((await fresh.store.listOutbox(orderId)).map((o) => o.kind)).toEqual(['channel.prepay']);
      const timers = await fresh.store.listTimers(orderId);
      expect(timers.map((t) => t.key).sort()).toEqual(['expire', `query:${flowId}`]);
      expect(timers.find((t) => t.key === `query:${flowId}`)?.dueAt).toBe(t0 + 1_000 + 5_000);
    });

    test('a success settles once: one merchant event, timers disarmed; the duplicate is rejected', async () => {
      const { orderId, flowId } = await orderPaying(engine);
      const first = await engine.dispatch(orderId, paidReport(flowId));
      expect(first.outcome).toBe('applied');
      const duplicate = await engine.dispatch(orderId, paidReport(flowId));
      expect(duplicate.outcome).toBe('rejected');
      const row = await fresh.store.loadOrder(orderId);
      expect(row).toMatchObject({ version: 3, status: 'succeeded', paidAmount: 10_000 });
      const events = await fresh.store.listMerchantEvents(orderId);
      expect(events.map((e) => e.type)).toEqual(['payment.succeeded']);
      expect(await fresh.store.listTimers(orderId)).toEqual([]);
      const notify = (await fresh.store.listOutbox(orderId)).find((o) => o.kind === 'merchant.notify');
      expect(notify?.payload).toMatchObject({ event: 'payment.succeeded', eventId: events[0]!.id });
    });

    test('a rejected event writes nothing', async () => {
      const input = orderInput();
      await engine.create(input);
      const result = await engine.dispatch(input.id, { type: 'refund.request', at: t0, refundId: newId('rfd'), refundNo: 'R1', amount: 100, reason: null });
      expect(result.outcome).toBe('rejected');
      expect((await fresh.store.loadOrder(input.id))?.version).toBe(1);
      expect(await fresh.store.listJournal(input.id)).toHaveLength(1);
    });

    test('an unknown order is not_found', async () => {
      expect((await engine.dispatch(newId('pay'), { type: 'timer.expire', at: t0 })).outcome).toBe('not_found');
    });

    test('100 simultaneous identical callbacks on one order: one applies, the journal stays gap-free', async () => {
      const { orderId, flowId } = await orderPaying(engine);
      const results = await Promise.all(Array.from({ length: 100 }, () => engine.dispatch(orderId, paidReport(flowId))));
      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect((await fresh.store.listJournal(orderId)).map((j) => j.seq)).toEqual([1, 2, 3]);
    });

    test('events of many orders share transactions (group commit)', async () => {
      const before = { ...engine.commitStats };
      await Promise.all(Array.from({ length: 200 }, () => engine.create(orderInput())));
      const batches = engine.commitStats.batches - before.batches;
      const writes = engine.commitStats.writes - before.writes;
      expect(writes).toBe(200);
      expect(batches).toBeLessThan(writes / 4);
    });

    test('two engines without a shared lock: fencing makes the loser re-run on the fresh state', async () => {
      // Separate in-process locks stand for a lock that expired mid-step.
      const other = engineOn(fresh.store, new LocalLock());
      const { orderId, flowId } = await orderPaying(engine);
      const stamps = Array.from({ length: 20 }, (_, i) => t0 + 3_000 + i);
      await Promise.all(stamps.map((at, i) => (i % 2 ? engine : other).dispatch(orderId, { type: 'timer.query', at, flowId })));
      const row = await fresh.store.loadOrder(orderId);
      expect(row?.version).toBe(2 + stamps.length);
      expect((await fresh.store.listJournal(orderId)).map((j) => j.seq)).toEqual(Array.from({ length: row!.version }, (_, i) => i + 1));
      const state = await engine.load(orderId);
      expect(state?.context.flows[0]?.queries).toBe(stamps.length);
    });

    test('a snapshot written by a newer machine version is refused, as work for a newer instance (retried, not parked)', async () => {
      const { orderId, flowId } = await orderPaying(engine);
      const row = (await fresh.store.loadOrder(orderId))!;
      const bumped = { ...row, machineVersion: 99, version: row.version + 1 };
      const journal = { orderId, seq: bumped.version, at: t0, event: { type: 'test.bump' }, stateBefore: null, stateAfter: null, effects: [] };
      const write = { expectedVersion: row.version, order: bumped, journal, flows: [], refunds: [], outbox: [], merchantEvents: [], timersArmed: [], timersDisarmed: [] };
      expect(await fresh.store.commit([write])).toEqual(['committed']);
      // (`expect(promise).rejects` hangs here under bun 1.4.5 when the store writes on a Worker.)
      const refused = await engine.dispatch(orderId, paidReport(flowId)).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(NewerMachineError);
      expect(isDependencyFailure(refused)).toBe(true);
    });

    test('a stored order that breaks the money invariants is refused on read, and nothing moves', async () => {
      const { orderId, flowId } = await orderPaying(engine);
      expect((await engine.dispatch(orderId, paidReport(flowId))).outcome).toBe('applied');
      const row = (await fresh.store.loadOrder(orderId))!;
      const snapshot = row.snapshot as { context: { refunds: unknown[] } };
      // A refund claiming more than was paid, as a bug or a hand edit could leave it.
      const refund = { id: 'rfd_BAD', refundNo: 'R-BAD', amount: 10_001, reason: null, status: 'pending', automatic: false, parts: [], queries: 0, createdAt: t0, completedAt: null };
      const tampered = { ...row, version: row.version + 1, snapshot: { ...snapshot, context: { ...snapshot.context, refunds: [refund] } } };
      const journal = { orderId, seq: tampered.version, at: t0, event: { type: 'test.tamper' }, stateBefore: null, stateAfter: null, effects: [] };
      const write = { expectedVersion: row.version, order: tampered, journal, flows: [], refunds: [], outbox: [], merchantEvents: [], timersArmed: [], timersDisarmed: [] };
      expect(await fresh.store.commit([write])).toEqual(['committed']);
      const refused = await engineOn(fresh.store).dispatch(orderId, { type: 'timer.query', at: t0 + 9_000, flowId }).catch((error: unknown) => error);
      expect(String(refused)).toContain('breaks the money invariants');
      expect((await fresh.store.loadOrder(orderId))!.version).toBe(tampered.version);
    });

    test('Redlock across two engines serializes one order', async () => {
      const redis = [new Redis(process.env.TEST_REDIS_URL!), new Redis(process.env.TEST_REDIS_URL!)];
      const engines = redis.map((client) => engineOn(fresh.store, new RedlockLock([client])));
      const { orderId, flowId } = await orderPaying(engines[0]!);
      const stamps = Array.from({ length: 30 }, (_, i) => t0 + 3_000 + i);
      await Promise.all(stamps.map((at, i) => engines[i % 2]!.dispatch(orderId, { type: 'timer.query', at, flowId })));
      expect((await fresh.store.loadOrder(orderId))?.version).toBe(2 + stamps.length);
      expect(await redis[0]!.keys(`lock:order:${orderId}`)).toEqual([]);
      await Promise.all(redis.map((client) => client.quit()));
    });

    test('a pay for an amount that does not add up is rejected', async () => {
      const input = orderInput();
      await engine.create(input);
      expect((await engine.dispatch(input.id, payWith(newId('flw'), 9_999))).outcome).toBe('rejected');
    });
  });
}
