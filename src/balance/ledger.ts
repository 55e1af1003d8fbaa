/**
 * The payer-balance ledger (API.md "Payer balances"): double entry over four accounts.
 *
 *   payer_available      what the payer may spend (the account's `available`)
 *   payer_frozen         what open freezes hold for orders being paid (the account's `frozen`)
 *   merchant_funding     the merchant's side of credits and debits (top-ups it took, compensations it gave)
 *   merchant_settlement  what the merchant earned from captured freezes, less balance refunds
 *
 * Every entry has two postings that sum to zero (from −amount, to +amount); the stored
 * `available` and `frozen` move by exactly the postings on the payer's two accounts, in the same
 * statement sequence, so the audit can prove them equal. A change is a new entry, never an edit.
 *
 * One entry is one *program*: a generator that yields SQL statements and reads their rows. The
 * same program runs synchronously on SQLite (inside the writer thread's batch transaction, or a
 * request's own) and asynchronously on Postgres, so the rules exist once.
 */
import * as v from 'valibot';
import { AssertionError, assert } from '../failures.ts';
import { int } from '../store/rows.ts';

export const ledger_accounts = ['payer_available', 'payer_frozen', 'merchant_funding', 'merchant_settlement'] as const;
export type LedgerAccount = (typeof ledger_accounts)[number];

export const entry_kinds = ['credit', 'debit', 'freeze', 'release', 'capture', 'refund'] as const;
export type EntryKind = (typeof entry_kinds)[number];

/** Which account each kind of entry takes the amount from and which it gives it to. */
export const entry_legs = {
  credit: { from: 'merchant_funding', to: 'payer_available' },
  debit: { from: 'payer_available', to: 'merchant_funding' },
  freeze: { from: 'payer_available', to: 'payer_frozen' },
  release: { from: 'payer_frozen', to: 'payer_available' },
  capture: { from: 'payer_frozen', to: 'merchant_settlement' },
  refund: { from: 'merchant_settlement', to: 'payer_available' },
} as const satisfies Record<EntryKind, { from: LedgerAccount; to: LedgerAccount }>;

/** The account a balance belongs to. */
export type PayerKey = { merchantId: string; userId: string; currency: string };

/** One ledger entry to make. `freezeId` is the balance flow's id: the idempotency key of its freeze, capture, release and refunds. */
export type LedgerOp = PayerKey & {
  kind: EntryKind;
  entryId: string;
  amount: number;
  at: number;
  paymentId: string | null;
  refundId: string | null;
  /** The merchant's credit_no / debit_no. */
  reference: string | null;
  reason: string | null;
  freezeId: string | null;
};

export type EntryRow = PayerKey & {
  id: string;
  kind: EntryKind;
  amount: number;
  availableAfter: number;
  frozenAfter: number;
  paymentId: string | null;
  refundId: string | null;
  reference: string | null;
  createdAt: number;
};

export type AccountRow = PayerKey & { available: number; frozen: number; updatedAt: number | null };

export type Row = Record<string, unknown>;
/** One SQL statement with `?` placeholders (the Postgres driver numbers them). */
export type Statement = { sql: string; params: unknown[] };
/** A ledger program: yields statements, is resumed with each statement's rows, returns its outcome. */
export type Program<T> = Generator<Statement, T, Row[]>;

export type OpOutcome =
  | { ok: true; entry: EntryRow }
  /** The payer's available balance is less than the amount: nothing was written. */
  | { ok: false; error: 'insufficient_balance' }
  /** An entry with this idempotency key exists (a replayed credit or debit): here it is. */
  | { ok: false; error: 'exists'; entry: EntryRow };

const st = (sql: string, ...params: unknown[]): Statement => ({ sql, params });

/** How an entry moves the payer's stored balances: exactly its postings on the payer's accounts. */
export function balanceDeltas(kind: EntryKind, amount: number): { available: number; frozen: number } {
  const { from, to } = entry_legs[kind];
  const on = (account: LedgerAccount) => (to === account ? amount : 0) - (from === account ? amount : 0);
  return { available: on('payer_available'), frozen: on('payer_frozen') };
}

