/**
 * The Postgres store, through Bun's built-in SQL client with a pool. A batch of order writes
 * is ONE statement: data-modifying CTEs update or insert the orders whose version still
 * matches, and insert the rest of each write set only for those winners. That is the same
 * isolation as a savepoint per write, in one round trip and one fsync.
 */
import { SQL } from 'bun';
import { type MigrationExecutor, migrate, migrationsOf } from './migrations.ts';
import { assert } from '../failures.ts';
import {
  breakerColumns,
  breakerOf,
  breakerTransitionOf,
  breakerValues,
  closedBreaker,
  transitionValues,
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
  channelColumns,
  callbackOf,
  channelOf,
  channelValues,
  decodeJsonParsed as json,
  assertBatch,
  emptyBatch,
  isEmptyBatch,
  firstClaims,
  flowOf,
  int,
  merchantColumns,
  merchantOf,
  merchantValues,
  nonce_purge_interval_ms,
  nonce_purge_rows_max,
  journalOf,
  merchantEventOf,
  orderColumns,
  orderOf,
  claimedOutboxOf,
  outboxOf,
  first_journal_page,
  merchantEventUpdatesOf,
  resultsWritten,
  outboxUpdatesOf,
  per_order_rows_max,
  recon_facts_page_max,
  parkedOf,
  refundOf,
  timerOf,
  timerRefKey,
  timerRefRecords,
  timersInOrder,
} from './rows.ts';
import { purgeableCallbacksSql } from './retention.ts';
import type {
  AdminAuditRow, AdminSessionRow, AlertQuery, AlertRow, Batch, BatchOutcome, CallbackOutcome, CallbackRow, ChannelRow, JournalPage, LedgerStore, MerchantRow, NotificationResult, OrderSearch,
  OrderWrite, OutboxResult, ReconDiffRow, ReconFacts, ReconRunResult, ReconRunRow, ReconRunsQuery, Store, TimerRef, TimerRow, WriteOutcome, BreakerRow, BreakerTransitionRow,
} from './store.ts';
import { applyOps, numbered, runAsync, type Statement } from '../balance/ledger.ts';

/** Connections in a process's pool, at most. */
export const postgres_pool_max = 16;
/** A statement's run, at most: one stuck behind a lock or a plan gone wrong fails as the store's failure and is retried. */
const postgres_statement_timeout_ms = 30_000;
/** A transaction left idle by a stuck caller is ended: it holds row locks, and GET /v1/events waits for it. */
const postgres_idle_in_transaction_timeout_ms = 60_000;

/**
 * Settings every paycenter session starts with: `connection` parameters go into each pooled
 * connection's startup message, whatever the server's or database's defaults are.
 */
export const postgres_session = {
  synchronous_commit: 'on',
  statement_timeout: String(postgres_statement_timeout_ms),
  idle_in_transaction_session_timeout: String(postgres_idle_in_transaction_timeout_ms),
} as const;
/** The advisory lock that serializes migrations of one database across processes ("payc"). */
const postgres_migration_lock_key = 0x70617963;

type Row = Record<string, unknown>;

/** jsonb_to_recordset column lists, one per input of the batch statement. */
const orderRecord = `ord int, expected_version int, nonce_merchant text, nonce text, nonce_expires_at bigint, id text, merchant_id text, merchant_order_no text, status text, amount bigint,
  currency text, paid_amount bigint, refunded_amount bigint, expires_at bigint, created_at bigint, updated_at bigint,
  machine_version int, version int, snapshot jsonb`;

/**
 * A jsonb array parameter as rows with these columns, for the planner a handful of them (10)
 * where jsonb_to_recordset counts as 100. A batch's results update a few rows of a table by
 * key; at 100 the planner hash-joins them against a whole scan of any table under some
 * thousands of rows (an outbox in its first minutes: every batch scanned it), at 10 it looks
 * each one up in the key's index.
 */
const fewRecords = (param: string, columns: string) =>
  `(SELECT r.* FROM unnest(ARRAY(SELECT jsonb_array_elements(${param}::jsonb))) AS e(v), jsonb_to_record(e.v) AS r(${columns}))`;

/**
 * The hot path's records (store.ts, Batch) as common table expressions reading five jsonb
 * parameters from `first` on (recordInputs). They update or insert rows no order write touches.
 */
const recordCtes = (first: number) => `
ox AS (
  UPDATE outbox o SET status = x.status, attempts = o.attempts + 1, last_error = x.error, lease_until = NULL, due_at = x.due_at, completed_at = x.completed_at
  FROM ${fewRecords(`$${first}`, 'id text, status text, error text, due_at bigint, completed_at bigint, claim int')} AS x
  WHERE o.id = x.id AND o.claims = COALESCE(x.claim, o.claims)
  RETURNING o.id),
na AS (
  INSERT INTO notification_attempts (id, event_id, attempted_at, http_status, error, duration_ms)
  SELECT x.id, x.event_id, x.attempted_at, x.http_status, x.error, x.duration_ms
  FROM jsonb_to_recordset($${first + 1}::jsonb) AS x(id text, event_id text, attempted_at bigint, http_status int, error text, duration_ms int)),
ne AS (
  UPDATE merchant_events e SET status = x.status, attempts = e.attempts + 1, delivered_at = x.delivered_at
  FROM ${fewRecords(`$${first + 2}`, 'id text, outbox_id text, status text, delivered_at bigint')} AS x
  WHERE e.id = x.id AND x.outbox_id IN (SELECT id FROM ox)),
cb AS (
  INSERT INTO callback_log (id, provider, channel_code, headers, body, received_at, verified, order_id, flow_id, outcome)
  SELECT x.id, x.provider, x.channel_code, x.headers, x.body, x.received_at, x.verified, x.order_id, x.flow_id, x.outcome
  FROM jsonb_to_recordset($${first + 3}::jsonb) AS x(id text, provider text, channel_code text, headers jsonb, body text, received_at bigint,
    verified boolean, order_id text, flow_id text, outcome text)),
co AS (
  UPDATE callback_log c SET verified = x.verified, order_id = x.order_id, flow_id = x.flow_id, outcome = x.outcome
  FROM ${fewRecords(`$${first + 4}`, 'id text, verified boolean, order_id text, flow_id text, outcome text')} AS x
  WHERE c.id = x.id)`;

