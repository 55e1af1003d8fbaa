/**
 * The SQLite store (the default): bun:sqlite in WAL mode with synchronous=FULL, so a commit
 * is on disk before anyone hears of it. Temporary structures stay in memory (temp_store). bun:sqlite is synchronous, so every commit's fsync
 * blocks the event loop: the engine's group commit is what makes that affordable.
 */
import { Database, type Statement } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Migration, migrate, migrationsOf } from './migrations.ts';
import {
  channelColumns,
  channelOf,
  channelValues,
  decodeJsonText as json,
  firstClaims,
  flowOf,
  int,
  merchantColumns,
  merchantOf,
  merchantValues,
  nonce_purge_interval_ms,
  journalOf,
  merchantEventOf,
  orderColumns,
  orderOf,
  orderValues,
  outboxOf,
  refundOf,
  timerOf,
} from './rows.ts';
import type { Batch, BatchOutcome, ChannelRow, MerchantRow, NonceClaim, OrderRow, OrderWrite, Store, WriteOutcome } from './store.ts';

/** How long a writer waits for another connection's write lock before failing. */
const sqlite_busy_timeout_ms = 5_000;
/** Expired nonces removed per purge, at most. */
const nonce_purge_rows_max = 10_000;

type Row = Record<string, unknown>;

