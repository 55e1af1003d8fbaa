/**
 * The payment floor (bun run bench lifecycle-floor): the least a whole payment can be on
 * paycenter's stack — a signed create naming `alipay_qr`, paid at the channel, its notify, the
 * merchant told — as one small Hono server. It does what every such payment must, with paycenter's
 * own parts, and nothing else:
 *   create: the signed create read and checked (bench/floor/core.ts); the machine's create and pay
 *     transitions, committed together with the flow (nothing leaves before the commit); the
 *     channel's prepay through paycenter's own Alipay adapter (an RSA-signed request, its signed
 *     answer verified); the prepared flow committed (a reply never describes a state the next
 *     request would not see); paycenter's view of the order answered;
 *   notify (POST /callbacks/alipay): the adapter verifies it; the machine's report transition,
 *     committed with the notify's body in its journal row and the merchant event it owes; `success`;
 *   the merchant event, signed as paycenter signs it, POSTed to the order's notify_url, and its
 *     delivery committed.
 * Four grouped commits a payment. What it leaves out is everything a payment needs only when
 * something goes wrong or someone looks: it reads nothing back (an order lives in this process's
 * memory from its create until its merchant heard), keeps no callback log apart from the journal,
 * arms no query timer, runs no ticker, retries nothing, and a write, channel call or delivery that
 * fails stops it (the bench sends only payments that succeed).
 *
 * One merchant (FLOOR_MERCHANT_ID, FLOOR_MERCHANT_SECRET, FLOOR_MERCHANT_NOTIFY_URL), one Alipay
 * channel (FLOOR_ALIPAY: the config paycenter's admin API takes for it, as JSON), its database at
 * FLOOR_DATABASE.
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { AlipayAdapter } from '../../src/channels/alipay/adapter.ts';
import { tradeEvent } from '../../actors/effect-runner.ts';
import { effectsOf } from '../../actors/write-set.ts';
import { type PaymentEvent, paymentMachine, paymentTransitions, statusOf } from '../../machines/payment.machine.ts';
import type { PaymentContext } from '../../machines/payment.model.ts';
import { channelExpiry } from '../../src/channels/adapter.ts';
import { notificationSignature } from '../../src/http/signature.ts';
import { newId } from '../../src/ids.ts';
import { actionView, paymentView } from '../../src/payments/view.ts';
import { floorEnvironment, orderWrite, readCreate, serveFloor, startCommits } from './core.ts';

const env = floorEnvironment({ FLOOR_ALIPAY: v.string(), FLOOR_MERCHANT_NOTIFY_URL: v.pipe(v.string(), v.url()) });
const merchant = { id: env.FLOOR_MERCHANT_ID, secret: env.FLOOR_MERCHANT_SECRET, notifyUrl: env.FLOOR_MERCHANT_NOTIFY_URL };
const channel = 'alipay_main';
const provider_timeout_ms = 10_000;
const notify_timeout_ms = 10_000;
const alipay = new AlipayAdapter(JSON.parse(env.FLOOR_ALIPAY), { notifyUrl: `http://127.0.0.1:${env.PORT}/callbacks/alipay`, timeoutMs: provider_timeout_ms });
const commits = startCommits();

type Snapshot = ReturnType<typeof paymentTransitions.initial>[0];
/**
 * An order between its create and its merchant's notification, and the version its store row has;
 * as many as the bench has payments in flight (its payers wait for each one's notification).
 */
type Open = { snapshot: Snapshot; version: number };
const open = new Map<string, Open>();
const orderOfFlow = new Map<string, string>();

function stop(why: string): never {
  console.error(`payment floor: ${why}`);
  process.exit(1);
}

const persisted = (snapshot: Snapshot) => paymentMachine.getPersistedSnapshot(snapshot);
const cashierUrl = (id: string) => `http://127.0.0.1/cashier/${id}`;

/** A merchant event as committed (its body a value) and as sent (its body's text). */
type MerchantEvent = { id: string; body: object; text: string };

