/**
 * The SQLite store (the default): bun:sqlite in WAL mode with synchronous=FULL, so a commit is
 * on disk before anyone hears of it. Order and nonce writes go to a writer thread (group
 * committed there, one fsync per batch, off the event loop); reads and the rare operator
 * writes use this thread's own connection.
 */
import type { Database, Statement } from 'bun:sqlite';
import { StatementCache } from './statement-cache.ts';
import { type MigrationExecutor, type MigrationTx, migrate, migrationsOf } from './migrations.ts';
import { openSqliteDatabase, type SideOutcome, type SideResult, type SideStatement } from './sqlite-batch.ts';
import { SideWrites } from './sqlite-side-writes.ts';
import {
  adminAuditOf,
  orderSearchFilter,
  orderStatsOf,
  orderStatsSql,
  reconDiffColumns,
  reconDiffOf,
  reconDiffValues,
  reconFactsFlowColumns,
  reconFactsOf,
  reconFactsRefundColumns,
  reconFlowColumns,
  reconPendingOf,
  reconRecordOf,
  reconRefundColumns,
  reconRunColumns,
  reconRunOf,
  reconRunValues,
  alertColumns,
  alertFilter,
  alertOf,
  alertValues,
  callbackOf,
  breakerColumns,
  breakerOf,
  breakerTransitionOf,
  breakerValues,
  channelColumns,
  channelOf,
  closedBreaker,
  transitionValues,
  channelValues,
  decodeJsonText as json,
  encodeJsonText as text,
  flowOf,
  assertBatch,
  emptyBatch,
  int,
  merchantColumns,
  merchantOf,
  merchantValues,
  journalOf,
  merchantEventOf,
  orderOf,
  claimedOutboxOf,
  outboxOf,
  first_journal_page,
  per_order_rows_max,
  recon_facts_page_max,
  parkedOf,
  refundOf,
  timerOf,
  timerRefRecords,
  timersInOrder,
} from './rows.ts';
import { AssertionError } from '../failures.ts';
import { purgeableCallbacksSql } from './retention.ts';
import type {
  AdminAuditRow, AdminSessionRow, AlertQuery, AlertRow, Batch, BatchOutcome, CallbackOutcome, CallbackRow, ChannelRow, JournalPage, LedgerStore, MerchantRow, NotificationResult, OrderSearch,
  OrderWrite, OutboxResult, ReconDiffRow, ReconFacts, ReconRunResult, ReconRunRow, ReconRunsQuery, Store, TimerRef, TimerRow, WriteOutcome, BreakerRow, BreakerTransitionRow,
} from './store.ts';
import { runSync } from '../balance/ledger.ts';

type Row = Record<string, unknown>;

/** A message waiting for the writer thread's answer. */
type Pending = { resolve: (outcome: never) => void; reject: (error: Error) => void };

/**
 * The writer thread: one connection that does every order and nonce write, so commits and their
 * fsyncs never block the event loop.
 */
class WriterThread {
  private readonly worker = new Worker(new URL('./sqlite-writer.ts', import.meta.url));
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;

  static async start(path: string): Promise<WriterThread> {
    const thread = new WriterThread();
    await new Promise<void>((resolve, reject) => {
      thread.worker.onmessage = (message) => (message.data.ready ? resolve() : reject(new Error('writer did not start')));
      thread.worker.onerror = (event) => reject(new Error(`writer failed to start: ${event.message}`));
      thread.worker.postMessage({ path });
    });
    thread.worker.onmessage = (message) => thread.answer(message.data);
    thread.worker.onerror = (event) => thread.fail(new Error(`SQLite writer thread died: ${event.message}`));
    // A thread that ends without an error (killed, or out of memory) answers nothing more either.
    thread.worker.addEventListener('close', () => thread.fail(new Error('SQLite writer thread ended')));
    return thread;
  }

  commit(batch: Batch): Promise<BatchOutcome> {
    return this.send({ batch });
  }

  sideWrites(sideWrites: SideStatement[][]): Promise<SideOutcome[]> {
    return this.send({ sideWrites });
  }

