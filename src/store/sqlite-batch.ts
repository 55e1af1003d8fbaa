/**
 * What a SQLite write transaction does, synchronously, on one connection: the pragmas every
 * connection gets, and BatchWriter, which applies a Batch (order write sets, nonce claims and
 * the hot path's records) in one IMMEDIATE transaction, and the store's side writes in another.
 * It runs on the writer thread (sqlite-writer.ts).
 */
import { Database, SQLiteError } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeJsonText as text, firstClaims, merchantEventUpdatesOf, nonce_purge_interval_ms, nonce_purge_rows_max, orderColumns, resultsWritten, orderValues, outboxUpdatesOf } from './rows.ts';
import type { Batch, BatchOutcome, NonceClaim, OrderRow, OrderWrite, WriteOutcome } from './store.ts';
import { applyOps, runSync, type Row, type Statement } from '../balance/ledger.ts';
import { StatementCache } from './statement-cache.ts';

/** How long a connection waits for another connection's write lock before failing. */
const sqlite_busy_timeout_ms = 5_000;

/** Opens a connection with the settings durability depends on (WAL, synchronous=FULL). */
export function openSqliteDatabase(path: string): Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true });
  // First: switching a new database to WAL takes a lock that processes starting together contend for.
  db.exec(`PRAGMA busy_timeout = ${sqlite_busy_timeout_ms}`);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA temp_store = MEMORY');
  // Fewer, larger checkpoints: pages the same hot rows dirty again and again are copied back once.
  db.exec('PRAGMA wal_autocheckpoint = 8000');
  return db;
}


