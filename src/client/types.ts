/**
 * The objects paycenter answers with (API.md). Request bodies and the error codes are generated
 * from the served OpenAPI document (openapi.generated.ts, checked by test/client/drift.test.ts);
 * these answer shapes are checked against real answers by the same test (the key lists below).
 */
import type { ErrorCode, V1Operations } from './openapi.generated.ts';

export type { ErrorCode, V1Operation, V1Operations } from './openapi.generated.ts';

/** Money as API.md sends it: a decimal string in major units ("100.00" CNY, "1500" JPY). */
export type Amount = string;
/** RFC 3339 UTC, e.g. "2026-11-24T08:00:00.000Z". */
export type Time = string;

export type PaymentStatus = 'created' | 'paying' | 'succeeded' | 'closed' | 'partially_refunded' | 'refunded';
export type FlowStatus = 'pending' | 'succeeded' | 'failed' | 'closed' | 'refunded';
export type RefundStatus = 'pending' | 'succeeded' | 'failed';

export type Flow = {
  id: string; method: string; channel: string; amount: Amount; status: FlowStatus;
  channel_trade_no: string | null; created_at: Time; completed_at: Time | null;
};

export type Payment = {
  id: string; merchant_id: string; merchant_order_no: string; amount: Amount; currency: string;
  subject: string; body: string | null; status: PaymentStatus; paid_amount: Amount; refunded_amount: Amount;
  flows: Flow[]; cashier_url: string; notify_url: string | null; return_url: string | null;
  metadata: Record<string, unknown>; expires_at: Time; created_at: Time; updated_at: Time;
  paid_at: Time | null; closed_at: Time | null; close_reason: 'timeout' | 'merchant' | 'failed' | null;
  /** The risk center's decision (API.md "Risk"): rule codes that hit, never internal detail beyond the score. */
  risk: { decision: 'allow' | 'review'; score: number; rules: string[] };
};

/** What the payer is shown: a QR code's content, a page to send the browser to, or nothing to do. */
export type Action = { type: 'qr_code' | 'redirect' | 'none'; qr_code: string | null; pay_url: string | null; params?: Record<string, string> };

export type PaymentWithAction = Payment & { action: Action };
/** A create with `method`: `action` is absent when a retry finds the order paid, closed, or paying by another method. */
export type PaidAtCreate = Payment & { action?: Action };

export type Refund = {
  id: string; payment_id: string; refund_no: string; amount: Amount; reason: string | null;
  status: RefundStatus; created_at: Time; completed_at: Time | null;
};

export type EventType = 'payment.succeeded' | 'payment.closed' | 'refund.succeeded' | 'refund.failed';

/** A notification: `data` is the payment object for `payment.*`, the refund object for `refund.*`. */
export type NotificationEvent =
  | { id: string; type: 'payment.succeeded' | 'payment.closed'; created_at: Time; data: Payment }
  | { id: string; type: 'refund.succeeded' | 'refund.failed'; created_at: Time; data: Refund };

export type Page<T> = { data: T[]; has_more: boolean };

export type Redelivery = { id: string; type: EventType; status: 'pending' };

/** API.md v1.1 "Payer balances". */
/** `updated_at` is null for a payer who never had an entry (zeros, not 404). */
export type Balance = { user_id: string; currency: string; available: Amount; frozen: Amount; updated_at: Time | null };
export type BalanceEntry = {
  id: string; user_id: string; kind: 'credit' | 'debit' | 'freeze' | 'release' | 'capture' | 'refund';
  amount: Amount; available_after: Amount; frozen_after: Amount; payment_id: string | null;
  refund_id: string | null; reference: string | null; created_at: Time;
};

export type ErrorBody = { error: { code: ErrorCode; message: string; field: string | null; request_id: string } };

type BodyOf<K extends keyof V1Operations> = V1Operations[K]['body'];
export type CreatePaymentRequest = BodyOf<'POST /v1/payments'>;
export type PayRequest = BodyOf<'POST /v1/payments/{id}/pay'>;
export type CreateRefundRequest = BodyOf<'POST /v1/payments/{id}/refunds'>;
export type EventsQuery = V1Operations['GET /v1/events']['query'];

/** Every key of each answer object, kept beside its type so a test can compare both with real answers. */
export const answer_keys = {
  payment: keysOf<Payment>()(['id', 'merchant_id', 'merchant_order_no', 'amount', 'currency', 'subject', 'body', 'status', 'paid_amount',
    'refunded_amount', 'flows', 'cashier_url', 'notify_url', 'return_url', 'metadata', 'expires_at', 'created_at', 'updated_at', 'paid_at',
    'closed_at', 'close_reason', 'risk']),
  flow: keysOf<Flow>()(['id', 'method', 'channel', 'amount', 'status', 'channel_trade_no', 'created_at', 'completed_at']),
  refund: keysOf<Refund>()(['id', 'payment_id', 'refund_no', 'amount', 'reason', 'status', 'created_at', 'completed_at']),
  action: keysOf<Action>()(['type', 'qr_code', 'pay_url', 'params']),
};

/** Compiles only when `keys` names every key of T (none missing, none extra). */
function keysOf<T>() {
  return <const K extends readonly (keyof T)[]>(keys: K & ([keyof T] extends [K[number]] ? unknown : never)): K => keys;
}
