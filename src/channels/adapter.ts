/**
 * The one interface every payment channel's adapter implements. Adapters know a provider's
 * wire format — signing, money formats, status words — and nothing of orders or the store:
 * they are told a flow id (the channel's out_trade_no) and an amount in minor units, and
 * answer in paycenter's words. Expected outcomes are values; a failure says whether
 * retrying the same call is safe.
 */
import * as v from 'valibot';
import type { StatementFile, StatementRow } from './statement.ts';
import type { Currency } from '../money.ts';
import { readAtMost } from '../bounded-body.ts';

/** What the payer is shown (mirrors the flow's action in the order). */
export type PayAction = { type: 'qr_code' | 'redirect' | 'none'; qrCode?: string; payUrl?: string };

/**
 * rejected: the channel said no for good (the call must not be repeated as is);
 * unavailable: no answer, a 5xx, a timeout or a system error (the same call may be retried —
 * every call is idempotent by flow or refund id); flow_not_supported: this adapter lacks the
 * flow; bad_response: the answer failed verification or could not be read (retry is safe).
 */
export type ChannelFailureCode = 'rejected' | 'unavailable' | 'flow_not_supported' | 'bad_response';

/**
 * `timedOut`: the provider did not answer in time, so it may have acted on the request (a prepay
 * may have opened a trade); any other `unavailable` never reached it, was refused with a 5xx, or
 * lost its connection before an answer twice (fetchFromProvider) — a prepay then gave the payer
 * nothing to pay, and a trade it may have opened expires at the provider unpaid.
 */
export type ChannelFailure = { ok: false; code: ChannelFailureCode; retryable: boolean; message: string; timedOut?: true };
export type ChannelResult<T> = ({ ok: true } & T) | ChannelFailure;

export const channelFailure = (code: ChannelFailureCode, message: string): ChannelFailure => ({
  ok: false, code, message, retryable: code === 'unavailable' || code === 'bad_response',
});

/**
 * Text from a provider read as JSON by its schema; otherwise why not, naming `what` was read:
 * `… is not JSON`, or `…: path message` for the first problem valibot found.
 */
export function readJson<S extends v.GenericSchema>(what: string, text: string, schema: S): { ok: true; value: v.InferOutput<S> } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: `${what} is not JSON` };
  }
  const parsed = v.safeParse(schema, json);
  if (parsed.success) return { ok: true, value: parsed.output };
  const [issue] = parsed.issues;
  return { ok: false, problem: `${what}: ${`${v.getDotPath(issue) ?? ''} ${issue.message}`.trim()}` };
}

/** A provider's JSON answer read by its schema; text that is not JSON, or JSON of another shape, is `bad_response`. */
export function jsonAnswer<S extends v.GenericSchema>(provider: string, text: string, schema: S): ChannelResult<{ answer: v.InferOutput<S> }> {
  const read = readJson(`${provider} answer`, text, schema);
  return read.ok ? { ok: true, answer: read.value } : channelFailure('bad_response', read.problem);
}

/**
 * Refuses, before any call, a currency the provider's transformers cannot convert (a channel
 * created before currencies were checked per provider): asking again cannot help.
 */
export function unservedCurrency(provider: string, served: readonly Currency[], currency: Currency): ChannelFailure | null {
  return served.includes(currency) ? null : channelFailure('flow_not_supported', `${provider} does not serve ${currency} (only ${served.join(', ')})`);
}

/**
 * What the provider's page and the payer's bill show as the item: the subject and the merchant's
 * order number, because out_trade_no is paycenter's flow id, not the number the payer knows.
 * The number is kept whole; the subject gives way when the provider's limit is reached.
 */
export function payerSubject(request: Pick<PrepayRequest, 'subject' | 'merchantOrderNo'>, chars_max: number): string {
  if (!request.merchantOrderNo) return request.subject.slice(0, chars_max);
  const suffix = ` (${request.merchantOrderNo})`;
  return `${request.subject.slice(0, Math.max(0, chars_max - suffix.length))}${suffix}`;
}

export type PrepayRequest = {
  flowId: string;
  method: string;
  amount: number;
  currency: Currency;
  subject: string;
  /** The merchant's own order number, which the payer knows the order by (see payerSubject). */
  merchantOrderNo?: string;
  /** The channel's own deadline; already shorter than the order's (see channelExpiry). */
  expiresAt: number;
  returnUrl: string | null;
  clientIp: string | null;
  /** The payer's id at the provider (WeChat JSAPI openid), when the method needs one. */
  payerId: string | null;
  now: number;
};

/** What a channel says about a trade, in paycenter's words (a trade refunded since was still paid: succeeded). */
export type TradeStatus = 'pending' | 'succeeded' | 'failed' | 'closed';

export type TradeReport = {
  flowId: string;
  status: TradeStatus;
  /** What the channel says was paid, in minor units; present for succeeded. */
  amount: number | null;
  currency: string | null;
  channelTradeNo: string | null;
};

/**
 * What a trade query is told. `payableUntil` is when the payer can no longer pay the trade at the
 * channel: the order's deadline, at or after the channel's own one (PrepayRequest.expiresAt, see
 * channelExpiry). Before it, a provider whose payer may try again after a failure (UnionPay's pages)
 * reads a failure as not final yet.
 */
export type TradeQuery = { flowId: string; payableUntil: number; now: number };

/** `not_found`: the channel has no such trade (never created, or the payer never opened it). */
export type QueryAnswer = { trade: TradeReport } | { trade: null };

/** closed: the trade can no longer be paid; paid: it was paid before the close arrived. */
export type CloseAnswer = { outcome: 'closed' | 'paid' };

