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
import { type CounterCheck, type CounterRef, type JoinedCounters, type Seen, counterHit, counterName, isLimitCounter, joinedCounters } from './evaluate.ts';
import { assert } from '../failures.ts';
import { jsonValue } from './repo.ts';

/**
 * `seen`: what each check's counter held before this order, exact for every check that could
 * hit. A window check that could not have hit even with every order of its window in its span
 * may see that whole count instead (Redis does not count such a span); only a rule that hits
 * shows what it saw, so no answer differs.
 */
export type Reservation = { allowed: boolean; seen: Seen[] };

/**
 * A create's request nonce where nonces are kept in Redis (src/http/nonces.ts): its key and how
 * long it is kept. The counters in that Redis claim it in the reservation's own step, so a create
 * with rules makes one round trip for both; the other counters are never given one.
 */
export type RedisNonce = { key: string; ttlMs: number };

export interface Counters {
  /**
   * `joined`: the checks' counters (`joinedCounters(checks)`), when the caller has worked them out
   * already. With `nonce` (Redis only), the nonce is claimed first: `replayed` when it was used
   * before, and then nothing is reserved.
   */
  reserve(orderId: string, at: number, checks: CounterCheck[], joined?: JoinedCounters): Promise<Reservation>;
  reserve(orderId: string, at: number, checks: CounterCheck[], joined?: JoinedCounters, nonce?: RedisNonce): Promise<Reservation | 'replayed'>;
  /** Takes the order out of these counters (counters it is not in are left alone). */
  release(orderId: string, counters: CounterRef[]): Promise<void>;
  /** Forgets counters whose period or window is over. */
  purge(now: number): Promise<void>;
}

export const blockedBy = (checks: CounterCheck[], seen: Seen[]): boolean => checks.some((c, i) => c.enforce && counterHit(c, seen[i]!));

const num = v.pipe(v.union([v.number(), v.string(), v.bigint(), v.null()]), v.transform((x) => Number(x ?? 0)));
const removeQuery = 'DELETE FROM risk_counter_entries WHERE bucket = $1 AND order_id = $2 RETURNING amount';
const subtractTotalQuery = 'UPDATE risk_counter_totals SET count = count - 1, amount = amount - $2 WHERE bucket = $1';
const purgeQueries = ['DELETE FROM risk_counter_entries WHERE expires_at <= $1', 'DELETE FROM risk_counter_totals WHERE expires_at <= $1'];

const removedAmount = v.object({ amount: num });
const reservedSeen = v.array(v.tuple([num, num]));

export class PostgresCounters implements Counters {
  constructor(private readonly sql: SQL) {}

  /**
   * One round trip: the database function risk_reserve (migrations/postgres/0014_risk_shared_windows.sql)
   * locks, checks and counts, one entry per check. Rules that share a counter send its name once
   * per rule, and that is safe: the entries' insert skips an order already in the bucket, the
   * totals are updated once per bucket and a window is counted per check (test/risk/counters.test.ts
   * judges one counter by several rules). Each check carries its counter's latest expiry, so the
   * entry written first lives as long as the longest of its rules asks.
   */
  async reserve(orderId: string, at: number, checks: CounterCheck[], { counters, of } = joinedCounters(checks), nonce?: RedisNonce): Promise<Reservation> {
    assert(nonce === undefined, 'nonces are claimed in Redis only with counters in Redis');
    if (checks.length === 0) return { allowed: true, seen: [] };
    const wire = checks.map((c, i) => ({
      bucket: counterName(c), kind: c.kind, count_max: c.countMax, amount_max: c.amountMax, amount: c.amount, span_ms: c.spanMs,
      expires_at: counters[of[i]!]!.expiresAt, enforce: c.enforce,
    }));
    const [row] = await this.sql.unsafe('SELECT risk_reserve($1, $2, $3::text::jsonb) AS seen', [orderId, at, JSON.stringify(wire)]);
    const seen = v.parse(reservedSeen, v.parse(v.object({ seen: jsonValue }), row).seen).map(([count, amount]) => ({ count, amount }));
    if (seen.length !== checks.length) throw new Error(`assertion failed: risk_reserve answered ${seen.length} counters for ${checks.length}`);
    return { allowed: !blockedBy(checks, seen), seen };
  }

  async release(orderId: string, counters: CounterRef[]): Promise<void> {
    if (counters.length === 0) return;
    const buckets = counters.map((c) => ({ name: counterName(c), limit: isLimitCounter(c) }));
    await this.sql.begin(async (tx) => {
      await lockBuckets(tx, buckets.map((b) => b.name));
      for (const { name, limit } of buckets) {
        const [removed] = await tx.unsafe(removeQuery, [name, orderId]);
        if (removed && limit) await tx.unsafe(subtractTotalQuery, [name, v.parse(removedAmount, removed).amount]);
      }
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
