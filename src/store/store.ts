/**
 * The store port. Two adapters implement it: bun:sqlite (store/sqlite.ts, the default)
 * and Postgres through Bun's built-in SQL (store/postgres.ts). The engine only ever
 * writes orders through `commitBatch`, which applies many orders' write sets (and request
 * nonce claims) in one durable transaction (group commit); each write applies only if the
 * order's row version is still the one the engine read (fencing).
 */
import type { RoutingStrategy } from '../routing/strategies.ts';
import type { PaymentStatus } from '../../machines/payment.model.ts';
import type { LedgerOp, Program, Row, Statement } from '../balance/ledger.ts';
import type { StoredOutboxRow } from './outbox.ts';

export type Dialect = 'sqlite' | 'postgres';

/** Times are Unix epoch milliseconds; money is integer minor units. */
export type OrderRow = {
  id: string;
  merchantId: string;
  merchantOrderNo: string;
  status: PaymentStatus;
  amount: number;
  currency: string;
  paidAmount: number;
  refundedAmount: number;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
  /** Version of the machine definition that wrote `snapshot`. */
  machineVersion: number;
  /** Row version: 1 after the order's first event, +1 per committed event, gap-free. */
  version: number;
  /** The XState persisted snapshot (a JSON value). */
  snapshot: unknown;
};

export type FlowRow = {
  id: string;
  orderId: string;
  method: string;
  channel: string;
  /** What went through the channel: the flow's amount, or what its channel reported taking instead (reconciliation and channel limits read it). */
  amount: number;
  status: string;
  channelTradeNo: string | null;
  createdAt: number;
  completedAt: number | null;
};

export type RefundRow = {
  id: string;
  orderId: string;
  merchantId: string;
  /** The merchant's refund number; null for refunds paycenter started on its own. */
  refundNo: string | null;
  amount: number;
  /** The merchant's reason (null when none was given, and for automatic refunds' rows before migration 0012). */
  reason: string | null;
  status: string;
  automatic: boolean;
  createdAt: number;
  completedAt: number | null;
  /** The refund's part paid back through an external channel (its flow and amount); null when all of it goes back to the balance. */
  channelFlowId: string | null;
  channelAmount: number | null;
};

/** One committed event of one order; `seq` equals the order's version after the event. */
export type JournalRow = {
  orderId: string;
  seq: number;
  at: number;
  event: unknown;
  stateBefore: unknown;
  stateAfter: unknown;
  effects: unknown[];
};

/** A page of an order's journal: rows with seq > afterSeq, at most `limit`. */
export type JournalPage = { afterSeq: number; limit: number };

/** Side effects waiting to be executed: typed by kind when written, parsed when read back (outbox.ts). */
export type { OutboxRow, StoredOutboxRow } from './outbox.ts';

/** A timer by name: its order and its key there. */
export type TimerRef = { orderId: string; key: string };

/** A timer: when `dueAt` passes, `event` is dispatched to the order's actor. Unique per (orderId, key). */
export type TimerRow = {
  orderId: string;
  key: string;
  dueAt: number;
  event: unknown;
};

/** An operator's browser session: the hash of its id and when it stops being valid. */
export type AdminSessionRow = { idHash: string; createdAt: number; expiresAt: number };

/** A channel's callback exactly as it arrived, then what became of it. */
export type CallbackRow = {
  id: string;
  provider: string;
  channelCode: string;
  headers: Record<string, string>;
  body: string;
  receivedAt: number;
  /** null until looked at; false when the signature or decryption failed. */
  verified: boolean | null;
  orderId: string | null;
  flowId: string | null;
  outcome: string | null;
};

/** What became of a recorded callback. */
export type CallbackOutcome = { callbackId: string } & Pick<CallbackRow, 'verified' | 'orderId' | 'flowId' | 'outcome'>;