const text = (value: unknown) => JSON.stringify(value);

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
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, channel_trade_no = excluded.channel_trade_no, completed_at = excluded.completed_at`,
    ),
    upsertRefund: db.prepare(
      `INSERT INTO refunds (id, order_id, merchant_id, refund_no, amount, status, automatic, created_at, completed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, completed_at = excluded.completed_at`,
    ),
    insertOutbox: db.prepare('INSERT INTO outbox (id, order_id, kind, payload, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?)'),
    insertMerchantEvent: db.prepare('INSERT INTO merchant_events (id, merchant_id, order_id, type, data, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
    upsertTimer: db.prepare(
      `INSERT INTO timers (order_id, key, due_at, event) VALUES (?, ?, ?, ?)
       ON CONFLICT (order_id, key) DO UPDATE SET due_at = excluded.due_at, event = excluded.event, lease_until = NULL`,
    ),
    deleteTimer: db.prepare('DELETE FROM timers WHERE order_id = ? AND key = ?'),
    claimNonce: db.prepare(
      `INSERT INTO nonces (merchant_id, nonce, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (merchant_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?`,
    ),
    purgeNonces: db.prepare('DELETE FROM nonces WHERE (merchant_id, nonce) IN (SELECT merchant_id, nonce FROM nonces WHERE expires_at <= ? LIMIT ?)'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** Applies one write set; its first statement decides, and a refused write has written nothing. */
function writeOrder(s: Statements, write: OrderWrite): WriteOutcome {
  const o: OrderRow = write.order;
  if (o.version !== write.expectedVersion + 1) throw new Error('assertion failed: a write advances the version by one');
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
    s.upsertRefund.run(r.id, r.orderId, r.merchantId, r.refundNo, r.amount, r.status, r.automatic ? 1 : 0, r.createdAt, r.completedAt);
  }
  for (const x of write.outbox) s.insertOutbox.run(x.id, x.orderId, x.kind, text(x.payload), x.createdAt, x.dueAt);
  for (const e of write.merchantEvents) s.insertMerchantEvent.run(e.id, e.merchantId, e.orderId, e.type, text(e.data), e.createdAt);
  for (const t of write.timersArmed) s.upsertTimer.run(t.orderId, t.key, t.dueAt, text(t.event));
  for (const key of write.timersDisarmed) s.deleteTimer.run(o.id, key);
  return 'committed';
}

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database;
  private statements: Statements | null = null;
  private readonly queries = new Map<string, Statement>();
  private lastNoncePurge = 0;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { create: true });
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = FULL');
    this.db.exec(`PRAGMA busy_timeout = ${sqlite_busy_timeout_ms}`);
    this.db.exec('PRAGMA foreign_keys = ON');
    this.db.exec('PRAGMA temp_store = MEMORY');
  }

  async migrate(): Promise<void> {
    await migrate(
      {
        appliedVersions: async () => {
          this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
          return this.db.query('SELECT version FROM schema_migrations').all().map((r) => Number((r as Row).version));
        },
        apply: async (m: Migration, appliedAt: number) => {
          this.db.transaction(() => {
            this.db.exec(m.sql);
            this.db.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, appliedAt);
          }).immediate();
        },
      },
      migrationsOf('sqlite'),
      Date.now(),
    );
    this.statements = prepareStatements(this.db);
  }

  async commit(writes: OrderWrite[]): Promise<WriteOutcome[]> {
    return (await this.commitBatch({ writes, nonces: [], nowMs: Date.now() })).writes;
  }

  /**
   * One IMMEDIATE transaction for the whole batch. Each write's first statement is its gate
   * (the version-checked UPDATE, or the INSERT that must not collide): when the gate refuses,
   * nothing of that write was written, so no savepoint is needed — savepoints would copy every
   * page they touch into a sub-journal, which costs more than the writes themselves.
   */
  async commitBatch(batch: Batch): Promise<BatchOutcome> {
    const s = this.statements;
    if (!s) throw new Error('assertion failed: commit before migrate');
    const all = this.db.transaction((b: Batch): BatchOutcome => ({
      nonces: this.claimNonces(b.nonces, b.nowMs),
      writes: b.writes.map((write) => {
        if (write.nonce && !this.claimNonces([write.nonce], b.nowMs)[0]) return 'nonce_used';
        return writeOrder(s, write);
      }),
    }));
    return all.immediate(batch);
  }

  /** Inside commitBatch's transaction. */
  private claimNonces(claims: NonceClaim[], nowMs: number): boolean[] {
    if (claims.length === 0) return [];
    const s = this.statements!;
    if (nowMs - this.lastNoncePurge >= nonce_purge_interval_ms) {
      this.lastNoncePurge = nowMs;
      s.purgeNonces.run(nowMs, nonce_purge_rows_max);
    }
    const first = firstClaims(claims);
    return claims.map((c, i) => first[i]! && s.claimNonce.run(c.merchantId, c.nonce, c.expiresAt, nowMs).changes === 1);
  }

  private query(sql: string): Statement {
    let statement = this.queries.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.queries.set(sql, statement);
    }
    return statement;
  }

  private all(sql: string, ...params: unknown[]): Row[] {
    return this.query(sql).all(...(params as never[])) as Row[];
  }

  async loadOrder(orderId: string) {
    const row = this.all('SELECT * FROM orders WHERE id = ?', orderId)[0];
    return row ? orderOf(row, json) : null;
  }

  async findOrderByMerchantOrderNo(merchantId: string, merchantOrderNo: string) {
    const row = this.all('SELECT * FROM orders WHERE merchant_id = ? AND merchant_order_no = ?', merchantId, merchantOrderNo)[0];
    return row ? orderOf(row, json) : null;
  }

  async listJournal(orderId: string) {
    return this.all('SELECT * FROM journal WHERE order_id = ? ORDER BY seq', orderId).map((r) => journalOf(r, json));
  }

  async listTimers(orderId: string) {
    return this.all('SELECT * FROM timers WHERE order_id = ? ORDER BY key', orderId).map((r) => timerOf(r, json));
  }

  async dueTimers(nowMs: number, limit: number) {
    return this.all('SELECT * FROM timers WHERE due_at <= ? ORDER BY due_at, order_id, key LIMIT ?', nowMs, limit).map((r) => timerOf(r, json));
  }

  async listOutbox(orderId: string) {
    return this.all('SELECT * FROM outbox WHERE order_id = ? ORDER BY id', orderId).map((r) => outboxOf(r, json));
  }

  async listMerchantEvents(orderId: string) {
    return this.all('SELECT * FROM merchant_events WHERE order_id = ? ORDER BY id', orderId).map((r) => merchantEventOf(r, json));
  }

  async listFlows(orderId: string) {
    return this.all('SELECT * FROM flows WHERE order_id = ? ORDER BY id', orderId).map(flowOf);
  }

  async listRefunds(orderId: string) {
    return this.all('SELECT * FROM refunds WHERE order_id = ? ORDER BY id', orderId).map(refundOf);
  }

  async findRefund(refundId: string) {
    const row = this.all('SELECT * FROM refunds WHERE id = ?', refundId)[0];
    return row ? refundOf(row) : null;
  }

  async listMerchantEventsAfter(merchantId: string, afterId: string | null, limit: number) {
    const rows = this.all('SELECT * FROM merchant_events WHERE merchant_id = ? AND id > ? ORDER BY id LIMIT ?', merchantId, afterId ?? '', limit);
    return rows.map((r) => merchantEventOf(r, json));
  }

  async insertMerchant(merchant: MerchantRow) {
    const sql = `INSERT INTO merchants (${merchantColumns.join(', ')}) VALUES (${merchantColumns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
    return this.query(sql).run(...(merchantValues(merchant, text) as never[])).changes === 1 ? ('inserted' as const) : ('exists' as const);
  }

  async loadMerchant(merchantId: string) {
    const row = this.all('SELECT * FROM merchants WHERE id = ?', merchantId)[0];
    return row ? merchantOf(row, json) : null;
  }

  async updateMerchant(m: MerchantRow) {
    this.query('UPDATE merchants SET name = ?, notify_url = ?, methods = ?, status = ?, updated_at = ? WHERE id = ?')
      .run(m.name, m.notifyUrl, text(m.methods), m.status, m.updatedAt, m.id);
  }

  async insertChannel(channel: ChannelRow) {
    const sql = `INSERT INTO channels (${channelColumns.join(', ')}) VALUES (${channelColumns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
    return this.query(sql).run(...(channelValues(channel, text) as never[])).changes === 1 ? ('inserted' as const) : ('exists' as const);
  }

  async loadChannel(code: string) {
    const row = this.all('SELECT * FROM channels WHERE code = ?', code)[0];
    return row ? channelOf(row, json) : null;
  }

  async listChannels() {
    return this.all('SELECT * FROM channels ORDER BY code').map((r) => channelOf(r, json));
  }

  async updateChannel(c: ChannelRow) {
    this.query(
      'UPDATE channels SET methods = ?, currencies = ?, weight = ?, single_limit = ?, daily_limit = ?, status = ?, config_enc = ?, updated_at = ? WHERE code = ?',
    ).run(text(c.methods), text(c.currencies), c.weight, c.singleLimit, c.dailyLimit, c.status, c.configEnc, c.updatedAt, c.code);
  }

  async outboxBacklog(): Promise<number> {
    return int(this.all("SELECT count(*) AS n FROM outbox WHERE status = 'pending'")[0]!.n);
  }

  async ping(): Promise<void> {
    this.query('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