const commitStatement = `
WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(${orderRecord})),
wn AS (
  INSERT INTO nonces (merchant_id, nonce, expires_at)
  SELECT nonce_merchant, nonce, nonce_expires_at FROM input WHERE nonce IS NOT NULL
  ON CONFLICT (merchant_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= $10
  RETURNING merchant_id, nonce),
admitted AS (
  SELECT * FROM input i
  WHERE i.nonce IS NULL OR EXISTS (SELECT 1 FROM wn WHERE wn.merchant_id = i.nonce_merchant AND wn.nonce = i.nonce)),
upd AS (
  UPDATE orders o SET status = i.status, paid_amount = i.paid_amount, refunded_amount = i.refunded_amount,
    updated_at = i.updated_at, machine_version = i.machine_version, version = i.version, snapshot = i.snapshot
  FROM admitted i WHERE i.expected_version > 0 AND o.id = i.id AND o.version = i.expected_version
  RETURNING o.id),
ins AS (
  INSERT INTO orders (${orderColumns.join(', ')})
  SELECT ${orderColumns.join(', ')} FROM admitted WHERE expected_version = 0
  ON CONFLICT DO NOTHING RETURNING id),
won AS (SELECT id FROM upd UNION ALL SELECT id FROM ins),
j AS (
  INSERT INTO journal (order_id, seq, at, event, state_before, state_after, effects)
  SELECT x.order_id, x.seq, x.at, x.event, x.state_before, x.state_after, x.effects
  FROM jsonb_to_recordset($2::jsonb) AS x(order_id text, seq int, at bigint, event jsonb, state_before jsonb, state_after jsonb, effects jsonb)
  WHERE x.order_id IN (SELECT id FROM won)),
f AS (
  INSERT INTO flows (id, order_id, method, channel, amount, status, channel_trade_no, created_at, completed_at)
  SELECT x.id, x.order_id, x.method, x.channel, x.amount, x.status, x.channel_trade_no, x.created_at, x.completed_at
  FROM jsonb_to_recordset($3::jsonb) AS x(id text, order_id text, method text, channel text, amount bigint, status text,
    channel_trade_no text, created_at bigint, completed_at bigint)
  WHERE x.order_id IN (SELECT id FROM won)
  ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, status = excluded.status, channel_trade_no = excluded.channel_trade_no, completed_at = excluded.completed_at),
r AS (
  INSERT INTO refunds (id, order_id, merchant_id, refund_no, amount, status, automatic, created_at, completed_at, channel_flow_id, channel_amount, reason)
  SELECT x.id, x.order_id, x.merchant_id, x.refund_no, x.amount, x.status, x.automatic, x.created_at, x.completed_at, x.channel_flow_id, x.channel_amount, x.reason
  FROM jsonb_to_recordset($4::jsonb) AS x(id text, order_id text, merchant_id text, refund_no text, amount bigint, status text,
    automatic boolean, created_at bigint, completed_at bigint, channel_flow_id text, channel_amount bigint, reason text)
  WHERE x.order_id IN (SELECT id FROM won)
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, completed_at = excluded.completed_at),
ob AS (
  INSERT INTO outbox (id, order_id, kind, payload, created_at, due_at)
  SELECT x.id, x.order_id, x.kind, x.payload, x.created_at, x.due_at
  FROM jsonb_to_recordset($5::jsonb) AS x(id text, order_id text, kind text, payload jsonb, created_at bigint, due_at bigint)
  WHERE x.order_id IN (SELECT id FROM won)),
me AS (
  INSERT INTO merchant_events (id, merchant_id, order_id, type, data, created_at)
  SELECT x.id, x.merchant_id, x.order_id, x.type, x.data, x.created_at
  FROM jsonb_to_recordset($6::jsonb) AS x(id text, merchant_id text, order_id text, type text, data jsonb, created_at bigint)
  WHERE x.order_id IN (SELECT id FROM won)),
ta AS (
  INSERT INTO timers (order_id, key, due_at, event)
  SELECT x.order_id, x.key, x.due_at, x.event
  FROM jsonb_to_recordset($7::jsonb) AS x(order_id text, key text, due_at bigint, event jsonb)
  WHERE x.order_id IN (SELECT id FROM won)
  ON CONFLICT (order_id, key) DO UPDATE SET due_at = excluded.due_at, event = excluded.event, lease_until = NULL),
td AS (
  DELETE FROM timers t USING jsonb_to_recordset($8::jsonb) AS x(order_id text, key text)
  WHERE t.order_id = x.order_id AND t.key = x.key AND x.order_id IN (SELECT id FROM won)),
nc AS (
  INSERT INTO nonces (merchant_id, nonce, expires_at)
  SELECT x.merchant_id, x.nonce, x.expires_at FROM jsonb_to_recordset($9::jsonb) AS x(merchant_id text, nonce text, expires_at bigint)
  ON CONFLICT (merchant_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= $10
  RETURNING merchant_id, nonce),
${recordCtes(11)}
SELECT 'write' AS kind, id, NULL AS nonce FROM won
UNION ALL SELECT 'nonce', merchant_id, nonce FROM nc
UNION ALL SELECT 'write_nonce', merchant_id, nonce FROM wn
UNION ALL SELECT 'outbox', id, NULL FROM ox`;

/** A batch of records alone (no order writes, no nonces) needs none of the writes' expressions. */
const recordsStatement = `WITH ${recordCtes(1)}
SELECT 'outbox' AS kind, id FROM ox`;

/**
 * The batch's writes as the statement's first eight jsonb inputs (snake_case keys match the
 * record definitions); recordInputs makes $11–$15. Bun's client serializes a jsonb parameter
 * itself: pass values, not JSON text.
 */
function batchInputs(writes: OrderWrite[]): unknown[] {
  // Orders in id order, so concurrent batches (other processes, other pool connections) lock
  // order rows in one order and cannot deadlock on them. Outcomes are matched by id.
  const byId = [...writes].sort((a, b) => (a.order.id < b.order.id ? -1 : a.order.id > b.order.id ? 1 : 0));
  const orders = byId.map((w, ord) => {
    const o = w.order;
    return {
      ord, expected_version: w.expectedVersion, id: o.id,
      nonce_merchant: w.nonce?.merchantId ?? null, nonce: w.nonce?.nonce ?? null, nonce_expires_at: w.nonce?.expiresAt ?? null, merchant_id: o.merchantId, merchant_order_no: o.merchantOrderNo,
      status: o.status, amount: o.amount, currency: o.currency, paid_amount: o.paidAmount, refunded_amount: o.refundedAmount,
      expires_at: o.expiresAt, created_at: o.createdAt, updated_at: o.updatedAt, machine_version: o.machineVersion,
      version: o.version, snapshot: o.snapshot,
    };
  });
  const journal = writes.map(({ journal: j }) => ({
    order_id: j.orderId, seq: j.seq, at: j.at, event: j.event, state_before: j.stateBefore, state_after: j.stateAfter, effects: j.effects,
  }));
  const flows = writes.flatMap((w) => w.flows.map((f) => ({
    id: f.id, order_id: f.orderId, method: f.method, channel: f.channel, amount: f.amount, status: f.status,
    channel_trade_no: f.channelTradeNo, created_at: f.createdAt, completed_at: f.completedAt,
  })));
  const refunds = writes.flatMap((w) => w.refunds.map((r) => ({
    id: r.id, order_id: r.orderId, merchant_id: r.merchantId, refund_no: r.refundNo, amount: r.amount, status: r.status,
    automatic: r.automatic, created_at: r.createdAt, completed_at: r.completedAt, channel_flow_id: r.channelFlowId, channel_amount: r.channelAmount, reason: r.reason,
  })));
  const outbox = writes.flatMap((w) => w.outbox.map((x) => ({
    id: x.id, order_id: x.orderId, kind: x.kind, payload: x.payload, created_at: x.createdAt, due_at: x.dueAt,
  })));
  const events = writes.flatMap((w) => w.merchantEvents.map((e) => ({
    id: e.id, merchant_id: e.merchantId, order_id: e.orderId, type: e.type, data: e.data, created_at: e.createdAt,
  })));
  const armed = writes.flatMap((w) => w.timersArmed.map((t) => ({ order_id: t.orderId, key: t.key, due_at: t.dueAt, event: t.event })));
  const disarmed = writes.flatMap((w) => w.timersDisarmed.map((key) => ({ order_id: w.order.id, key })));
  return [orders, journal, flows, refunds, outbox, events, armed, disarmed];
}

