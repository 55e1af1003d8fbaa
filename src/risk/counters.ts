/**
 * Exact counters for limits and velocities. A reservation checks every counter an order needs
 * and, when no rejecting one would be exceeded, counts the order in all of them — one atomic
 * step, so concurrent creates (in one process or many) can never overshoot. An order is a
 * member of a counter, not an increment: releasing it twice, or reserving it twice, is the
 * same as once. Implementations: Redis (a Lua script, counters-redis.ts) and the store
 * (SQLite: one IMMEDIATE transaction; Postgres: a transaction under advisory locks).
 */
import type { SQL } from 'bun';
import type { Database } from 'bun:sqlite';
import * as v from 'valibot';
import { type CounterCheck, type Seen, counterHit } from './evaluate.ts';

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
const limitQuery = 'SELECT count(*) AS n, coalesce(sum(amount), 0) AS a FROM risk_counter_entries WHERE bucket = $1';
const insertQuery = 'INSERT INTO risk_counter_entries (bucket, order_id, amount, at, expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (bucket, order_id) DO NOTHING';
const seenOf = (row: unknown): Seen => {
  const r = v.parse(seenRow, row);
  return { count: r.n, amount: r.a };
};

/** A window holds the orders after `at - span_ms`; an order exactly span_ms old has left it. */
const sinceOf = (check: CounterCheck, at: number): number => at - check.spanMs;

export class SqliteCounters implements Counters {
  private readonly reserveTx;

  constructor(private readonly db: Database) {
    const byWindow = db.query(windowQuery.replace(/\$(\d)/g, '?$1'));
    const byLimit = db.query(limitQuery.replace(/\$(\d)/g, '?$1'));
    const insert = db.query(insertQuery.replace(/\$(\d)/g, '?$1'));
    // bun:sqlite is synchronous: nothing else in this process runs inside the transaction, and
    // IMMEDIATE holds the database's write lock against other processes from the first read.
    this.reserveTx = db.transaction((orderId: string, at: number, checks: CounterCheck[]): Reservation => {
      const seen = checks.map((c) => seenOf(c.kind === 'window' ? byWindow.get(c.bucket, sinceOf(c, at)) : byLimit.get(c.bucket)));
      const allowed = !blockedBy(checks, seen);
      if (allowed) for (const c of checks) insert.run(c.bucket, orderId, c.amount, at, c.expiresAt);
      return { allowed, seen };
    });
  }

  async reserve(orderId: string, at: number, checks: CounterCheck[]): Promise<Reservation> {
    return this.reserveTx.immediate(orderId, at, checks);
  }

  async release(orderId: string, buckets: string[]): Promise<void> {
    const remove = this.db.query('DELETE FROM risk_counter_entries WHERE bucket = ?1 AND order_id = ?2');
    this.db.transaction(() => buckets.forEach((b) => remove.run(b, orderId)))();
  }

  async purge(now: number): Promise<void> {
    this.db.query('DELETE FROM risk_counter_entries WHERE expires_at <= ?1').run(now);
  }
}

export class PostgresCounters implements Counters {
  constructor(private readonly sql: SQL) {}

  async reserve(orderId: string, at: number, checks: CounterCheck[]): Promise<Reservation> {
    return this.sql.begin(async (tx) => {
      // Sorted, so two orders sharing buckets take their locks in one order and never deadlock.
      for (const bucket of [...new Set(checks.map((c) => c.bucket))].sort()) {
        await tx.unsafe('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [bucket]);
      }
      const seen: Seen[] = [];
      for (const c of checks) {
        const [row] = c.kind === 'window' ? await tx.unsafe(windowQuery, [c.bucket, sinceOf(c, at)]) : await tx.unsafe(limitQuery, [c.bucket]);
        seen.push(seenOf(row));
      }
      const allowed = !blockedBy(checks, seen);
      if (allowed) for (const c of checks) await tx.unsafe(insertQuery, [c.bucket, orderId, c.amount, at, c.expiresAt]);
      return { allowed, seen };
    });
  }

  async release(orderId: string, buckets: string[]): Promise<void> {
    if (buckets.length === 0) return;
    const placeholders = buckets.map((_, i) => `$${i + 2}`).join(', ');
    await this.sql.unsafe(`DELETE FROM risk_counter_entries WHERE order_id = $1 AND bucket IN (${placeholders})`, [orderId, ...buckets]);
  }

  async purge(now: number): Promise<void> {
    await this.sql.unsafe('DELETE FROM risk_counter_entries WHERE expires_at <= $1', [now]);
  }
}