export type RefundCall = {
  refundId: string;
  flowId: string;
  /** The flow's method (UnionPay names the product of the payment a refund gives back). */
  method: string;
  amount: number;
  /** What the flow's trade collected (WeChat wants the trade's total with every refund). */
  flowAmount: number;
  currency: Currency;
  reason: string | null;
  now: number;
};

export type RefundReport = { refundId: string; status: 'succeeded' | 'pending' | 'failed' };

export type CallbackRequest = { headers: Record<string, string>; body: string; now: number };

/** A verified callback, in paycenter's words; or why it was refused. */
export type CallbackVerdict =
  | { ok: true; trade: TradeReport }
  /** Verified, and nothing for an order's actor: why (a refund's notify, which the refund query the order keeps asking settles). */
  | { ok: true; acknowledged: string }
  | { ok: false; reason: string };

/** How the provider wants its callback answered. */
export type CallbackAnswer = { status: number; contentType: string; body: string };

export interface ChannelAdapter {
  readonly provider: string;
  prepay(request: PrepayRequest): Promise<ChannelResult<{ action: PayAction; channelTradeNo: string | null }>>;
  query(call: TradeQuery): Promise<ChannelResult<QueryAnswer>>;
  close(flowId: string, now: number): Promise<ChannelResult<CloseAnswer>>;
  refund(call: RefundCall): Promise<ChannelResult<{ report: RefundReport }>>;
  /** `report: null`: the channel has no such refund (the refund call never reached it). */
  refundQuery(refundId: string, flowId: string, now: number): Promise<ChannelResult<{ report: RefundReport | null }>>;
  /** Verifies and reads a callback (its plug-in answers it); never trusts a field before the signature checked out. */
  verifyCallback(request: CallbackRequest): Promise<CallbackVerdict>;
  /** The provider's statement of one day (YYYY-MM-DD, the provider's time zone), as the provider serves it. */
  downloadStatement(date: string, now: number): Promise<ChannelResult<{ file: StatementFile }>>;
  /** The rows of a statement file of this provider's (downloaded, or uploaded by an operator); throws StatementError on a malformed file. */
  statementRows(file: StatementFile): AsyncIterable<StatementRow>;
}

/**
 * The channel's own deadline, shorter than the order's: a payer must not be able to pay at
 * the channel after paycenter gave up on the order. A fifth of the time left, at most 60 s,
 * is kept in hand for the close-time query to see any payment.
 */
export function channelExpiry(orderExpiresAt: number, now: number): number {
  const left = Math.max(0, orderExpiresAt - now);
  return orderExpiresAt - Math.min(60_000, Math.floor(left / 5));
}

/** A provider's answer is a few KB; more is a broken or hostile gateway, never read into memory. */
export const provider_response_bytes_max = 1024 * 1024;

/** A day's statement is one file of one line a trade: larger than any API answer. */
export const statement_bytes_max = 64 * 1024 * 1024;

/**
 * `bytesMax` defaults to provider_response_bytes_max; `onConnectionReset` is told each time a
 * call is sent again because its connection was closed under it (a retry that succeeds is
 * otherwise invisible, and a provider closing connections is worth an operator's look).
 */
export type FetchOptions = { timeoutMs: number; bytesMax?: number; onConnectionReset?: () => void };

/** How much of a transport error's text a failure carries. */
const transport_error_chars_max = 200;

/**
 * A call whose connection was closed under it before its answer was read (ECONNRESET: a pooled
 * keep-alive socket the provider had just closed or reset) is sent once more, on another
 * connection. Several calls in flight on such sockets fail together, and as failures they would
 * open the channel's breaker (five in a row) and refuse every payment for its open time, though
 * the provider is up. Every channel call is idempotent at the provider by its flow's or refund's
 * id, so a request that did arrive is answered as before; further retries belong to the caller's
 * schedule.
 */
const connection_reset_retries_max = 1;

/** The body is text so that a retried call sends it again as it was. */
export type ProviderRequest = RequestInit & { body?: string };

/**
 * A provider call over HTTP; a transport failure or timeout is `unavailable`, an answer over
 * the size limit `bad_response` (both: retry is safe).
 */
export async function callProvider(url: string, init: ProviderRequest, options: FetchOptions): Promise<ChannelResult<{ status: number; headers: Headers; text: string }>> {
  const answer = await fetchFromProvider(url, init, options);
  return answer.ok ? { ...answer, text: new TextDecoder().decode(answer.bytes) } : answer;
}

/** callProvider for a file (a statement): the answer's bytes as they came. */
export async function fetchFromProvider(url: string, init: ProviderRequest, options: FetchOptions): Promise<ChannelResult<{ status: number; headers: Headers; bytes: Uint8Array }>> {
  const host = new URL(url).host;
  const bytesMax = options.bytesMax ?? provider_response_bytes_max;
  // One deadline for the call, its retry included.
  const signal = AbortSignal.timeout(options.timeoutMs);
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(url, { ...init, signal, redirect: 'manual' });
      const answer = await readAtMost(response.body, bytesMax);
      if (answer.truncated) return channelFailure('bad_response', `${host}: answer (HTTP ${response.status}) is over ${bytesMax} bytes`);
      return { ok: true, status: response.status, headers: response.headers, bytes: answer.bytes };
    } catch (error) {
      if (isConnectionReset(error) && attempt < connection_reset_retries_max) {
        options.onConnectionReset?.();
        continue;
      }
      const failure = channelFailure('unavailable', `${host}: ${String((error as Error).message ?? error).slice(0, transport_error_chars_max)}`);
      return (error as Error).name === 'TimeoutError' ? { ...failure, timedOut: true } : failure;
    }
  }
}

const isConnectionReset = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === 'ECONNRESET';
