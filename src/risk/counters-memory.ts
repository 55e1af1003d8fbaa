/**
 * The counters of a single instance (the SQLite store, no Redis), in this process's memory.
 * JavaScript runs one thing at a time and a reservation never awaits, so check and reserve are
 * one step. The durable record is the order itself: its context lists the counters it was
 * reserved in (`riskHolds`), committed with the order, so a start re-seeds the counters from
 * the orders of the current China-time month (`seedFromOrders`) — as the timer index is
 * re-seeded from the timer rows. A crash therefore forgets nothing that was committed and
 * keeps nothing that was not. Like the in-process order lock, this holds for one process: run
 * several against one store only with Redis.
 */
import { encodeTime } from 'ulid';
import type { PaymentContext } from '../../machines/payment.model.ts';
import type { OrderRow, Store } from '../store/store.ts';
import type { Counters, Reservation } from './counters.ts';
import { blockedBy } from './counters.ts';
import { type CounterCheck, type Seen, chinaMonthStart, isLimitBucket } from './evaluate.ts';
import { limit_currency, velocity_window_s_max } from './rules.ts';

type Member = { amount: number; at: number };
/**
 * A limit's or a window's orders. A window also keeps them in time order (`arrivals` from
 * `head`), so a check drops the ones that left it from the front instead of reading them all;
 * an arrival whose member was released or replaced since is skipped when it comes up.
 */
type Bucket = {
  members: Map<string, Member>; count: number; amount: number; expiresAt: number;
  arrivals: Array<{ orderId: string; member: Member }>; head: number;
};

/** A window's arrivals array is compacted once this many at its front have left (and they are half of it). */
const arrivals_compact_min = 64;

/** Orders read per page while seeding. */
const seed_page_orders = 1_000;

/** How long a hold seeded from an order lives: its period's end is not in the key, and a day past the longest period (a month) keeps it long enough. */
const seeded_hold_life_ms = 32 * 86_400_000;

export class MemoryCounters implements Counters {
  private readonly buckets = new Map<string, Bucket>();

  async reserve(orderId: string, at: number, checks: CounterCheck[]): Promise<Reservation> {
    const seen = checks.map((c) => this.seen(c, at));
    const allowed = !blockedBy(checks, seen);
    if (allowed) for (const c of checks) this.add(c.bucket, orderId, { amount: c.amount, at }, c.expiresAt);
    return { allowed, seen };
  }

  async release(orderId: string, buckets: string[]): Promise<void> {
    for (const key of buckets) {
      const bucket = this.buckets.get(key);
      const member = bucket?.members.get(orderId);
      if (!bucket || !member) continue;
      bucket.members.delete(orderId);
      bucket.count -= 1;
      bucket.amount -= member.amount;
    }
  }

  async purge(now: number): Promise<void> {
    for (const [key, bucket] of this.buckets) if (bucket.expiresAt <= now) this.buckets.delete(key);
  }

  /**
   * Counts every order of the current China-time month (and the day before, for velocity
   * windows) back in: an open or paid order in its limit counters, any order in its windows.
   */
  async seedFromOrders(store: Store, now: number): Promise<number> {
    const since = Math.min(chinaMonthStart(now), now - velocity_window_s_max * 1000);
    let after = `pay_${encodeTime(since, 10)}`;
    let seeded = 0;
    for (;;) {
      const page = await store.scanOrders(after, seed_page_orders);
      for (const row of page) seeded += this.seedOrder(row) ? 1 : 0;
      if (page.length < seed_page_orders) return seeded;
      after = page.at(-1)!.id;
    }
  }

  private seedOrder(row: OrderRow): boolean {
    // Our own snapshot, written by the engine after its invariants were asserted.
    const ctx = (row.snapshot as { context: PaymentContext }).context;
    const holds = ctx.riskHolds ?? [];
    if (holds.length === 0) return false;
    const amount = ctx.currency === limit_currency ? ctx.amount : 0;
    for (const key of holds) {
      const limit = isLimitBucket(key);
      if (limit && row.status === 'closed') continue;
      this.add(key, ctx.id, { amount: limit ? amount : 0, at: ctx.createdAt }, ctx.createdAt + seeded_hold_life_ms);
    }
    return true;
  }

  private seen(check: CounterCheck, at: number): Seen {
    const bucket = this.buckets.get(check.bucket);
    if (!bucket) return { count: 0, amount: 0 };
    if (check.kind === 'limit') return { count: bucket.count, amount: bucket.amount };
    // A window holds the orders after `at - span_ms`; older ones leave it for good.
    const since = at - check.spanMs;
    const arrivals = bucket.arrivals;
    while (bucket.head < arrivals.length && arrivals[bucket.head]!.member.at <= since) {
      const { orderId, member } = arrivals[bucket.head++]!;
      if (bucket.members.get(orderId) !== member) continue;
      bucket.members.delete(orderId);
      bucket.count -= 1;
    }
    if (bucket.head >= arrivals_compact_min && bucket.head * 2 >= arrivals.length) {
      bucket.arrivals = arrivals.slice(bucket.head);
      bucket.head = 0;
    }
    return { count: bucket.count, amount: 0 };
  }

  private add(key: string, orderId: string, member: Member, expiresAt: number): void {
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = { members: new Map(), count: 0, amount: 0, expiresAt, arrivals: [], head: 0 }));
    bucket.expiresAt = Math.max(bucket.expiresAt, expiresAt);
    if (bucket.members.has(orderId)) return;
    bucket.members.set(orderId, member);
    bucket.count += 1;
    bucket.amount += member.amount;
    if (!isLimitBucket(key)) arrive(bucket, { orderId, member });
  }
}

/** Keeps a window's arrivals in time order: nearly always at the end (a clock never runs far backwards). */
function arrive(bucket: Bucket, arrival: Bucket['arrivals'][number]): void {
  const arrivals = bucket.arrivals;
  let i = arrivals.length;
  while (i > bucket.head && arrivals[i - 1]!.member.at > arrival.member.at) i -= 1;
  if (i === arrivals.length) arrivals.push(arrival);
  else arrivals.splice(i, 0, arrival);
}