/** What makes an entry happen once per payer: a replay finds the first one. */
export function idempotencyKey(op: Pick<LedgerOp, 'kind' | 'reference' | 'freezeId' | 'refundId'>): string {
  switch (op.kind) {
    case 'credit':
    case 'debit':
      return `${op.kind}:${op.reference}`;
    case 'freeze':
    case 'capture':
    case 'release':
      return `${op.kind}:${op.freezeId}`;
    case 'refund':
      return `refund:${op.refundId}:${op.freezeId}`;
  }
}

/** A stored integer column (Postgres hands BIGINT over as text), asserted a safe integer. */
const intColumn = v.pipe(v.unknown(), v.transform(int));
const nullableText = v.optional(v.nullable(v.string()), null);

/** A stored entry row: read through a schema, not cast (a kind the code does not know is refused). */
const entryRow = v.object({
  id: v.string(), merchant_id: v.string(), user_id: v.string(), currency: v.string(), kind: v.picklist(entry_kinds),
  amount: intColumn, available_after: intColumn, frozen_after: intColumn, payment_id: nullableText, refund_id: nullableText,
  reference: nullableText, created_at: intColumn,
});

export function entryOf(row: Row): EntryRow {
  const r = v.parse(entryRow, row);
  return {
    id: r.id, merchantId: r.merchant_id, userId: r.user_id, currency: r.currency, kind: r.kind, amount: r.amount,
    availableAfter: r.available_after, frozenAfter: r.frozen_after, paymentId: r.payment_id, refundId: r.refund_id,
    reference: r.reference, createdAt: r.created_at,
  };
}

/** The SQL condition that picks one payer's rows, and its parameters. */
export const payerWhere = 'merchant_id = ? AND user_id = ? AND currency = ?';
export const payerParams = (k: PayerKey) => [k.merchantId, k.userId, k.currency];

/**
 * Freezes are resolved once: capture and release move a freeze out of `frozen` and nothing
 * moves it back; refunds need it captured and never return more than it held.
 */
function freezeTransition(op: LedgerOp): Statement {
  switch (op.kind) {
    case 'capture':
    case 'release':
      return st(
        `UPDATE balance_freezes SET status = ?, resolved_at = ? WHERE id = ? AND status = 'frozen' AND amount = ? RETURNING id`,
        op.kind === 'capture' ? 'captured' : 'released', op.at, op.freezeId, op.amount,
      );
    default:
      return st(`UPDATE balance_freezes SET refunded = refunded + ? WHERE id = ? AND status = 'captured' AND refunded + ? <= amount RETURNING id`, op.amount, op.freezeId, op.amount);
  }
}

/**
 * Makes one entry: the freeze's state first (asserted), then the account, conditional on
 * neither balance going negative, then the entry and its two postings. A debit or freeze the
 * available balance does not cover answers `insufficient_balance`; the caller rolls back.
 */
