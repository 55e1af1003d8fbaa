/**
 * The balance side of an order's effects (TCC): the order's machine emits the same effects for
 * a balance part as for a channel's — prepay (try: freeze), capture (confirm), close (cancel:
 * release), refund — addressed to the `balance` channel. The ledger lives in paycenter's own
 * store, so instead of an outbox row for a runner each becomes a ledger entry written in the
 * commit of the transition that emitted it: exactly once, because that commit happens once
 * (the order's version gate), and never half (one transaction). The freeze is conditional on
 * the payer's available balance and refuses the whole transition when it is short.
 */
import { type Flow, type PaymentContext, balanceMethod } from '../../machines/payment.model.ts';
import type { Effect } from '../../machines/payment.rules.ts';
import { newId } from '../ids.ts';
import { assert } from '../failures.ts';
import type { EntryKind, LedgerOp } from './ledger.ts';

/** The channel code of balance flows (API.md: `method` and `channel` are both "balance"). */
export const balance_channel = balanceMethod;

type BalanceEffect = Extract<Effect, { type: 'channel.prepay' | 'channel.capture' | 'channel.close' | 'channel.refund' }>;

const entryKindOf = {
  'channel.prepay': 'freeze',
  'channel.capture': 'capture',
  'channel.close': 'release',
  'channel.refund': 'refund',
} as const satisfies Record<BalanceEffect['type'], EntryKind>;

export function isBalanceEffect(effect: Effect): effect is BalanceEffect {
  return effect.type in entryKindOf && (effect.params as { channel?: string }).channel === balance_channel;
}

function balanceFlow(ctx: PaymentContext, flowId: string): Flow {
  const flow = ctx.flows.find((f) => f.id === flowId);
  assert(flow !== undefined && flow.method === balanceMethod, `${flowId} is not a balance flow of ${ctx.id}`);
  return flow;
}

/** The ledger entry a balance effect of this order makes; the freeze's id is the balance flow's id. */
export function balanceLedgerOp(ctx: PaymentContext, effect: BalanceEffect, at: number): LedgerOp {
  const userId = ctx.details.userId;
  assert(userId !== null, `order ${ctx.id} pays from a balance without a user_id`);
  const flow = balanceFlow(ctx, effect.params.flowId);
  const refund = effect.type === 'channel.refund' ? effect.params : null;
  return {
    kind: entryKindOf[effect.type], entryId: newId('bal', at), merchantId: ctx.merchantId, userId, currency: ctx.currency,
    amount: refund ? refund.amount : flow.amount, at, paymentId: ctx.id, refundId: refund?.refundId ?? null,
    reference: null, reason: null, freezeId: flow.id,
  };
}
