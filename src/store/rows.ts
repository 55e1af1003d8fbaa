/**
 * Row mapping shared by both adapters: database rows (snake_case, JSON as the dialect hands
 * it over, BIGINT possibly as strings) to the store's types, and back.
 */
import { type PaymentStatus, paidStatuses } from '../../machines/payment.model.ts';
import { AssertionError, assert } from '../failures.ts';
import type { AdminAuditRow, AlertQuery, AlertRow, Batch, BreakerRow, BreakerTransitionRow, CallbackRow, ChannelRow, ClaimedOutboxRow, FlowRow, JournalPage, JournalRow, MerchantEventRow, MerchantRow, NonceClaim, NotificationResult, OrderRow, OrderSearch, OrderStats, OrderWrite, OutboxResult, ParkedRow, ReconDiffRow, ReconFacts, ReconPendingRow, ReconRecord, ReconRunRow, RefundRow, StoredOutboxRow, TimerRef, TimerRow } from './store.ts';

type Raw = Record<string, unknown>;

/** How a dialect hands JSON columns over: SQLite as text, Postgres already parsed. */
export type JsonDecoder = (value: unknown) => unknown;

export const decodeJsonText: JsonDecoder = (value) => (value === null ? null : JSON.parse(value as string));
export const decodeJsonParsed: JsonDecoder = (value) => value;
export const encodeJsonText = (value: unknown): string => JSON.stringify(value);

/** BIGINT columns arrive as strings from Postgres; amounts and times fit in safe integers. */
export function int(value: unknown): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new AssertionError(`${String(value)} is not a safe integer`);
  return n;
}

const intOrNull = (value: unknown): number | null => (value === null ? null : int(value));

export function orderOf(row: Raw, json: JsonDecoder): OrderRow {
  return {
    id: row.id as string, merchantId: row.merchant_id as string, merchantOrderNo: row.merchant_order_no as string,
    status: row.status as PaymentStatus, amount: int(row.amount), currency: row.currency as string,
    paidAmount: int(row.paid_amount), refundedAmount: int(row.refunded_amount), expiresAt: int(row.expires_at),
    createdAt: int(row.created_at), updatedAt: int(row.updated_at), machineVersion: int(row.machine_version),
    version: int(row.version), snapshot: json(row.snapshot),
  };
}

export function journalOf(row: Raw, json: JsonDecoder): JournalRow {
  return {
    orderId: row.order_id as string, seq: int(row.seq), at: int(row.at), event: json(row.event),
    stateBefore: json(row.state_before), stateAfter: json(row.state_after), effects: json(row.effects) as unknown[],
  };
}

export function timerOf(row: Raw, json: JsonDecoder): TimerRow {
  return { orderId: row.order_id as string, key: row.key as string, dueAt: int(row.due_at), event: json(row.event) };
}

export function outboxOf(row: Raw, json: JsonDecoder): StoredOutboxRow {
  return {
    id: row.id as string, orderId: row.order_id as string, kind: row.kind as string, payload: json(row.payload),
    createdAt: int(row.created_at), dueAt: int(row.due_at),
  };
}

/** A row a claim just took (or took again), with its attempts so far and the claim's count. */
export function claimedOutboxOf(row: Raw, json: JsonDecoder): ClaimedOutboxRow {
  return { ...outboxOf(row, json), attempts: int(row.attempts), claim: int(row.claims) };
}

export function merchantEventOf(row: Raw, json: JsonDecoder): MerchantEventRow {
  return {
    id: row.id as string, merchantId: row.merchant_id as string, orderId: row.order_id as string, type: row.type as string,
    data: json(row.data), createdAt: int(row.created_at),
  };
}

export function flowOf(row: Raw): FlowRow {
  return {
    id: row.id as string, orderId: row.order_id as string, method: row.method as string, channel: row.channel as string,
    amount: int(row.amount), status: row.status as string, channelTradeNo: (row.channel_trade_no as string | null) ?? null,
    createdAt: int(row.created_at), completedAt: intOrNull(row.completed_at),
  };
}

