/**
 * /v1: the signed merchant API of API.md. Routes validate, authenticate, call the payments
 * service and shape its values into answers; they never change an order themselves.
 */
import { Hono } from 'hono';
import { refunds_per_order_max } from '../../../machines/payment.model.ts';
import { type Currency, parseAmount } from '../../money.ts';
import type { Failure, PayPartRequest, Payments } from '../../payments/service.ts';
import { ApiError } from '../errors.ts';
import type { MerchantEnv } from '../auth.ts';
import { createdPayment, eventPage, payment, paymentWithAction, refund, refundList } from '../answers.ts';
import { describeIn, jsonAnswer } from '../openapi.ts';
import { createPayment, createRefund, eventsQuery, payRequest, paymentsQuery } from '../schemas.ts';
import { jsonBody, queryParams, requireOutboundUrls } from '../validate.ts';
import type { OutboundPolicy } from '../../net/outbound.ts';
import { type Links, eventOf, paymentOf, paymentWithActionOf, refundOf } from '../views.ts';

export const failed = (f: Failure) => new ApiError(f.error, f.message, f.field ?? null);

export function amountOf(text: string, currency: Currency, field: string): number {
  const parsed = parseAmount(text, currency);
  if (!parsed.ok) throw new ApiError('invalid_amount', `${field} ${parsed.message.replace(/^amount /, '')}`, field);
  return parsed.minor;
}