/** What executing an outbox row led to: done, another try at dueAt, no tries left, or parked (a bug: never retried by itself). */
export type OutboxResult = {
  outboxId: string;
  /**
   * The claim whose work this is (ClaimedOutboxRow.claim): the result is written only while the
   * row's claim count is still it — a row whose lease ran out and was claimed again (and maybe
   * parked, or retried) is not overwritten by the first claim's late result. Absent: unfenced.
   */
  claim?: number;
  at: number;
  error: string | null;
  next: { status: 'done' } | { status: 'retry'; dueAt: number } | { status: 'failed' } | { status: 'parked' };
};

/** A parked outbox row or timer, as operators see it (GET /admin/parked). */
export type ParkedRow = {
  source: 'outbox' | 'timer';
  orderId: string;
  /** The outbox row's id, or the timer's key. */
  ref: string;
  /** The outbox row's effect kind, or `timer`. */
  kind: string;
  error: string;
  parkedAt: number;
  /** The outbox row's payload, or the timer's event. */
  detail: unknown;
};

/** A notification owed to a merchant (what GET /v1/events lists). */
export type MerchantEventRow = {
  id: string;
  merchantId: string;
  orderId: string;
  type: string;
  data: unknown;
  createdAt: number;
};

export type MerchantStatus = 'enabled' | 'disabled';

/** A merchant (business line). Its signing secret is stored encrypted with SECRET_KEY. */
export type MerchantRow = {
  id: string;
  name: string;
  secretEnc: string;
  notifyUrl: string | null;
  /** Pay methods enabled for this merchant, in the order its cashier shows them. */
  methods: string[];
  status: MerchantStatus;
  /** How its payments pick among routable channels (API.md "Routing"). */
  routing: RoutingStrategy;
  createdAt: number;
  updatedAt: number;
};

/** A payment channel; its config (keys) is stored encrypted with SECRET_KEY. */
export type ChannelRow = {
  code: string;
  provider: string;
  methods: string[];
  currencies: string[];
  weight: number;
  singleLimit: number | null;
  dailyLimit: number | null;
  status: 'enabled' | 'disabled';
  configEnc: string;
  /** The provider's fee as a decimal share of the amount ("0.0060"), as the operator gave it. */
  feeRate: string;
  createdAt: number;
  updatedAt: number;
};

export type BreakerStateName = 'closed' | 'open' | 'half_open';

/**
 * A channel's circuit breaker, held in the store when there is no Redis. `version` grows by one
 * with every transition (compare-and-set between instances); `probeUntil` gates half-open probes.
 */
export type BreakerRow = {
  code: string;
  state: BreakerStateName;
  /** Set by an operator: an open breaker that never half-opens by itself. */
  forced: boolean;
  openedAt: number | null;
  since: number;
  version: number;
  probeUntil: number;
};

export type BreakerTransitionRow = { id: string; code: string; at: number; from: BreakerStateName; to: BreakerStateName; reason: string };
/** An operator alert (src/alerts/): raised once per id, acknowledged by an operator. */
export type AlertRow = {
  id: string;
  kind: string;
  message: string;
  paymentId: string | null;
  channel: string | null;
  createdAt: number;
  ackedAt: number | null;
  ackedBy: string | null;
};

/** Which alerts to list: newest first, before `beforeId` (exclusive) when given. */
export type AlertQuery = { open?: boolean; kind?: string; paymentId?: string; beforeId?: string; limit: number };

/** One of paycenter's records a channel's statement should show: a collected flow, or a refund's channel part. */
export type ReconRecord = {
  kind: 'payment' | 'refund';
  flowId: string;
  refundId: string | null;
  orderId: string;
  /** Minor units that went through the channel. */
  amount: number;
  /** The flow's or the refund's status here. */
  status: string;
  channelTradeNo: string | null;
  completedAt: number | null;
};

/** What matching a statement line needs of a ReconRecord (the whole record is read by id for a difference). `key`: its refund id, or its flow id. */
export type ReconFacts = { kind: ReconRecord['kind']; key: string; amount: number; status: string };

export type ReconRunStatus = 'running' | 'done' | 'failed';
export type ReconRunRow = {
  id: string;
  channel: string;
  date: string;
  status: ReconRunStatus;
  source: 'download' | 'upload' | 'schedule';
  counts: Record<string, number>;
  totals: Record<string, string>;
  error: string | null;
  leaseUntil: number | null;
  createdAt: number;
  finishedAt: number | null;
};

