/**
 * Timer rows are locked by two writers at once on Postgres: the engine's batch commits (re-arming
 * and disarming timers of many orders in one statement) and the ticker (leasing and deleting the
 * timers it fired, of many orders in one statement). Each statement must lock its timer rows in
 * one order, (order id, key), or two of them can each hold a row the other waits for: Postgres
 * then kills one with "deadlock detected" (seen in the sale-day bench, on callbacks).
 */
import { describe, expect, test } from 'bun:test';
import type { OrderRow, Store, TimerRow } from '../../src/store/store.ts';
import { next, orderRow, t0, writeOf } from './fixtures.ts';
import { freshStoreFor } from './stores.ts';

const orders_n = 24;
const keys = ['expire', 'query', 'close'];
const rounds = 40;

const timerOf = (order: OrderRow, key: string, dueAt: number): TimerRow => ({ orderId: order.id, key, dueAt, event: { type: `timer.${key}`, at: dueAt } });

/** The ticker's side: every timer of the orders, fired, in the order given. */
async function fireAll(store: Store, timers: TimerRow[], now: number): Promise<void> {
  const leased = await store.leaseTimers(timers, now, 60_000);
  await store.deleteFiredTimers(leased);
}

describe('store on postgres: timer row locks', () => {
  const store = freshStoreFor('postgres');

  test('batch commits and the ticker touching the same timers in opposite orders never deadlock', async () => {
    let orders = Array.from({ length: orders_n }, () => orderRow(1));
    await store.commit(orders.map((o) => writeOf(o, { timersArmed: keys.map((k) => timerOf(o, k, t0)) })));
    const errors: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const at = t0 + round + 1;
      const armed = orders.flatMap((o) => keys.map((k) => timerOf(o, k, t0 + round)));
      const moved = orders.map((o) => next(o));
      // The engine's side, in two batches of interleaved orders: re-arm one key, disarm another.
      const batches = [moved.filter((_, i) => i % 2 === 0), moved.filter((_, i) => i % 2 === 1)].map((part) =>
        part.map((o) => writeOf(o, { timersArmed: [timerOf(o, keys[round % 3]!, at), timerOf(o, keys[(round + 1) % 3]!, at)], timersDisarmed: [keys[(round + 2) % 3]!] })));
      const outcomes = await Promise.allSettled([
        ...batches.map((writes) => store.commit(writes)),
        fireAll(store, [...armed].reverse(), at),
        fireAll(store, armed.filter((_, i) => i % 2 === 1), at),
      ]);
      for (const outcome of outcomes) if (outcome.status === 'rejected') errors.push(String(outcome.reason));
      // Whatever the ticker deleted, every order has its three timers again for the next round.
      orders = moved.map((o) => next(o));
      await store.commit(orders.map((o) => writeOf(o, { timersArmed: keys.map((k) => timerOf(o, k, at)) })));
    }
    expect(errors).toEqual([]);
  }, 120_000);
});
