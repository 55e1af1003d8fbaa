/**
 * The money audit: reads the store and lists every breach of the invariants paycenter lives
 * by. It changes nothing. A clean store has no breaches; crash and fault tests use it as their
 * oracle, operators run it as `bun run audit`.
 */
import { default_recon_options } from '../recon/reconciliation.ts';
import { NewerMachineError, resolveSnapshot } from '../../actors/engine.ts';
import { statusOf } from '../../machines/payment.machine.ts';
import {
  type PaymentContext,
  type PaymentStatus,
  autoRefundAmount,
  isPaidStatus,
  awaitingSettlementAmount,
  collectedAmount,
  paidAmount,
  refundClaimedAmount,
  refundedAmount,
} from '../../machines/payment.model.ts';
import type { MerchantEventRow, OrderRow, Store, TimerRow } from '../store/store.ts';
import { auditLedger } from '../balance/audit.ts';
import { errorText } from '../failures.ts';

export type Breach = { orderId: string; rule: string; detail: string };

/** Orders read per page of the scan. */
const audit_page_orders = 500;
/** Failed outbox rows listed at most. */
const audit_failed_outbox_max = 10_000;
/** A breach's detail quoting an error (a snapshot that does not restore) is cut here. */
const breach_detail_chars_max = 500;


/**
 * Effects whose giving up leaves nothing undone: the order's own timers ask again (active
 * query, close retry, refund query — which also re-sends a refund the channel never got), and
 * an order that stays open past its deadline is reported on its own. A notification that ran
 * out of tries, by contrast, waits for an operator's resend.
 */
const coveredByOrderTimers = new Set(['channel.prepay', 'channel.query', 'channel.close', 'channel.refund', 'channel.refund_query', 'operator.alert']);

/** An order's snapshot as the engine reads it: its status and context. */
export type Restored = { status: PaymentStatus; context: PaymentContext };

/**
 * The invariants of one order, given what the store holds about it. The snapshot is what the
 * engine acts on, so the rules read its status; a status column that says otherwise is a breach.
 */
export function auditOrder(row: OrderRow, restored: Restored, events: MerchantEventRow[], timers: TimerRow[]): Breach[] {
  const breaches: Breach[] = [];
  const breach = (rule: string, detail: string) => breaches.push({ orderId: row.id, rule, detail });
  const { status, context: ctx } = restored;
  if (row.status !== status) breach('columns_match_snapshot', `status column says ${row.status}, the snapshot ${status}`);
  const paid = paidAmount(ctx);
  const open = status === 'created' || status === 'paying';
  const unaccounted = collectedAmount(ctx) - autoRefundAmount(ctx) - (open ? awaitingSettlementAmount(ctx) : 0) - paid;
  if (unaccounted !== 0) breach('collected_matches_settled', `collected − refunded automatically − settled = ${unaccounted} minor units`);
  if (refundClaimedAmount(ctx) > paid || refundedAmount(ctx) > paid) breach('refunds_within_paid', `refunds ${refundClaimedAmount(ctx)} > paid ${paid}`);
  if (row.paidAmount !== paid || row.refundedAmount !== refundedAmount(ctx)) breach('columns_match_snapshot', 'paid/refunded columns disagree with the snapshot');
  const succeededEvents = events.filter((e) => e.type === 'payment.succeeded').length;
  const expected = isPaidStatus(status) ? 1 : 0;
  if (succeededEvents !== expected) breach('one_payment_succeeded', `${succeededEvents} payment.succeeded events for a ${status} order`);
  // A timer row is live: the ticker fires it, late or not. An open order without one would wait forever.
  if (open && !timers.some((t) => t.key === 'expire' || t.key === 'close_retry')) breach('deadline_armed', `a ${status} order has no deadline timer`);
  return breaches;
}

/**
 * The order's snapshot restored as the engine would, or why it does not restore (a hand-edited or
 * damaged row: the breach the audit exists to name, so it is a value here, not a crash). An order
 * a newer machine wrote is no breach: only the newer code can read it, so the run is refused.
 */
function restoredForAudit(row: OrderRow): { ok: true; restored: Restored } | { ok: false; detail: string } {
  try {
    const { snapshot, context } = resolveSnapshot(row);
    return { ok: true, restored: { status: statusOf(snapshot.value), context } };
  } catch (error) {
    if (error instanceof NewerMachineError) throw error;
    return { ok: false, detail: errorText(error, breach_detail_chars_max) };
  }
}

async function auditRow(store: Store, row: OrderRow): Promise<Breach[]> {
  const restored = restoredForAudit(row);
  if (!restored.ok) return [{ orderId: row.id, rule: 'snapshot_restores', detail: restored.detail }];
  const [events, timers] = await Promise.all([store.listMerchantEvents(row.id), store.listTimers(row.id)]);
  return auditOrder(row, restored.restored, events, timers);
}

const day_ms = 86_400_000;
/** Open reconciliation differences listed at most. */
const audit_recon_diffs_max = 10_000;

/**
 * `reconHoldDays`: how long a reconciliation difference may stay open before the audit lists it
 * (RECON_HOLD_DAYS: by then the next statements had their chance, an operator must decide).
 * `nowMs` dates both the recon hold and the ledger's deadline check (a freeze open past its
 * order's deadline and a grace). It has no default: a caller whose world runs on a moved clock
 * must audit at that clock, or the wall clock's distance from it reads as days gone by.
 * Throws NewerMachineError on an order a newer payment machine wrote: audit with the newer code.
 */
export async function auditStore(store: Store, options: { nowMs: number; reconHoldDays?: number }): Promise<{ orders: number; breaches: Breach[] }> {
  const { nowMs } = options;
  const breaches: Breach[] = [];
  let orders = 0;
  let after = '';
  for (;;) {
    const page = await store.scanOrders(after, audit_page_orders);
    if (page.length === 0) break;
    for (const row of page) breaches.push(...(await auditRow(store, row)));
    orders += page.length;
    after = page.at(-1)!.id;
  }
  // Parked work waits for an operator: nothing runs it until it is queued again.
  for (const parked of await store.listParked(audit_failed_outbox_max)) {
    breaches.push({ orderId: parked.orderId, rule: 'nothing_parked', detail: `${parked.source} ${parked.ref} (${parked.kind}) parked: ${parked.error}` });
  }
  for (const stuck of await store.listFailedOutbox(audit_failed_outbox_max)) {
    if (coveredByOrderTimers.has(stuck.kind)) continue;
    breaches.push({ orderId: stuck.orderId, rule: 'outbox_not_stuck', detail: `${stuck.kind} ${stuck.id} ran out of tries` });
  }
  const openSince = nowMs - (options.reconHoldDays ?? default_recon_options.holdDays) * day_ms;
  for (const diff of await store.listOpenReconDiffs(openSince, audit_recon_diffs_max)) {
    const orderId = diff.local?.orderId ?? diff.recordKey;
    breaches.push({ orderId, rule: 'recon_diff_resolved', detail: `reconciliation ${diff.runId}: ${diff.kind} ${diff.id} is still open` });
  }
  breaches.push(...(await auditLedger(store.ledger, nowMs)));
  return { orders, breaches };
}