/**
 * The batch's records as the statement's $11 (outbox rows' results), $12 (delivery attempts),
 * $13 (merchant events' delivery), $14 (callbacks) and $15 (callbacks' outcomes).
 */
function recordInputs(batch: Batch): unknown[] {
  const outbox = outboxUpdatesOf(batch).map((u) => ({ id: u.id, status: u.status, error: u.error, due_at: u.dueAt, completed_at: u.completedAt, claim: u.claim }));
  const attempts = batch.notifications.map(({ attempt: a, eventId }) => ({
    id: a.id, event_id: eventId, attempted_at: a.at, http_status: a.httpStatus, error: a.error, duration_ms: a.durationMs,
  }));
  const events = merchantEventUpdatesOf(batch.notifications).map((u) => ({ id: u.id, outbox_id: u.outboxId, status: u.status, delivered_at: u.deliveredAt }));
  const callbacks = batch.callbacks.map((c) => ({
    id: c.id, provider: c.provider, channel_code: c.channelCode, headers: c.headers, body: c.body, received_at: c.receivedAt,
    verified: c.verified, order_id: c.orderId, flow_id: c.flowId, outcome: c.outcome,
  }));
  const outcomes = batch.callbackOutcomes.map((o) => ({ id: o.callbackId, verified: o.verified, order_id: o.orderId, flow_id: o.flowId, outcome: o.outcome }));
  return [outbox, attempts, events, callbacks, outcomes];
}

/** The outbox rows a batch statement's results updated (its 'outbox' rows): a fenced result that changed nothing is not among them. */
const outboxChangedIn = (rows: Row[]) => new Set(rows.filter((r) => r.kind === 'outbox').map((r) => r.id as string));

/** Which of a batch's outbox results and notifications were written. */
const recordsWritten = (batch: Batch, changed: ReadonlySet<string>) =>
  ({ outboxResults: resultsWritten(batch.outboxResults, changed), notifications: resultsWritten(batch.notifications, changed) });

/** The timers named in $1 (timerKeysJson), still due when named, that meet `condition` and no other transaction holds: locked. */
const firedTimersFree = (condition = 'true') => `SELECT t.order_id, t.key FROM timers t
  JOIN jsonb_to_recordset($1::text::jsonb) AS f(order_id text, key text, due_at bigint) ON t.order_id = f.order_id AND t.key = f.key AND t.due_at = f.due_at
  WHERE ${condition} FOR UPDATE OF t SKIP LOCKED`;

/** Timers as the (order_id, key, due_at) records a statement reads with jsonb_to_recordset. */
const timerKeysJson = (timers: TimerRow[]) => JSON.stringify(timers.map((t) => ({ order_id: t.orderId, key: t.key, due_at: t.dueAt })));

/** The given timers that a statement's returned (order_id, key) rows name. */
function timersNamedIn(timers: TimerRow[], rows: Row[]): TimerRow[] {
  const named = new Set(rows.map((r) => timerRefKey({ orderId: r.order_id as string, key: r.key as string })));
  return timers.filter((t) => named.has(timerRefKey(t)));
}

const placeholders = (count: number) => Array.from({ length: count }, (_, i) => `$${i + 1}`).join(', ');
/** Bun's client serializes jsonb parameters itself. */
const asJsonb = (value: unknown) => value;

/** A run's differences replace its earlier ones, inside the caller's transaction. */
async function replaceReconDiffs(tx: SQL, runId: string, diffs: ReconDiffRow[]): Promise<void> {
  await tx.unsafe('DELETE FROM recon_diffs WHERE run_id = $1', [runId]);
  for (const d of diffs) {
    await tx.unsafe(`INSERT INTO recon_diffs (${reconDiffColumns.join(', ')}) VALUES (${placeholders(reconDiffColumns.length)})`, reconDiffValues(d, asJsonb));
  }
}

/** Runs ledger statements on one connection (a transaction's). */
const ledgerOn = (tx: SQL) => (st: Statement) => tx.unsafe(numbered(st.sql), st.params) as Promise<Row[]>;

/** Thrown inside a ledger write's transaction to roll it back with this outcome. */
class RolledBack extends Error {
  constructor(readonly outcome: WriteOutcome) {
    super(outcome);
  }
}

/** The newest events a start looks at for writer ids this cluster has not reached yet. */
const restored_events_sample_max = 1_000;

/**
 * After a logical restore (pg_dump into another cluster) the events' writer_xid are the old
 * cluster's transaction ids, and the new cluster counts from far below them: such rows sort after
 * every new one and stay above the list's horizon until the counter catches up — GET /v1/events
 * stops. Seen at start (one of the newest rows written by an id not yet handed out), every row is
 * given the smallest id: listed in id order, before anything written from then on.
 */
