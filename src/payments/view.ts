/**
 * The payment and refund objects of API.md, rendered from an order's machine context.
 * Used by the HTTP answers and by merchant notifications, so both always agree.
 */
import type { Flow, FlowAction, PaymentContext, PaymentStatus, Refund } from '../../machines/payment.model.ts';
import { paidAmount, refundedAmount } from '../../machines/payment.model.ts';
import { formatAmount } from '../money.ts';
import { isoTime } from '../clock.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : isoTime(ms));

export function flowView(ctx: PaymentContext, flow: Flow) {
  return {
    id: flow.id, method: flow.method, channel: flow.channel, amount: formatAmount(flow.amount, ctx.currency),
    status: flow.status, channel_trade_no: flow.channelTradeNo, created_at: iso(flow.createdAt), completed_at: iso(flow.completedAt),
  };
}

/** What the payer is shown for a flow (API.md `/pay`: `action`). */
export function actionView(action: FlowAction | null) {
  const a = action ?? { type: 'none' as const };
  return { type: a.type, qr_code: a.qrCode ?? null, pay_url: a.payUrl ?? null, ...(a.params ? { params: a.params } : {}) };
}

/** A refund as its object shows it: from the order's context while pending, from its row once it left the snapshot. */
export type RefundDetail = Pick<Refund, 'id' | 'refundNo' | 'amount' | 'reason' | 'createdAt' | 'completedAt'> & { status: string };

export function refundView(ctx: PaymentContext, refund: RefundDetail) {
  return {
    id: refund.id, payment_id: ctx.id, refund_no: refund.refundNo, amount: formatAmount(refund.amount, ctx.currency),
    reason: refund.reason, status: refund.status, created_at: iso(refund.createdAt), completed_at: iso(refund.completedAt),
  };
}

export function paymentView(ctx: PaymentContext, status: PaymentStatus, cashierUrl: string) {
  return {
    id: ctx.id,
    merchant_id: ctx.merchantId,
    merchant_order_no: ctx.merchantOrderNo,
    amount: formatAmount(ctx.amount, ctx.currency),
    currency: ctx.currency,
    subject: ctx.subject,
    body: ctx.details.body,
    status,
    paid_amount: formatAmount(paidAmount(ctx), ctx.currency),
    refunded_amount: formatAmount(refundedAmount(ctx), ctx.currency),
    flows: ctx.flows.map((flow) => flowView(ctx, flow)),
    cashier_url: cashierUrl,
    notify_url: ctx.details.notifyUrl,
    return_url: ctx.details.returnUrl,
    metadata: ctx.details.metadata,
    expires_at: iso(ctx.expiresAt),
    created_at: iso(ctx.createdAt),
    updated_at: iso(ctx.updatedAt),
    paid_at: iso(ctx.paidAt),
    closed_at: iso(ctx.closedAt),
    close_reason: ctx.closeReason,
    risk: { decision: ctx.risk?.decision ?? 'allow', score: ctx.risk?.score ?? 0, rules: ctx.risk?.rules ?? [] },
  };
}
