/** API shapes for orders, refunds, events, merchants and channels, with links and redactions applied. */
import type { OrderState } from '../../actors/engine.ts';
import type { NotificationRenderer } from '../../actors/write-set.ts';
import { statusOf } from '../../machines/payment.machine.ts';
import type { Flow, PaymentStatus } from '../../machines/payment.model.ts';
import { cashierUrl } from '../cashier/token.ts';
import { isoTime } from '../clock.ts';
import type { Merchant } from '../merchants/directory.ts';
import { type Currency, formatAmount } from '../money.ts';
import { type RefundDetail, actionView, paymentView, refundView } from '../payments/view.ts';
import type { ChannelRow, MerchantEventRow } from '../store/store.ts';

export type Links = { publicUrl: string; secretKey: Uint8Array };


export function paymentOf(order: Pick<OrderState, 'context'> & { row: { status: PaymentStatus } }, links: Links) {
  return paymentView(order.context, order.row.status, cashierUrl(links.publicUrl, links.secretKey, order.context.id));
}

export const refundOf = (order: OrderState, refund: RefundDetail) => refundView(order.context, refund);

/** A pay answer (API.md `/pay`): the payment object and what the payer is shown for the flow. */
export const paymentWithActionOf = (paid: { order: OrderState; flow: Flow }, links: Links) => ({ ...paymentOf(paid.order, links), action: actionView(paid.flow.action) });

export const eventOf = (event: MerchantEventRow) => ({ id: event.id, type: event.type, created_at: isoTime(event.createdAt), data: event.data });

/** What a notification's `data` is (API.md): the refund object for `refund.*` events, the payment object for `payment.*`. */
export function notificationDataOf(links: Links): NotificationRenderer {
  return (ctx, snapshot, effect) => {
    const refundId = effect.params.refundId;
    const refund = refundId === null ? undefined : ctx.refunds.find((r) => r.id === refundId);
    if (refundId !== null && !refund) throw new Error(`assertion failed: ${effect.params.event} for a refund ${refundId} the order does not have`);
    return refund ? refundView(ctx, refund) : paymentOf({ context: ctx, row: { status: statusOf(snapshot.value) } }, links);
  };
}

/** A merchant as operators see it: never its secret (a stored row fits as well as an opened one). */
export const merchantOf = (m: Omit<Merchant, 'secret'>) => ({
  merchant_id: m.id, name: m.name, notify_url: m.notifyUrl, methods: m.methods, status: m.status, routing: m.routing, created_at: isoTime(m.createdAt), updated_at: isoTime(m.updatedAt),
});

/**
 * The currency a channel's limits are in: its one currency. Only channels of one currency get
 * limits now; a channel of several that has them is older, and those were always given in CNY.
 */
const limitCurrencyOf = (c: ChannelRow): Currency => (c.currencies.length === 1 ? c.currencies[0] as Currency : 'CNY');

/** `config` as its plug-in read it: keys and passwords are `Secret`, which serializes as [redacted]. */
export const channelOf = (c: ChannelRow, config: Record<string, unknown> | null) => ({
  code: c.code, provider: c.provider, methods: c.methods, currencies: c.currencies, weight: c.weight,
  single_limit: c.singleLimit === null ? null : formatAmount(c.singleLimit, limitCurrencyOf(c)),
  daily_limit: c.dailyLimit === null ? null : formatAmount(c.dailyLimit, limitCurrencyOf(c)),
  status: c.status, config, fee_rate: c.feeRate, created_at: isoTime(c.createdAt), updated_at: isoTime(c.updatedAt),
});