export type ReconDiffRow = {
  id: string;
  runId: string;
  kind: string;
  /** The flow or refund id, or for a line paycenter has no record of the channel's trade number (src/recon/classify.ts unknownLineKey): unique per run and kind. */
  recordKey: string;
  flowId: string | null;
  refundId: string | null;
  channelTradeNo: string | null;
  local: ReconRecord | null;
  /** The statement line as read (a StatementRow), or null for a difference the statement lacks. */
  channelRow: unknown;
  resolution: 'open' | 'repaired' | 'ignored';
  note: string | null;
  resolvedBy: string | null;
  resolvedAt: number | null;
  createdAt: number;
};

/**
 * held: a local success of `date` no statement has shown yet, kept until a later day's file shows
 * it or the hold ends. seen: a record a statement of `date`, not of its own day, showed (a success
 * recorded just after midnight, a line a day late), so no run of its own day holds it. promoted: a
 * hold that ended as a missing_channel difference of the run of `date` (a rerun of it lists it
 * again). Marks that ended are kept for recon_marks_kept_days (src/recon/reconciliation.ts): a
 * rerun of an earlier day respects what later days decided.
 */
export type ReconPendingRow = { channel: string; recordId: string; state: 'held' | 'seen' | 'promoted'; date: string; local: ReconRecord };

/** Which runs to list; `after` is where the previous page ended. */
export type ReconRunsQuery = { channel?: string; date?: string; after?: Pick<ReconRunRow, 'date' | 'channel'>; limit: number };

/** What finishing a run writes, in one transaction. */
export type ReconRunResult = { run: ReconRunRow; diffs: ReconDiffRow[]; pendingAdded: ReconPendingRow[]; pendingRemoved: string[] };

/**
 * A payments search (the console): every given filter applies; newest first, ids below
 * `beforeId`. A time range is an id range (ids sort by creation time).
 */
export type OrderSearch = {
  merchantId?: string;
  merchantOrderNo?: string;
  status?: string;
  channel?: string;
  method?: string;
  /** Inclusive lower and exclusive upper bounds on the order id. */
  idFrom?: string;
  idBefore?: string;
  limit: number;
};

/**
 * Orders created in a span, per currency: how many, how many a payer tried to pay (they have a
 * flow), how many were paid, and the money paid on them and refunded of it since.
 */
export type OrderStats = { currency: string; orders: number; attempted: number; paid: number; paidAmount: number; refundedAmount: number };

/** One write an operator made: who, when, what. */
export type AdminAuditRow = { id: string; at: number; actor: string; action: string; target: string; detail: unknown };

/** A request nonce a merchant may use once while its timestamp window lasts. */
export type NonceClaim = { merchantId: string; nonce: string; expiresAt: number };

/** Everything one event of one order writes, atomically. */
export type OrderWrite = {
  /** 0 when the order is new and must be inserted. */
  expectedVersion: number;
  /** The order after the event; `order.version === expectedVersion + 1`. */
  order: OrderRow;
  journal: JournalRow;
  /** The order's flows and refunds that this event created or changed (upserted by id). */
  flows: FlowRow[];
  refunds: RefundRow[];
  /** Typed by kind when the engine writes them (OutboxRow); the store keeps them as JSON. */
  outbox: StoredOutboxRow[];
  merchantEvents: MerchantEventRow[];
  /** Timers to arm (insert or replace by key) and keys to disarm; the two sets are disjoint. */
  timersArmed: TimerRow[];
  timersDisarmed: string[];
  /**
   * A request's nonce that must be free for this write to apply (a signed create carries its
   * nonce into its own write, so both are durable in one transaction). Claimed before the
   * write is tried: a write that then conflicts leaves the nonce used.
   */
  nonce?: NonceClaim;
  /**
   * Balance-ledger entries this event makes (src/balance/ledger.ts), in the same transaction:
   * a freeze the payer's available balance does not cover refuses the whole write.
   */
  ledger?: LedgerOp[];
};

