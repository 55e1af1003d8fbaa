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
import { assert } from '../failures.ts';
import type { Counters, RedisNonce, Reservation } from './counters.ts';
import { type CounterAsk, type Held, allowedBy, spanCounted } from './counting.ts';
import { type CounterRef, chinaMonthStart, countersHeldBy, isLimitCounter } from './evaluate.ts';
import { limit_currency, velocity_window_s_max } from './rules.ts';

/** A limit: how many orders it holds and their amounts' sum. */
type LimitBucket = { window: false; count: number; amount: number; expiresAt: number };
/**
 * A window's orders by time: `ids` and `ats` side by side in time order from `head`, so a check
 * drops the ones older than the longest window from the front and counts the ones within its
 * own span by a binary search.
 */
type WindowBucket = { window: true; ids: string[]; ats: number[]; head: number; expiresAt: number };
type Bucket = LimitBucket | WindowBucket;

/**
 * An order counted here: the buckets it joined and what it added to its limits' sums. Membership
 * is kept by order, not by bucket — one record an order however many counters it joins (a
 * merchant-wide limit would otherwise hold a map entry for every order of its month) — and it
 * is what makes reserving an order twice, or releasing it twice, the same as once. Kept until
 * the last of its buckets would have let it go (`expiresAt`).
 */
type Member = { amount: number; buckets: Bucket[]; expiresAt: number };

/** A window's arrays are compacted once this many at their front have left (and they are half of them). */
const window_compact_min = 64;

/** Orders read per page while seeding. */
const seed_page_orders = 1_000;

/** How long a limit's hold seeded from an order lives: its period's end is not in the key, and a day past the longest period (a month) keeps it long enough. */
const seeded_limit_life_ms = 32 * 86_400_000;
/** A window's: the longest window a rule may have (which windows a rule will ask for is not known at start). */
const seeded_window_life_ms = velocity_window_s_max * 1000;

/**
 * The buckets by the parts of their names (CounterRef): prefix → period → subject key. An order's
 * counters share a handful of parts (prefixes compiled with the rules; its subjects' keys and its
 * periods, built once per order), so no name is built and each part's hash is computed once:
 * looking up 40 freshly joined names was most of a reservation's cost.
 */
type Buckets = Map<string, Map<string, Map<string, Bucket>>>;

export class MemoryCounters implements Counters {
  private readonly buckets: Buckets = new Map();
  /** In the order they joined, so that purging drops them from the front. */
  private readonly members = new Map<string, Member>();

  async reserve(orderId: string, at: number, asks: CounterAsk[], nonce?: RedisNonce): Promise<Reservation> {
    assert(nonce === undefined, 'nonces are claimed in Redis only with counters in Redis');
    const found = asks.map((ask) => this.bucket(ask));
    const held = asks.map((ask, i) => heldIn(found[i], ask, at));
    const allowed = allowedBy(asks, held);
    if (allowed && asks.length > 0) {
      const member = this.memberOf(orderId);
      for (const [i, ask] of asks.entries()) this.join(member, orderId, found[i] ?? this.created(ask), ask.amount, at, ask.expiresAt);
    }
    return { allowed, held };
  }

  async release(orderId: string, counters: CounterRef[]): Promise<void> {
    const member = this.members.get(orderId);
    if (!member) return;
    for (const ref of counters) {
      const bucket = this.bucket(ref);
      const i = bucket ? member.buckets.indexOf(bucket) : -1;
      if (i < 0) continue;
      member.buckets.splice(i, 1);
      leaveEarly(bucket!, orderId, member.amount);
    }
    if (member.buckets.length === 0) this.members.delete(orderId);
  }

  /** How many orders are counted here (the metric paycenter_risk_counted_orders). */
  get countedOrders(): number {
    return this.members.size;
  }

  async purge(now: number): Promise<void> {
    for (const [prefix, periods] of this.buckets) {
      for (const [period, keys] of periods) {
        for (const [key, bucket] of keys) if (bucket.expiresAt <= now) keys.delete(key);
        if (keys.size === 0) periods.delete(period);
      }
      if (periods.size === 0) this.buckets.delete(prefix);
    }
    // Members joined in time order, and nearly always with one lifetime per rule set: the expired
    // ones are at the front. One that outlives a later one (a rule set changed) holds the ones
    // behind it until it goes, at most a period longer.
    for (const [orderId, member] of this.members) {
      if (member.expiresAt > now) break;
      this.members.delete(orderId);
    }
  }

  /**
   * Counts the orders of the current China-time month (and the day before, for velocity windows)
   * back in: an open or paid order in its limit counters, any order of the last day (the longest
   * window a rule may have) in its windows.
   */
  async seedFromOrders(store: Store, now: number): Promise<number> {
    const since = Math.min(chinaMonthStart(now), now - velocity_window_s_max * 1000);
    let after = `pay_${encodeTime(since, 10)}`;
    let seeded = 0;
    for (;;) {
      const page = await store.scanOrders(after, seed_page_orders);
      for (const row of page) seeded += this.seedOrder(row, now) ? 1 : 0;
      if (page.length < seed_page_orders) return seeded;
      after = page.at(-1)!.id;
    }
  }