export function* applyOp(op: LedgerOp): Program<OpOutcome> {
  assert(Number.isSafeInteger(op.amount) && op.amount > 0, `ledger amount ${op.amount}`);
  const key = idempotencyKey(op);
  // Only a credit opens an account: every other kind needs one (money to take, or a freeze it
  // made), so a refused debit or freeze of a payer never seen leaves nothing behind.
  if (op.kind === 'credit') {
    yield st(`INSERT INTO balance_accounts (merchant_id, user_id, currency, available, frozen, updated_at) VALUES (?, ?, ?, 0, 0, ?) ON CONFLICT DO NOTHING`, ...payerParams(op), op.at);
  }
  if (op.kind === 'credit' || op.kind === 'debit') {
    // Touching the account row first serializes replays of one credit_no on Postgres (a row lock); SQLite's writes are serial anyway.
    yield st(`UPDATE balance_accounts SET updated_at = updated_at WHERE ${payerWhere}`, ...payerParams(op));
    const [existing] = yield st(`SELECT * FROM balance_entries WHERE ${payerWhere} AND idem_key = ?`, ...payerParams(op), key);
    if (existing) return { ok: false, error: 'exists', entry: entryOf(existing) };
  }
  if (op.kind === 'capture' || op.kind === 'release' || op.kind === 'refund') {
    const changed = yield freezeTransition(op);
    if (changed.length !== 1) {
      const [freeze] = yield st('SELECT status, amount, refunded FROM balance_freezes WHERE id = ?', op.freezeId);
      throw new AssertionError(`${op.kind} of ${op.amount} on freeze ${op.freezeId} which is ${freeze ? JSON.stringify(freeze) : 'missing'}`);
    }
  }
  const delta = balanceDeltas(op.kind, op.amount);
  // The entry's place in the payer's list is handed out here, under the account row's lock: the
  // order entries commit in (their ids are made before, outside it), which GET …/entries pages by.
  const [account] = yield st(
    `UPDATE balance_accounts SET available = available + ?, frozen = frozen + ?, entries = entries + 1, updated_at = ?
     WHERE ${payerWhere} AND available + ? >= 0 AND frozen + ? >= 0 RETURNING available, frozen, entries`,
    delta.available, delta.frozen, op.at, ...payerParams(op), delta.available, delta.frozen,
  );
  if (!account) {
    if (op.kind === 'debit' || op.kind === 'freeze') return { ok: false, error: 'insufficient_balance' };
    throw new AssertionError(`${op.kind} of ${op.amount} would take ${op.userId}'s frozen balance below zero`);
  }
  const [entry] = yield st(
    `INSERT INTO balance_entries (id, merchant_id, user_id, currency, kind, amount, available_after, frozen_after, payment_id, refund_id,
       reference, reason, freeze_id, idem_key, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    op.entryId, ...payerParams(op), op.kind, op.amount, int(account.available), int(account.frozen), op.paymentId, op.refundId,
    op.reference, op.reason, op.freezeId, key, op.at, int(account.entries),
  );
  const { from, to } = entry_legs[op.kind];
  const holder = (account: LedgerAccount) => (account.startsWith('payer_') ? op.userId : null);
  yield st(
    `INSERT INTO balance_postings (entry_id, merchant_id, user_id, currency, account, amount) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)`,
    op.entryId, op.merchantId, holder(from), op.currency, from, -op.amount,
    op.entryId, op.merchantId, holder(to), op.currency, to, op.amount,
  );
  if (op.kind === 'freeze') {
    yield st(
      `INSERT INTO balance_freezes (id, merchant_id, user_id, currency, payment_id, amount, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'frozen', ?)`,
      op.freezeId, ...payerParams(op), op.paymentId, op.amount, op.at,
    );
  }
  assert(entry !== undefined, 'an inserted entry is returned');
  return { ok: true, entry: entryOf(entry) };
}

/** All ops of one order event, in order; the first refusal stops it (the caller rolls back). */
export function* applyOps(ops: LedgerOp[]): Program<'ok' | 'insufficient_balance'> {
  for (const op of ops) {
    const outcome = yield* applyOp(op);
    if (!outcome.ok) {
      assert(outcome.error !== 'exists', `${op.kind} ${idempotencyKey(op)} applied twice`);
      return outcome.error;
    }
  }
  return 'ok';
}

/** Runs a program on a synchronous connection (bun:sqlite), inside the caller's transaction. */
export function runSync<T>(program: Program<T>, all: (statement: Statement) => Row[]): T {
  let step = program.next();
  while (!step.done) step = program.next(all(step.value));
  return step.value;
}

/** Runs a program on an asynchronous connection (Postgres), inside the caller's transaction. */
export async function runAsync<T>(program: Program<T>, all: (statement: Statement) => Promise<Row[]>): Promise<T> {
  let step = program.next();
  while (!step.done) step = program.next(await all(step.value));
  return step.value;
}

/** `?` placeholders as Postgres's `$1, $2, …` (ledger SQL has no `?` inside literals). */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