/** The order's next event, committed; `journaled` is what its journal keeps (the event; a callback's body, for a notify). */
async function step(id: string, event: PaymentEvent, journaled: unknown, merchantEvent: (ctx: PaymentContext, status: string) => MerchantEvent | null = () => null) {
  const order = open.get(id) ?? stop(`no open order ${id}`);
  const [snapshot, actions] = paymentTransitions.next(order.snapshot, event);
  const status = statusOf(snapshot.value);
  const owed = merchantEvent(snapshot.context, status);
  order.snapshot = snapshot;
  order.version += 1;
  await commits.submit({
    kind: 'step', id, version: order.version, status, snapshot: persisted(snapshot), at: event.at, journal: { event: journaled, effects: effectsOf(actions) },
    merchantEvent: owed && { id: owed.id, body: owed.body },
  });
  return { snapshot, status, owed };
}

async function createAndPay(request: Request): Promise<Response> {
  const created = await readCreate(request, '/v1/payments', merchant);
  if (created instanceof Response) return created;
  const { input, fields, now } = created;
  if (fields.method !== 'alipay_qr') stop(`a create without alipay_qr: ${fields.method}`);
  const flowId = newId('flw', now);
  const [initial, createActions] = paymentTransitions.initial(input);
  const pay: PaymentEvent = { type: 'pay.start', at: now, parts: [{ flowId, method: fields.method, channel, amount: input.amount }] };
  const [paying, payActions] = paymentTransitions.next(initial, pay);
  const journal = [{ event: { type: 'payment.create' }, effects: effectsOf(createActions) }, { event: pay, effects: effectsOf(payActions) }];
  await commits.submit(orderWrite(created, statusOf(paying.value), persisted(paying), journal, flowId));
  open.set(input.id, { snapshot: paying, version: journal.length });
  orderOfFlow.set(flowId, input.id);

  const prepay = await alipay.prepay({
    flowId, method: fields.method, amount: input.amount, currency: input.currency, subject: input.subject, merchantOrderNo: input.merchantOrderNo,
    expiresAt: channelExpiry(input.expiresAt, now), returnUrl: null, clientIp: null, payerId: null, now,
  });
  if (!prepay.ok) stop(`prepay of ${flowId}: ${prepay.message}`);
  const prepared: PaymentEvent = { type: 'flow.prepared', at: Date.now(), flowId, action: prepay.action };
  const { snapshot, status } = await step(input.id, prepared, prepared);
  return Response.json({ ...paymentView(snapshot.context, status, cashierUrl(input.id)), action: actionView(prepay.action) }, { status: 201 });
}

async function notified(request: Request): Promise<Response> {
  const body = await request.text();
  const now = Date.now();
  const verdict = await alipay.verifyCallback({ headers: {}, body, now });
  if (!verdict.ok) stop(`a notify refused: ${verdict.reason}`);
  if (!('trade' in verdict)) stop(`a notify about no trade: ${verdict.acknowledged}`);
  const id = orderOfFlow.get(verdict.trade.flowId) ?? stop(`a notify for an unknown flow ${verdict.trade.flowId}`);
  const { owed } = await step(id, tradeEvent(verdict.trade, now, 'callback'), body, (ctx, status) => {
    if (status !== 'succeeded') return null;
    const body = { id: newId('evt', now), type: 'payment.succeeded', created_at: new Date(now).toISOString(), data: paymentView(ctx, 'succeeded', cashierUrl(ctx.id)) };
    return { id: body.id, body, text: JSON.stringify(body) };
  });
  if (owed) void deliver(id, owed);
  return new Response('success');
}

/** The merchant event POSTed as paycenter signs it; once answered 2xx, its delivery committed and the order forgotten. */
async function deliver(id: string, event: MerchantEvent): Promise<void> {
  const order = open.get(id) ?? stop(`no open order ${id}`);
  const at = Date.now();
  const response = await fetch(order.snapshot.context.details.notifyUrl, {
    method: 'POST', body: event.text, signal: AbortSignal.timeout(notify_timeout_ms),
    headers: { 'content-type': 'application/json; charset=utf-8', 'Paycenter-Signature': notificationSignature(merchant.secret, Math.floor(at / 1000), event.text) },
  }).catch((error: unknown) => stop(`delivery of ${event.id}: ${String(error)}`));
  await response.arrayBuffer();
  if (!response.ok) stop(`delivery of ${event.id} answered ${response.status}`);
  await commits.submit({ kind: 'delivered', merchantEventId: event.id, at: Date.now() });
  open.delete(id);
  for (const flow of order.snapshot.context.flows) orderOfFlow.delete(flow.id);
}

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.post('/v1/payments', (c) => createAndPay(c.req.raw));
app.post('/callbacks/alipay', (c) => notified(c.req.raw));

serveFloor(app, env.PORT);
