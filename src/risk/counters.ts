/**
 * Exact counters for limits and velocities. A reservation checks every counter an order needs
 * and, when no rejecting one would be exceeded, counts the order in all of them — one atomic
 * step, so concurrent creates (in one process or many) can never overshoot. An order is a
 * member of a counter, not an increment: releasing it twice, or reserving it twice, is the
 * same as once. Implementations: Redis (a Lua script, counters-redis.ts), Postgres (a database
 * function under advisory locks, one round trip; below) and, for a single instance on SQLite, this
 * process's memory re-seeded from the orders at start (counters-memory.ts).
 */
import type { SQL } from 'bun';
import * as v from 'valibot';
import { type CounterAsk, type Held, allowedBy } from './counting.ts';
import { type CounterRef, counterName, isLimitCounter } from './evaluate.ts';
import { assert } from '../failures.ts';
import { storeFailure } from '../store/open.ts';
import { jsonValue } from './repo.ts';

/** Whether the order was counted (no counter refused it) and what each counter held before it (`held[i]` is `asks[i]`'s). */
export type Reservation = { allowed: boolean; held: Held[] };

/**
 * A create's request nonce where nonces are kept in Redis (src/http/nonces.ts): its key and how
 * long it is kept. The counters in that Redis claim it in the reservation's own step, so a create
 * with rules makes one round trip for both; the other counters are never given one.
 */
export type RedisNonce = { key: string; ttlMs: number };

export interface Counters {
  /** With `nonce` (Redis only), the nonce is claimed first: `replayed` when it was used before, and then nothing is reserved. */
  reserve(orderId: string, at: number, asks: CounterAsk[]): Promise<Reservation>;
  reserve(orderId: string, at: number, asks: CounterAsk[], nonce?: RedisNonce): Promise<Reservation | 'replayed'>;
  /** Takes the order out of these counters (counters it is not in are left alone). */
  release(orderId: string, counters: CounterRef[]): Promise<void>;
  /** Forgets counters whose period or window is over. */
  purge(now: number): Promise<void>;
}

const num = v.pipe(v.union([v.number(), v.string(), v.bigint(), v.null()]), v.transform((x) => Number(x ?? 0)));
const removeQuery = 'DELETE FROM risk_counter_entries WHERE bucket = $1 AND order_id = $2 RETURNING amount';
const subtractTotalQuery = 'UPDATE risk_counter_totals SET count = count - 1, amount = amount - $2 WHERE bucket = $1';
const purgeQueries = ['DELETE FROM risk_counter_entries WHERE expires_at <= $1', 'DELETE FROM risk_counter_totals WHERE expires_at <= $1'];

const removedAmount = v.object({ amount: num });
const reservedSeen = v.array(v.tuple([num, num]));

export class PostgresCounters implements Counters {
  constructor(private readonly sql: SQL) {}

  /**
   * One round trip: the database function risk_reserve (migrations/postgres/0015_risk_windows_bounded.sql)
   * locks, checks and counts, one entry per row asked: a limit's row with its refusing maxima, a
   * window's row per span, longest first. A window's rows name one counter, and that is safe: the
   * entries' insert skips an order already in the bucket. A shorter span is counted only when a
   * rule on it could hit (`spanCounted`); otherwise it reads the window's size.
   */
  async reserve(orderId: string, at: number, asks: CounterAsk[], nonce?: RedisNonce): Promise<Reservation> {
    assert(nonce === undefined, 'nonces are claimed in Redis only with counters in Redis');
    if (asks.length === 0) return { allowed: true, held: [] };
    const wire = asks.flatMap((ask) => {
      const { plan } = ask;
      const row = { bucket: counterName(ask), amount: ask.amount, expires_at: ask.expiresAt };
      if (plan.period !== null) {
        return [{ ...row, kind: 'limit', count_max: plan.countMax, amount_max: plan.amountMax, span_ms: 0, enforce: plan.countMax !== null || plan.amountMax !== null }];
      }
      // Longest first, then each shorter span with its `need`: counted only when a rule on it could hit.
      return plan.spans.map((span, j) => ({
        ...row, kind: 'window', count_max: span.countMax, amount_max: null, span_ms: span.spanMs, enforce: span.countMax !== null, ...(j > 0 ? { need: span.need } : {}),
      }));
    });
    const [row] = await this.sql.unsafe('SELECT risk_reserve($1, $2, $3::text::jsonb) AS seen', [orderId, at, JSON.stringify(wire)]);
    const seen = v.parse(reservedSeen, v.parse(v.object({ seen: jsonValue }), row).seen);
    if (seen.length !== wire.length) throw new Error(`assertion failed: risk_reserve answered ${seen.length} rows for ${wire.length}`);
    let next = 0;
    const held = asks.map((ask): Held => {
      if (ask.plan.period !== null) {
        const [count, amount] = seen[next++]!;
        return { count, amount, spans: [] };
      }
      const spans = ask.plan.spans.map(() => seen[next++]![0]);
      return { count: spans[0]!, amount: 0, spans };
    });
    return { allowed: allowedBy(asks, held), held };
  }

  /** The database's failures are typed as the store's are (src/store/open.ts): a closed order's release is tried again (releases.ts), not parked. */
  async release(orderId: string, counters: CounterRef[]): Promise<void> {
    if (counters.length === 0) return;
    const buckets = counters.map((c) => ({ name: counterName(c), limit: isLimitCounter(c) }));
    await this.sql.begin(async (tx) => {
      await lockBuckets(tx, buckets.map((b) => b.name));
      for (const { name, limit } of buckets) {
        const [removed] = await tx.unsafe(removeQuery, [name, orderId]);
        if (removed && limit) await tx.unsafe(subtractTotalQuery, [name, v.parse(removedAmount, removed).amount]);
      }
    }).catch((error: unknown) => {
      throw storeFailure(error, `risk counters: release of ${orderId}`);
    });
  }

  async purge(now: number): Promise<void> {
    for (const query of purgeQueries) await this.sql.unsafe(query, [now]);
  }
}

/** Sorted, so two transactions sharing buckets take their locks in one order and never deadlock. */
async function lockBuckets(tx: SQL, buckets: string[]): Promise<void> {
  for (const bucket of [...new Set(buckets)].sort()) await tx.unsafe('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [bucket]);
}