  private seedOrder(row: OrderRow, now: number): boolean {
    // Our own snapshot, written by the engine after its invariants were asserted.
    const ctx = (row.snapshot as { context: PaymentContext }).context;
    const held = countersHeldBy(ctx);
    if (held.length === 0) return false;
    const amount = ctx.currency === limit_currency ? ctx.amount : 0;
    for (const ref of held) {
      const limit = isLimitCounter(ref);
      if (limit ? row.status === 'closed' : ctx.createdAt + seeded_window_life_ms <= now) continue;
      const expiresAt = ctx.createdAt + (limit ? seeded_limit_life_ms : seeded_window_life_ms);
      this.join(this.memberOf(ctx.id), ctx.id, this.bucket(ref) ?? this.created(ref), limit ? amount : 0, ctx.createdAt, expiresAt);
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
    const bucket: Bucket = isLimitCounter(ref)
      ? { window: false, count: 0, amount: 0, expiresAt: 0 }
      : { window: true, ids: [], ats: [], head: 0, expiresAt: 0 };
    keys.set(ref.key, bucket);
    return bucket;
  }

  private memberOf(orderId: string): Member {
    let member = this.members.get(orderId);
    if (!member) this.members.set(orderId, (member = { amount: 0, buckets: [], expiresAt: 0 }));
    return member;
  }

  /** Counts the order in the bucket, once; `amount` is what it adds to a limit's sum (the same for all its limits). */
  private join(member: Member, orderId: string, bucket: Bucket, amount: number, at: number, expiresAt: number): void {
    bucket.expiresAt = Math.max(bucket.expiresAt, expiresAt);
    member.expiresAt = Math.max(member.expiresAt, expiresAt);
    if (member.buckets.includes(bucket)) return;
    member.buckets.push(bucket);
    if (bucket.window) {
      arrive(bucket, orderId, at);
      return;
    }
    assert(member.amount === 0 || amount === member.amount, `order ${orderId} adds ${amount} to one limit and ${member.amount} to another`);
    member.amount = amount;
    bucket.count += 1;
    bucket.amount += amount;
  }
}

/**
 * What a bucket held before this order: a limit's count and sum, or a window's orders within each
 * span of the plan — the window first lets go of those older than its longest for good.
 */
function heldIn(bucket: Bucket | undefined, ask: CounterAsk, at: number): Held {
  const { spans } = ask.plan;
  if (!bucket) return { count: 0, amount: 0, spans: spans.map(() => 0) };
  if (!bucket.window) return { count: bucket.count, amount: bucket.amount, spans: [] };
  const longest = at - spans[0]!.spanMs;
  leave(bucket, longest);
  const size = bucket.ats.length - firstAfter(bucket, longest);
  return { count: size, amount: 0, spans: spans.map((span, k) => (k > 0 && spanCounted(span, size) ? bucket.ats.length - firstAfter(bucket, at - span.spanMs) : size)) };
}

/** The index of a window's first order after `since` (its orders of times up to `since` are out of a span ending now). */
function firstAfter(bucket: WindowBucket, since: number): number {
  let low = bucket.head;
  let high = bucket.ats.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (bucket.ats[mid]! <= since) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Drops a window's orders of times up to `since` for good: no rule's span reaches them any more. */
function leave(bucket: WindowBucket, since: number): void {
  const { ids, ats } = bucket;
  while (bucket.head < ats.length && ats[bucket.head]! <= since) bucket.head += 1;
  if (bucket.head >= window_compact_min && bucket.head * 2 >= ats.length) {
    bucket.ids = ids.slice(bucket.head);
    bucket.ats = ats.slice(bucket.head);
    bucket.head = 0;
  }
}

/** Keeps a window's orders in time order: nearly always at the end (a clock never runs far backwards). */
function arrive(bucket: WindowBucket, orderId: string, at: number): void {
  let i = bucket.ats.length;
  while (i > bucket.head && bucket.ats[i - 1]! > at) i -= 1;
  if (i === bucket.ats.length) {
    bucket.ids.push(orderId);
    bucket.ats.push(at);
  } else {
    bucket.ids.splice(i, 0, orderId);
    bucket.ats.splice(i, 0, at);
  }
}

/** Takes an order out of a bucket it joined: a limit gives its share back; a window lets it go if it is still there. */
function leaveEarly(bucket: Bucket, orderId: string, amount: number): void {
  if (!bucket.window) {
    bucket.count -= 1;
    bucket.amount -= amount;
    return;
  }
  // Only a create refused after its reservation takes an order out of a window: it is among the last to arrive.
  const i = bucket.ids.lastIndexOf(orderId);
  if (i < bucket.head) return;
  bucket.ids.splice(i, 1);
  bucket.ats.splice(i, 1);
}
