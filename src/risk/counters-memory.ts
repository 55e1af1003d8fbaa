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
import {
  type CounterCheck, type CounterRef, type Seen, chinaMonthStart, countersHeldBy, isLimitCounter, joinedCounters,
} from './evaluate.ts';
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

/**
 * The buckets by the parts of their names (CounterRef): prefix → period → subject key. An order's
 * counters share a handful of parts (prefixes compiled with the rules; its subjects' keys and its
 * periods, built once per order), so no name is built and each part's hash is computed once:
 * looking up 40 freshly joined names was most of a reservation's cost.
 */
type Buckets = Map<string, Map<string, Map<string, Bucket>>>;

export class MemoryCounters implements Counters {
  private readonly buckets: Buckets = new Map();

  async reserve(orderId: string, at: number, checks: CounterCheck[], joined = joinedCounters(checks)): Promise<Reservation> {
    const { counters, of } = joined;
    const found = counters.map((c) => this.bucket(c));
    const seen = checks.map((c, i) => seenIn(found[of[i]!], c, at));
    const allowed = !blockedBy(checks, seen);
    if (allowed) for (const [j, c] of counters.entries()) this.add(found[j] ?? this.created(c), c, orderId, { amount: c.amount, at }, c.expiresAt);
    return { allowed, seen };
  }

  async release(orderId: string, counters: CounterRef[]): Promise<void> {
    for (const ref of counters) {
      const bucket = this.bucket(ref);
      const member = bucket?.members.get(orderId);
      if (!bucket || !member) continue;
      bucket.members.delete(orderId);
      bucket.count -= 1;
      bucket.amount -= member.amount;
    }
  }

  async purge(now: number): Promise<void> {
    for (const [prefix, periods] of this.buckets) {
      for (const [period, keys] of periods) {
        for (const [key, bucket] of keys) if (bucket.expiresAt <= now) keys.delete(key);
        if (keys.size === 0) periods.delete(period);
      }
      if (periods.size === 0) this.buckets.delete(prefix);
    }
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
    const held = countersHeldBy(ctx);
    if (held.length === 0) return false;
    const amount = ctx.currency === limit_currency ? ctx.amount : 0;
    for (const ref of held) {
      const limit = isLimitCounter(ref);
      if (limit && row.status === 'closed') continue;
      this.add(this.bucket(ref) ?? this.created(ref), ref, ctx.id, { amount: limit ? amount : 0, at: ctx.createdAt }, ctx.createdAt + seeded_hold_life_ms);
    }
    return true;
  }

  private bucket(ref: CounterRef): Bucket | undefined {
    return this.buckets.get(ref.prefix)?.get(ref.period)?.get(ref.key);
  }

  private created(ref: CounterRef): Bucket {
    let periods = this.buckets.get(ref.prefix);
    if (!periods) this.buckets.set(ref.prefix, (periods = new Map()));
    let keys = periods.get(ref.period);
    if (!keys) periods.set(ref.period, (keys = new Map()));
    const bucket: Bucket = { members: new Map(), count: 0, amount: 0, expiresAt: 0, arrivals: [], head: 0 };
    keys.set(ref.key, bucket);
    return bucket;
  }

  private add(bucket: Bucket, ref: CounterRef, orderId: string, member: Member, expiresAt: number): void {
    bucket.expiresAt = Math.max(bucket.expiresAt, expiresAt);
    if (bucket.members.has(orderId)) return;
    bucket.members.set(orderId, member);
    bucket.count += 1;
    bucket.amount += member.amount;
    if (!isLimitCounter(ref)) arrive(bucket, { orderId, member });
  }
}

/** What a bucket holds for this check now; a window first lets go of the orders that left it. */
function seenIn(bucket: Bucket | undefined, check: CounterCheck, at: number): Seen {
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

/** Keeps a window's arrivals in time order: nearly always at the end (a clock never runs far backwards). */
function arrive(bucket: Bucket, arrival: Bucket['arrivals'][number]): void {
  const arrivals = bucket.arrivals;
  let i = arrivals.length;
  while (i > bucket.head && arrivals[i - 1]!.member.at > arrival.member.at) i -= 1;
  if (i === arrivals.length) arrivals.push(arrival);
  else arrivals.splice(i, 0, arrival);
}
