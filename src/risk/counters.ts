/**
 * Exact counters for limits and velocities. A reservation checks every counter an order needs
 * and, when no rejecting one would be exceeded, counts the order in all of them — one atomic
 * step, so concurrent creates (in one process or many) can never overshoot. An order is a
 * member of a counter, not an increment: releasing it twice, or reserving it twice, is the
 * same as once. Implementations: Redis (a Lua script, counters-redis.ts), Postgres (one
 * transaction under advisory locks, below) and, for a single instance on SQLite, this
 * process's memory re-seeded from the orders at start (counters-memory.ts).
 */
import type { SQL } from 'bun';
import * as v from 'valibot';
import { type CounterCheck, type Seen, counterHit, isLimitBucket } from './evaluate.ts';

export type Reservation = { allowed: boolean; seen: Seen[] };

export interface Counters {
  reserve(orderId: string, at: number, checks: CounterCheck[]): Promise<Reservation>;
  /** Takes the order out of these counters (buckets it is not in are left alone). */
  release(orderId: string, buckets: string[]): Promise<void>;
  /** Forgets counters whose period or window is over. */
  purge(now: number): Promise<void>;
}

export const blockedBy = (checks: CounterCheck[], seen: Seen[]): boolean => checks.some((c, i) => c.enforce && counterHit(c, seen[i]!));

const num = v.pipe(v.union([v.number(), v.string(), v.bigint(), v.null()]), v.transform((x) => Number(x ?? 0)));
const seenRow = v.object({ n: num, a: num });

const windowQuery = 'SELECT count(*) AS n, 0 AS a FROM risk_counter_entries WHERE bucket = $1 AND at > $2';
const limitQuery = 'SELECT count AS n, amount AS a FROM risk_counter_totals WHERE bucket = $1';
const insertQuery = 'INSERT INTO risk_counter_entries (bucket, order_id, amount, at, expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (bucket, order_id) DO NOTHING';
const addTotalQuery = `INSERT INTO risk_counter_totals (bucket, count, amount, expires_at) VALUES ($1, 1, $2, $3)
  ON CONFLICT (bucket) DO UPDATE SET count = risk_counter_totals.count + 1, amount = risk_counter_totals.amount + excluded.amount`;
const removeQuery = 'DELETE FROM risk_counter_entries WHERE bucket = $1 AND order_id = $2 RETURNING amount';
const subtractTotalQuery = 'UPDATE risk_counter_totals SET count = count - 1, amount = amount - $2 WHERE bucket = $1';
const purgeQueries = ['DELETE FROM risk_counter_entries WHERE expires_at <= $1', 'DELETE FROM risk_counter_totals WHERE expires_at <= $1'];

const seenOf = (row: unknown): Seen => {
  if (row === null || row === undefined) return { count: 0, amount: 0 };
  const r = v.parse(seenRow, row);
  return { count: r.n, amount: r.a };
};
const removedAmount = v.object({ amount: num });

/** A window holds the orders after `at - span_ms`; an order exactly span_ms old has left it. */
const sinceOf = (check: CounterCheck, at: number): number => at - check.spanMs;

export class PostgresCounters implements Counters {
  constructor(private readonly sql: SQL) {}

  async reserve(orderId: string, at: number, checks: CounterCheck[]): Promise<Reservation> {
    return this.sql.begin(async (tx) => {
      await lockBuckets(tx, checks.map((c) => c.bucket));
      const seen: Seen[] = [];
      for (const c of checks) {
        const [row] = c.kind === 'window' ? await tx.unsafe(windowQuery, [c.bucket, sinceOf(c, at)]) : await tx.unsafe(limitQuery, [c.bucket]);
        seen.push(seenOf(row));
      }
      const allowed = !blockedBy(checks, seen);
      if (!allowed) return { allowed, seen };
      for (const c of checks) {
        const inserted = ((await tx.unsafe(insertQuery, [c.bucket, orderId, c.amount, at, c.expiresAt])) as unknown as { count: number }).count === 1;
        if (inserted && c.kind === 'limit') await tx.unsafe(addTotalQuery, [c.bucket, c.amount, c.expiresAt]);
      }
      return { allowed, seen };
    });
  }

  async release(orderId: string, buckets: string[]): Promise<void> {
    if (buckets.length === 0) return;
    await this.sql.begin(async (tx) => {
      await lockBuckets(tx, buckets);
      for (const bucket of buckets) {
        const [removed] = await tx.unsafe(removeQuery, [bucket, orderId]);
        if (removed && isLimitBucket(bucket)) await tx.unsafe(subtractTotalQuery, [bucket, v.parse(removedAmount, removed).amount]);
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
