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
  return row.kind === 'payment' ? paymentVerdict(row, local, rate, currency, at) : refundVerdict(row, local, rate, at);
}

function paymentVerdict(row: StatementRow, local: ReconRecord, rate: FeeRate, currency: string, at: number): Verdict {
  if (row.status === 'revoked') return collected(local.status) ? { kind: 'status_mismatch', repair: null } : { kind: 'matched' };
  if (!collected(local.status)) {
    const report: FlowReport = {
      type: 'flow.report', at, flowId: local.flowId, status: 'succeeded', amount: row.amount, currency, channelTradeNo: row.channelTradeNo, source: 'recon',
    };
    return { kind: 'missing_local', repair: { orderId: local.orderId, event: report } };
  }
  return sameMoney(row, local, rate);
}

function refundVerdict(row: StatementRow, local: ReconRecord, rate: FeeRate, at: number): Verdict {
  if (local.status === 'failed') return { kind: 'status_mismatch', repair: null };
  if (local.status !== 'succeeded') {
    const event: PaymentEvent = { type: 'refund.report', at, refundId: local.refundId!, flowId: local.flowId, status: 'succeeded', source: 'recon' };
    return { kind: 'missing_local', repair: { orderId: local.orderId, event } };
  }
  return sameMoney(row, local, rate);
}

function sameMoney(row: StatementRow, local: ReconRecord, rate: FeeRate): Verdict {
  if (row.amount !== local.amount) return { kind: 'amount_mismatch', repair: null };
  if (feeDiffers(row, rate)) return { kind: 'fee_mismatch', repair: null };
  return { kind: 'matched' };
}

/** The key a statement line is found under among paycenter's records: its refund id, or its flow id. */
export const rowKey = (row: StatementRow): string => row.refundId ?? row.flowId;
export const recordKey = (record: ReconRecord): string => record.refundId ?? record.flowId;
