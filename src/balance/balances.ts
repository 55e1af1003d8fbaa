/**
 * What merchants (and operators) do with payer balances, as values: read, credit, debit, list
 * entries. Credits and debits are ledger entries of their own (not order events), idempotent by
 * the merchant's credit_no / debit_no; spending happens only through orders (order-entries.ts).
 */
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Currency } from '../money.ts';
import { int } from '../store/rows.ts';
import type { LedgerStore } from '../store/store.ts';
import { type AccountRow, type EntryRow, type PayerKey, applyOp, entryOf, payerParams, payerWhere } from './ledger.ts';

/** API.md: balances are held in CNY. */
export const balance_currency: Currency = 'CNY';

/** Whether a payment in `currency` can be paid from a balance: balances hold CNY only (API.md). */
export const balancePays = (currency: string): boolean => currency === balance_currency;
/** A payer's id as balances know it (API.md: 1–64 of [A-Za-z0-9_.:@-]). */
const payer_id_chars_max = 64;
const payer_id_pattern = new RegExp(`^[A-Za-z0-9_.:@-]{1,${payer_id_chars_max}}$`);
export const isPayerId = (userId: string): boolean => payer_id_pattern.test(userId);
export const payer_id_rule = `1–${payer_id_chars_max} characters of A-Z a-z 0-9 _ . : @ -`;

/** Entries in one page of GET …/entries, at most. */
export const balance_entries_page_max = 100;

export type Movement = { kind: 'credit' | 'debit'; reference: string; amount: number; reason: string | null };

export type MovementResult =
  | { ok: true; created: boolean; entry: EntryRow }
  | { ok: false; error: 'order_conflict'; entry: EntryRow }
  | { ok: false; error: 'insufficient_balance' };

export class Balances {
  constructor(private readonly deps: { ledger: LedgerStore; clock: Clock }) {}

  /** A payer never seen has zeros, not an absence. */
  async account(merchantId: string, userId: string): Promise<AccountRow> {
    const key: PayerKey = { merchantId, userId, currency: balance_currency };
    const [row] = await this.deps.ledger.rows({
      sql: `SELECT available, frozen, updated_at FROM balance_accounts WHERE ${payerWhere}`,
      params: payerParams(key),
    });
    if (!row) return { ...key, available: 0, frozen: 0, updatedAt: null };
    return { ...key, available: int(row.available), frozen: int(row.frozen), updatedAt: int(row.updated_at) };
  }

  /** A credit or debit; the same number again is the same entry, or a conflict when its amount differs. */
  async move(merchantId: string, userId: string, movement: Movement): Promise<MovementResult> {
    const at = this.deps.clock.now();
    const outcome = await this.deps.ledger.transact(applyOp({
      kind: movement.kind, entryId: newId('bal', at), merchantId, userId, currency: balance_currency, amount: movement.amount, at,
      paymentId: null, refundId: null, reference: movement.reference, reason: movement.reason, freezeId: null,
    }));
    if (outcome.ok) return { ok: true, created: true, entry: outcome.entry };
    if (outcome.error === 'insufficient_balance') return outcome;
    return outcome.entry.amount === movement.amount
      ? { ok: true, created: false, entry: outcome.entry }
      : { ok: false, error: 'order_conflict', entry: outcome.entry };
  }

  /**
   * Entries after the given one (exclusive), in the order they were committed (`seq`; ids are made
   * before the commit, so they can be out of it); one more than `limit` is read to tell whether
   * more follow. Null when `afterId` names no entry of this payer.
   */
  async entries(merchantId: string, userId: string, afterId: string | null, limit: number): Promise<{ entries: EntryRow[]; hasMore: boolean } | null> {
    if (limit < 1 || limit > balance_entries_page_max) throw new Error(`assertion failed: entries page of ${limit}`);
    const key: PayerKey = { merchantId, userId, currency: balance_currency };
    const afterSeq = afterId === null ? 0 : await this.seqOf(key, afterId);
    if (afterSeq === null) return null;
    const rows = await this.deps.ledger.rows({
      sql: `SELECT * FROM balance_entries WHERE ${payerWhere} AND seq > ? ORDER BY seq LIMIT ?`,
      params: [...payerParams(key), afterSeq, limit + 1],
    });
    return { entries: rows.slice(0, limit).map(entryOf), hasMore: rows.length > limit };
  }

  private async seqOf(key: PayerKey, entryId: string): Promise<number | null> {
    const [row] = await this.deps.ledger.rows({ sql: `SELECT seq FROM balance_entries WHERE ${payerWhere} AND id = ?`, params: [...payerParams(key), entryId] });
    return row ? int(row.seq) : null;
  }
}
