/**
 * The ledger's invariants (issue 14, item 8), read-only: the journal sums to zero, entry by
 * entry and in total; every stored balance equals its postings and is not negative; `frozen`
 * equals the open freezes; a captured freeze belongs to a settled order, a released one to an
 * attempt that did not settle; no freeze outlives its order's deadline by more than a grace.
 */
import { isPaidStatus } from '../../machines/payment.model.ts';
import { int } from '../store/rows.ts';
import type { LedgerStore } from '../store/store.ts';

export type LedgerBreach = { orderId: string; rule: string; detail: string };

/**
 * How long past its order's deadline a freeze may stay open: the close procedure first asks
 * the external part's channel and retries every minute until it answers.
 */
export const freeze_grace_ms = 15 * 60_000;


export async function auditLedger(ledger: LedgerStore, nowMs: number): Promise<LedgerBreach[]> {
  const breaches: LedgerBreach[] = [];
  const breach = (orderId: string, rule: string, detail: string) => breaches.push({ orderId, rule, detail });

  const [total] = await ledger.rows({ sql: 'SELECT COALESCE(SUM(amount), 0) AS total, COUNT(*) AS n FROM balance_postings', params: [] });
  if (int(total?.total ?? 0) !== 0) breach('-', 'ledger_sums_to_zero', `all postings sum to ${String(total?.total)}`);
  const unbalanced = await ledger.rows({
    sql: `SELECT e.id, e.payment_id, COALESCE(SUM(p.amount), 0) AS total, COUNT(p.entry_id) AS n
          FROM balance_entries e LEFT JOIN balance_postings p ON p.entry_id = e.id
          GROUP BY e.id, e.payment_id HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.entry_id) <> 2`,
    params: [],
  });
  for (const e of unbalanced) breach(String(e.payment_id ?? '-'), 'entry_balanced', `entry ${String(e.id)} has ${String(e.n)} postings summing to ${String(e.total)}`);

  const posted = (account: string, freezes = false) => freezes
    ? `(SELECT COALESCE(SUM(f.amount), 0) FROM balance_freezes f WHERE f.merchant_id = a.merchant_id AND f.user_id = a.user_id AND f.currency = a.currency AND f.status = 'frozen')`
    : `(SELECT COALESCE(SUM(p.amount), 0) FROM balance_postings p WHERE p.merchant_id = a.merchant_id AND p.user_id = a.user_id AND p.currency = a.currency AND p.account = '${account}')`;
  const accounts = await ledger.rows({
    sql: `SELECT a.merchant_id, a.user_id, a.currency, a.available, a.frozen, ${posted('payer_available')} AS posted_available,
            ${posted('payer_frozen')} AS posted_frozen, ${posted('', true)} AS open_frozen FROM balance_accounts a`,
    params: [],
  });
  for (const a of accounts) {
    const who = `${String(a.merchant_id)}/${String(a.user_id)} ${String(a.currency)}`;
    const [available, frozen] = [int(a.available), int(a.frozen)];
    if (available !== int(a.posted_available) || frozen !== int(a.posted_frozen)) {
      breach('-', 'balance_equals_postings', `${who}: stored ${available}/${frozen}, postings ${String(a.posted_available)}/${String(a.posted_frozen)}`);
    }
    if (available < 0 || frozen < 0) breach('-', 'balance_not_negative', `${who}: available ${available}, frozen ${frozen}`);
    if (frozen !== int(a.open_frozen)) breach('-', 'frozen_equals_open_freezes', `${who}: frozen ${frozen}, open freezes ${String(a.open_frozen)}`);
  }

  const freezes = await ledger.rows({
    sql: `SELECT f.id, f.status, f.payment_id, fl.status AS flow_status, o.status AS order_status, o.expires_at
          FROM balance_freezes f LEFT JOIN flows fl ON fl.id = f.id LEFT JOIN orders o ON o.id = f.payment_id`,
    params: [],
  });
  for (const f of freezes) {
    const [id, orderId, flow] = [String(f.id), String(f.payment_id), f.flow_status as string | null];
    if (f.status === 'captured' && !(flow === 'succeeded' && isPaidStatus(String(f.order_status)))) {
      breach(orderId, 'captured_freeze_settled', `freeze ${id} captured, its flow is ${flow} and its order ${String(f.order_status)}`);
    }
    if (f.status === 'released' && flow !== 'closed' && flow !== 'failed') breach(orderId, 'released_freeze_unsettled', `freeze ${id} released, its flow is ${flow}`);
    if (f.status === 'frozen' && flow !== 'pending') breach(orderId, 'open_freeze_pending', `freeze ${id} still frozen, its flow is ${flow}`);
    if (f.status === 'frozen' && f.expires_at !== null && nowMs > int(f.expires_at) + freeze_grace_ms) {
      breach(orderId, 'freeze_within_deadline', `freeze ${id} open ${nowMs - int(f.expires_at)} ms past its order's deadline`);
    }
  }
  return breaches;
}