/**
 * committed: applied. version_conflict: the order's version moved on (or the order is
 * missing) and nothing of this write was applied. duplicate_order: an insert whose id or
 * (merchantId, merchantOrderNo) already exists; nothing applied. nonce_used: the write's
 * nonce was used before; nothing applied. insufficient_balance: a freeze of the write's
 * ledger entries exceeds the payer's available balance; nothing applied.
 */
export type WriteOutcome = 'committed' | 'version_conflict' | 'duplicate_order' | 'nonce_used' | 'insufficient_balance';

/**
 * An outbox row claimed for execution, with how often it was tried before. `claim` is the row's
 * claim count after this claim, which a later claim or a redelivery moves on; a result (an
 * executed effect's, a delivery's) is written only while it is unchanged.
 */
export type ClaimedOutboxRow = StoredOutboxRow & { attempts: number; claim: number };

/** One try at delivering a merchant notification, and what follows from it. */
export type NotificationResult = {
  outboxId: string;
  /** The claim that started the attempt (ClaimedOutboxRow.claim). */
  claim: number;
  eventId: string;
  attempt: { id: string; at: number; httpStatus: number | null; error: string | null; durationMs: number };
  /**
   * delivered: done; retry: try again at dueAt; failed: no tries left; unsent: there is nowhere to
   * send it (no notify_url), so the row is done without a try and the event stays unsent.
   */
  next: { status: 'delivered' } | { status: 'retry'; dueAt: number } | { status: 'failed' } | { status: 'unsent' };
};

/**
 * What one durable transaction carries: order write sets and request nonce claims, and the hot
 * path's records — what became of executed outbox rows (channel calls, notification deliveries),
 * channels' callbacks as they arrived and what became of them — which ride in the next batch
 * instead of transactions of their own.
 */
export type Batch = {
  writes: OrderWrite[];
  nonces: NonceClaim[];
  outboxResults: OutboxResult[];
  notifications: NotificationResult[];
  callbacks: CallbackRow[];
  callbackOutcomes: CallbackOutcome[];
  nowMs: number;
};
/**
 * Per write its outcome; per nonce claim whether it was free (and is now taken); per outbox
 * result and per notification whether it was written (false: its claim was overtaken, and a
 * notification's attempt is only logged).
 */
export type BatchOutcome = { writes: WriteOutcome[]; nonces: boolean[]; outboxResults: boolean[]; notifications: boolean[] };

/** The balance ledger's own reads and writes (credits, debits, balances, entries, the audit). */
export interface LedgerStore {
  /** Runs a ledger program in one durable transaction of its own. */
  transact<T>(program: Program<T>): Promise<T>;
  rows(statement: Statement): Promise<Row[]>;
}