export function merchantRoutes(payments: Payments, links: Links, outbound: OutboundPolicy): Hono<MerchantEnv> {
  const app = new Hono<MerchantEnv>();

  app.post('/payments', describeIn('payments', {
    summary: 'Create a payment order (idempotent by merchant_order_no)',
    description: '201 when new; 200 with the same order when the same merchant_order_no arrives with the same amount, currency and subject; 409 order_conflict otherwise. With method, paying starts at once and the answer carries action.',
    responses: { 201: jsonAnswer(createdPayment, 'The new order.'), 200: jsonAnswer(createdPayment, 'The order this merchant_order_no made before (a retry).') },
    errors: [409, 422, 502],
  }), jsonBody(createPayment), async (c) => {
    const body = c.req.valid('json');
    const merchant = c.get('merchant');
    requireOutboundUrls(outbound, { notify_url: body.notify_url, return_url: body.return_url });
    const amount = amountOf(body.amount, body.currency, 'amount');
    const payAtOnce = body.method ? { refusal: await payments.payRefusal(merchant, body.method, body.currency, amount, body.user_id) } : null;
    const result = await payments.create(merchant, {
      merchantOrderNo: body.merchant_order_no, amount, currency: body.currency, subject: body.subject, expireSeconds: body.expire_seconds,
      details: {
        body: body.body, notifyUrl: body.notify_url, returnUrl: body.return_url, metadata: body.metadata,
        userId: body.user_id, clientIp: body.client_ip, deviceId: body.device_id,
      },
    }, c.get('ridingNonce') ?? undefined, payAtOnce);
    if (!result.ok) throw failed(result);
    const status = result.created ? 201 : 200;
    if (!body.method) return c.json(paymentOf(result.order, links), status);
    const paid = await payments.payCreated(merchant, result.order, body.method, result.created);
    if (!paid.ok) throw failed(paid);
    return c.json(paid.flow ? paymentWithActionOf({ order: paid.order, flow: paid.flow }, links) : paymentOf(paid.order, links), status);
  });

  app.get('/payments', describeIn('payments', { summary: 'Find a payment by merchant_order_no', responses: { 200: jsonAnswer(payment, 'The payment.') }, errors: [404] }), queryParams(paymentsQuery), async (c) => {
    const result = await payments.getByMerchantOrderNo(c.get('merchant'), c.req.valid('query').merchant_order_no);
    if (!result.ok) throw failed(result);
    return c.json(paymentOf(result.order, links));
  });

  app.get('/payments/:id', describeIn('payments', { summary: 'A payment, from paycenter’s own records', responses: { 200: jsonAnswer(payment, 'The payment.') }, errors: [404] }), async (c) => {
    const result = await payments.get(c.get('merchant'), c.req.param('id'));
    if (!result.ok) throw failed(result);
    return c.json(paymentOf(result.order, links));
  });

  app.post('/payments/:id/pay', describeIn('payments', {
    summary: 'Start paying with one method or combined parts',
    description: 'Paying again the same way while that attempt waits for the payer (also several identical requests at once, on any instance) answers the same flow and its action: one trade at the channel. Another method or split starts a new attempt and closes the earlier one at its channel. 503 unavailable only when the channel did not answer.',
    responses: { 200: jsonAnswer(paymentWithAction, 'The payment and the action for the payer.') },
    errors: [404, 409, 422, 502],
  }), jsonBody(payRequest), async (c) => {
    const merchant = c.get('merchant');
    const found = await payments.peek(merchant, c.req.param('id'));
    if (!found.ok) throw failed(found);
    const { context } = found.order;
    const body = c.req.valid('json');
    const parts: PayPartRequest[] = 'method' in body
      ? [{ method: body.method, amount: context.amount }]
      : body.parts.map((p, i) => ({ method: p.method, amount: amountOf(p.amount, context.currency, `parts.${i}.amount`) }));
    const paid = await payments.pay(merchant, context.id, parts);
    if (!paid.ok) throw failed(paid);
    return c.json(paymentWithActionOf(paid, links));
  });

  app.post('/payments/:id/close', describeIn('payments', {
    summary: 'Close an unpaid payment, here and at the channel',
    responses: { 200: jsonAnswer(payment, 'The payment: closed, or still paying with close_reason set while the channel confirms.') }, errors: [404, 409],
  }), async (c) => {
    const result = await payments.close(c.get('merchant'), c.req.param('id'));
    if (!result.ok) throw failed(result);
    return c.json(paymentOf(result.order, links));
  });

  app.post('/payments/:id/refunds', describeIn('payments', {
    summary: 'Refund (idempotent by refund_no)',
    responses: { 201: jsonAnswer(refund, 'The new refund.'), 200: jsonAnswer(refund, 'The refund this refund_no made before (a retry).') },
    errors: [404, 409, 422],
    description: `201 when new; 200 with the same refund for the same refund_no and amount; 409 order_conflict for another amount; 422 refund_exceeds_paid beyond what is left. A payment takes at most ${refunds_per_order_max} refunds (succeeded, failed or pending, as WeChat Pay allows per trade): the next is 409 invalid_state.`,
  }), jsonBody(createRefund), async (c) => {
    const merchant = c.get('merchant');
    const found = await payments.peek(merchant, c.req.param('id'));
    if (!found.ok) throw failed(found);
    const body = c.req.valid('json');
    const amount = amountOf(body.amount, found.order.context.currency, 'amount');
    const result = await payments.refund(merchant, c.req.param('id'), { refundNo: body.refund_no, amount, reason: body.reason });
    if (!result.ok) throw failed(result);
    return c.json(refundOf(result.order, result.refund), result.created ? 201 : 200);
  });

  app.get('/payments/:id/refunds', describeIn('payments', { summary: 'The refunds of a payment', responses: { 200: jsonAnswer(refundList, 'Every refund of the payment.') }, errors: [404] }), async (c) => {
    const result = await payments.listRefunds(c.get('merchant'), c.req.param('id'));
    if (!result.ok) throw failed(result);
    return c.json({ data: result.refunds.map((r) => refundOf(result.order, r)) });
  });

  app.get('/refunds/:id', describeIn('payments', { summary: 'A refund', responses: { 200: jsonAnswer(refund, 'The refund.') }, errors: [404] }), async (c) => {
    const result = await payments.getRefund(c.get('merchant'), c.req.param('id'));
    if (!result.ok) throw failed(result);
    return c.json(refundOf(result.order, result.refund));
  });

  app.get('/events', describeIn('payments', {
    summary: 'Every notification sent to this merchant, in the order they became visible: paging with after (an id from this list) never passes one', responses: { 200: jsonAnswer(eventPage, 'A page of events; after (the last id) pages on.') },
  }), queryParams(eventsQuery), async (c) => {
    const { after, limit } = c.req.valid('query');
    const events = await payments.events(c.get('merchant'), after ?? null, limit + 1);
    if (events === null) throw new ApiError('invalid_request', "after must name one of this merchant's events", 'after');
    return c.json({ data: events.slice(0, limit).map(eventOf), has_more: events.length > limit });
  });

  return app;
}
