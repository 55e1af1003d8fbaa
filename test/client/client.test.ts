/**
 * paycenter/client against the real app over HTTP (with the channel sandbox): every /v1 route,
 * every error code, retries and Retry-After through a proxy, timeouts, and notifications verified.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { PaycenterClient, PaycenterError, PaycenterTransportError, type ClientOptions, error_codes, verifyNotification } from '../../src/client/index.ts';
import { answer_keys } from '../../src/client/types.ts';
import { errorStatus } from '../../src/http/errors.ts';
import { freePort } from '../harness/services.ts';
import { MerchantClient, adminCall } from '../http/harness.ts';
import { startReceiver } from '../sandbox/helpers.ts';
import { type World, all_methods, bootWorld, payerDecides, payerPage } from '../channels/world.ts';
import { apiError, startProxy } from './proxy.ts';

const orderNo = () => `ORD-${randomBytes(6).toString('hex')}`;

/** The error a call ends in (the test fails when it succeeds). */
async function failure(call: Promise<unknown>): Promise<PaycenterError | PaycenterTransportError> {
  const outcome = await call.then(() => null, (e: unknown) => e);
  if (!(outcome instanceof PaycenterError || outcome instanceof PaycenterTransportError)) throw new Error(`expected a client error, got ${String(outcome)}`);
  return outcome;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(value)}`);
    await Bun.sleep(50);
  }
}

const sortedKeys = (o: object) => Object.keys(o).sort();

describe('paycenter/client against the real app', () => {
  let world: World;
  let receiver: ReturnType<typeof startReceiver>;
  let merchant: MerchantClient;
  let client: PaycenterClient;
  const clientFor = (m: MerchantClient, options: Partial<ClientOptions> = {}) =>
    new PaycenterClient({ baseUrl: world.url, merchantId: m.merchantId, secret: m.secret, ...options });

  beforeAll(async () => {
    world = await bootWorld('sqlite');
    receiver = startReceiver(() => new Response('ok'));
    merchant = await MerchantClient.create(world.url, { methods: [...all_methods, 'balance'], notify_url: receiver.url });
    client = clientFor(merchant);
  });
  afterAll(async () => {
    receiver?.stop();
    await world?.stop();
  });

  test('every route: create, find, pay, the payer pays, refund, refunds, events, close, redeliver', async () => {
    const no = orderNo();
    const created = await client.createPayment({ merchant_order_no: no, amount: '100.00', subject: 'Hotel' });
    expect(sortedKeys(created)).toEqual([...answer_keys.payment].sort());
    expect((await client.createPayment({ merchant_order_no: no, amount: '100.00', subject: 'Hotel' })).id).toBe(created.id);
    expect((await client.findPayment(no)).id).toBe(created.id);

    const paying = await client.pay(created.id, { method: 'alipay_qr' });
    expect(paying.status).toBe('paying');
    expect(sortedKeys(paying.action)).toEqual(answer_keys.action.filter((k) => k !== 'params').sort());
    expect(sortedKeys(paying.flows[0]!)).toEqual([...answer_keys.flow].sort());
    expect((await payerDecides(await payerPage(paying.action), 'pay')).status).toBe(200);
    const paid = await until(() => client.getPayment(created.id), (p) => p.status === 'succeeded');
    expect(paid.paid_amount).toBe('100.00');

    const refund = await client.createRefund(created.id, { refund_no: 'R1', amount: '30.00' });
    expect(sortedKeys(refund)).toEqual([...answer_keys.refund].sort());
    expect((await client.createRefund(created.id, { refund_no: 'R1', amount: '30.00' })).id).toBe(refund.id);
    expect((await client.getRefund(refund.id)).refund_no).toBe('R1');
    expect((await client.listRefunds(created.id)).data.map((r) => r.id)).toEqual([refund.id]);
    await until(() => client.getRefund(refund.id), (r) => r.status === 'succeeded');

    const other = await client.createPayment({ merchant_order_no: orderNo(), amount: '1.00', subject: 'Closed', method: 'wechat_native' });
    expect(other.action?.type).toBe('qr_code');
    expect((await until(() => client.closePayment(other.id), (p) => p.status === 'closed')).close_reason).toBe('merchant');

    const events = await until(() => client.listEvents(), (page) => page.data.length >= 3);
    expect(events.data.map((e) => e.type)).toEqual(['payment.succeeded', 'refund.succeeded', 'payment.closed']);
    expect((await client.listEvents({ after: events.data[0]!.id, limit: 1 })).data.map((e) => e.id)).toEqual([events.data[1]!.id]);

    await receiver.waitFor(3);
    const delivered = receiver.received.length;
    expect(await client.redeliverEvent(events.data[0]!.id)).toEqual({ id: events.data[0]!.id, type: 'payment.succeeded', status: 'pending' });
    const again = (await receiver.waitFor(delivered + 1)).at(-1)!;
    expect(JSON.parse(again.body).id).toBe(events.data[0]!.id);

    // Another merchant's event is as unknown as a made-up one.
    const stranger = clientFor(await MerchantClient.create(world.url, { methods: all_methods }));
    expect((await failure(stranger.redeliverEvent(events.data[0]!.id)))).toMatchObject({ code: 'not_found', status: 404 });
    expect((await failure(client.redeliverEvent('evt_01JD0000000000000000000000')))).toMatchObject({ code: 'not_found' });
  });

  test('balances: read, credit (idempotent), debit, insufficient_balance, entries paged; a payment from the balance', async () => {
    const payer = `u-${orderNo()}`;
    expect(await client.getBalance(payer)).toMatchObject({ user_id: payer, currency: 'CNY', available: '0.00', frozen: '0.00' });
    const credit = await client.creditBalance(payer, { credit_no: `TOPUP-${payer}`, amount: '50.00', reason: 'top-up' });
    expect(credit).toMatchObject({ kind: 'credit', amount: '50.00', available_after: '50.00', reference: `TOPUP-${payer}` });
    expect((await client.creditBalance(payer, { credit_no: `TOPUP-${payer}`, amount: '50.00' })).id).toBe(credit.id);
    expect(await failure(client.creditBalance(payer, { credit_no: `TOPUP-${payer}`, amount: '51.00' }))).toMatchObject({ code: 'order_conflict' });
    expect(await client.debitBalance(payer, { debit_no: `D-${payer}`, amount: '5.00' })).toMatchObject({ kind: 'debit', available_after: '45.00' });
    expect(await failure(client.debitBalance(payer, { debit_no: `D2-${payer}`, amount: '46.00' }))).toMatchObject({ code: 'insufficient_balance', status: 422 });
    const first = await client.listBalanceEntries(payer, { limit: 1 });
    expect(first).toMatchObject({ has_more: true });
    const rest = await client.listBalanceEntries(payer, { after: first.data[0]!.id });
    expect([...first.data, ...rest.data].map((e) => e.kind)).toEqual(['credit', 'debit']);
    const order = await client.createPayment({ merchant_order_no: orderNo(), amount: '20.00', subject: 'From the balance', user_id: payer });
    const notified = receiver.received.length;
    const paid = await client.pay(order.id, { method: 'balance' });
    expect(paid).toMatchObject({ status: 'succeeded', action: { type: 'none' } });
    expect((await receiver.waitFor(notified + 1)).at(-1)!.body).toContain(order.id);
    expect(await client.getBalance(payer)).toMatchObject({ available: '25.00', frozen: '0.00' });
  });

  test('a notification verifies; a tampered one, one outside the tolerance and a malformed header are refused', async () => {
    const payment = await client.createPayment({ merchant_order_no: orderNo(), amount: '2.00', subject: 'Notified' });
    const before = receiver.received.length;
    await client.closePayment(payment.id);
    const received = (await receiver.waitFor(before + 1)).at(-1)!;
    const header = received.headers.get('paycenter-signature');
    const verified = verifyNotification(received.body, header, merchant.secret);
    if (!verified.ok) throw new Error(`refused: ${verified.reason}`);
    expect(verified.event.type).toBe('payment.closed');
    if (verified.event.type !== 'payment.closed') throw new Error('unreachable');
    expect(verified.event.data).toMatchObject({ id: payment.id, status: 'closed' });

    const t = Number(/t=(\d+)/.exec(header!)![1]);
    expect(verifyNotification(received.body.replace('"closed"', '"succeeded"'), header, merchant.secret)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyNotification(received.body, header, 'another secret')).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyNotification(received.body, header, merchant.secret, { nowMs: (t + 301) * 1000 })).toEqual({ ok: false, reason: 'outside_tolerance' });
    expect(verifyNotification(received.body, header, merchant.secret, { nowMs: (t + 59) * 1000, toleranceS: 60 }).ok).toBe(true);
    expect(verifyNotification(received.body, header, merchant.secret, { nowMs: (t + 61) * 1000, toleranceS: 60 })).toEqual({ ok: false, reason: 'outside_tolerance' });
    expect(verifyNotification(received.body, null, merchant.secret)).toEqual({ ok: false, reason: 'malformed_header' });
    expect(verifyNotification(received.body, `t=${t}`, merchant.secret)).toEqual({ ok: false, reason: 'malformed_header' });
  });

  test('the app’s own refusals arrive as typed errors with their code, status and field', async () => {
    const created = await client.createPayment({ merchant_order_no: orderNo(), amount: '10.00', subject: 'Errors' });
    const cases: Array<[() => Promise<unknown>, string, string | null]> = [
      [() => client.createPayment({ merchant_order_no: 'bad no', amount: '1.00', subject: 's' }), 'invalid_request', 'merchant_order_no'],
      [() => client.createPayment({ merchant_order_no: orderNo(), amount: '1.0', subject: 's' }), 'invalid_amount', 'amount'],
      [() => client.pay(created.id, { parts: [{ method: 'alipay_qr', amount: '1.00' }] }), 'amount_mismatch', 'parts'],
      [() => client.pay(created.id, { method: 'no_such_method' }), 'unsupported_method', null],
      [() => clientFor(new MerchantClient(world.url, merchant.merchantId, 'wrong')).getPayment(created.id), 'unauthenticated', null],
      [() => client.getPayment('pay_01JD0000000000000000000000'), 'not_found', null],
      [() => client.createPayment({ merchant_order_no: created.merchant_order_no, amount: '11.00', subject: 'Errors' }), 'order_conflict', null],
      [() => client.createRefund(created.id, { refund_no: 'R1', amount: '1.00' }), 'invalid_state', null],
    ];
    for (const [call, code, field] of cases) {
      const error = await failure(call());
      expect(error).toBeInstanceOf(PaycenterError);
      expect(error).toMatchObject({ code, status: errorStatus[code as keyof typeof errorStatus] });
      if (field) expect(error).toMatchObject({ field });
      expect((error as PaycenterError).requestId).toMatch(/^req_/);
    }
    // Outside bun dev a bad signature says nothing of what the server signed.
    const forged = await failure(clientFor(new MerchantClient(world.url, merchant.merchantId, 'wrong')).listEvents());
    expect(forged.message).toBe('unauthenticated: the signature does not verify');
    const disabled = await MerchantClient.create(world.url, { methods: all_methods });
    await adminCall(world.url, 'PATCH', `/admin/merchants/${disabled.merchantId}`, { status: 'disabled' });
    expect(await failure(clientFor(disabled).listEvents())).toMatchObject({ code: 'merchant_disabled', status: 403 });
  });

  test('every code of the API maps to a PaycenterError; only unavailable and rate_limited are retried', async () => {
    for (const code of error_codes) {
      const status = errorStatus[code];
      const proxy = startProxy(world.url, () => apiError(status, code, code === 'rate_limited' ? { 'retry-after': '1' } : {}));
      const delays: number[] = [];
      const c = new PaycenterClient({ baseUrl: proxy.url, merchantId: 'M1', secret: 's', sleep: async (ms) => void delays.push(ms) });
      const error = await failure(c.getPayment('pay_x'));
      proxy.stop();
      expect(error).toBeInstanceOf(PaycenterError);
      expect(error).toMatchObject({ code, status });
      expect([code, proxy.tried.length]).toEqual([code, code === 'unavailable' || code === 'rate_limited' ? 4 : 1]);
    }
  });

  test('503 twice, then the app: one order, the same body each try, a fresh nonce each try', async () => {
    const proxy = startProxy(world.url, (n) => (n <= 2 ? apiError(503, 'unavailable') : 'forward'));
    const delays: number[] = [];
    const c = new PaycenterClient({ baseUrl: proxy.url, merchantId: merchant.merchantId, secret: merchant.secret, sleep: async (ms) => void delays.push(ms), random: () => 0.5 });
    const no = orderNo();
    const created = await c.createPayment({ merchant_order_no: no, amount: '5.00', subject: 'Retried' });
    proxy.stop();
    expect(proxy.tried.map((t) => t.body)).toEqual(Array(3).fill(proxy.tried[0]!.body));
    expect(new Set(proxy.tried.map((t) => /nonce="([^"]+)"/.exec(t.authorization!)![1])).size).toBe(3);
    expect(delays).toEqual([100, 200]);
    expect((await client.findPayment(no)).id).toBe(created.id);
    expect((await client.listEvents()).data.filter((e) => e.data.id === created.id)).toEqual([]);
  });

  test('an answer lost after the app created the order: the retry finds the same order', async () => {
    const proxy = startProxy(world.url, (n) => (n === 1 ? 'forward_then_503' : 'forward'));
    const c = new PaycenterClient({ baseUrl: proxy.url, merchantId: merchant.merchantId, secret: merchant.secret, sleep: async () => {} });
    const no = orderNo();
    const created = await c.createPayment({ merchant_order_no: no, amount: '6.00', subject: 'Lost answer' });
    proxy.stop();
    expect(proxy.tried.length).toBe(2);
    expect((await client.findPayment(no)).id).toBe(created.id);
  });

  test('rate_limited waits at least Retry-After; one beyond the back-off limit is thrown at once', async () => {
    const proxy = startProxy(world.url, (n) => (n === 1 ? apiError(429, 'rate_limited', { 'retry-after': '3' }) : 'forward'));
    const delays: number[] = [];
    const c = new PaycenterClient({ baseUrl: proxy.url, merchantId: merchant.merchantId, secret: merchant.secret, sleep: async (ms) => void delays.push(ms), random: () => 0.99 });
    expect((await c.createPayment({ merchant_order_no: orderNo(), amount: '1.00', subject: 'Limited' })).status).toBe('created');
    expect(delays).toEqual([3_000]);
    proxy.stop();

    const patient = startProxy(world.url, () => apiError(429, 'rate_limited', { 'retry-after': '120' }));
    const impatient = new PaycenterClient({ baseUrl: patient.url, merchantId: 'M1', secret: 's', retry: { delayMaxMs: 60_000 }, sleep: async (ms) => void delays.push(ms) });
    expect(await failure(impatient.listEvents())).toMatchObject({ code: 'rate_limited', retryAfterS: 120 });
    expect(patient.tried.length).toBe(1);
    patient.stop();
  });

  test("unavailable with Retry-After (paycenter at capacity) waits at least that; without one, the back-off alone", async () => {
    const proxy = startProxy(world.url, (n) => (n === 1 ? apiError(503, 'unavailable', { 'retry-after': '2' }) : n === 2 ? apiError(503, 'unavailable') : 'forward'));
    const delays: number[] = [];
    const c = new PaycenterClient({ baseUrl: proxy.url, merchantId: merchant.merchantId, secret: merchant.secret, sleep: async (ms) => void delays.push(ms), random: () => 0.5 });
    expect((await c.createPayment({ merchant_order_no: orderNo(), amount: '1.00', subject: 'At capacity' })).status).toBe('created');
    expect(delays).toEqual([2_000, 200]);
    proxy.stop();
    const shed = startProxy(world.url, () => apiError(503, 'unavailable', { 'retry-after': '1' }));
    const once = new PaycenterClient({ baseUrl: shed.url, merchantId: 'M1', secret: 's', retry: { attemptsMax: 1 } });
    expect(await failure(once.listEvents())).toMatchObject({ code: 'unavailable', retryAfterS: 1 });
    shed.stop();
  });

  test('a try that gets no answer times out and is retried; a refused connection is a network error', async () => {
    const proxy = startProxy(world.url, () => 'hang');
    const slow = new PaycenterClient({ baseUrl: proxy.url, merchantId: 'M1', secret: 's', timeoutMs: 100, retry: { attemptsMax: 2 }, sleep: async () => {} });
    expect(await failure(slow.listEvents())).toMatchObject({ kind: 'timeout', attempts: 2 });
    expect(proxy.tried.length).toBe(2);
    proxy.stop();
    const nobody = new PaycenterClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, merchantId: 'M1', secret: 's', retry: { attemptsMax: 3 }, sleep: async () => {} });
    expect(await failure(nobody.listEvents())).toMatchObject({ kind: 'network', attempts: 3 });
  });
});
