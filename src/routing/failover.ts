/**
 * What a failed prepay means for the pay request that made it (API.md "Failover"): a failure
 * that cannot have charged the payer (the provider refused, a 5xx, a refused connection, the
 * breaker open) ends the flow and the request moves to the next channel with a new flow; when it
 * is unknown whether the provider accepted (a timeout, an unreadable answer), the flow is left
 * pending and the next attempt replaces it, which closes it at its channel — a late success there
 * is refunded automatically. Pure.
 */
import type { Flow } from '../../machines/payment.model.ts';
import type { ChannelFailure } from '../channels/adapter.ts';

/** Channels one pay request may try before it answers. */
export const channels_per_pay_max = 3;

/**
 * refused: the provider said no (the flow is already failed); not_accepted: never reached the
 * provider or refused with a 5xx (the flow is to be failed); unknown: the provider may hold a
 * trade (the flow stays pending until replaced); elsewhere: another runner holds the prepay, or
 * another pay request replaced the flow meanwhile.
 */
export type PrepayFailure = { kind: 'refused' | 'not_accepted' | 'unknown' | 'elsewhere'; reason: string };

/** Why the prepay of this flow did not give the payer something to pay; null when it did. */
export function prepayFailure(flow: Flow, failure: ChannelFailure | null | undefined): PrepayFailure | null {
  if (flow.prepared) return null;
  if (flow.status === 'failed') return { kind: 'refused', reason: `channel ${flow.channel} refused the payment` };
  if (failure === undefined) return { kind: 'elsewhere', reason: `the prepay at ${flow.channel} is running elsewhere` };
  if (failure === null) return { kind: 'elsewhere', reason: `flow ${flow.id} was replaced by another pay request` };
  const unknown = failure.code === 'bad_response' || failure.timedOut === true;
  return { kind: unknown ? 'unknown' : 'not_accepted', reason: failure.message };
}

/** Whether the request may try another channel after this failure. */
export const movesOn = (failure: PrepayFailure): boolean => failure.kind !== 'elsewhere';