export function refundOf(row: Raw): RefundRow {
  return {
    id: row.id as string, orderId: row.order_id as string, merchantId: row.merchant_id as string,
    refundNo: (row.refund_no as string | null) ?? null, amount: int(row.amount), reason: (row.reason as string | null) ?? null, status: row.status as string,
    automatic: Boolean(row.automatic), createdAt: int(row.created_at), completedAt: intOrNull(row.completed_at),
    channelFlowId: (row.channel_flow_id as string | null) ?? null, channelAmount: intOrNull(row.channel_amount),
  };
}

/** Column lists in one place, so both dialects insert the same columns in the same order. */
export const orderColumns = [
  'id', 'merchant_id', 'merchant_order_no', 'status', 'amount', 'currency', 'paid_amount', 'refunded_amount',
  'expires_at', 'created_at', 'updated_at', 'machine_version', 'version', 'snapshot',
] as const;

export function orderValues(o: OrderRow, json: (v: unknown) => unknown): unknown[] {
  return [o.id, o.merchantId, o.merchantOrderNo, o.status, o.amount, o.currency, o.paidAmount, o.refundedAmount,
    o.expiresAt, o.createdAt, o.updatedAt, o.machineVersion, o.version, json(o.snapshot)];
}

export function merchantOf(row: Raw, json: JsonDecoder): MerchantRow {
  return {
    id: row.id as string, name: row.name as string, secretEnc: row.secret_enc as string, notifyUrl: (row.notify_url as string | null) ?? null,
    methods: json(row.methods) as string[], status: row.status as MerchantRow['status'], routing: row.routing as MerchantRow['routing'],
    createdAt: int(row.created_at), updatedAt: int(row.updated_at),
  };
}

export function channelOf(row: Raw, json: JsonDecoder): ChannelRow {
  return {
    code: row.code as string, provider: row.provider as string, methods: json(row.methods) as string[], currencies: json(row.currencies) as string[],
    weight: int(row.weight), singleLimit: intOrNull(row.single_limit), dailyLimit: intOrNull(row.daily_limit),
    status: row.status as ChannelRow['status'], configEnc: row.config_enc as string, feeRate: row.fee_rate as string,
    createdAt: int(row.created_at), updatedAt: int(row.updated_at),
  };
}

export function breakerOf(row: Raw): BreakerRow {
  return {
    code: row.code as string, state: row.state as BreakerRow['state'], forced: Boolean(row.forced), openedAt: intOrNull(row.opened_at),
    since: int(row.since), version: int(row.version), probeUntil: int(row.probe_until),
  };
}

export function breakerTransitionOf(row: Raw): BreakerTransitionRow {
  return {
    id: row.id as string, code: row.code as string, at: int(row.at), from: row.from_state as BreakerTransitionRow['from'],
    to: row.to_state as BreakerTransitionRow['to'], reason: row.reason as string,
  };
}

/** A channel's breaker before anything happened to it (no row yet: its first move writes version 1). */
export const closedBreaker = (code: string): BreakerRow =>
  ({ code, state: 'closed', forced: false, openedAt: null, since: 0, version: 0, probeUntil: 0 });

/** Merchant and channel columns, and their values in that order (JSON columns through `json`). */
export const merchantColumns = ['id', 'name', 'secret_enc', 'notify_url', 'methods', 'status', 'created_at', 'updated_at', 'routing'] as const;
export const merchantValues = (m: MerchantRow, json: (v: unknown) => unknown): unknown[] =>
  [m.id, m.name, m.secretEnc, m.notifyUrl, json(m.methods), m.status, m.createdAt, m.updatedAt, m.routing];

export const channelColumns = ['code', 'provider', 'methods', 'currencies', 'weight', 'single_limit', 'daily_limit', 'status', 'config_enc', 'created_at', 'updated_at', 'fee_rate'] as const;
export const channelValues = (c: ChannelRow, json: (v: unknown) => unknown): unknown[] =>
  [c.code, c.provider, json(c.methods), json(c.currencies), c.weight, c.singleLimit, c.dailyLimit, c.status, c.configEnc, c.createdAt, c.updatedAt, c.feeRate];

export const breakerColumns = ['code', 'state', 'forced', 'opened_at', 'since', 'version', 'probe_until'] as const;
export const breakerValues = (b: BreakerRow, flag: (v: boolean) => unknown): unknown[] =>
  [b.code, b.state, flag(b.forced), b.openedAt, b.since, b.version, b.probeUntil];
export const transitionValues = (t: BreakerTransitionRow): unknown[] => [t.id, t.code, t.at, t.from, t.to, t.reason];