  /** The answer's type is the one sqlite-writer.ts gives to this kind of message. */
  private send<Outcome>(message: { batch: Batch } | { sideWrites: SideStatement[][] }): Promise<Outcome> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, json: JSON.stringify(message) });
    });
  }

  private answer(data: { id: number; outcome?: never; error?: string; bug?: boolean }): void {
    const waiting = this.pending.get(data.id);
    if (!waiting) return;
    this.pending.delete(data.id);
    if (data.outcome) waiting.resolve(data.outcome);
    else waiting.reject(data.bug ? new AssertionError(`in the SQLite writer: ${data.error}`) : new Error(`SQLite write failed: ${data.error}`));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }

  /** Why the thread can write no more (it died), or null while it can. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Closes the writer's connection (after the batches already sent), then ends the thread. */
  async stop(): Promise<void> {
    if (!this.failure) {
      await new Promise<void>((resolve) => {
        this.worker.onmessage = (message) => (message.data.closed ? resolve() : this.answer(message.data));
        this.worker.postMessage({ close: true });
      });
    }
    this.worker.terminate();
  }
}

const insertTransition = 'INSERT INTO breaker_transitions (id, code, at, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?, ?)';

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database;
  private writer: WriterThread | null = null;
  private side: SideWrites | null = null;
  private readonly queries: StatementCache;
  /** Ledger programs run on this thread's connection, in IMMEDIATE transactions of their own (see `write`). */
  readonly ledger: LedgerStore = {
    transact: async (program) => this.write(() => runSync(program, (st) => this.all(st.sql, ...st.params))),
    rows: async (st) => this.all(st.sql, ...st.params),
  };

  constructor(private readonly path: string) {
    this.db = openSqliteDatabase(path);
    this.queries = new StatementCache(this.db);
  }

  async migrate(): Promise<string[]> {
    await migrate(this.migrationExecutor(), migrationsOf('sqlite'), Date.now());
    this.writer ??= await WriterThread.start(this.path);
    const writer = this.writer;
    this.side ??= new SideWrites((writes) => writer.sideWrites(writes));
    return [];
  }

  /**
   * Migrations run on this thread's connection before the writer thread starts. The work is
   * async only in form (bun:sqlite is synchronous), and nothing else uses the store while it
   * migrates, so an explicit BEGIN IMMEDIATE … COMMIT around it holds.
   */
  private migrationExecutor(): MigrationExecutor {
    const db = this.db;
    const tx: MigrationTx = {
      script: async (sql) => void db.exec(sql),
      rows: async (sql, params) => {
        const statement = db.prepare(sql);
        try {
          return statement.all(...(params as never[])) as Row[];
        } finally {
          statement.finalize();
        }
      },
    };
    return {
      locked: async (work) => {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await work(tx);
          db.exec('COMMIT');
          return result;
        } catch (error) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw error;
        }
      },
    };
  }

  async commit(writes: OrderWrite[]): Promise<WriteOutcome[]> {
    return (await this.commitBatch({ ...emptyBatch(Date.now()), writes })).writes;
  }

  async commitBatch(batch: Batch): Promise<BatchOutcome> {
    if (!this.writer) throw new AssertionError('commit before migrate');
    // Checked here rather than on the writer thread: the caller hears of a bug at once, and nothing is sent.
    assertBatch(batch);
    return this.writer.commit(batch);
  }

  private query(sql: string): Statement {
    return this.queries.get(sql);
  }

  private all(sql: string, ...params: unknown[]): Row[] {
    return this.query(sql).all(...(params as never[])) as Row[];
  }

  /**
   * A write on this thread's connection (operator data, timer and outbox claims). It takes the
   * write lock up front (IMMEDIATE), so it waits out the writer thread's commits under
   * busy_timeout instead of failing when its read snapshot went stale before it could write.
   */
  private write<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  /** Statements written together, all or nothing, on the writer thread (sqlite-side-writes.ts): the hot path's small writes. */
  private sideWrite(statements: SideStatement[]): Promise<SideResult[]> {
    if (!this.side) throw new AssertionError('write before migrate');
    return this.side.run(statements);
  }

  /** One statement as a side write; the rows it returns. */
  private async sideRows(sql: string, ...params: unknown[]): Promise<Row[]> {
    const [rows] = await this.sideWrite([{ sql, params, want: 'rows' }]);
    if (!Array.isArray(rows)) throw new AssertionError(`the writer answered a side write's rows with ${typeof rows}`);
    return rows;
  }

  /** Side writes of one statement each, as one; how many rows each changed. */
  private async sideChanges(sql: string, paramsEach: unknown[][]): Promise<number[]> {
    const results = await this.sideWrite(paramsEach.map((params) => ({ sql, params, want: 'changes' })));
    return results.map((r) => {
      if (typeof r !== 'number') throw new AssertionError('the writer answered a side write\'s changes with rows');
      return r;
    });
  }

  async loadOrder(orderId: string) {
    const row = this.all('SELECT * FROM orders WHERE id = ?', orderId)[0];
    return row ? orderOf(row, json) : null;
  }

  async scanOrders(afterId: string, limit: number) {
    return this.all('SELECT * FROM orders WHERE id > ? ORDER BY id LIMIT ?', afterId, limit).map((r) => orderOf(r, json));
  }

  async listFailedOutbox(limit: number) {
    return this.all("SELECT * FROM outbox WHERE status = 'failed' ORDER BY id LIMIT ?", limit).map((r) => outboxOf(r, json));
  }

  async findOrderByMerchantOrderNo(merchantId: string, merchantOrderNo: string) {
    const row = this.all('SELECT * FROM orders WHERE merchant_id = ? AND merchant_order_no = ?', merchantId, merchantOrderNo)[0];
    return row ? orderOf(row, json) : null;
  }

  async listJournal(orderId: string, page: JournalPage = first_journal_page) {
    return this.all('SELECT * FROM journal WHERE order_id = ? AND seq > ? ORDER BY seq LIMIT ?', orderId, page.afterSeq, page.limit).map((r) => journalOf(r, json));
  }

  async listTimers(orderId: string) {
    return this.all('SELECT * FROM timers WHERE order_id = ? ORDER BY key LIMIT ?', orderId, per_order_rows_max).map((r) => timerOf(r, json));
  }

  async claimDueTimers(nowMs: number, leaseMs: number, limit: number) {
    const rows = await this.sideRows(
      `UPDATE timers SET lease_until = ? WHERE (order_id, key) IN (
         SELECT order_id, key FROM timers WHERE due_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY due_at LIMIT ?)
       RETURNING *`,
      nowMs + leaseMs, nowMs, nowMs, limit,
    );
    return rows.map((r) => timerOf(r, json)).sort((a, b) => a.dueAt - b.dueAt);
  }

  async deleteFiredTimers(timers: TimerRow[]) {
    if (timers.length === 0) return [];
    const changed = await this.sideChanges('DELETE FROM timers WHERE order_id = ? AND key = ? AND due_at = ?', timers.map((t) => [t.orderId, t.key, t.dueAt]));
    return timers.filter((_, i) => changed[i]! > 0);
  }

  async leaseTimers(timers: TimerRow[], nowMs: number, leaseMs: number) {
    if (timers.length === 0) return [];
    const changed = await this.sideChanges(
      'UPDATE timers SET lease_until = ? WHERE order_id = ? AND key = ? AND due_at = ? AND (lease_until IS NULL OR lease_until < ?)',
      timers.map((t) => [nowMs + leaseMs, t.orderId, t.key, t.dueAt, nowMs]),
    );
    return timers.filter((_, i) => changed[i]! > 0);
  }

  async claimOutbox(kinds: readonly string[], nowMs: number, leaseMs: number, limit: number) {
    const rows = await this.sideRows(
      `UPDATE outbox SET lease_until = ?, claims = claims + 1 WHERE id IN (
         SELECT id FROM outbox WHERE status = 'pending' AND kind IN (SELECT value FROM json_each(?)) AND due_at <= ?
           AND (lease_until IS NULL OR lease_until < ?)
         ORDER BY due_at LIMIT ?)
       RETURNING *`,
      nowMs + leaseMs, JSON.stringify(kinds), nowMs, nowMs, limit,
    );
    return rows.map((r) => claimedOutboxOf(r, json)).sort((a, b) => a.dueAt - b.dueAt);
  }

  async claimOutboxRow(outboxId: string, nowMs: number, leaseMs: number) {
    const [row] = await this.sideRows(
      `UPDATE outbox SET lease_until = ?, claims = claims + 1 WHERE id = ? AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?) RETURNING *`,
      nowMs + leaseMs, outboxId, nowMs,
    );
    return row ? claimedOutboxOf(row, json) : null;
  }

  async finishOutbox(r: OutboxResult) {
    return (await this.commitBatch({ ...emptyBatch(r.at), outboxResults: [r] })).outboxResults[0]!;
  }

  async recordNotification(r: NotificationResult) {
    return (await this.commitBatch({ ...emptyBatch(r.attempt.at), notifications: [r] })).notifications[0]!;
  }

  async resendNotification(eventId: string, nowMs: number) {
    return this.write(() => {
      const changed = this.query(
        `UPDATE outbox SET status = 'pending', attempts = 0, due_at = ?, lease_until = NULL, completed_at = NULL, claims = claims + 1
         WHERE kind = 'merchant.notify' AND json_extract(payload, '$.eventId') = ?`,
      ).run(nowMs, eventId).changes;
      this.query("UPDATE merchant_events SET status = 'pending' WHERE id = ?").run(eventId);
      return changed > 0;
    });
  }

  async loadMerchantEvent(eventId: string) {
    const row = this.all(`SELECT e.*, (SELECT COALESCE(a.error, CASE WHEN a.http_status NOT BETWEEN 200 AND 299 THEN 'HTTP ' || a.http_status END) FROM notification_attempts a WHERE a.event_id = e.id ORDER BY a.attempted_at DESC, a.id DESC LIMIT 1) AS last_error FROM merchant_events e WHERE e.id = ?`, eventId)[0];
    return row ? { ...merchantEventOf(row, json), status: row.status as string, attempts: int(row.attempts), lastError: (row.last_error as string | null) ?? null } : null;
  }

  async loadMerchantEvents(eventIds: string[]) {
    if (eventIds.length === 0) return [];
    return this.all('SELECT * FROM merchant_events WHERE id IN (SELECT value FROM json_each(?))', JSON.stringify(eventIds)).map((row) => merchantEventOf(row, json));
  }

  async loadTimers(refs: TimerRef[]) {
    const rows = this.all(
      "SELECT t.* FROM json_each(?) j JOIN timers t ON t.order_id = json_extract(j.value, '$.order_id') AND t.key = json_extract(j.value, '$.key')",
      JSON.stringify(timerRefRecords(refs)),
    );
    return timersInOrder(refs, rows.map((r) => timerOf(r, json)));
  }

  async scanTimers(after: TimerRef | null, limit: number) {
    const rows = this.all('SELECT * FROM timers WHERE (order_id, key) > (?, ?) ORDER BY order_id, key LIMIT ?', after?.orderId ?? '', after?.key ?? '', limit);
    return rows.map((r) => timerOf(r, json));
  }

  async listOutbox(orderId: string) {
    return this.all('SELECT * FROM outbox WHERE order_id = ? ORDER BY id LIMIT ?', orderId, per_order_rows_max).map((r) => outboxOf(r, json));
  }

  async listMerchantEvents(orderId: string) {
    return this.all('SELECT * FROM merchant_events WHERE order_id = ? ORDER BY id LIMIT ?', orderId, per_order_rows_max).map((r) => merchantEventOf(r, json));
  }

  async listFlows(orderId: string) {
    return this.all('SELECT * FROM flows WHERE order_id = ? ORDER BY id LIMIT ?', orderId, per_order_rows_max).map(flowOf);
  }

  async loadFlow(flowId: string) {
    const row = this.all('SELECT * FROM flows WHERE id = ?', flowId)[0];
    return row ? flowOf(row) : null;
  }

  async insertCallback(c: CallbackRow) {
    await this.commitBatch({ ...emptyBatch(c.receivedAt), callbacks: [c] });
  }

  async updateCallback(outcome: CallbackOutcome) {
    await this.commitBatch({ ...emptyBatch(Date.now()), callbackOutcomes: [outcome] });
  }

  async keepCallbackPrefix(callbackId: string, body: string) {
    await this.sideChanges('UPDATE callback_log SET body = ? WHERE id = ?', [[body, callbackId]]);
  }

  async purgeCallbacks(beforeMs: number, limit: number) {
    return this.write(() => this.query(`DELETE FROM callback_log WHERE id IN (${purgeableCallbacksSql('?', '?')})`).run(beforeMs, limit).changes);
  }

  async insertAdminSession(session: AdminSessionRow) {
    this.write(() => this.query('INSERT INTO admin_sessions (id_hash, created_at, expires_at) VALUES (?, ?, ?)').run(session.idHash, session.createdAt, session.expiresAt));
  }

  async adminSessionValid(idHash: string, nowMs: number) {
    return this.all('SELECT 1 FROM admin_sessions WHERE id_hash = ? AND expires_at > ?', idHash, nowMs).length === 1;
  }

  async deleteAdminSessions(idHash: string | null) {
    this.write(() => (idHash === null ? this.query('DELETE FROM admin_sessions').run() : this.query('DELETE FROM admin_sessions WHERE id_hash = ?').run(idHash)));
  }

  async purgeAdminSessions(nowMs: number) {
    this.write(() => this.query('DELETE FROM admin_sessions WHERE expires_at <= ?').run(nowMs));
  }

  async listCallbacks(orderId: string) {
    return this.all('SELECT * FROM callback_log WHERE order_id = ? ORDER BY id LIMIT ?', orderId, per_order_rows_max).map((r) => callbackOf(r, json));
  }

  async listRefunds(orderId: string) {
    return this.all('SELECT * FROM refunds WHERE order_id = ? ORDER BY id LIMIT ?', orderId, per_order_rows_max).map(refundOf);
  }

  async findRefund(refundId: string) {
    const row = this.all('SELECT * FROM refunds WHERE id = ?', refundId)[0];
    return row ? refundOf(row) : null;
  }

  async listMerchantEventsAfter(merchantId: string, afterId: string | null, limit: number) {
    const after = afterId === null ? { seq: 0 } : this.all('SELECT seq FROM merchant_events WHERE merchant_id = ? AND id = ?', merchantId, afterId)[0];
    if (!after) return null;
    const rows = this.all('SELECT * FROM merchant_events WHERE merchant_id = ? AND seq > ? ORDER BY seq LIMIT ?', merchantId, after.seq, limit);
    return rows.map((r) => merchantEventOf(r, json));
  }

  async insertMerchant(merchant: MerchantRow) {
    const sql = `INSERT INTO merchants (${merchantColumns.join(', ')}) VALUES (${merchantColumns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
    return this.write(() => this.query(sql).run(...(merchantValues(merchant, text) as never[])).changes) === 1 ? ('inserted' as const) : ('exists' as const);
  }

  async loadMerchant(merchantId: string) {
    const row = this.all('SELECT * FROM merchants WHERE id = ?', merchantId)[0];
    return row ? merchantOf(row, json) : null;
  }

  async listMerchants(afterId: string | null, limit: number) {
    return this.all('SELECT * FROM merchants WHERE id > ? ORDER BY id LIMIT ?', afterId ?? '', limit).map((r) => merchantOf(r, json));
  }

  async updateMerchant(m: MerchantRow) {
    this.write(() =>
      this.query('UPDATE merchants SET name = ?, notify_url = ?, methods = ?, status = ?, updated_at = ?, routing = ? WHERE id = ?')
        .run(m.name, m.notifyUrl, text(m.methods), m.status, m.updatedAt, m.routing, m.id));
  }

  async insertChannel(channel: ChannelRow) {
    const sql = `INSERT INTO channels (${channelColumns.join(', ')}) VALUES (${channelColumns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
    return this.write(() => this.query(sql).run(...(channelValues(channel, text) as never[])).changes) === 1 ? ('inserted' as const) : ('exists' as const);
  }

  async loadChannel(code: string) {
    const row = this.all('SELECT * FROM channels WHERE code = ?', code)[0];
    return row ? channelOf(row, json) : null;
  }

  async collectedSince(channelCode: string, sinceMs: number) {
    const [row] = this.all(
      "SELECT coalesce(sum(amount), 0) AS collected FROM flows WHERE channel = ? AND created_at >= ? AND status IN ('succeeded', 'refunded')",
      channelCode, sinceMs,
    );
    return int(row!.collected);
  }

  async listChannels() {
    return this.all('SELECT * FROM channels ORDER BY code').map((r) => channelOf(r, json));
  }

  async updateChannel(c: ChannelRow) {
    this.write(() =>
      this.query(
        'UPDATE channels SET methods = ?, currencies = ?, weight = ?, single_limit = ?, daily_limit = ?, status = ?, config_enc = ?, updated_at = ?, fee_rate = ? WHERE code = ?',
      ).run(text(c.methods), text(c.currencies), c.weight, c.singleLimit, c.dailyLimit, c.status, c.configEnc, c.updatedAt, c.feeRate, c.code));
  }

  async loadBreakers(codes: readonly string[]) {
    if (codes.length === 0) return [];
    const rows = this.all(`SELECT * FROM channel_breakers WHERE code IN (${codes.map(() => '?').join(', ')})`, ...codes).map(breakerOf);
    return codes.map((code) => rows.find((r) => r.code === code) ?? closedBreaker(code));
  }

  async swapBreaker(b: BreakerRow, t: BreakerTransitionRow) {
    const insert = `INSERT INTO channel_breakers (${breakerColumns.join(', ')}) VALUES (${breakerColumns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
    return this.write(() => {
      // The first move of a breaker creates its row; every later one is a compare-and-set on the version.
      const swapped = b.version === 1
        ? this.query(insert).run(...(breakerValues(b, Number) as never[])).changes === 1
        : this.query('UPDATE channel_breakers SET state = ?, forced = ?, opened_at = ?, since = ?, version = ?, probe_until = ? WHERE code = ? AND version = ?')
          .run(b.state, Number(b.forced), b.openedAt, b.since, b.version, b.probeUntil, b.code, b.version - 1).changes === 1;
      if (swapped) this.query(insertTransition).run(...(transitionValues(t) as never[]));
      return swapped;
    });
  }

  async claimBreakerProbe(code: string, nowMs: number, untilMs: number) {
    return this.write(() => this.query('UPDATE channel_breakers SET probe_until = ? WHERE code = ? AND probe_until <= ?').run(untilMs, code, nowMs).changes === 1);
  }

  async insertBreakerTransition(t: BreakerTransitionRow) {
    this.write(() => this.query(insertTransition).run(...(transitionValues(t) as never[])));
  }

  async loadRoutingScope() {
    return this.all('SELECT id FROM routing_scope')[0]!.id as string;
  }

  async listBreakerTransitions(code: string, limit: number) {
    return this.all('SELECT * FROM breaker_transitions WHERE code = ? ORDER BY at DESC, id DESC LIMIT ?', code, limit).map(breakerTransitionOf);
  }

  async parkTimer(timer: TimerRow, error: string, nowMs: number) {
    return this.write(() => {
      this.query(`INSERT OR REPLACE INTO parked_timers (order_id, key, due_at, event, error, parked_at)
        SELECT order_id, key, due_at, event, ?, ? FROM timers WHERE order_id = ? AND key = ? AND due_at = ?`).run(error, nowMs, timer.orderId, timer.key, timer.dueAt);
      return this.query('DELETE FROM timers WHERE order_id = ? AND key = ? AND due_at = ?').run(timer.orderId, timer.key, timer.dueAt).changes > 0;
    });
  }

  async listParked(limit: number) {
    const outbox = this.all("SELECT * FROM outbox WHERE status = 'parked' ORDER BY completed_at LIMIT ?", limit);
    const timers = this.all('SELECT * FROM parked_timers ORDER BY parked_at LIMIT ?', limit);
    return [...outbox.map((r) => parkedOf('outbox', r, json)), ...timers.map((r) => parkedOf('timer', r, json))];
  }

  async requeueParkedOutbox(outboxId: string, nowMs: number) {
    return this.write(() => this.query(
      "UPDATE outbox SET status = 'pending', attempts = 0, due_at = ?, lease_until = NULL, completed_at = NULL WHERE id = ? AND status = 'parked'",
    ).run(nowMs, outboxId).changes > 0);
  }

  async requeueParkedTimer(orderId: string, key: string, nowMs: number) {
    return this.write(() => {
      this.query(`INSERT INTO timers (order_id, key, due_at, event) SELECT order_id, key, ?, event FROM parked_timers WHERE order_id = ? AND key = ?
        ON CONFLICT (order_id, key) DO NOTHING`).run(nowMs, orderId, key);
      return this.query('DELETE FROM parked_timers WHERE order_id = ? AND key = ?').run(orderId, key).changes > 0;
    });
  }

  async deferOutbox(outboxIds: string[], dueAt: number) {
    if (outboxIds.length === 0) return;
    await this.sideChanges("UPDATE outbox SET due_at = ?, lease_until = NULL WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending'", [[dueAt, JSON.stringify(outboxIds)]]);
  }

  async insertAlert(alert: AlertRow) {
    const sql = `INSERT INTO alerts (${alertColumns.join(', ')}) VALUES (${alertColumns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
    return this.write(() => this.query(sql).run(...(alertValues(alert) as never[])).changes) === 1 ? ('inserted' as const) : ('exists' as const);
  }

  async listAlerts(query: AlertQuery) {
    const { where, params } = alertFilter(query);
    return this.all(`SELECT * FROM alerts ${where} ORDER BY id DESC LIMIT ${int(query.limit)}`, ...params).map(alertOf);
  }

  async ackAlert(alertId: string, at: number, by: string) {
    const changed = this.write(() => this.query('UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at IS NULL').run(at, by, alertId).changes);
    const row = this.all('SELECT * FROM alerts WHERE id = ?', alertId)[0];
    return row ? { alert: alertOf(row), acked: changed === 1 } : null;
  }

  async countOpenAlerts() {
    const rows = this.all('SELECT kind, count(*) AS n FROM alerts WHERE acked_at IS NULL GROUP BY kind');
    return Object.fromEntries(rows.map((r) => [r.kind as string, int(r.n)]));
  }

  async eachReconFactsCompleted(channel: string, fromMs: number, toMs: number, take: (page: ReconFacts[]) => void) {
    const rows = this.query(
      `SELECT ${reconFactsFlowColumns} FROM flows f WHERE f.channel = ? AND f.completed_at >= ? AND f.completed_at < ? AND f.status IN ('succeeded', 'refunded')
       UNION ALL
       SELECT ${reconFactsRefundColumns} FROM refunds r JOIN flows f ON f.id = r.channel_flow_id
       WHERE r.completed_at >= ? AND r.completed_at < ? AND f.channel = ? AND r.status = 'succeeded'`,
    ).iterate(channel, fromMs, toMs, fromMs, toMs, channel) as IterableIterator<Row>;
    let page: ReconFacts[] = [];
    for (const row of rows) {
      page.push(reconFactsOf(row));
      if (page.length < recon_facts_page_max) continue;
      take(page);
      page = [];
    }
    if (page.length > 0) take(page);
  }

  async reconRecordsByIds(flowIds: string[], refundIds: string[]) {
    return this.all(
      `SELECT ${reconFlowColumns} FROM flows f WHERE f.id IN (SELECT value FROM json_each(?))
       UNION ALL
       SELECT ${reconRefundColumns} FROM refunds r WHERE r.id IN (SELECT value FROM json_each(?)) AND r.channel_flow_id IS NOT NULL`,
      text(flowIds), text(refundIds),
    ).map(reconRecordOf);
  }

  async startReconRun(run: ReconRunRow, rerun: boolean, nowMs: number) {
    const values = reconRunValues(run, text);
    const started = this.write(() => {
      const taken = this.query(
        `UPDATE recon_runs SET status = 'running', source = ?, error = NULL, lease_until = ?, finished_at = NULL
         WHERE id = ? AND (status <> 'done' OR ?) AND (lease_until IS NULL OR lease_until < ?)`,
      ).run(run.source, run.leaseUntil, run.id, rerun ? 1 : 0, nowMs).changes;
      if (taken === 1) return true;
      const sql = `INSERT INTO recon_runs (${reconRunColumns.join(', ')}) VALUES (${reconRunColumns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
      return this.query(sql).run(...(values as never[])).changes === 1;
    });
    return started ? run : null;
  }

  async recordReconDiffs(runId: string, diffs: ReconDiffRow[]) {
    this.write(() => this.replaceReconDiffs(runId, diffs));
  }

  private replaceReconDiffs(runId: string, diffs: ReconDiffRow[]) {
    this.query('DELETE FROM recon_diffs WHERE run_id = ?').run(runId);
    const insertDiff = this.query(`INSERT INTO recon_diffs (${reconDiffColumns.join(', ')}) VALUES (${reconDiffColumns.map(() => '?').join(', ')})`);
    for (const d of diffs) insertDiff.run(...(reconDiffValues(d, text) as never[]));
  }

  async finishReconRun(result: ReconRunResult) {
    const { run } = result;
    this.write(() => {
      this.query('UPDATE recon_runs SET status = ?, counts = ?, totals = ?, error = ?, lease_until = NULL, finished_at = ? WHERE id = ?')
        .run(run.status, text(run.counts), text(run.totals), run.error, run.finishedAt, run.id);
      this.replaceReconDiffs(run.id, result.diffs);
      const removePending = this.query('DELETE FROM recon_pending WHERE channel = ? AND record_id = ?');
      for (const id of result.pendingRemoved) removePending.run(run.channel, id);
      const addPending = this.query('INSERT INTO recon_pending (channel, record_id, state, date, local) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING');
      for (const p of result.pendingAdded) addPending.run(p.channel, p.recordId, p.state, p.date, text(p.local));
    });
  }

  async loadReconRun(runId: string) {
    const row = this.all('SELECT * FROM recon_runs WHERE id = ?', runId)[0];
    return row ? reconRunOf(row, json) : null;
  }

  async findReconRun(channel: string, date: string) {
    const row = this.all('SELECT * FROM recon_runs WHERE channel = ? AND date = ?', channel, date)[0];
    return row ? reconRunOf(row, json) : null;
  }

  async listReconRuns(query: ReconRunsQuery) {
    const after = query.after ?? null;
    return this.all(
      `SELECT * FROM recon_runs WHERE (? IS NULL OR channel = ?) AND (? IS NULL OR date = ?)
         AND (? IS NULL OR date < ? OR (date = ? AND channel > ?)) ORDER BY date DESC, channel LIMIT ?`,
      query.channel ?? null, query.channel ?? null, query.date ?? null, query.date ?? null,
      after?.date ?? null, after?.date ?? null, after?.date ?? null, after?.channel ?? null, query.limit,
    ).map((r) => reconRunOf(r, json));
  }

  async listReconDiffs(runId: string) {
    return this.all('SELECT * FROM recon_diffs WHERE run_id = ? ORDER BY id', runId).map((r) => reconDiffOf(r, json));
  }

  async resolveReconDiff(runId: string, diffId: string, change: Pick<ReconDiffRow, 'resolution' | 'note' | 'resolvedBy' | 'resolvedAt'>) {
    const changed = this.write(() =>
      this.query("UPDATE recon_diffs SET resolution = ?, note = ?, resolved_by = ?, resolved_at = ? WHERE id = ? AND run_id = ? AND resolution = 'open'")
        .run(change.resolution, change.note, change.resolvedBy, change.resolvedAt, diffId, runId).changes);
    const row = this.all('SELECT * FROM recon_diffs WHERE id = ? AND run_id = ?', diffId, runId)[0];
    return row ? { diff: reconDiffOf(row, json), resolved: changed === 1 } : null;
  }

  async listReconPending(channel: string) {
    return this.all('SELECT * FROM recon_pending WHERE channel = ? ORDER BY date, record_id', channel).map((r) => reconPendingOf(r, json));
  }

  async listOpenReconDiffs(beforeMs: number, limit: number) {
    return this.all("SELECT * FROM recon_diffs WHERE resolution = 'open' AND created_at < ? ORDER BY created_at LIMIT ?", beforeMs, limit).map((r) => reconDiffOf(r, json));
  }

  async searchOrders(search: OrderSearch) {
    const { where, params } = orderSearchFilter(search);
    return this.all(`SELECT o.* FROM orders o ${where} ORDER BY o.id DESC LIMIT ${int(search.limit)}`, ...params).map((r) => orderOf(r, json));
  }

  async orderStatsSince(idFrom: string) {
    return this.all(orderStatsSql, idFrom).map(orderStatsOf);
  }

  async insertAdminAudit(row: AdminAuditRow) {
    this.write(() => this.query('INSERT INTO admin_audit (id, at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(row.id, row.at, row.actor, row.action, row.target, text(row.detail)));
  }

  async listAdminAudit(beforeId: string | null, limit: number) {
    return this.all('SELECT * FROM admin_audit WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2', beforeId, limit).map((r) => adminAuditOf(r, json));
  }

  async outboxBacklog(): Promise<number> {
    return int(this.all("SELECT count(*) AS n FROM outbox WHERE status = 'pending'")[0]!.n);
  }

  /** Ready only while writes can land: a writer thread that died fails every write from then on. */
  async ping(): Promise<void> {
    const failed = this.writer?.failed;
    if (failed) throw failed;
    this.query('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.writer?.stop();
    this.queries.finalize();
    this.db.close();
  }
}

/**
 * Opens a SQLite store at `path`, creating the file and its folder. The caller migrates, which
 * also starts the writer thread: order writes are refused before that.
 */
export async function openSqliteStore(path: string): Promise<Store> {
  return new SqliteStore(path);
}