function prepareStatements(db: Database) {
  const placeholders = orderColumns.map(() => '?').join(', ');
  return {
    insertOrder: db.prepare(`INSERT INTO orders (${orderColumns.join(', ')}) VALUES (${placeholders}) ON CONFLICT DO NOTHING`),
    updateOrder: db.prepare(
      `UPDATE orders SET status = ?, paid_amount = ?, refunded_amount = ?, updated_at = ?, machine_version = ?, version = ?, snapshot = ?
       WHERE id = ? AND version = ?`,
    ),
    insertJournal: db.prepare('INSERT INTO journal (order_id, seq, at, event, state_before, state_after, effects) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    upsertFlow: db.prepare(
      `INSERT INTO flows (id, order_id, method, channel, amount, status, channel_trade_no, created_at, completed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, status = excluded.status, channel_trade_no = excluded.channel_trade_no, completed_at = excluded.completed_at`,
    ),
    upsertRefund: db.prepare(
      `INSERT INTO refunds (id, order_id, merchant_id, refund_no, amount, status, automatic, created_at, completed_at, channel_flow_id, channel_amount, reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, completed_at = excluded.completed_at`,
    ),
    insertOutbox: db.prepare('INSERT INTO outbox (id, order_id, kind, payload, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?)'),
    // One writer: one more than the largest seq is commit order (what GET /v1/events pages by).
    insertMerchantEvent: db.prepare(
      `INSERT INTO merchant_events (id, merchant_id, order_id, type, data, created_at, seq)
       VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM merchant_events))`,
    ),
    upsertTimer: db.prepare(
      `INSERT INTO timers (order_id, key, due_at, event) VALUES (?, ?, ?, ?)
       ON CONFLICT (order_id, key) DO UPDATE SET due_at = excluded.due_at, event = excluded.event, lease_until = NULL`,
    ),
    deleteTimer: db.prepare('DELETE FROM timers WHERE order_id = ? AND key = ?'),
    claimNonce: db.prepare(
      `INSERT INTO nonces (merchant_id, nonce, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (merchant_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?`,
    ),
    finishOutbox: db.prepare(
      'UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, lease_until = NULL, due_at = ?, completed_at = ? WHERE id = ? AND claims = COALESCE(?, claims)',
    ),
    insertNotificationAttempt: db.prepare(
      'INSERT INTO notification_attempts (id, event_id, attempted_at, http_status, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    updateMerchantEvent: db.prepare('UPDATE merchant_events SET status = ?, attempts = attempts + 1, delivered_at = ? WHERE id = ?'),
    insertCallback: db.prepare(
      'INSERT INTO callback_log (id, provider, channel_code, headers, body, received_at, verified, order_id, flow_id, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    updateCallback: db.prepare('UPDATE callback_log SET verified = ?, order_id = ?, flow_id = ?, outcome = ? WHERE id = ?'),
    purgeNonces: db.prepare('DELETE FROM nonces WHERE (merchant_id, nonce) IN (SELECT merchant_id, nonce FROM nonces WHERE expires_at <= ? LIMIT ?)'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** Applies one write set; its first statement decides, and a refused write has written nothing. */
function writeOrder(s: Statements, write: OrderWrite): WriteOutcome {
  const o: OrderRow = write.order;
  if (write.expectedVersion === 0) {
    if (s.insertOrder.run(...(orderValues(o, text) as never[])).changes === 0) return 'duplicate_order';
  } else {
    const args = [o.status, o.paidAmount, o.refundedAmount, o.updatedAt, o.machineVersion, o.version, text(o.snapshot), o.id, write.expectedVersion];
    if (s.updateOrder.run(...(args as never[])).changes === 0) return 'version_conflict';
  }
  const j = write.journal;
  s.insertJournal.run(j.orderId, j.seq, j.at, text(j.event), text(j.stateBefore), text(j.stateAfter), text(j.effects));
  for (const f of write.flows) s.upsertFlow.run(f.id, f.orderId, f.method, f.channel, f.amount, f.status, f.channelTradeNo, f.createdAt, f.completedAt);
  for (const r of write.refunds) {
    s.upsertRefund.run(r.id, r.orderId, r.merchantId, r.refundNo, r.amount, r.status, r.automatic ? 1 : 0, r.createdAt, r.completedAt, r.channelFlowId, r.channelAmount, r.reason);
  }
  for (const x of write.outbox) s.insertOutbox.run(x.id, x.orderId, x.kind, text(x.payload), x.createdAt, x.dueAt);
  for (const e of write.merchantEvents) s.insertMerchantEvent.run(e.id, e.merchantId, e.orderId, e.type, text(e.data), e.createdAt);
  for (const t of write.timersArmed) s.upsertTimer.run(t.orderId, t.key, t.dueAt, text(t.event));
  for (const key of write.timersDisarmed) s.deleteTimer.run(o.id, key);
  return 'committed';
}

/**
 * One statement of a side write (sqlite-side-writes.ts): the store wants its rows (RETURNING,
 * SELECT) or how many rows it changed.
 */
export type SideStatement = Statement & { want: 'rows' | 'changes' };
export type SideResult = Row[] | number;
/** What became of one side write: its statements' results, or why it wrote nothing. */
export type SideOutcome = { results: SideResult[] } | { error: string };

/** Runs statements given as data on one connection, each prepared once (a bounded cache); `finalize` before the connection closes. */
export function statementRunner(db: Database) {
  const prepared = new StatementCache(db);
  return {
    all: ({ sql, params }: Statement): Row[] => prepared.get(sql).all(...(params as never[])) as Row[],
    run: (s: SideStatement): SideResult => (s.want === 'rows' ? prepared.get(s.sql).all(...(s.params as never[])) as Row[] : prepared.get(s.sql).run(...(s.params as never[])).changes),
    finalize: () => prepared.finalize(),
  };
}

/**
 * Runs `work` in a savepoint: kept when it says so, rolled back when it does not or throws (a
 * throw then fails the whole transaction as well).
 */
function inSavepoint<T>(db: Database, work: () => { keep: boolean; value: T }): T {
  db.run('SAVEPOINT write');
  try {
    const { keep, value } = work();
    if (!keep) db.run('ROLLBACK TO write');
    db.run('RELEASE write');
    return value;
  } catch (error) {
    db.run('ROLLBACK TO write');
    db.run('RELEASE write');
    throw error;
  }
}

/**
 * A write with ledger entries (a balance freeze, capture, release or refund) runs inside a
 * savepoint: its freeze is conditional on the payer's available balance, which is known only
 * after the order's gate passed, and a refused freeze must leave no trace of the write.
 */
function writeWithLedger(db: Database, s: Statements, ledger: (statement: Statement) => Row[], write: OrderWrite): WriteOutcome {
  return inSavepoint(db, (): { keep: boolean; value: WriteOutcome } => {
    const outcome = writeOrder(s, write);
    const refused = outcome === 'committed' && runSync(applyOps(write.ledger ?? []), ledger) === 'insufficient_balance';
    return refused ? { keep: false, value: 'insufficient_balance' } : { keep: true, value: outcome };
  });
}

export class BatchWriter {
  private readonly statements: Statements;
  private readonly runner: ReturnType<typeof statementRunner>;
  private lastNoncePurge = 0;

  constructor(private readonly db: Database) {
    this.statements = prepareStatements(db);
    this.runner = statementRunner(db);
  }

  /**
   * One IMMEDIATE transaction for the whole batch. Each write's first statement is its gate
   * (the version-checked UPDATE, or the INSERT that must not collide): when the gate refuses,
   * nothing of that write was written, so no savepoint is needed — savepoints would copy every
   * page they touch into a sub-journal, which costs more than the writes themselves. The gate
   * argument needs the batch to hold what assertBatch checks (SqliteStore checks it before
   * sending the batch here).
   */
  commitBatch(batch: Batch): BatchOutcome {
    const s = this.statements;
    const all = this.db.transaction((b: Batch): BatchOutcome => {
      // Writes (with their nonces) first, then the batch's own claims: the order Postgres uses,
      // so a nonce claimed twice in one batch is won by the same claim on both stores.
      const writes = b.writes.map((write): WriteOutcome => {
        if (write.nonce && !this.claimNonces([write.nonce], b.nowMs)[0]) return 'nonce_used';
        return write.ledger?.length ? writeWithLedger(this.db, s, this.runner.all, write) : writeOrder(s, write);
      });
      const nonces = this.claimNonces(b.nonces, b.nowMs);
      return { writes, nonces, ...this.record(b) };
    });
    return all.immediate(batch);
  }

  /** The batch's records: outbox results, delivery attempts, callbacks and their outcomes (store.ts, Batch); which results were written. */
  private record(batch: Batch): Pick<BatchOutcome, 'outboxResults' | 'notifications'> {
    const s = this.statements;
    const flag = (verified: boolean | null) => (verified === null ? null : Number(verified));
    for (const c of batch.callbacks) {
      s.insertCallback.run(c.id, c.provider, c.channelCode, text(c.headers), c.body, c.receivedAt, flag(c.verified), c.orderId, c.flowId, c.outcome);
    }
    for (const o of batch.callbackOutcomes) s.updateCallback.run(flag(o.verified), o.orderId, o.flowId, o.outcome, o.callbackId);
    for (const { attempt: a, eventId } of batch.notifications) s.insertNotificationAttempt.run(a.id, eventId, a.at, a.httpStatus, a.error, a.durationMs);
    const changed = outboxUpdatesOf(batch).filter((u) => s.finishOutbox.run(u.status, u.error, u.dueAt, u.completedAt, u.id, u.claim).changes > 0);
    const changedIds = new Set(changed.map((u) => u.id));
    const written = resultsWritten(batch.notifications, changedIds);
    for (const u of merchantEventUpdatesOf(batch.notifications.filter((_, i) => written[i]))) s.updateMerchantEvent.run(u.status, u.deliveredAt, u.id);
    return { outboxResults: resultsWritten(batch.outboxResults, changedIds), notifications: written };
  }

  /**
   * Side writes, each all or nothing, together in one IMMEDIATE transaction (one fsync for all).
   * A write of one statement is atomic on its own; a longer one runs in a savepoint, so that
   * one that fails leaves nothing of itself and the others still commit.
   */
  sideWrites(writes: SideStatement[][]): SideOutcome[] {
    return this.db.transaction(() => writes.map((write) => {
      if (write.length === 1) return this.sideWrite(write);
      return inSavepoint(this.db, () => {
        const outcome = this.sideWrite(write);
        return { keep: !('error' in outcome), value: outcome };
      });
    })).immediate();
  }

  /** SQLite's refusal of a write is that write's outcome; anything else thrown is a bug, and fails the whole message as one. */
  private sideWrite(write: SideStatement[]): SideOutcome {
    try {
      return { results: write.map(this.runner.run) };
    } catch (error) {
      if (!(error instanceof SQLiteError)) throw error;
      return { error: error.message };
    }
  }

  /** Finalizes the statements and closes the connection (an unfinalized statement keeps it open). */
  close(): void {
    for (const statement of Object.values(this.statements)) statement.finalize();
    this.runner.finalize();
    this.db.close();
  }

  private claimNonces(claims: NonceClaim[], nowMs: number): boolean[] {
    if (claims.length === 0) return [];
    const s = this.statements;
    if (nowMs - this.lastNoncePurge >= nonce_purge_interval_ms) {
      this.lastNoncePurge = nowMs;
      s.purgeNonces.run(nowMs, nonce_purge_rows_max);
    }
    const first = firstClaims(claims);
    return claims.map((c, i) => first[i]! && s.claimNonce.run(c.merchantId, c.nonce, c.expiresAt, nowMs).changes === 1);
  }
}
