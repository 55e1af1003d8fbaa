/**
 * What one statement line says against paycenter's record of it, as a pure verdict: matched, or
 * a difference of one of API.md's classes — with, for money the channel moved that paycenter did
 * not record, the event that repairs it through the order's actor.
 */
import type { FlowReport, PaymentEvent } from '../../machines/payment.rules.ts';
import type { StatementRow } from '../channels/statement.ts';
import type { ReconRecord } from '../store/store.ts';

export const diff_kinds = ['missing_local', 'missing_channel', 'amount_mismatch', 'status_mismatch', 'fee_mismatch'] as const;
export type DiffKind = (typeof diff_kinds)[number];

export const count_keys = ['matched', ...diff_kinds, 'pending'] as const;
export type Counts = Record<(typeof count_keys)[number], number>;
export const zeroCounts = (): Counts => Object.fromEntries(count_keys.map((k) => [k, 0])) as Counts;

/** A repair: the event that tells the order's actor what the statement shows. */
export type Repair = { orderId: string; event: PaymentEvent };

export type Verdict = { kind: 'matched' } | { kind: DiffKind; repair: Repair | null };

/** Collected here: a flow that succeeded (perhaps refunded since, automatically or not). */
const collected = (status: string) => status === 'succeeded' || status === 'refunded';

/** A fee rate in ten-thousandths (`"0.0060"` → 60), as channels are configured. */
export type FeeRate = { tenThousandths: number };

/**
 * The fee differs from rate × amount by more than one minor unit. Fees are in thousandths of a
 * minor unit, so compare exactly in ten-thousandths: |fee·10 − amount·rate| > 10,000.
 */
export const feeDiffers = (row: StatementRow, rate: FeeRate): boolean => Math.abs(row.feeMilli * 10 - row.amount * rate.tenThousandths) > 10_000;

/** The verdict on one statement line; `local` is paycenter's record it names, if any. */
export function verdictOf(row: StatementRow, local: ReconRecord | undefined, rate: FeeRate, currency: string, at: number): Verdict {
  if (!local) return { kind: 'missing_local', repair: null };
  const verdict = factsVerdictOf(row, local, rate);
  if (verdict === 'unrecorded') return { kind: 'missing_local', repair: repairOf(row, local, currency, at) };
  return verdict === 'matched' ? { kind: 'matched' } : { kind: verdict, repair: null };
}

/** What matching needs of a record: its money and status (its ids only name a repair). */
export type RecordFacts = Pick<ReconRecord, 'amount' | 'status'>;

/**
 * The verdict from a record's facts alone (the hot path of a run: a matched line needs no more);
 * `unrecorded` is money the channel moved that paycenter has not recorded as done.
 */
export function factsVerdictOf(row: StatementRow, local: RecordFacts, rate: FeeRate): 'matched' | 'unrecorded' | 'status_mismatch' | 'amount_mismatch' | 'fee_mismatch' {
  if (row.kind === 'payment' && row.status === 'revoked') return collected(local.status) ? 'status_mismatch' : 'matched';
  if (row.kind === 'refund' && local.status === 'failed') return 'status_mismatch';
  // Before a repair is offered: a line of another amount never repairs a record (the actor would only
  // flag it, and the line would pass as repaired); it stays a difference for an operator.
  if (row.amount !== local.amount) return 'amount_mismatch';
  if (row.kind === 'payment' ? !collected(local.status) : local.status !== 'succeeded') return 'unrecorded';
  return feeDiffers(row, rate) ? 'fee_mismatch' : 'matched';
}

/** The event that tells the order's actor what the statement shows. */
function repairOf(row: StatementRow, local: ReconRecord, currency: string, at: number): Repair {
  if (row.kind === 'payment') {
    const report: FlowReport = {
      type: 'flow.report', at, flowId: local.flowId, status: 'succeeded', amount: row.amount, currency, channelTradeNo: row.channelTradeNo, source: 'recon',
    };
    return { orderId: local.orderId, event: report };
  }
  const event: PaymentEvent = { type: 'refund.report', at, refundId: local.refundId!, flowId: local.flowId, status: 'succeeded', source: 'recon' };
  return { orderId: local.orderId, event };
}

/** The key a statement line is found under among paycenter's records: its refund id, or its flow id. */
export const rowKey = (row: StatementRow): string => row.refundId ?? row.flowId;
export const recordKey = (record: ReconRecord): string => record.refundId ?? record.flowId;
/**
 * The key a difference about a line paycenter has no record of is stored under (unique per run and
 * kind). Its ids are not ours — empty, or another system's, repeated — so it is the channel's trade
 * number, with the refund's number for a refund line (a trade's refunds share its trade number).
 */
export const unknownLineKey = (row: StatementRow): string => (row.refundId === null ? row.channelTradeNo : `${row.channelTradeNo}/${row.refundId}`);