async function reorderRestoredEvents(tx: SQL): Promise<string[]> {
  const [restored] = (await tx.unsafe(
    `SELECT 1 FROM (SELECT writer_xid FROM merchant_events ORDER BY id DESC LIMIT $1) newest
     WHERE writer_xid >= pg_snapshot_xmax(pg_current_snapshot()) LIMIT 1`,
    [restored_events_sample_max],
  )) as Row[];
  if (!restored) return [];
  const [moved] = (await tx.unsafe("WITH moved AS (UPDATE merchant_events SET writer_xid = '1'::xid8 RETURNING 1) SELECT count(*) AS n FROM moved")) as Row[];
  return [`merchant_events: ${int(moved!.n)} rows were written by transaction ids this cluster has not reached (a logical restore?); they are listed in id order, before new events`];
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  private lastNoncePurge = 0;
  readonly ledger: LedgerStore = {
    transact: (program) => this.sql.begin((tx) => runAsync(program, ledgerOn(tx))),
    rows: (st) => ledgerOn(this.sql)(st),
  };

  constructor(private readonly sql: SQL) {}

  /**
   * A write with ledger entries commits in a transaction of its own: the order's gate (the batch
   * statement for this one write), then the entries, whose freeze is conditional on the payer's
   * available balance; a refusal rolls both back. Each such transaction locks one order row,
   * then one payer's account, so two of them cannot deadlock.
   */
  private async commitWithLedger(write: OrderWrite, nowMs: number): Promise<WriteOutcome> {
    assert(!write.nonce, 'a write with ledger entries carries no nonce');
    try {
      return await this.sql.begin(async (tx) => {
        const rows = (await tx.unsafe(commitStatement, [...batchInputs([write]), [], nowMs, ...recordInputs(emptyBatch(nowMs))])) as Row[];
        if (!rows.some((r) => r.kind === 'write' && r.id === write.order.id)) {
          throw new RolledBack(write.expectedVersion === 0 ? 'duplicate_order' : 'version_conflict');
        }
        if ((await runAsync(applyOps(write.ledger ?? []), ledgerOn(tx))) === 'insufficient_balance') throw new RolledBack('insufficient_balance');
        return 'committed' as const;
      });
    } catch (error) {
      if (error instanceof RolledBack) return error.outcome;
      throw error;
    }
  }

  static async open(url: string, poolMax = postgres_pool_max): Promise<PostgresStore> {
    const sql = new SQL({ url, max: poolMax, connection: postgres_session } as SQL.Options);
    const [setting] = await sql.unsafe('SHOW synchronous_commit');
    if ((setting as Row).synchronous_commit !== 'on') {
      await sql.close();
      throw new Error('Postgres synchronous_commit must be on: paycenter never answers before its commits are durable');
    }
    return new PostgresStore(sql);
  }

  async migrate(): Promise<string[]> {
    const executor: MigrationExecutor = {
      locked: (work) => this.underMigrationLock((tx) => work({
        script: async (sql) => void (await tx.unsafe(sql)),
        rows: async (sql, params) => (await tx.unsafe(sql, params)) as Row[],
      })),
    };
    await migrate(executor, migrationsOf('postgres'), Date.now());
    return this.underMigrationLock(reorderRestoredEvents);
  }

  /** One start-up step at a time across instances: migrations, and repairs after them. */
  private underMigrationLock<T>(work: (tx: SQL) => Promise<T>): Promise<T> {
    return this.sql.begin(async (tx) => {
      // A migration may rewrite a large table, and an instance waits here for another's.
      await tx.unsafe('SET LOCAL statement_timeout = 0');
      await tx.unsafe('SELECT pg_advisory_xact_lock($1)', [postgres_migration_lock_key]);
      return work(tx);
    });
  }

  async commit(writes: OrderWrite[]): Promise<WriteOutcome[]> {
    return (await this.commitBatch({ ...emptyBatch(Date.now()), writes })).writes;
  }

  async commitBatch(batch: Batch): Promise<BatchOutcome> {
    const { writes, nonces, nowMs } = batch;
    if (isEmptyBatch(batch)) return { writes: [], nonces: [], outboxResults: [], notifications: [] };
    assertBatch(batch);
    if (writes.length + nonces.length === 0) {
      // Records alone: the writes' dozen expressions would plan, lock their tables and run for nothing.
      const rows = await this.all(recordsStatement, ...recordInputs(batch));
      return { writes: [], nonces: [], ...recordsWritten(batch, outboxChangedIn(rows)) };
    }
    const writeNonces = writes.flatMap((w) => (w.nonce ? [w.nonce] : []));
    if (nonces.length + writeNonces.length > 0 && nowMs - this.lastNoncePurge >= nonce_purge_interval_ms) {
      this.lastNoncePurge = nowMs;
      await this.all('DELETE FROM nonces WHERE ctid IN (SELECT ctid FROM nonces WHERE expires_at <= $1 LIMIT $2)', nowMs, nonce_purge_rows_max);
    }
    // One statement may not touch a row twice: a nonce repeated in the batch is sent once, its first use wins.
    const first = firstClaims([...writeNonces, ...nonces]);
    let k = 0;
    const repeated = new Set(writes.filter((w) => w.nonce && !first[k++]));
    const sent = writes.filter((w) => !repeated.has(w));
    const claims = nonces.filter((_, i) => first[writeNonces.length + i]);
    const withLedger = sent.filter((w) => w.ledger?.length);
    const ledgerOutcomes = new Map(await Promise.all(withLedger.map(async (w) => [w, await this.commitWithLedger(w, nowMs)] as const)));
    const plain = withLedger.length === 0 ? sent : sent.filter((w) => !ledgerOutcomes.has(w));
    const rows = await this.all(
      commitStatement, ...batchInputs(plain), claims.map((c) => ({ merchant_id: c.merchantId, nonce: c.nonce, expires_at: c.expiresAt })), nowMs, ...recordInputs(batch),
    );
    const key = (merchantId: unknown, nonce: unknown) => `${merchantId}\u0000${nonce}`;
    const keysOf = (kind: string) => new Set(rows.filter((r) => r.kind === kind).map((r) => (kind === 'write' ? (r.id as string) : key(r.id, r.nonce))));
    const [won, taken, writeNoncesTaken] = [keysOf('write'), keysOf('nonce'), keysOf('write_nonce')];
    const outcomeOf = (w: OrderWrite): WriteOutcome => {
      const ledgerOutcome = ledgerOutcomes.get(w);
      if (ledgerOutcome) return ledgerOutcome;
      if (won.has(w.order.id)) return 'committed';
      if (repeated.has(w)) return 'nonce_used';
      if (w.nonce && !writeNoncesTaken.has(key(w.nonce.merchantId, w.nonce.nonce))) return 'nonce_used';
      return w.expectedVersion === 0 ? 'duplicate_order' : 'version_conflict';
    };
    return {
      writes: writes.map(outcomeOf),
      nonces: nonces.map((c, i) => first[writeNonces.length + i]! && taken.has(key(c.merchantId, c.nonce))),
      ...recordsWritten(batch, outboxChangedIn(rows)),
    };
  }

  private async all(query: string, ...params: unknown[]): Promise<Row[]> {
    return (await this.sql.unsafe(query, params)) as Row[];
  }

  async loadOrder(orderId: string) {
    const [row] = await this.all('SELECT * FROM orders WHERE id = $1', orderId);
    return row ? orderOf(row, json) : null;
  }

  async scanOrders(afterId: string, limit: number) {
    return (await this.all('SELECT * FROM orders WHERE id > $1 ORDER BY id LIMIT $2', afterId, limit)).map((r) => orderOf(r, json));
  }

  async listFailedOutbox(limit: number) {
    return (await this.all("SELECT * FROM outbox WHERE status = 'failed' ORDER BY id LIMIT $1", limit)).map((r) => outboxOf(r, json));
  }

  async findOrderByMerchantOrderNo(merchantId: string, merchantOrderNo: string) {
    const [row] = await this.all('SELECT * FROM orders WHERE merchant_id = $1 AND merchant_order_no = $2', merchantId, merchantOrderNo);
    return row ? orderOf(row, json) : null;
  }

  async listJournal(orderId: string, page: JournalPage = first_journal_page) {
    return (await this.all('SELECT * FROM journal WHERE order_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', orderId, page.afterSeq, page.limit)).map((r) => journalOf(r, json));
  }

  async listTimers(orderId: string) {
    return (await this.all('SELECT * FROM timers WHERE order_id = $1 ORDER BY key LIMIT $2', orderId, per_order_rows_max)).map((r) => timerOf(r, json));
  }

  async claimDueTimers(nowMs: number, leaseMs: number, limit: number) {
    const rows = await this.all(
      `UPDATE timers t SET lease_until = $1 FROM (
         SELECT order_id, key FROM timers WHERE due_at <= $2 AND (lease_until IS NULL OR lease_until < $2)
         ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
       WHERE t.order_id = due.order_id AND t.key = due.key RETURNING t.*`,
      nowMs + leaseMs, nowMs, limit,
    );
    return rows.map((r) => timerOf(r, json)).sort((a, b) => a.dueAt - b.dueAt);
  }

  /*
   * The ticker never waits for a timer row another transaction holds (SKIP LOCKED, as in
   * claimDueTimers): that is a commit re-arming or disarming the timer, which makes this
   * lease or delete moot. Waiting would also deadlock: a batch commit locks the timers of many
   * orders, the ticker those of many fired timers, each in its own order (store.timers.locks.test.ts).
   */
  async deleteFiredTimers(timers: TimerRow[]) {
    if (timers.length === 0) return [];
    const rows = await this.all(
      `DELETE FROM timers t USING (${firedTimersFree()}) free
       WHERE t.order_id = free.order_id AND t.key = free.key RETURNING t.order_id, t.key`,
      timerKeysJson(timers),
    );
    return timersNamedIn(timers, rows);
  }

  async leaseTimers(timers: TimerRow[], nowMs: number, leaseMs: number) {
    if (timers.length === 0) return [];
    const rows = await this.all(
      `UPDATE timers t SET lease_until = $2 FROM (${firedTimersFree('t.lease_until IS NULL OR t.lease_until < $3')}) free
       WHERE t.order_id = free.order_id AND t.key = free.key RETURNING t.order_id, t.key`,
      timerKeysJson(timers), nowMs + leaseMs, nowMs,
    );
    return timersNamedIn(timers, rows);
  }

  async claimOutbox(kinds: readonly string[], nowMs: number, leaseMs: number, limit: number) {
    const rows = await this.all(
      `UPDATE outbox o SET lease_until = $1, claims = o.claims + 1 FROM (
         SELECT id FROM outbox WHERE status = 'pending' AND kind IN (SELECT jsonb_array_elements_text($2::text::jsonb)) AND due_at <= $3
           AND (lease_until IS NULL OR lease_until < $3)
         ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) due
       WHERE o.id = due.id RETURNING o.*`,
      nowMs + leaseMs, JSON.stringify(kinds), nowMs, limit,
    );
    return rows.map((r) => claimedOutboxOf(r, json)).sort((a, b) => a.dueAt - b.dueAt);
  }

  async claimOutboxRow(outboxId: string, nowMs: number, leaseMs: number) {
    const [row] = await this.all(
      `UPDATE outbox SET lease_until = $1, claims = claims + 1 WHERE id = $2 AND status = 'pending' AND (lease_until IS NULL OR lease_until < $3) RETURNING *`,
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
    return this.sql.begin(async (tx) => {
      const changed = await tx.unsafe(
        `UPDATE outbox SET status = 'pending', attempts = 0, due_at = $1, lease_until = NULL, completed_at = NULL, claims = claims + 1
         WHERE kind = 'merchant.notify' AND payload->>'eventId' = $2 RETURNING id`,
        [nowMs, eventId],
      );
      await tx.unsafe("UPDATE merchant_events SET status = 'pending' WHERE id = $1", [eventId]);
      return (changed as Row[]).length > 0;
    });
  }

  async loadMerchantEvent(eventId: string) {
    const [row] = await this.all(`SELECT e.*, (SELECT COALESCE(a.error, CASE WHEN a.http_status NOT BETWEEN 200 AND 299 THEN 'HTTP ' || a.http_status END) FROM notification_attempts a WHERE a.event_id = e.id ORDER BY a.attempted_at DESC, a.id DESC LIMIT 1) AS last_error FROM merchant_events e WHERE e.id = $1`, eventId);
    return row ? { ...merchantEventOf(row, json), status: row.status as string, attempts: int(row.attempts), lastError: (row.last_error as string | null) ?? null } : null;
  }

  async loadMerchantEvents(eventIds: string[]) {
    if (eventIds.length === 0) return [];
    // `= ANY (ARRAY(…))` is an index lookup whatever the count: as `IN (SELECT …)` (100 rows to the
    // planner) no generic plan was good enough, and every call was planned again (0.28 ms each).
    const rows = await this.all('SELECT * FROM merchant_events WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))', JSON.stringify(eventIds));
    return rows.map((row) => merchantEventOf(row, json));
  }

  async loadTimers(refs: TimerRef[]) {
    const rows = await this.all(
      `SELECT t.* FROM ${fewRecords('$1', 'order_id text, key text')} AS f JOIN timers t ON t.order_id = f.order_id AND t.key = f.key`,
      timerRefRecords(refs),
    );
    return timersInOrder(refs, rows.map((r) => timerOf(r, json)));
  }

  async scanTimers(after: TimerRef | null, limit: number) {
    const rows = await this.all('SELECT * FROM timers WHERE (order_id, key) > ($1, $2) ORDER BY order_id, key LIMIT $3', after?.orderId ?? '', after?.key ?? '', limit);
    return rows.map((r) => timerOf(r, json));
  }

  async listOutbox(orderId: string) {
    return (await this.all('SELECT * FROM outbox WHERE order_id = $1 ORDER BY id LIMIT $2', orderId, per_order_rows_max)).map((r) => outboxOf(r, json));
  }

  async listMerchantEvents(orderId: string) {
    return (await this.all('SELECT * FROM merchant_events WHERE order_id = $1 ORDER BY id LIMIT $2', orderId, per_order_rows_max)).map((r) => merchantEventOf(r, json));
  }

  async listFlows(orderId: string) {
    return (await this.all('SELECT * FROM flows WHERE order_id = $1 ORDER BY id LIMIT $2', orderId, per_order_rows_max)).map(flowOf);
  }

  async loadFlow(flowId: string) {
    const [row] = await this.all('SELECT * FROM flows WHERE id = $1', flowId);
    return row ? flowOf(row) : null;
  }

  async insertCallback(c: CallbackRow) {
    await this.commitBatch({ ...emptyBatch(c.receivedAt), callbacks: [c] });
  }

  async updateCallback(outcome: CallbackOutcome) {
    await this.commitBatch({ ...emptyBatch(Date.now()), callbackOutcomes: [outcome] });
  }

  async keepCallbackPrefix(callbackId: string, body: string) {
    await this.all('UPDATE callback_log SET body = $1 WHERE id = $2', body, callbackId);
  }

  async purgeCallbacks(beforeMs: number, limit: number) {
    const deleted = await this.all(`DELETE FROM callback_log WHERE id IN (${purgeableCallbacksSql('$1', '$2')}) RETURNING id`, beforeMs, limit);
    return deleted.length;
  }

  async insertAdminSession(session: AdminSessionRow) {
    await this.all('INSERT INTO admin_sessions (id_hash, created_at, expires_at) VALUES ($1, $2, $3)', session.idHash, session.createdAt, session.expiresAt);
  }

  async adminSessionValid(idHash: string, nowMs: number) {
    return (await this.all('SELECT 1 FROM admin_sessions WHERE id_hash = $1 AND expires_at > $2', idHash, nowMs)).length === 1;
  }

  async deleteAdminSessions(idHash: string | null) {
    await (idHash === null ? this.all('DELETE FROM admin_sessions') : this.all('DELETE FROM admin_sessions WHERE id_hash = $1', idHash));
  }

  async purgeAdminSessions(nowMs: number) {
    await this.all('DELETE FROM admin_sessions WHERE expires_at <= $1', nowMs);
  }

  async listCallbacks(orderId: string) {
    return (await this.all('SELECT * FROM callback_log WHERE order_id = $1 ORDER BY id LIMIT $2', orderId, per_order_rows_max)).map((r) => callbackOf(r, json));
  }

  async listRefunds(orderId: string) {
    return (await this.all('SELECT * FROM refunds WHERE order_id = $1 ORDER BY id LIMIT $2', orderId, per_order_rows_max)).map(refundOf);
  }

  async findRefund(refundId: string) {
    const [row] = await this.all('SELECT * FROM refunds WHERE id = $1', refundId);
    return row ? refundOf(row) : null;
  }

  async listMerchantEventsAfter(merchantId: string, afterId: string | null, limit: number) {
    const [after] = afterId === null
      ? [{ writer_xid: '0', id: '' }]
      : await this.all('SELECT writer_xid, id FROM merchant_events WHERE merchant_id = $1 AND id = $2', merchantId, afterId);
    if (!after) return null;
    // Read before the page's own snapshot is taken (a statement of its own): every transaction
    // under the horizon had ended by then, so the page sees all their rows.
    const horizon = await this.eventHorizon();
    const rows = await this.all(
      `SELECT * FROM merchant_events
       WHERE merchant_id = $1 AND writer_xid < $4::text::xid8 AND (writer_xid, id) > ($2::text::xid8, $3)
       ORDER BY writer_xid, id LIMIT $5`,
      merchantId, String(after.writer_xid), after.id, horizon, limit,
    );
    return rows.map((r) => merchantEventOf(r, json));
  }

  /**
   * The oldest transaction of this database still running (its id widened to xid8), or the next
   * id when none is: a transaction in flight may yet add an event, and its id sorts it after
   * every row of an older one. The snapshot's own xmin would do, but it is the whole cluster's —
   * another application's long batch on a shared server would hold the list back.
   */
  private async eventHorizon(): Promise<string> {
    const [row] = await this.all(
      `SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next,
              coalesce(array_agg(backend_xid::text) FILTER (WHERE backend_xid IS NOT NULL), '{}') AS running
       FROM pg_stat_activity WHERE datname = current_database()`,
    );
    const next = BigInt(row!.next as string);
    return String((row!.running as string[]).reduce((oldest, xid) => {
      // A backend's xid is the low 32 bits of its id. Ids in use lie within 2^31 before `next`
      // (Postgres's wraparound guard); one further "behind" was assigned after the snapshot.
      const behind = (next - BigInt(xid)) & 0xffff_ffffn;
      const full = behind < 0x8000_0000n ? next - behind : next;
      return full < oldest ? full : oldest;
    }, next));
  }

  async insertMerchant(merchant: MerchantRow) {
    const sql = `INSERT INTO merchants (${merchantColumns.join(', ')}) VALUES (${placeholders(merchantColumns.length)}) ON CONFLICT DO NOTHING RETURNING id`;
    return (await this.all(sql, ...merchantValues(merchant, asJsonb))).length === 1 ? ('inserted' as const) : ('exists' as const);
  }

  async loadMerchant(merchantId: string) {
    const [row] = await this.all('SELECT * FROM merchants WHERE id = $1', merchantId);
    return row ? merchantOf(row, json) : null;
  }

  async listMerchants(afterId: string | null, limit: number) {
    return (await this.all('SELECT * FROM merchants WHERE id > $1 ORDER BY id LIMIT $2', afterId ?? '', limit)).map((r) => merchantOf(r, json));
  }

  async updateMerchant(m: MerchantRow) {
    await this.all('UPDATE merchants SET name = $1, notify_url = $2, methods = $3, status = $4, updated_at = $5, routing = $6 WHERE id = $7',
      m.name, m.notifyUrl, m.methods, m.status, m.updatedAt, m.routing, m.id);
  }

  async insertChannel(channel: ChannelRow) {
    const sql = `INSERT INTO channels (${channelColumns.join(', ')}) VALUES (${placeholders(channelColumns.length)}) ON CONFLICT DO NOTHING RETURNING code`;
    return (await this.all(sql, ...channelValues(channel, asJsonb))).length === 1 ? ('inserted' as const) : ('exists' as const);
  }

  async loadChannel(code: string) {
    const [row] = await this.all('SELECT * FROM channels WHERE code = $1', code);
    return row ? channelOf(row, json) : null;
  }

  async collectedSince(channelCode: string, sinceMs: number) {
    const [row] = await this.all(
      "SELECT coalesce(sum(amount), 0) AS collected FROM flows WHERE channel = $1 AND created_at >= $2 AND status IN ('succeeded', 'refunded')",
      channelCode, sinceMs,
    );
    return int(row!.collected);
  }

  async listChannels() {
    return (await this.all('SELECT * FROM channels ORDER BY code')).map((r) => channelOf(r, json));
  }

  async updateChannel(c: ChannelRow) {
    await this.all(
      'UPDATE channels SET methods = $1, currencies = $2, weight = $3, single_limit = $4, daily_limit = $5, status = $6, config_enc = $7, updated_at = $8, fee_rate = $9 WHERE code = $10',
      c.methods, c.currencies, c.weight, c.singleLimit, c.dailyLimit, c.status, c.configEnc, c.updatedAt, c.feeRate, c.code,
    );
  }

  async loadBreakers(codes: readonly string[]) {
    if (codes.length === 0) return [];
    const rows = (await this.all(`SELECT * FROM channel_breakers WHERE code IN (${placeholders(codes.length)})`, ...codes)).map(breakerOf);
    return codes.map((code) => rows.find((r) => r.code === code) ?? closedBreaker(code));
  }

  async swapBreaker(b: BreakerRow, t: BreakerTransitionRow) {
    // One statement: the transition is recorded exactly when the compare-and-set wins. The first
    // move of a breaker creates its row; every later one is a compare-and-set on the version.
    const swap = b.version === 1
      ? `INSERT INTO channel_breakers (${breakerColumns.join(', ')})
         SELECT $7::text, $1::text, $2::boolean, $3::bigint, $4::bigint, $5::bigint, $6::bigint WHERE $8::bigint = 0 ON CONFLICT DO NOTHING RETURNING code`
      : 'UPDATE channel_breakers SET state = $1, forced = $2, opened_at = $3, since = $4, version = $5, probe_until = $6 WHERE code = $7 AND version = $8 RETURNING code';
    const rows = await this.all(
      `WITH swapped AS (${swap})
       INSERT INTO breaker_transitions (id, code, at, from_state, to_state, reason)
       SELECT $9::text, $10::text, $11::bigint, $12::text, $13::text, $14::text FROM swapped RETURNING id`,
      b.state, b.forced, b.openedAt, b.since, b.version, b.probeUntil, b.code, b.version - 1, ...transitionValues(t),
    );
    return rows.length === 1;
  }

  async claimBreakerProbe(code: string, nowMs: number, untilMs: number) {
    return (await this.all('UPDATE channel_breakers SET probe_until = $1 WHERE code = $2 AND probe_until <= $3 RETURNING code', untilMs, code, nowMs)).length === 1;
  }

  async insertBreakerTransition(t: BreakerTransitionRow) {
    await this.all('INSERT INTO breaker_transitions (id, code, at, from_state, to_state, reason) VALUES ($1, $2, $3, $4, $5, $6)', ...transitionValues(t));
  }

  async loadRoutingScope() {
    const [row] = await this.all('SELECT id FROM routing_scope');
    return row!.id as string;
  }

  async listBreakerTransitions(code: string, limit: number) {
    return (await this.all('SELECT * FROM breaker_transitions WHERE code = $1 ORDER BY at DESC, id DESC LIMIT $2', code, limit)).map(breakerTransitionOf);
  }

  async parkTimer(timer: TimerRow, error: string, nowMs: number) {
    const moved = await this.all(
      `WITH moved AS (DELETE FROM timers WHERE order_id = $1 AND key = $2 AND due_at = $3 RETURNING order_id, key, due_at, event)
       INSERT INTO parked_timers (order_id, key, due_at, event, error, parked_at) SELECT order_id, key, due_at, event, $4, $5 FROM moved
       ON CONFLICT (order_id, key) DO UPDATE SET due_at = EXCLUDED.due_at, event = EXCLUDED.event, error = EXCLUDED.error, parked_at = EXCLUDED.parked_at
       RETURNING order_id`,
      timer.orderId, timer.key, timer.dueAt, error, nowMs,
    );
    return moved.length > 0;
  }

  async listParked(limit: number) {
    const [outbox, timers] = await Promise.all([
      this.all("SELECT * FROM outbox WHERE status = 'parked' ORDER BY completed_at LIMIT $1", limit),
      this.all('SELECT * FROM parked_timers ORDER BY parked_at LIMIT $1', limit),
    ]);
    return [...outbox.map((r) => parkedOf('outbox', r, json)), ...timers.map((r) => parkedOf('timer', r, json))];
  }

  async requeueParkedOutbox(outboxId: string, nowMs: number) {
    const rows = await this.all(
      "UPDATE outbox SET status = 'pending', attempts = 0, due_at = $1, lease_until = NULL, completed_at = NULL WHERE id = $2 AND status = 'parked' RETURNING id",
      nowMs, outboxId,
    );
    return rows.length > 0;
  }

  async requeueParkedTimer(orderId: string, key: string, nowMs: number) {
    const rows = await this.all(
      `WITH parked AS (DELETE FROM parked_timers WHERE order_id = $1 AND key = $2 RETURNING order_id, key, event),
       armed AS (INSERT INTO timers (order_id, key, due_at, event) SELECT order_id, key, $3, event FROM parked ON CONFLICT (order_id, key) DO NOTHING)
       SELECT order_id FROM parked`,
      orderId, key, nowMs,
    );
    return rows.length > 0;
  }

  async deferOutbox(outboxIds: string[], dueAt: number) {
    if (outboxIds.length === 0) return;
    await this.all(
      "UPDATE outbox SET due_at = $1, lease_until = NULL WHERE id IN (SELECT jsonb_array_elements_text($2::text::jsonb)) AND status = 'pending'",
      dueAt, JSON.stringify(outboxIds),
    );
  }

  async insertAlert(alert: AlertRow) {
    const sql = `INSERT INTO alerts (${alertColumns.join(', ')}) VALUES (${placeholders(alertColumns.length)}) ON CONFLICT DO NOTHING RETURNING id`;
    return (await this.all(sql, ...alertValues(alert))).length === 1 ? ('inserted' as const) : ('exists' as const);
  }

  async listAlerts(query: AlertQuery) {
    const { where, params } = alertFilter(query);
    return (await this.all(`SELECT * FROM alerts ${where} ORDER BY id DESC LIMIT ${int(query.limit)}`, ...params)).map(alertOf);
  }

  async ackAlert(alertId: string, at: number, by: string) {
    const [changed] = await this.all('UPDATE alerts SET acked_at = $1, acked_by = $2 WHERE id = $3 AND acked_at IS NULL RETURNING *', at, by, alertId);
    if (changed) return { alert: alertOf(changed), acked: true };
    const [row] = await this.all('SELECT * FROM alerts WHERE id = $1', alertId);
    return row ? { alert: alertOf(row), acked: false } : null;
  }

  async countOpenAlerts() {
    const rows = await this.all('SELECT kind, count(*) AS n FROM alerts WHERE acked_at IS NULL GROUP BY kind');
    return Object.fromEntries(rows.map((r) => [r.kind as string, int(r.n)]));
  }

  async eachReconFactsCompleted(channel: string, fromMs: number, toMs: number, take: (page: ReconFacts[]) => void) {
    // A cursor lives in a transaction; a read-only one holds no locks that matter to writers.
    await this.sql.begin('READ ONLY', async (tx) => {
      await tx.unsafe(
        `DECLARE recon_facts NO SCROLL CURSOR FOR
         SELECT ${reconFactsFlowColumns} FROM flows f WHERE f.channel = $1 AND f.completed_at >= $2 AND f.completed_at < $3 AND f.status IN ('succeeded', 'refunded')
         UNION ALL
         SELECT ${reconFactsRefundColumns} FROM refunds r JOIN flows f ON f.id = r.channel_flow_id
         WHERE r.completed_at >= $2 AND r.completed_at < $3 AND f.channel = $1 AND r.status = 'succeeded'`,
        [channel, fromMs, toMs],
      );
      for (;;) {
        const rows = (await tx.unsafe(`FETCH ${recon_facts_page_max} FROM recon_facts`)) as Row[];
        if (rows.length > 0) take(rows.map(reconFactsOf));
        if (rows.length < recon_facts_page_max) return;
      }
    });
  }

  async reconRecordsByIds(flowIds: string[], refundIds: string[]) {
    return (await this.all(
      `SELECT ${reconFlowColumns} FROM flows f WHERE f.id IN (SELECT jsonb_array_elements_text($1::jsonb))
       UNION ALL
       SELECT ${reconRefundColumns} FROM refunds r WHERE r.id IN (SELECT jsonb_array_elements_text($2::jsonb)) AND r.channel_flow_id IS NOT NULL`,
      flowIds, refundIds,
    )).map(reconRecordOf);
  }

  async startReconRun(run: ReconRunRow, rerun: boolean, nowMs: number) {
    return this.sql.begin(async (tx) => {
      const taken = await tx.unsafe(
        `UPDATE recon_runs SET status = 'running', source = $1, error = NULL, lease_until = $2, finished_at = NULL
         WHERE id = $3 AND (status <> 'done' OR $4) AND (lease_until IS NULL OR lease_until < $5) RETURNING id`,
        [run.source, run.leaseUntil, run.id, rerun, nowMs],
      );
      if ((taken as Row[]).length === 1) return run;
      const inserted = await tx.unsafe(
        `INSERT INTO recon_runs (${reconRunColumns.join(', ')}) VALUES (${placeholders(reconRunColumns.length)}) ON CONFLICT DO NOTHING RETURNING id`,
        reconRunValues(run, asJsonb),
      );
      return (inserted as Row[]).length === 1 ? run : null;
    });
  }

  async recordReconDiffs(runId: string, diffs: ReconDiffRow[]) {
    await this.sql.begin((tx) => replaceReconDiffs(tx, runId, diffs));
  }

  async finishReconRun(result: ReconRunResult) {
    const { run } = result;
    await this.sql.begin(async (tx) => {
      await tx.unsafe('UPDATE recon_runs SET status = $1, counts = $2, totals = $3, error = $4, lease_until = NULL, finished_at = $5 WHERE id = $6',
        [run.status, run.counts, run.totals, run.error, run.finishedAt, run.id]);
      await replaceReconDiffs(tx, run.id, result.diffs);
      if (result.pendingRemoved.length > 0) {
        await tx.unsafe('DELETE FROM recon_pending WHERE channel = $1 AND record_id IN (SELECT jsonb_array_elements_text($2::jsonb))', [run.channel, result.pendingRemoved]);
      }
      for (const p of result.pendingAdded) {
        await tx.unsafe('INSERT INTO recon_pending (channel, record_id, state, date, local) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [p.channel, p.recordId, p.state, p.date, p.local]);
      }
    });
  }

  async loadReconRun(runId: string) {
    const [row] = await this.all('SELECT * FROM recon_runs WHERE id = $1', runId);
    return row ? reconRunOf(row, json) : null;
  }

  async findReconRun(channel: string, date: string) {
    const [row] = await this.all('SELECT * FROM recon_runs WHERE channel = $1 AND date = $2', channel, date);
    return row ? reconRunOf(row, json) : null;
  }

  async listReconRuns(query: ReconRunsQuery) {
    return (await this.all(
      `SELECT * FROM recon_runs WHERE ($1::text IS NULL OR channel = $1) AND ($2::text IS NULL OR date = $2)
         AND ($3::text IS NULL OR date < $3 OR (date = $3 AND channel > $4)) ORDER BY date DESC, channel LIMIT $5`,
      query.channel ?? null, query.date ?? null, query.after?.date ?? null, query.after?.channel ?? null, query.limit,
    )).map((r) => reconRunOf(r, json));
  }

  async listReconDiffs(runId: string) {
    return (await this.all('SELECT * FROM recon_diffs WHERE run_id = $1 ORDER BY id', runId)).map((r) => reconDiffOf(r, json));
  }

  async resolveReconDiff(runId: string, diffId: string, change: Pick<ReconDiffRow, 'resolution' | 'note' | 'resolvedBy' | 'resolvedAt'>) {
    const [changed] = await this.all(
      "UPDATE recon_diffs SET resolution = $1, note = $2, resolved_by = $3, resolved_at = $4 WHERE id = $5 AND run_id = $6 AND resolution = 'open' RETURNING *",
      change.resolution, change.note, change.resolvedBy, change.resolvedAt, diffId, runId,
    );
    if (changed) return { diff: reconDiffOf(changed, json), resolved: true };
    const [row] = await this.all('SELECT * FROM recon_diffs WHERE id = $1 AND run_id = $2', diffId, runId);
    return row ? { diff: reconDiffOf(row, json), resolved: false } : null;
  }

  async listReconPending(channel: string) {
    return (await this.all('SELECT * FROM recon_pending WHERE channel = $1 ORDER BY date, record_id', channel)).map((r) => reconPendingOf(r, json));
  }

  async listOpenReconDiffs(beforeMs: number, limit: number) {
    return (await this.all("SELECT * FROM recon_diffs WHERE resolution = 'open' AND created_at < $1 ORDER BY created_at LIMIT $2", beforeMs, limit)).map((r) => reconDiffOf(r, json));
  }

  async searchOrders(search: OrderSearch) {
    const { where, params } = orderSearchFilter(search);
    return (await this.all(`SELECT o.* FROM orders o ${where} ORDER BY o.id DESC LIMIT ${int(search.limit)}`, ...params)).map((r) => orderOf(r, json));
  }

  async orderStatsSince(idFrom: string) {
    return (await this.all(orderStatsSql, idFrom)).map(orderStatsOf);
  }

  async insertAdminAudit(row: AdminAuditRow) {
    await this.all('INSERT INTO admin_audit (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)', row.id, row.at, row.actor, row.action, row.target, asJsonb(row.detail));
  }

  async listAdminAudit(beforeId: string | null, limit: number) {
    return (await this.all('SELECT * FROM admin_audit WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT $2', beforeId, limit)).map((r) => adminAuditOf(r, json));
  }

  async outboxBacklog(): Promise<number> {
    const [row] = await this.all("SELECT count(*) AS n FROM outbox WHERE status = 'pending'");
    return int(row!.n);
  }

  async ping(): Promise<void> {
    await this.sql.unsafe('SELECT 1');
  }

  async close(): Promise<void> {
    await this.sql.close();
  }
}

/** Opens a pool on the Postgres database at `url`; the caller migrates. */
export function openPostgresStore(url: string, options: { poolMax?: number } = {}): Promise<Store> {
  return PostgresStore.open(url, options.poolMax ?? postgres_pool_max);
}