export interface Store {
  readonly dialect: Dialect;
  readonly ledger: LedgerStore;
  /**
   * Applies numbered migrations; refuses a database newer than the code. Answers what it had to
   * repair besides, one sentence each, for the start-up log (usually nothing).
   */
  migrate(): Promise<string[]>;
  /**
   * Applies a batch in ONE durable transaction (one fsync). Each write is isolated from the
   * others: a write that conflicts leaves no trace, the rest still commit. A nonce claim wins
   * when the merchant has not used the nonce, or its earlier use expired (expired nonces are
   * purged now and then); equal claims in one batch: the first wins. The records always apply
   * (callbacks before their outcomes); two results of one outbox row in a batch: the last wins.
   * Outcomes are in input order. Throws only when the store itself fails (then nothing committed).
   */
  commitBatch(batch: Batch): Promise<BatchOutcome>;
  /** commitBatch with writes only: the one-commit-per-event floor of the engine bench, and tests. */
  commit(writes: OrderWrite[]): Promise<WriteOutcome[]>;
  loadOrder(orderId: string): Promise<OrderRow | null>;
  /** Orders by id after `afterId` (exclusive), for scans such as the audit. */
  scanOrders(afterId: string, limit: number): Promise<OrderRow[]>;
  /** Outbox rows that ran out of tries. */
  listFailedOutbox(limit: number): Promise<StoredOutboxRow[]>;
  findOrderByMerchantOrderNo(merchantId: string, merchantOrderNo: string): Promise<OrderRow | null>;
  /** One page of an order's journal: seq after `afterSeq`, at most `limit` rows (default: the first page of per_order_rows_max). */
  listJournal(orderId: string, page?: JournalPage): Promise<JournalRow[]>;
  listTimers(orderId: string): Promise<TimerRow[]>;
  /**
   * Claims up to `limit` due timers that no live lease holds, leasing them until
   * `nowMs + leaseMs`: a ticker that dies mid-way leaves them to fire again after the lease.
   */
  claimDueTimers(nowMs: number, leaseMs: number, limit: number): Promise<TimerRow[]>;
  /**
   * Removes fired timers in one transaction, except those the order re-armed meanwhile (their
   * due time changed); returns the ones removed.
   */
  deleteFiredTimers(timers: TimerRow[]): Promise<TimerRow[]>;
  /**
   * Leases the given timers, each only if its row still has that due time and no live lease
   * holds it (a table sweep or another process may have claimed it); returns the ones leased.
   */
  leaseTimers(timers: TimerRow[], nowMs: number, leaseMs: number): Promise<TimerRow[]>;
  /** The timers of these (order, key) pairs, in their order; null for one that is not armed. One read for all. */
  loadTimers(refs: TimerRef[]): Promise<Array<TimerRow | null>>;
  /** Timers in (order id, key) order after the given one, for re-seeding an index. */
  scanTimers(after: TimerRef | null, limit: number): Promise<TimerRow[]>;
  listOutbox(orderId: string): Promise<StoredOutboxRow[]>;
  /** Claims up to `limit` pending outbox rows of these kinds that are due and not leased, leasing them. */
  claimOutbox(kinds: readonly string[], nowMs: number, leaseMs: number, limit: number): Promise<ClaimedOutboxRow[]>;
  /** Claims one pending, unleased outbox row by id whatever its due time (an effect run in-line); null when taken or done. */
  claimOutboxRow(outboxId: string, nowMs: number, leaseMs: number): Promise<ClaimedOutboxRow | null>;
  /**
   * Records the execution of a claimed outbox row (not a notification: those go through
   * recordNotification) in a transaction of its own: commitBatch with this one result. False
   * when the result's claim was overtaken and nothing was written.
   */
  finishOutbox(result: OutboxResult): Promise<boolean>;
  /**
   * Records a delivery attempt and its consequence (outbox row and merchant event) in a
   * transaction of its own: commitBatch with this one result. The consequence is written only if
   * the row's claim is still the attempt's (a redelivery, or another claim after the lease ran
   * out, moved it on); the attempt is logged either way, as it was made. True when written.
   */
  recordNotification(result: NotificationResult): Promise<boolean>;
  /** With its delivery status, and the last attempt's error (an HTTP status or a network failure) while it has one. */
  loadMerchantEvent(eventId: string): Promise<(MerchantEventRow & { status: string; attempts: number; lastError: string | null }) | null>;
  /** The merchant events of these ids that exist, in one read (a delivery poll's rows; at most a poll's batch). */
  loadMerchantEvents(eventIds: string[]): Promise<MerchantEventRow[]>;
  /** Queues a notification again, due now, with a fresh retry schedule, overtaking any claim on it; false for an unknown event. */
  resendNotification(eventId: string, nowMs: number): Promise<boolean>;
  listFlows(orderId: string): Promise<FlowRow[]>;
  /** A flow by its id (the out_trade_no channels report), to find its order. */
  loadFlow(flowId: string): Promise<FlowRow | null>;
  /** Writes a callback's raw record (commitBatch with this one); done before anything else is done with the callback. */
  insertCallback(callback: CallbackRow): Promise<void>;
  /** Records what became of a callback (commitBatch with this one). */
  updateCallback(outcome: CallbackOutcome): Promise<void>;
  listCallbacks(orderId: string): Promise<CallbackRow[]>;
  listRefunds(orderId: string): Promise<RefundRow[]>;
  listMerchantEvents(orderId: string): Promise<MerchantEventRow[]>;
  /** The refund's order, for looking a refund up by its id alone. */
  findRefund(refundId: string): Promise<RefundRow | null>;
  /**
   * A merchant's notifications after the given one (exclusive), in the order they became visible:
   * an event that commits later is never listed before one already passed. Null when `afterId`
   * names no event of this merchant.
   */
  listMerchantEventsAfter(merchantId: string, afterId: string | null, limit: number): Promise<MerchantEventRow[] | null>;