/** Equal claims in one batch: only the first can win. */
export function firstClaims(claims: NonceClaim[]): boolean[] {
  const seen = new Set<string>();
  return claims.map((c) => {
    const key = `${c.merchantId}\u0000${c.nonce}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Rows of one kind one order's list queries return at most (flows, refunds, outbox rows,
 * timers, merchant events, callbacks): a runaway order cannot make a read unbounded. The
 * journal, which grows with every event, is read in pages of at most this many instead.
 */
export const per_order_rows_max = 1_000;

/** The journal's first page. */
export const first_journal_page: JournalPage = { afterSeq: 0, limit: per_order_rows_max };

/** How often a store purges expired nonces, at most. */
export const nonce_purge_interval_ms = 10_000;
/** Expired nonces removed per purge, at most: the purge runs on the commit path, so it stays short. */
export const nonce_purge_rows_max = 10_000;

/** Rows of one kind in a batch are distinct by key: Postgres' one-statement commit may not touch a row twice. */
function assertDistinct(keys: string[], what: string): void {
  assert(new Set(keys).size === keys.length, what);
}

/** A batch with nothing in it yet, to add to. */
export const emptyBatch = (nowMs: number): Batch => ({ writes: [], nonces: [], outboxResults: [], notifications: [], callbacks: [], callbackOutcomes: [], nowMs });

export const isEmptyBatch = (b: Batch): boolean =>
  b.writes.length + b.nonces.length + b.outboxResults.length + b.notifications.length + b.callbacks.length + b.callbackOutcomes.length === 0;

/**
 * What the store relies on in a batch (store.ts: Batch, OrderWrite). Both adapters check it
 * before writing anything: a breach is a bug in the engine, and writing it would corrupt an order.
 */
export function assertBatch(batch: Batch): void {
  const { writes } = batch;
  const callbacks = batch.callbacks.map((c) => c.id);
  assertDistinct(callbacks, 'callback ids are distinct in a batch');
  assertDistinct(batch.callbackOutcomes.map((o) => o.callbackId), 'one outcome per callback in a batch');
  // Postgres' one statement would not see a callback it inserts: its outcome comes once it is committed.
  assert(batch.callbackOutcomes.every((o) => !callbacks.includes(o.callbackId)), "a callback's outcome follows its committed record");
  assertDistinct(writes.map((w) => w.order.id), 'one write per order in a batch');
  for (const w of writes) {
    const id = w.order.id;
    assert(w.order.version === w.expectedVersion + 1, `${id}: a write advances the version by one`);
    assert(w.journal.orderId === id && w.journal.seq === w.order.version, `${id}: the journal row's seq is the order's new version`);
    const rows = [...w.flows, ...w.refunds, ...w.outbox, ...w.merchantEvents, ...w.timersArmed];
    assert(rows.every((row) => row.orderId === id), `${id}: a write's rows belong to its order`);
    const armed = w.timersArmed.map((t) => t.key);
    assertDistinct([...armed, ...w.timersDisarmed], `${id}: timer keys are armed or disarmed once`);
  }
  assertDistinct(writes.flatMap((w) => w.flows.map((f) => f.id)), 'flow ids are distinct in a batch');
  assertDistinct(writes.flatMap((w) => w.refunds.map((r) => r.id)), 'refund ids are distinct in a batch');
}

export function callbackOf(row: Raw, json: JsonDecoder): CallbackRow {
  return {
    id: row.id as string, provider: row.provider as string, channelCode: row.channel_code as string,
    headers: json(row.headers) as Record<string, string>, body: row.body as string, receivedAt: int(row.received_at),
    verified: row.verified === null ? null : Boolean(row.verified), orderId: (row.order_id as string | null) ?? null,
    flowId: (row.flow_id as string | null) ?? null, outcome: (row.outcome as string | null) ?? null,
  };
}

/** One string for a timer's name, to match timers by it. */
export const timerRefKey = (ref: TimerRef): string => `${ref.orderId}\u0000${ref.key}`;

/** Timer names as the { order_id, key } records a store's loadTimers reads. */
export const timerRefRecords = (refs: TimerRef[]) => refs.map((r) => ({ order_id: r.orderId, key: r.key }));

/** The timers found for these names, in the names' order; null where none is armed. */
export function timersInOrder(refs: TimerRef[], found: TimerRow[]): Array<TimerRow | null> {
  const byRef = new Map(found.map((t) => [timerRefKey(t), t]));
  return refs.map((r) => byRef.get(timerRefKey(r)) ?? null);
}

/** A parked outbox row (status 'parked') or a row of parked_timers, as operators see it. */
export function parkedOf(source: ParkedRow['source'], row: Raw, json: JsonDecoder): ParkedRow {
  if (source === 'outbox') {
    return { source, orderId: row.order_id as string, ref: row.id as string, kind: row.kind as string, error: (row.last_error as string | null) ?? '', parkedAt: int(row.completed_at), detail: json(row.payload) };
  }
  return { source, orderId: row.order_id as string, ref: row.key as string, kind: 'timer', error: row.error as string, parkedAt: int(row.parked_at), detail: json(row.event) };
}

/**
 * An outbox row's columns after an execution: its status, last error and next due time; written
 * only while the row's claim count is still `claim` (null: whatever it is).
 */
export type OutboxUpdate = { id: string; status: 'pending' | 'done' | 'failed' | 'parked'; error: string | null; dueAt: number; completedAt: number | null; claim: number | null };

function outboxUpdateOf(r: OutboxResult): OutboxUpdate {
  const claim = r.claim ?? null;
  if (r.next.status === 'retry') return { id: r.outboxId, status: 'pending', error: r.error, dueAt: r.next.dueAt, completedAt: null, claim };
  return { id: r.outboxId, status: r.next.status, error: r.error, dueAt: r.at, completedAt: r.at, claim };
}

/** A delivery attempt's consequence for its outbox row, fenced by the claim that started it. */
const notificationUpdateOf = (r: NotificationResult): OutboxUpdate => ({
  ...outboxUpdateOf({ outboxId: r.outboxId, at: r.attempt.at, error: r.attempt.error, next: r.next.status === 'delivered' || r.next.status === 'unsent' ? { status: 'done' } : r.next }),
  claim: r.claim,
});

/** The last of each id's values: on Postgres one statement may not update a row twice. */
const lastPerId = <T extends { id: string }>(rows: T[]): T[] => [...new Map(rows.map((row) => [row.id, row])).values()];

/**
 * Per outbox row, the batch's result of its newest claim (unfenced ones count as the oldest; of
 * equal claims the later): two executions of one row (a lease that ran out mid-call) may finish in
 * one batch, and only the newer claim's result can be written — the older one's is refused by its
 * fence, and had it been kept instead, neither would be.
 */
function newestClaims<R extends { outboxId: string; claim?: number }>(results: R[]): R[] {
  const newest = new Map<string, R>();
  for (const r of results) if ((newest.get(r.outboxId)?.claim ?? -1) <= (r.claim ?? -1)) newest.set(r.outboxId, r);
  return [...newest.values()];
}

/** A batch's outbox results and delivery attempts as row updates, one per row (newestClaims). */
export function outboxUpdatesOf(batch: Pick<Batch, 'outboxResults' | 'notifications'>): OutboxUpdate[] {
  return lastPerId([...newestClaims(batch.outboxResults).map(outboxUpdateOf), ...newestClaims(batch.notifications).map(notificationUpdateOf)]);
}

/**
 * Which of a batch's results (outbox results, or delivery attempts) were written, given the outbox
 * rows its updates changed (BatchOutcome.outboxResults, .notifications).
 */
export function resultsWritten<R extends { outboxId: string; claim?: number }>(results: R[], changedOutboxIds: ReadonlySet<string>): boolean[] {
  const current = new Set(newestClaims(results));
  return results.map((r) => current.has(r) && changedOutboxIds.has(r.outboxId));
}

/** A delivery attempt's consequence for its merchant event, written with its outbox row's. */
export type MerchantEventUpdate = { id: string; outboxId: string; status: 'pending' | 'delivered' | 'failed' | 'unsent'; deliveredAt: number | null };

export function merchantEventUpdatesOf(notifications: NotificationResult[]): MerchantEventUpdate[] {
  return lastPerId(newestClaims(notifications).map((r): MerchantEventUpdate => ({
    id: r.eventId, outboxId: r.outboxId, status: r.next.status === 'retry' ? 'pending' : r.next.status, deliveredAt: r.next.status === 'delivered' ? r.attempt.at : null,
  })));
}

export function alertOf(row: Raw): AlertRow {
  return {
    id: row.id as string, kind: row.kind as string, message: row.message as string, paymentId: (row.payment_id as string | null) ?? null,
    channel: (row.channel as string | null) ?? null, createdAt: int(row.created_at), ackedAt: intOrNull(row.acked_at), ackedBy: (row.acked_by as string | null) ?? null,
  };
}

export const alertColumns = ['id', 'kind', 'message', 'payment_id', 'channel', 'created_at', 'acked_at', 'acked_by'] as const;
export const alertValues = (a: AlertRow): unknown[] => [a.id, a.kind, a.message, a.paymentId, a.channel, a.createdAt, a.ackedAt, a.ackedBy];

/**
 * A WHERE clause built from the filters a listing was given, with `$n` placeholders (SQLite
 * accepts them too), so both dialects ask the same question. `add` takes a clause with one `?`.
 */
function whereOf(build: (add: (clause: string, ...value: [] | [unknown]) => void) => void): { where: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  build((clause, ...value) => {
    if (value.length === 0) return void clauses.push(clause);
    params.push(value[0]);
    clauses.push(clause.replace('?', `$${params.length}`));
  });
  return { where: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** An alert listing's filters. */
export const alertFilter = (query: AlertQuery) => whereOf((add) => {
  if (query.open === true) add('acked_at IS NULL');
  if (query.open === false) add('acked_at IS NOT NULL');
  if (query.kind !== undefined) add('kind = ?', query.kind);
  if (query.paymentId !== undefined) add('payment_id = ?', query.paymentId);
  if (query.beforeId !== undefined) add('id < ?', query.beforeId);
});

export function reconRecordOf(row: Raw): ReconRecord {
  return {
    kind: row.kind as ReconRecord['kind'], flowId: row.flow_id as string, refundId: (row.refund_id as string | null) ?? null,
    orderId: row.order_id as string, amount: int(row.amount), status: row.status as string,
    channelTradeNo: (row.channel_trade_no as string | null) ?? null, completedAt: intOrNull(row.completed_at),
  };
}

/** Facts per page handed on by `eachReconFactsCompleted`. */
export const recon_facts_page_max = 10_000;

export const reconFactsOf = (row: Raw): ReconFacts =>
  ({ kind: row.kind as ReconFacts['kind'], key: row.record_key as string, amount: int(row.amount), status: row.status as string });

/** The columns of ReconFacts from `flows f` (payments) and from `refunds r` (their channel parts). */
export const reconFactsFlowColumns = "'payment' AS kind, f.id AS record_key, f.amount, f.status";
export const reconFactsRefundColumns = "'refund' AS kind, r.id AS record_key, r.channel_amount AS amount, r.status";

/** The columns of a ReconRecord from `flows f` (payments) and from `refunds r` (their channel parts). */
export const reconFlowColumns = "'payment' AS kind, f.id AS flow_id, NULL AS refund_id, f.order_id, f.amount, f.status, f.channel_trade_no, f.completed_at";
export const reconRefundColumns = "'refund' AS kind, r.channel_flow_id AS flow_id, r.id AS refund_id, r.order_id, r.channel_amount AS amount, r.status, NULL AS channel_trade_no, r.completed_at";

export function reconRunOf(row: Raw, json: JsonDecoder): ReconRunRow {
  return {
    id: row.id as string, channel: row.channel as string, date: row.date as string, status: row.status as ReconRunRow['status'],
    source: row.source as ReconRunRow['source'], counts: json(row.counts) as Record<string, number>, totals: json(row.totals) as Record<string, string>,
    error: (row.error as string | null) ?? null, leaseUntil: intOrNull(row.lease_until), createdAt: int(row.created_at), finishedAt: intOrNull(row.finished_at),
  };
}

export const reconRunColumns = ['id', 'channel', 'date', 'status', 'source', 'counts', 'totals', 'error', 'lease_until', 'created_at', 'finished_at'] as const;
export const reconRunValues = (r: ReconRunRow, json: (v: unknown) => unknown): unknown[] =>
  [r.id, r.channel, r.date, r.status, r.source, json(r.counts), json(r.totals), r.error, r.leaseUntil, r.createdAt, r.finishedAt];

export function reconDiffOf(row: Raw, json: JsonDecoder): ReconDiffRow {
  return {
    id: row.id as string, runId: row.run_id as string, kind: row.kind as string, recordKey: row.record_key as string,
    flowId: (row.flow_id as string | null) ?? null, refundId: (row.refund_id as string | null) ?? null,
    channelTradeNo: (row.channel_trade_no as string | null) ?? null, local: json(row.local) as ReconRecord | null, channelRow: json(row.channel_row),
    resolution: row.resolution as ReconDiffRow['resolution'], note: (row.note as string | null) ?? null,
    resolvedBy: (row.resolved_by as string | null) ?? null, resolvedAt: intOrNull(row.resolved_at), createdAt: int(row.created_at),
  };
}

export const reconDiffColumns = ['id', 'run_id', 'kind', 'record_key', 'flow_id', 'refund_id', 'channel_trade_no', 'local', 'channel_row', 'resolution', 'note', 'resolved_by', 'resolved_at', 'created_at'] as const;
export const reconDiffValues = (d: ReconDiffRow, json: (v: unknown) => unknown): unknown[] =>
  [d.id, d.runId, d.kind, d.recordKey, d.flowId, d.refundId, d.channelTradeNo, json(d.local), json(d.channelRow), d.resolution, d.note, d.resolvedBy, d.resolvedAt, d.createdAt];

export const reconPendingOf = (row: Raw, json: JsonDecoder): ReconPendingRow =>
  ({ channel: row.channel as string, recordId: row.record_id as string, state: row.state as ReconPendingRow['state'], date: row.date as string, local: json(row.local) as ReconRecord });

/** A payments search's filters over `orders o`; channel and method filters ask the order's flows. */
export const orderSearchFilter = (search: OrderSearch) => whereOf((add) => {
  if (search.merchantId !== undefined) add('o.merchant_id = ?', search.merchantId);
  if (search.merchantOrderNo !== undefined) add('o.merchant_order_no = ?', search.merchantOrderNo);
  if (search.status !== undefined) add('o.status = ?', search.status);
  if (search.idFrom !== undefined) add('o.id >= ?', search.idFrom);
  if (search.idBefore !== undefined) add('o.id < ?', search.idBefore);
  if (search.channel !== undefined) add('EXISTS (SELECT 1 FROM flows f WHERE f.order_id = o.id AND f.channel = ?)', search.channel);
  if (search.method !== undefined) add('EXISTS (SELECT 1 FROM flows f WHERE f.order_id = o.id AND f.method = ?)', search.method);
});

export const orderStatsOf = (row: Raw): OrderStats => ({
  currency: row.currency as string, orders: int(row.orders), attempted: int(row.attempted), paid: int(row.paid),
  paidAmount: int(row.paid_amount), refundedAmount: int(row.refunded_amount),
});

const paidSql = `o.status IN (${paidStatuses.map((s) => `'${s}'`).join(', ')})`;

/**
 * An order was attempted once it has a flow (a payer picked a method; a balance part is a flow too):
 * orders nobody tried to pay are no failures of the channels. One index probe (flows_order) per order.
 * It reads the day's whole order rows: the console runs it at most once per home_stats_fresh_ms an
 * instance (src/console/home-stats.ts), and an index covering it would be written by every create
 * and status change (see 0016_orders_unused_indexes.sql for what that cost).
 */
export const orderStatsSql = `SELECT o.currency, count(*) AS orders,
  sum(CASE WHEN EXISTS (SELECT 1 FROM flows f WHERE f.order_id = o.id) THEN 1 ELSE 0 END) AS attempted,
  sum(CASE WHEN ${paidSql} THEN 1 ELSE 0 END) AS paid,
  coalesce(sum(CASE WHEN ${paidSql} THEN o.paid_amount ELSE 0 END), 0) AS paid_amount,
  coalesce(sum(CASE WHEN ${paidSql} THEN o.refunded_amount ELSE 0 END), 0) AS refunded_amount
  FROM orders o WHERE o.id >= $1 GROUP BY o.currency ORDER BY o.currency`;

export const adminAuditOf = (row: Raw, json: JsonDecoder): AdminAuditRow =>
  ({ id: row.id as string, at: int(row.at), actor: row.actor as string, action: row.action as string, target: row.target as string, detail: json(row.detail) });
