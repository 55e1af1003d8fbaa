/**
 * The one list of operator alert kinds. Every alert paycenter raises has one of these; the
 * console's legend, the metrics' labels and the operations guide read them from here. Add a
 * kind here (with what an operator should do about it) before raising it anywhere.
 */
import type { FlagReason } from '../../machines/payment.model.ts';

export const alert_kinds = {
  // Raised by the order's actor (its `operator.alert` effects).
  auto_refund: 'money arrived that cannot settle the order (paid twice, or after closing) and is being refunded automatically',
  amount_mismatch: 'a channel reported an amount or currency that differs from the flow: nothing was settled, check the trade at the channel',
  unknown_flow: 'a channel reported a trade for a flow the order does not have',
  query_exhausted: "the channel never gave a final answer for a flow before the order's deadline",
  refund_part_failed: 'a channel failed a refund that cannot simply fail (automatic, or part of a split refund that already returned money): it stays pending, finish it at the channel',
  // Raised around the order.
  notify_failed: 'a merchant notification ran out of tries: the merchant can still list it in GET /v1/events',
  parked: 'a background row hit a bug (an assertion failed) and was parked instead of retried: see the operations guide',
  breaker_open: "a channel's circuit breaker opened: payments go to other channels",
  risk_review: "an order's risk score reached review_at: it went through, flagged for a look",
  recon_diff: "reconciliation found a difference with a channel's statement that needs an operator",
} as const satisfies Record<string, string>;

export type AlertKind = keyof typeof alert_kinds;
export const alertKinds = Object.keys(alert_kinds) as AlertKind[];

/** Every reason the order machine flags is an alert kind (fails to compile when one is missing). */
export const flagKind = (reason: FlagReason): AlertKind => reason satisfies AlertKind;

export const isAlertKind = (value: string): value is AlertKind => Object.hasOwn(alert_kinds, value);