  // Merchants and channels (operator data; written outside order actors).
  insertMerchant(merchant: MerchantRow): Promise<'inserted' | 'exists'>;
  loadMerchant(merchantId: string): Promise<MerchantRow | null>;
  updateMerchant(merchant: MerchantRow): Promise<void>;
  /** Merchants by id after `afterId` (exclusive; null: from the first), at most `limit`. */
  listMerchants(afterId: string | null, limit: number): Promise<MerchantRow[]>;
  insertChannel(channel: ChannelRow): Promise<'inserted' | 'exists'>;
  loadChannel(code: string): Promise<ChannelRow | null>;
  listChannels(): Promise<ChannelRow[]>;
  /** Minor units a channel collected through flows created since `sinceMs` (succeeded, or succeeded and refunded since). */
  collectedSince(channelCode: string, sinceMs: number): Promise<number>;
  updateChannel(channel: ChannelRow): Promise<void>;

  // Routing: breakers (held here when there is no Redis) and their transitions (here always).
  /** The breakers of these channels, in order; a channel without a row is closed at version 0 (reads never write). */
  loadBreakers(codes: readonly string[]): Promise<BreakerRow[]>;
  /**
   * Writes `row` only if the stored version is still `row.version - 1` (version 1: only if there
   * is no row yet), with its transition, in one transaction; false when another instance moved first.
   */
  swapBreaker(row: BreakerRow, transition: BreakerTransitionRow): Promise<boolean>;
  /** Takes the half-open probe gate until `untilMs` if nobody holds it at `nowMs`. */
  claimBreakerProbe(code: string, nowMs: number, untilMs: number): Promise<boolean>;
  /** Records a transition of a breaker held elsewhere (Redis). */
  insertBreakerTransition(transition: BreakerTransitionRow): Promise<void>;
  /** A channel's latest transitions, newest first. */
  listBreakerTransitions(code: string, limit: number): Promise<BreakerTransitionRow[]>;
  /** This database's random id, under which routing keys its shared state in Redis. */
  loadRoutingScope(): Promise<string>;

  // Parked work (src/failures.ts): a bug parks the row it hit; an operator queues it again.
  /** Moves a timer to parked_timers if its due time is still `timer.dueAt`; false when re-armed or removed meanwhile. */
  parkTimer(timer: TimerRow, error: string, nowMs: number): Promise<boolean>;
  /** Parked outbox rows and parked timers, oldest first: at most `limit` of each. */
  listParked(limit: number): Promise<ParkedRow[]>;
  /** Queues a parked outbox row again, due now, with its attempts reset; false when there is no such parked row. */
  requeueParkedOutbox(outboxId: string, nowMs: number): Promise<boolean>;
  /** Re-arms a parked timer, due now (unless the order armed that key again meanwhile); false when there is no such parked timer. */
  requeueParkedTimer(orderId: string, key: string, nowMs: number): Promise<boolean>;
  /** Moves pending, claimed rows to `dueAt` without counting an attempt (a merchant in back-off or at its cap). */
  deferOutbox(outboxIds: string[], dueAt: number): Promise<void>;

  // Operator alerts.
  /** Inserts an alert unless one with its id exists (raising is idempotent by id). */
  insertAlert(alert: AlertRow): Promise<'inserted' | 'exists'>;
  listAlerts(query: AlertQuery): Promise<AlertRow[]>;
  /**
   * Marks an alert acknowledged (the first acknowledgement stays: `acked` tells whether this one
   * was it); null for an unknown id.
   */
  ackAlert(alertId: string, at: number, by: string): Promise<{ alert: AlertRow; acked: boolean } | null>;
  /** Open alerts per kind (a metric). */
  countOpenAlerts(): Promise<Record<string, number>>;

