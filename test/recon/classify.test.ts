/**
 * A statement line against paycenter's record of it, as a table: matched, each class of
 * difference, and which lines offer a repair through the order's actor — never one whose amount
 * is not the record's, which the actor would only flag.
 */
import { describe, expect, test } from 'bun:test';
import type { StatementRow } from '../../src/channels/statement.ts';
import { factsVerdictOf } from '../../src/recon/classify.ts';

const rate = { tenThousandths: 60 };
const row = (overrides: Partial<StatementRow> = {}): StatementRow => ({
  kind: 'payment', channelTradeNo: 'T1', flowId: 'flw_1', refundId: null, amount: 10_000, feeMilli: 60_000, at: 0, status: 'succeeded', ...overrides,
});

const cases: Array<[string, StatementRow, { amount: number; status: string }, ReturnType<typeof factsVerdictOf>]> = [
  ['a payment paycenter recorded as paid', row(), { amount: 10_000, status: 'succeeded' }, 'matched'],
  ['a payment paycenter has not recorded as paid: repaired', row(), { amount: 10_000, status: 'pending' }, 'unrecorded'],
  ['a payment of another amount that paycenter has not recorded: a difference, not a repair', row({ amount: 9_999 }), { amount: 10_000, status: 'pending' }, 'amount_mismatch'],
  ['a payment of another amount paycenter recorded', row({ amount: 9_999 }), { amount: 10_000, status: 'succeeded' }, 'amount_mismatch'],
  ['a payment whose fee is off by more than a minor unit', row({ feeMilli: 71_000 }), { amount: 10_000, status: 'succeeded' }, 'fee_mismatch'],
  ['a payment the channel revoked that paycenter counts as paid', row({ status: 'revoked' }), { amount: 10_000, status: 'succeeded' }, 'status_mismatch'],
  ['a revoked payment paycenter never counted', row({ status: 'revoked', amount: 1 }), { amount: 10_000, status: 'closed' }, 'matched'],
  ['a refund paycenter recorded', row({ kind: 'refund', refundId: 'rfd_1', amount: 3_000, feeMilli: 18_000 }), { amount: 3_000, status: 'succeeded' }, 'matched'],
  ['a refund paycenter still waits for: repaired', row({ kind: 'refund', refundId: 'rfd_1', amount: 3_000, feeMilli: 18_000 }), { amount: 3_000, status: 'pending' }, 'unrecorded'],
  ['a refund of another amount paycenter still waits for: a difference', row({ kind: 'refund', refundId: 'rfd_1', amount: 2_999 }), { amount: 3_000, status: 'pending' }, 'amount_mismatch'],
  ['a refund paycenter recorded as failed', row({ kind: 'refund', refundId: 'rfd_1', amount: 3_000 }), { amount: 3_000, status: 'failed' }, 'status_mismatch'],
];

describe('a statement line against its record', () => {
  test.each(cases)('%s', (_, line, local, verdict) => {
    expect(factsVerdictOf(line, local, rate)).toBe(verdict);
  });
});
