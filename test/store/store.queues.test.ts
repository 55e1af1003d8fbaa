/** The Store port's timers, outbox and merchant notifications, on both adapters. */
import { describe, expect, test } from 'bun:test';
import type { MerchantEventRow, NotificationResult, OutboxResult, StoredOutboxRow as OutboxRow, TimerRow } from '../../src/store/store.ts';
import { emptyBatch } from '../../src/store/rows.ts';
import { next, orderRow, t0, unique, writeOf } from './fixtures.ts';
import { freshStoreFor, storeKinds } from './stores.ts';

const lease_ms = 1_000;

for (const kind of storeKinds) {
  describe(`store on ${kind}: timers and queues`, () => {
    const store = freshStoreFor(kind);

    // Runs first: claims see every due timer in the database, so no other test's timers may be due yet.
    test('timers: arm, replace, disarm; due timers claimed earliest first, limited, once per lease', async () => {
      const o = orderRow(1);
      const timer = (key: string, dueAt: number): TimerRow => ({ orderId: o.id, key, dueAt, event: { type: `timer.${key}`, at: dueAt } });
      await store.commit([writeOf(o, { timersArmed: [timer('a', t0 + 30), timer('b', t0 + 10), timer('c', t0 + 20)] })]);
      await store.commit([writeOf(next(o), { timersArmed: [timer('a', t0 + 5)], timersDisarmed: ['c', 'never-armed'] })]);
      expect(await store.listTimers(o.id)).toEqual([timer('a', t0 + 5), timer('b', t0 + 10)]);
      expect(await store.loadTimers([{ orderId: o.id, key: 'c' }, { orderId: o.id, key: 'a' }, { orderId: 'pay_none', key: 'a' }])).toEqual([null, timer('a', t0 + 5), null]);
      expect(await store.loadTimers([])).toEqual([]);
      expect(await store.claimDueTimers(t0 + 4, lease_ms, 100)).toEqual([]);
      expect(await store.claimDueTimers(t0 + 10, lease_ms, 1)).toEqual([timer('a', t0 + 5)]);
      expect(await store.claimDueTimers(t0 + 10, lease_ms, 100)).toEqual([timer('b', t0 + 10)]);
      expect(await store.claimDueTimers(t0 + 10, lease_ms, 100)).toEqual([]);
      // The leases ran out without the timers being deleted: a ticker died, so they fire again.
      expect((await store.claimDueTimers(t0 + 10 + lease_ms + 1, lease_ms, 100)).map((t) => t.key)).toEqual(['a', 'b']);
      // Re-arming clears the lease: the new due time fires even while the old lease lasts.
      await store.commit([writeOf(next(next(o)), { timersArmed: [timer('b', t0 + 2_000)] })]);
      expect(await store.claimDueTimers(t0 + 2_000, lease_ms, 100)).toEqual([timer('b', t0 + 2_000)]);
      // 'b' fired before it was re-armed: it stays.
      expect(await store.deleteFiredTimers([timer('a', t0 + 5), timer('b', t0 + 10)])).toEqual([timer('a', t0 + 5)]);
      expect(await store.listTimers(o.id)).toEqual([timer('b', t0 + 2_000)]);
    });

    test('scanTimers pages through timers in (order id, key) order', async () => {
      const orders = [orderRow(1), orderRow(1)];
      const all = orders.flatMap((o) => ['x', 'y', 'z'].map((key) => ({ orderId: o.id, key, dueAt: t0 + 1e9, event: { key } })));
      await store.commit(orders.map((o) => writeOf(o, { timersArmed: all.filter((t) => t.orderId === o.id) })));
      const seen: TimerRow[] = [];
      let after: { orderId: string; key: string } | null = null;
      for (let page = 0; page < 100; page++) {
        const rows: TimerRow[] = await store.scanTimers(after, 2);
        if (rows.length === 0) break;
        seen.push(...rows);
        after = rows[rows.length - 1]!;
      }
      const mine = seen.filter((t) => orders.some((o) => o.id === t.orderId));
      expect(mine).toEqual(all);
    });

    test('outbox rows: claimed by kind when due, leased, counted as backlog; listed per order', async () => {
      const o = orderRow(1);
      const kindName = `k_${unique()}`;
      const row = (id: string, dueAt: number, k = kindName): OutboxRow => ({ id, orderId: o.id, kind: k, payload: { id, list: [1, 2] }, createdAt: t0, dueAt });
      const rows = [row(`obx_${o.id}_1`, t0 + 20), row(`obx_${o.id}_2`, t0 + 10), row(`obx_${o.id}_3`, t0 + 99), row(`obx_${o.id}_4`, t0, 'other')];
      const backlog = await store.outboxBacklog();
      await store.commit([writeOf(o, { outbox: rows })]);
      expect(await store.outboxBacklog()).toBe(backlog + 4);
      expect(await store.listOutbox(o.id)).toEqual(rows);
      const claimed = await store.claimOutbox([kindName], t0 + 50, lease_ms, 10);
      expect(claimed).toEqual([{ ...rows[1]!, attempts: 0, claim: 1 }, { ...rows[0]!, attempts: 0, claim: 1 }]);
      expect(await store.claimOutbox([kindName], t0 + 50, lease_ms, 10)).toEqual([]);
      expect((await store.claimOutbox([kindName], t0 + 100 + lease_ms, lease_ms, 1)).map((r) => r.id)).toEqual([rows[1]!.id]);
    });

    test('outbox results: applied with the batch they join whatever its writes come to; of two for one row the last counts', async () => {
      const o = orderRow(1);
      const kindName = `k_${unique()}`;
      const [a, b, c] = [1, 2, 3].map((n): OutboxRow => ({ id: `obx_${o.id}_${n}`, orderId: o.id, kind: kindName, payload: {}, createdAt: t0, dueAt: t0 }));
      await store.commit([writeOf(o, { outbox: [a!, b!, c!] })]);
      expect(await store.claimOutbox([kindName], t0, lease_ms, 10)).toHaveLength(3);
      const outcome = await store.commitBatch({
        ...emptyBatch(t0 + 2),
        writes: [writeOf(o)],
        outboxResults: [
          { outboxId: a!.id, at: t0 + 1, error: 'timeout', next: { status: 'retry', dueAt: t0 + 500 } },
          { outboxId: b!.id, at: t0 + 1, error: null, next: { status: 'done' } },
          { outboxId: c!.id, at: t0 + 1, error: 'timeout', next: { status: 'retry', dueAt: t0 + 100 } },
          { outboxId: c!.id, at: t0 + 2, error: 'refused', next: { status: 'failed' } },
        ],
      });
      // The write collided with the order it repeats; the results are no part of it and still count.
      expect(outcome.writes).toEqual(['duplicate_order']);
      expect(await store.claimOutbox([kindName], t0 + 1_000, lease_ms, 10)).toEqual([{ ...a!, dueAt: t0 + 500, attempts: 1, claim: 2 }]);
      expect((await store.listFailedOutbox(1_000)).filter((r) => r.orderId === o.id)).toEqual([{ ...c!, dueAt: t0 + 2 }]);
      await store.finishOutbox({ outboxId: a!.id, at: t0 + 1_001, error: null, next: { status: 'done' } });
      expect(await store.claimOutbox([kindName], t0 + 1e9, lease_ms, 10)).toEqual([]);
    });

    /**
     * One outbox row claimed twice (the first claim's lease ran out), and the two claims' results:
     * the second parks it (a bug), the first's late one says done.
     */
    async function claimedTwice() {
      const o = orderRow(1);
      const kindName = `k_${unique()}`;
      const row: OutboxRow = { id: `obx_${o.id}`, orderId: o.id, kind: kindName, payload: {}, createdAt: t0, dueAt: t0 };
      await store.commit([writeOf(o, { outbox: [row] })]);
      const [first] = await store.claimOutbox([kindName], t0, lease_ms, 10);
      const [second] = await store.claimOutbox([kindName], t0 + lease_ms + 1, lease_ms, 10);
      expect([first!.claim, second!.claim]).toEqual([1, 2]);
      const parked: OutboxResult = { outboxId: row.id, claim: second!.claim, at: t0 + lease_ms + 2, error: 'a bug', next: { status: 'parked' } };
      const lateDone: OutboxResult = { outboxId: row.id, claim: first!.claim, at: t0 + lease_ms + 3, error: null, next: { status: 'done' } };
      const parkedErrors = async () => (await store.listParked(100)).filter((p) => p.ref === row.id).map((p) => p.error);
      return { parked, lateDone, parkedErrors };
    }

    test("an outbox result is fenced by its claim: a late result of a lease that ran out leaves the next claim's parking as it is", async () => {
      const { parked, lateDone, parkedErrors } = await claimedTwice();
      await store.finishOutbox(parked);
      await store.finishOutbox(lateDone);
      expect(await parkedErrors()).toEqual(['a bug']);
    });

    test('of two results for one row in one batch the newer claim\'s is written, whichever comes last', async () => {
      const { parked, lateDone, parkedErrors } = await claimedTwice();
      await store.commitBatch({ ...emptyBatch(t0 + lease_ms + 3), outboxResults: [parked, lateDone] });
      expect(await parkedErrors()).toEqual(['a bug']);
    });

    test('notifications: attempts recorded; retry, failure, delivery; resend starts over', async () => {
      const o = orderRow(1);
      const event: MerchantEventRow = { id: `evt_${o.id}`, merchantId: 'M1', orderId: o.id, type: 'payment.succeeded', data: { amount: 12_345, nested: { ok: true } }, createdAt: t0 };
      const notify: OutboxRow = { id: `obx_${o.id}`, orderId: o.id, kind: 'merchant.notify', payload: { eventId: event.id }, createdAt: t0, dueAt: t0 };
      await store.commit([writeOf(o, { merchantEvents: [event], outbox: [notify] })]);
      expect(await store.listMerchantEvents(o.id)).toEqual([event]);
      expect(await store.loadMerchantEvent(event.id)).toEqual({ ...event, status: 'pending', attempts: 0, lastError: null });
      expect(await store.loadMerchantEvents([event.id, 'evt_unknown'])).toEqual([event]);
      expect(await store.loadMerchantEvents([])).toEqual([]);
      const attempt = (n: number, next: NotificationResult['next'], claim = n): NotificationResult => ({
        outboxId: notify.id, claim, eventId: event.id, next,
        attempt: { id: `att_${o.id}_${n}`, at: t0 + n, httpStatus: n === 1 ? null : 500, error: n === 1 ? 'timeout' : null, durationMs: 12 },
      });
      expect(await store.claimOutbox(['merchant.notify'], t0, lease_ms, 100)).toEqual([{ ...notify, attempts: 0, claim: 1 }]);
      expect(await store.recordNotification(attempt(1, { status: 'retry', dueAt: t0 + 5_000 }))).toBe(true);
      expect(await store.loadMerchantEvent(event.id)).toEqual({ ...event, status: 'pending', attempts: 1, lastError: 'timeout' });
      expect(await store.claimOutbox(['merchant.notify'], t0 + 4_999, lease_ms, 100)).toEqual([]);
      expect(await store.claimOutbox(['merchant.notify'], t0 + 5_000, lease_ms, 100)).toEqual([{ ...notify, dueAt: t0 + 5_000, attempts: 1, claim: 2 }]);
      expect(await store.recordNotification(attempt(2, { status: 'failed' }))).toBe(true);
      expect(await store.loadMerchantEvent(event.id)).toEqual({ ...event, status: 'failed', attempts: 2, lastError: 'HTTP 500' });
      expect((await store.listFailedOutbox(1_000)).map((r) => r.id)).toContain(notify.id);
      expect(await store.resendNotification(event.id, t0 + 9_000)).toBe(true);
      expect(await store.resendNotification('evt_unknown', t0 + 9_000)).toBe(false);
      expect((await store.listFailedOutbox(1_000)).map((r) => r.id)).not.toContain(notify.id);
      // The resend counts as a claim: the row's next claim is its fourth.
      expect(await store.claimOutbox(['merchant.notify'], t0 + 9_000, lease_ms, 100)).toEqual([{ ...notify, dueAt: t0 + 9_000, attempts: 0, claim: 4 }]);
      expect(await store.recordNotification(attempt(3, { status: 'delivered' }, 4))).toBe(true);
      expect((await store.loadMerchantEvent(event.id))!.status).toBe('delivered');
      expect(await store.claimOutbox(['merchant.notify'], t0 + 1e9, lease_ms, 100)).toEqual([]);
    });

    test('a delivery result whose claim was overtaken (a resend, a later claim) is logged and changes nothing', async () => {
      const o = orderRow(1);
      const event: MerchantEventRow = { id: `evt_${o.id}`, merchantId: 'M1', orderId: o.id, type: 'payment.closed', data: {}, createdAt: t0 };
      const notify: OutboxRow = { id: `obx_${o.id}`, orderId: o.id, kind: 'merchant.notify', payload: { eventId: event.id }, createdAt: t0, dueAt: t0 };
      await store.commit([writeOf(o, { merchantEvents: [event], outbox: [notify] })]);
      const result = (n: number, claim: number, next: NotificationResult['next']): NotificationResult => ({
        outboxId: notify.id, claim, eventId: event.id, next, attempt: { id: `att_${o.id}_${n}`, at: t0 + n, httpStatus: 500, error: null, durationMs: 1 },
      });
      const claimed = (await store.claimOutboxRow(notify.id, t0, lease_ms))!;
      expect(await store.resendNotification(event.id, t0 + 1)).toBe(true);
      // The attempt claimed before the resend ran out of tries: the resend stands.
      expect(await store.recordNotification(result(1, claimed.claim, { status: 'failed' }))).toBe(false);
      expect(await store.loadMerchantEvent(event.id)).toEqual({ ...event, status: 'pending', attempts: 0, lastError: 'HTTP 500' });
      const [again] = await store.claimOutbox(['merchant.notify'], t0 + 1, lease_ms, 100);
      expect(again).toEqual({ ...notify, dueAt: t0 + 1, attempts: 0, claim: claimed.claim + 2 });
      // Two results of one row in one batch, the older claim's last: the newer claim's is written.
      const outcome = await store.commitBatch({ ...emptyBatch(t0 + 3), notifications: [result(2, again!.claim, { status: 'retry', dueAt: t0 + 50 }), result(3, claimed.claim, { status: 'failed' })] });
      expect(outcome.notifications).toEqual([true, false]);
      expect(await store.loadMerchantEvent(event.id)).toMatchObject({ status: 'pending', attempts: 1 });
      expect(await store.claimOutbox(['merchant.notify'], t0 + 50, lease_ms, 100)).toEqual([{ ...notify, dueAt: t0 + 50, attempts: 1, claim: again!.claim + 1 }]);
    });

    test("a merchant's events after a given id, oldest first, limited", async () => {
      const merchantId = `M_${unique()}`;
      const orders = [orderRow(1, { merchantId }), orderRow(1, { merchantId })];
      const events = orders.flatMap((o, i) => [0, 1].map((k) => ({
        id: `evt_${merchantId}_${i}${k}`, merchantId, orderId: o.id, type: 'payment.succeeded', data: { i, k }, createdAt: t0 + i,
      })));
      await store.commit(orders.map((o) => writeOf(o, { merchantEvents: events.filter((e) => e.orderId === o.id) })));
      expect(await store.listMerchantEventsAfter(merchantId, null, 100)).toEqual(events);
      expect(await store.listMerchantEventsAfter(merchantId, events[1]!.id, 1)).toEqual([events[2]!]);
      expect(await store.listMerchantEventsAfter(merchantId, events[3]!.id, 100)).toEqual([]);
    });

    test('scanOrders pages by id', async () => {
      const orders = [orderRow(1), orderRow(1), orderRow(1)];
      await store.commit(orders.map((o) => writeOf(o)));
      const page = await store.scanOrders(orders[0]!.id, 2);
      expect(page).toEqual([orders[1]!, orders[2]!]);
    });
  });
}