  // Reconciliation.
  /**
   * The facts of the channel's flows collected and its refunds paid back with completion in
   * [fromMs, toMs), handed to `take` in pages of at most recon_facts_page_max as a cursor reads
   * them: a day's records are never one result in memory.
   */
  eachReconFactsCompleted(channel: string, fromMs: number, toMs: number, take: (page: ReconFacts[]) => void): Promise<void>;
  /** Flows and refunds by id, whatever their status or day (statement lines outside the day's records). */
  reconRecordsByIds(flowIds: string[], refundIds: string[]): Promise<ReconRecord[]>;
  /**
   * Starts a run of a channel's day (inserts it, or takes the existing row with the run's id)
   * unless another holds its lease at `nowMs`, or it is done and this is not a rerun; null when not
   * started. A run whose process died is taken over once its lease has run out.
   */
  startReconRun(run: ReconRunRow, rerun: boolean, nowMs: number): Promise<ReconRunRow | null>;
  /**
   * Writes a running run's differences as found (replacing the earlier ones), before its repairs are
   * told to the orders' actors: a run that takes the day over after a crash finds them.
   */
  recordReconDiffs(runId: string, diffs: ReconDiffRow[]): Promise<void>;
  /** Writes a run's outcome: the run row, its differences (replacing the earlier ones), the holding pool's changes. */
  finishReconRun(result: ReconRunResult): Promise<void>;
  loadReconRun(runId: string): Promise<ReconRunRow | null>;
  findReconRun(channel: string, date: string): Promise<ReconRunRow | null>;
  /** Runs newest day first (a day's channels by code), after the run at `after` (its day and channel) when given. */
  listReconRuns(query: ReconRunsQuery): Promise<ReconRunRow[]>;
  listReconDiffs(runId: string): Promise<ReconDiffRow[]>;
  /**
   * Records an operator's resolution of a difference that is still open, in one conditional write:
   * a resolution is never overwritten (`resolved: false`, with the difference as it stands). Null
   * for an unknown difference.
   */
  resolveReconDiff(runId: string, diffId: string, change: Pick<ReconDiffRow, 'resolution' | 'note' | 'resolvedBy' | 'resolvedAt'>): Promise<{ diff: ReconDiffRow; resolved: boolean } | null>;
  listReconPending(channel: string): Promise<ReconPendingRow[]>;
  /** Open differences created before `beforeMs` (the audit). */
  listOpenReconDiffs(beforeMs: number, limit: number): Promise<ReconDiffRow[]>;

  // The operator console.
  searchOrders(search: OrderSearch): Promise<OrderRow[]>;
  /** Per currency, the orders whose ids are at least `idFrom` (created since its time). */
  orderStatsSince(idFrom: string): Promise<OrderStats[]>;
  insertAdminAudit(row: AdminAuditRow): Promise<void>;
  /** Newest first, ids below `beforeId` when given. */
  listAdminAudit(beforeId: string | null, limit: number): Promise<AdminAuditRow[]>;

  /** Replaces a refused callback's recorded body with the prefix kept of it (callback intake limits). */
  keepCallbackPrefix(callbackId: string, body: string): Promise<void>;
  /**
   * Deletes up to `limit` callbacks received before `beforeMs` that nothing still needs: not one
   * of an order still open (created or paying, or a flow or refund pending) or with an open
   * alert, not a verified callback paycenter could not match to a flow. Returns how many were deleted.
   */
  purgeCallbacks(beforeMs: number, limit: number): Promise<number>;

  // Operators' browser sessions (admin sign-in), by the SHA-256 of the session id.
  insertAdminSession(session: AdminSessionRow): Promise<void>;
  /** True when the session exists and has not expired at `nowMs`. */
  adminSessionValid(idHash: string, nowMs: number): Promise<boolean>;
  /** Deletes one session (sign-out), or every session when `idHash` is null (revoke all). */
  deleteAdminSessions(idHash: string | null): Promise<void>;
  /** Deletes the sessions expired at `nowMs`. */
  purgeAdminSessions(nowMs: number): Promise<void>;

  /** Outbox rows not yet executed (a metric). */
  outboxBacklog(): Promise<number>;
  /** Answers when the database answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
