/**
 * Named limits on what could otherwise grow without bound: the group-commit queue refuses
 * (as a dependency's `unavailable`) beyond its cap, the engine keeps at most recentOrdersMax
 * orders in memory (and no closed ones; `peek` reads them), one order's list queries return at most
 * per_order_rows_max rows, and its journal — and the admin timeline over it — come in pages.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { RecentlyCommitted } from '../../actors/recent.ts';
import { CommitQueueFullError } from '../../actors/group-commit.ts';
import { DurableCommitter } from '../../actors/durable-commit.ts';
import { LocalLock } from '../../src/lock/local.ts';
import { systemClock } from '../../src/clock.ts';
import { DependencyError } from '../../src/failures.ts';
import { per_order_rows_max } from '../../src/store/rows.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from '../http/harness.ts';
import { next, orderRow, t0, writeOf } from '../store/fixtures.ts';
import { freshStoreFor, storeKinds } from '../store/stores.ts';
import { engineOn, orderInput, payWith } from './fixtures.ts';

for (const kind of storeKinds) {
  describe(`limits on ${kind}`, () => {
    const store = freshStoreFor(kind);

    test('the group-commit queue refuses writes beyond its cap at once, as a dependency overload; the rest commit', async () => {
      const observed: Array<{ writes: number; ms: number }> = [];
      const committer = new DurableCommitter(store, systemClock, { batchMax: 2, waitMaxMs: 1, inFlightMax: 1, queueWritesMax: 4 }, (writes, ms) => observed.push({ writes, ms }));
      const claims = Array.from({ length: 20 }, (_, i) => committer.claimNonce({ merchantId: 'M_limits', nonce: `n${i}_${Math.random()}`, expiresAt: Date.now() + 60_000 }));
      expect(committer.waiting).toBe(4);
      const settled = await Promise.allSettled(claims);
      const refused = settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason);
      // Two in the transaction in flight, four waiting; every later one refused.
      expect(settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<boolean>).value)).toEqual([true, true, true, true, true, true]);
      expect(refused.length).toBe(14);
      expect(refused.every((e) => e instanceof CommitQueueFullError && e instanceof DependencyError)).toBe(true);
      // Every committed transaction was observed once, with its writes and its time; nothing waits now.
      expect(observed.map((o) => o.writes)).toEqual([2, 2, 2]);
      expect(observed.every((o) => o.ms >= 0)).toBe(true);
      expect(committer.waiting).toBe(0);
    });

    test('the engine keeps at most recentOrdersMax orders in memory, and lets closed ones go', async () => {
      const engine = engineOn(store, new LocalLock(), { recentOrdersMax: 3 });
      const inputs = Array.from({ length: 5 }, () => orderInput());
      for (const input of inputs) expect((await engine.create(input, { eventFollows: true })).outcome).toBe('created');
      expect(engine.recentOrders).toBe(3);
      const last = inputs.at(-1)!;
      const closed = await engine.dispatch(last.id, { type: 'timer.expire', at: last.expiresAt });
      expect(closed.outcome === 'applied' && closed.order.row.status).toBe('closed');
      expect(engine.recentOrders).toBe(2);
      // The closed order is loaded again for its next event: a close request on it is rejected, nothing moves.
      expect((await engine.dispatch(last.id, { type: 'close.request', at: last.expiresAt + 1, reason: 'merchant' })).outcome).toBe('rejected');
      expect(engine.recentOrders).toBe(2);
    });

    test('peek answers what this process last committed of a recent order without a load, and the stored order otherwise', async () => {
      const [here, there] = [engineOn(store), engineOn(store)];
      const input = orderInput();
      const created = await here.create(input, { eventFollows: true });
      if (created.outcome !== 'created') throw new Error(`create: ${created.outcome}`);
      expect(await here.peek(input.id)).toBe(created.order);
      // Another instance moves the order on: this one's peek is behind (as documented), its load is not.
      expect((await there.dispatch(input.id, payWith('flw_peek'))).outcome).toBe('applied');
      expect((await here.peek(input.id))?.row.version).toBe(1);
      expect((await here.load(input.id))?.row.version).toBe(2);
      expect((await there.peek(input.id))?.row.version).toBe(2);
      expect((await engineOn(store).peek(input.id))?.row.version).toBe(2);
    });

    test('a new order that no event follows at once is not kept; its first event reads it and keeps it', async () => {
      const engine = engineOn(store);
      const input = orderInput();
      const created = await engine.create(input);
      if (created.outcome !== 'created') throw new Error(`create: ${created.outcome}`);
      expect(engine.recentOrders).toBe(0);
      const peeked = await engine.peek(input.id);
      expect(peeked).not.toBe(created.order);
      expect(peeked?.row).toEqual(created.order.row);
      const paid = await engine.dispatch(input.id, payWith('flw_unkept'));
      expect(paid.outcome).toBe('applied');
      expect(engine.recentOrders).toBe(1);
      if (paid.outcome === 'applied') expect(await engine.peek(input.id)).toBe(paid.order);
    });

    test('an order\'s list queries return at most per_order_rows_max rows', async () => {
      const row = orderRow(1);
      const timers = Array.from({ length: per_order_rows_max + 1 }, (_, i) => ({ orderId: row.id, key: `k${String(i).padStart(5, '0')}`, dueAt: t0, event: { i } }));
      expect(await store.commit([writeOf(row, { timersArmed: timers })])).toEqual(['committed']);
      expect((await store.listTimers(row.id)).length).toBe(per_order_rows_max);
    });

    test('the journal is read a page at a time', async () => {
      let row = orderRow(1);
      await store.commit([writeOf(row)]);
      for (let i = 0; i < 4; i++) await store.commit([writeOf((row = next(row)))]);
      expect((await store.listJournal(row.id)).map((j) => j.seq)).toEqual([1, 2, 3, 4, 5]);
      expect((await store.listJournal(row.id, { afterSeq: 2, limit: 2 })).map((j) => j.seq)).toEqual([3, 4]);
      expect((await store.listJournal(row.id, { afterSeq: 5, limit: 2 })).map((j) => j.seq)).toEqual([]);
    });
  });
}

describe('the admin timeline is paged', () => {
  let booted: Booted;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
  });
  afterAll(async () => {
    await booted?.stop();
  });

  test('limit and after_seq walk the journal; next_after_seq says where the next page starts, null at the end', async () => {
    const merchant = await MerchantClient.create(booted.url);
    const payment = (await merchant.createPayment()).body.id as string;
    await merchant.call('POST', `/v1/payments/${payment}/close`);
    const first = await adminCall(booted.url, 'GET', `/admin/payments/${payment}/timeline?limit=1`);
    expect(first.status).toBe(200);
    expect(first.body.events.map((e: { seq: number }) => e.seq)).toEqual([1]);
    expect(first.body.next_after_seq).toBe(1);
    const second = await adminCall(booted.url, 'GET', `/admin/payments/${payment}/timeline?limit=1&after_seq=1`);
    expect(second.body.events.map((e: { seq: number }) => e.seq)).toEqual([2]);
    expect(second.body.next_after_seq).toBe(null);
    const all = await adminCall(booted.url, 'GET', `/admin/payments/${payment}/timeline`);
    expect(all.body.events.length).toBe(2);
    const tooMany = await adminCall(booted.url, 'GET', `/admin/payments/${payment}/timeline?limit=${per_order_rows_max + 1}`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatchObject({ code: 'invalid_request', field: 'limit' });
  });
});

describe("the engine's recently committed orders and flows", () => {
  // What is cached does not matter here, only when it leaves: a stand-in for an order's state.
  const state = (n: number) => ({ n }) as never;

  test('an order committed longer ago than the TTL is a miss, and later commits push expired ones out', () => {
    let now = 0;
    const recent = new RecentlyCommitted(100, 60_000, () => now);
    recent.set('a', state(1));
    now = 30_000;
    recent.set('b', state(2));
    expect(recent.get('a')).toEqual(state(1));
    now = 60_001;
    expect(recent.get('a')).toBeUndefined();
    expect(recent.get('b')).toEqual(state(2));
    now = 90_001;
    recent.set('c', state(3));
    // 'b' expired: the commit of 'c' let it go without anyone asking for it.
    expect(recent.size).toBe(1);
  });

  test('at most the bound: the entry written longest ago goes first, and a later write of a key moves it to the end', () => {
    const recent = new RecentlyCommitted(2, 60_000, () => 0);
    recent.set('f1', state(1));
    recent.set('f2', state(2));
    recent.set('f1', state(11));
    recent.set('f3', state(3));
    expect(recent.size).toBe(2);
    expect(recent.get('f2')).toBeUndefined();
    expect(recent.get('f1')).toEqual(state(11));
    expect(recent.get('f3')).toEqual(state(3));
  });

  test('a steady flow holds about rate × TTL orders, not the count bound', () => {
    let now = 0;
    const recent = new RecentlyCommitted(50_000, 60_000, () => now);
    // 100 orders a second for ten minutes: 60,000 commits, at most 6,001 within the last minute.
    for (let i = 0; i < 60_000; i++) {
      now = i * 10;
      recent.set(`o${i}`, state(i));
    }
    expect(recent.size).toBe(6_001);
  });
});

