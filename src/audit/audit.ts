/**
 * The money audit: reads the store and lists every breach of the invariants paycenter lives
 * by. It changes nothing. A clean store has no breaches; crash and fault tests use it as their
 * oracle, operators run it as `bun run audit`.
 */
import { default_recon_options } from '../recon/reconciliation.ts';
import { restore } from '../../actors/engine.ts';
import {
  type PaymentContext,
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

export type Breach = { orderId: string; rule: string; detail: string };

/** Orders read per page of the scan. */
const audit_page_orders = 500;
/** Failed outbox rows listed at most. */
const audit_failed_outbox_max = 10_000;


/**
 * Effects whose giving up leaves nothing undone: the order's own timers ask again (active
 * query, close retry, refund query — which also re-sends a refund the channel never got), and
 * an order that stays open past its deadline is reported on its own. A notification that ran
 * out of tries, by contrast, waits for an operator's resend.
 */
const coveredByOrderTimers = new Set(['channel.prepay', 'channel.query', 'channel.close', 'channel.refund', 'channel.refund_query', 'operator.alert']);

/** The invariants of one order, given what the store holds about it. */
export function auditOrder(row: OrderRow, ctx: PaymentContext, events: MerchantEventRow[], timers: TimerRow[]): Breach[] {
  const breaches: Breach[] = [];
  const breach = (rule: string, detail: string) => breaches.push({ orderId: row.id, rule, detail });
  const paid = paidAmount(ctx);
  const open = row.status === 'created' || row.status === 'paying';
  const unaccounted = collectedAmount(ctx) - autoRefundAmount(ctx) - (open ? awaitingSettlementAmount(ctx) : 0) - paid;
  if (unaccounted !== 0) breach('collected_matches_settled', `collected − refunded automatically − settled = ${unaccounted} minor units`);
  if (refundClaimedAmount(ctx) > paid || refundedAmount(ctx) > paid) breach('refunds_within_paid', `refunds ${refundClaimedAmount(ctx)} > paid ${paid}`);
  if (row.paidAmount !== paid || row.refundedAmount !== refundedAmount(ctx)) breach('columns_match_snapshot', 'paid/refunded columns disagree with the snapshot');
  const succeededEvents = events.filter((e) => e.type === 'payment.succeeded').length;
  const expected = isPaidStatus(row.status) ? 1 : 0;
  if (succeededEvents !== expected) breach('one_payment_succeeded', `${succeededEvents} payment.succeeded events for a ${row.status} order`);
  // A timer row is live: the ticker fires it, late or not. An open order without one would wait forever.
  if (open && !timers.some((t) => t.key === 'expire' || t.key === 'close_retry')) breach('deadline_armed', `a ${row.status} order has no deadline timer`);
  return breaches;
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
 */
export async function auditStore(store: Store, options: { nowMs: number; reconHoldDays?: number }): Promise<{ orders: number; breaches: Breach[] }> {
  const { nowMs } = options;
  const breaches: Breach[] = [];
  let orders = 0;
  let after = '';
  for (;;) {
    const page = await store.scanOrders(after, audit_page_orders);
    if (page.length === 0) break;
    for (const row of page) {
      const state = restore(row);
      const [events, timers] = await Promise.all([store.listMerchantEvents(row.id), store.listTimers(row.id)]);
      breaches.push(...auditOrder(row, state.context, events, timers));
    }
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
