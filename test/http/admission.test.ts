/**
 * Admission control over real HTTP (issue #19, "a burst"): with small limits configured, requests
 * beyond a class's bound are answered `503` with `Retry-After` at once while the admitted ones
 * complete; a shed create leaves no order and the same request succeeds once later; channel
 * callbacks keep their own budget while merchant writes are saturated, and are shed in their
 * provider's own format; health and metrics are never shed; a full commit queue answers a create
 * `503` at once, writes nothing and leaves no risk counter behind.
 *
 * Requests are held in flight by real slowness: a provider that does not answer yet (the sandbox
 * behind a gate the test opens), a client whose body has not finished arriving, a database
 * another connection holds the write lock of.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { openSqliteDatabase } from '../../src/store/sqlite-batch.ts';
import { type Booted, MerchantClient, admin_token, adminCall, answerOf, bootPaycenter, tableCounts } from './harness.ts';
import { type SandboxGate, type World, bootWorld, payerDecides, waitForPayment } from '../channels/world.ts';
import { shed_retry_after_s } from '../../src/http/admission.ts';

/** Bounded polls for what a real process does in its own time. */
const poll_interval_ms = 10;
const poll_rounds_max = 500;
/** Far above the 30 ms a shed request may wait, far below "queued without bound". */
const shed_answer_ms_max = 1_000;

async function until(what: string, holds: () => boolean | Promise<boolean>): Promise<void> {
  for (let round = 0; round < poll_rounds_max; round++) {
    if (await holds()) return;
    await Bun.sleep(poll_interval_ms);
  }
  throw new Error(`never happened: ${what}`);
}

/** Holds WeChat Pay's order calls at the sandbox while closed: a provider that takes its time. */
function wechatOrderDoor() {
  let opened: () => void = () => {};
  let open = Promise.resolve();
  let seen = 0;
  const gate: SandboxGate = async (request) => {
    if (request.method !== 'POST' || !/\/v3\/pay\/transactions\/native$/.test(new URL(request.url).pathname)) return;
    seen += 1;
    await open;
  };
  return {
    gate,
    seen: () => seen,
    close() {
      open = new Promise((resolve) => (opened = resolve));
    },
    open: () => opened(),
  };
}

/** A POST whose body keeps arriving until released: a request in flight for as long as the test wants. */
function heldPost(url: string, headers: Record<string, string>, body: string) {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const bytes = new TextEncoder().encode(body);
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(bytes.subarray(0, 1));
      await released;
      controller.enqueue(bytes.subarray(1));
      controller.close();
    },
  });
  return { answer: fetch(url, { method: 'POST', headers, body: stream }).then(answerOf), release };
}

const metricsOf = async (url: string) => (await fetch(`${url}/metrics`)).text();
const metric = (text: string, name: string, labels: string) => Number(text.match(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm'))?.[1] ?? NaN);

describe('admission control: merchant writes saturated (sqlite, sandbox)', () => {
  const door = wechatOrderDoor();
  let world: World;
  beforeAll(async () => {
    world = await bootWorld('sqlite', {}, {
      ADMISSION_MERCHANT_WRITES_MAX: '3', ADMISSION_CALLBACKS_MAX: '1', ADMISSION_ADMIN_MAX: '1', ADMISSION_QUEUE_MAX: '2', ADMISSION_QUEUE_WAIT_MS: '30',
    }, door.gate);
  }, 60_000);
  afterAll(() => world?.stop());

  test('beyond the bound creates are shed with 503 + Retry-After at once; no order is left; reads, callbacks and health go on; the same request succeeds once later', async () => {
    const merchant = world.merchant;
    const paying = await merchant.createPayment({ method: 'alipay_qr' });
    expect(paying.status).toBe(201);

    // Three creates whose provider does not answer yet fill the merchant writes' three places.
    door.close();
    let heldSettled = 0;
    const held = Array.from({ length: 3 }, () => merchant.createPayment({ method: 'wechat_native' }).finally(() => (heldSettled += 1)));
    await until('three creates are waiting on the provider', () => door.seen() === 3);
    const before = await tableCounts(world.booted.databaseUrl);

    const shedBodies = Array.from({ length: 10 }, (_, i) => ({ merchant_order_no: `SHED-${i}`, amount: '12.00', subject: 'Sale day' }));
    const shed = await Promise.all(shedBodies.map(async (body) => {
      const started = performance.now();
      const answer = await merchant.call('POST', '/v1/payments', body);
      return { answer, ms: performance.now() - started };
    }));
    for (const { answer, ms } of shed) {
      expect(answer.status).toBe(503);
      expect(answer.body.error).toMatchObject({ code: 'unavailable', field: null, request_id: expect.stringMatching(/^req_/) });
      expect(answer.body.error.message).toContain('merchant writes');
      expect(answer.headers.get('retry-after')).toBe(String(shed_retry_after_s));
      expect(ms).toBeLessThan(shed_answer_ms_max);
    }
    expect(heldSettled).toBe(0);
    // Shed before anything ran: not a row more than the three held creates wrote before they called the provider.
    expect(await tableCounts(world.booted.databaseUrl)).toEqual(before);
    expect((await merchant.call('GET', '/v1/payments?merchant_order_no=SHED-0')).status).toBe(404);

    // Health and metrics answer; the payer pays, and the provider's notify completes the payment.
    expect((await fetch(`${world.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${world.url}/readyz`)).status).toBe(200);
    expect((await payerDecides(paying.body.action.qr_code, 'pay')).status).toBe(200);
    expect((await waitForPayment(merchant, paying.body.id, (p) => p.status === 'succeeded')).paid_amount).toBe('100.00');
    expect(heldSettled).toBe(0);

    const metrics = await metricsOf(world.url);
    expect(metric(metrics, 'paycenter_admission_in_flight', 'class="merchant_write"')).toBe(3);
    const queueFull = metric(metrics, 'paycenter_admission_rejected_total', 'class="merchant_write",reason="queue_full"');
    const waitExpired = metric(metrics, 'paycenter_admission_rejected_total', 'class="merchant_write",reason="wait_expired"');
    expect(queueFull + waitExpired).toBe(10);
    expect(waitExpired).toBeGreaterThanOrEqual(1);
    expect(metric(metrics, 'paycenter_admission_rejected_total', 'class="callback",reason="queue_full"')).toBe(0);

    // The provider answers: the admitted creates complete.
    door.open();
    for (const answer of await Promise.all(held)) {
      expect(answer.status).toBe(201);
      expect(answer.body.action.qr_code).toStartWith(world.sandboxUrl);
    }
    // The same requests again: each creates its order once.
    for (const body of shedBodies) {
      const retried = await merchant.call('POST', '/v1/payments', body);
      expect(retried.status).toBe(201);
      const again = await merchant.call('POST', '/v1/payments', body);
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(retried.body.id);
    }
    expect((await tableCounts(world.booted.databaseUrl)).orders).toBe(before.orders! + shedBodies.length);
  });

  test('callbacks beyond their own budget are shed in the provider\'s format (a 503 it retries), while merchant writes go on', async () => {
    const inFlight = heldPost(`${world.url}/callbacks/alipay/alipay_main`, { 'content-type': 'application/x-www-form-urlencoded' }, 'notify_id=held');
    await until('a callback is in flight', async () => metric(await metricsOf(world.url), 'paycenter_admission_in_flight', 'class="callback"') === 1);

    const alipay = await answerOf(await fetch(`${world.url}/callbacks/alipay/alipay_main`, { method: 'POST', body: 'notify_id=1' }));
    expect(alipay).toMatchObject({ status: 503, body: 'failure' });
    expect(alipay.headers.get('content-type')).toStartWith('text/plain');
    expect(alipay.headers.get('retry-after')).toBe(String(shed_retry_after_s));
    const wechat = await answerOf(await fetch(`${world.url}/callbacks/wechatpay/wechat_main`, { method: 'POST', body: '{}' }));
    expect(wechat.status).toBe(503);
    expect(wechat.body).toEqual({ code: 'FAIL', message: expect.stringContaining('channel callbacks') });
    const unionpayRefund = await answerOf(await fetch(`${world.url}/channels/unionpay/any/refund-notify`, { method: 'POST', body: 'x=1' }));
    expect(unionpayRefund).toMatchObject({ status: 503, body: 'fail' });
    expect((await answerOf(await fetch(`${world.url}/callbacks/nobody/x`, { method: 'POST', body: '' }))).body).toMatchObject({ code: 'FAIL' });
    expect((await world.merchant.createPayment()).status).toBe(201);

    inFlight.release();
    // Not signed, so refused once read, as before: in Alipay's way, not as shed.
    expect(await inFlight.answer).toMatchObject({ status: 400, body: 'failure' });
    const metrics = await metricsOf(world.url);
    expect(metric(metrics, 'paycenter_admission_rejected_total', 'class="callback",reason="wait_expired"')).toBe(4);
    expect(metric(metrics, 'paycenter_admission_in_flight', 'class="callback"')).toBe(0);
  });

  test('operators have their budget too, and health and metrics are never shed', async () => {
    const headers = { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json' };
    const inFlight = heldPost(`${world.url}/admin/merchants`, headers, JSON.stringify({ name: 'Held' }));
    await until('an operator request is in flight', async () => metric(await metricsOf(world.url), 'paycenter_admission_in_flight', 'class="admin"') === 1);

    const shed = await adminCall(world.url, 'GET', '/admin/channels');
    expect(shed.status).toBe(503);
    expect(shed.body.error).toMatchObject({ code: 'unavailable', message: expect.stringContaining('operator requests') });
    expect((await fetch(`${world.url}/openapi.json`)).status).toBe(503);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(world.url + path)).status).toBe(200);
    expect((await world.merchant.call('GET', '/v1/events')).status).toBe(200);

    inFlight.release();
    expect((await inFlight.answer).status).toBe(201);
    expect((await adminCall(world.url, 'GET', '/admin/channels')).status).toBe(200);
  });
});

describe('a full commit queue (sqlite, the write lock held by another connection)', () => {
  let booted: Booted;
  let merchant: MerchantClient;
  beforeAll(async () => {
    // One write per transaction, one more waiting: two transactions in flight plus one queued fill it.
    booted = await bootPaycenter('sqlite', { COMMIT_BATCH_MAX: '1', COMMIT_QUEUE_WRITES_MAX: '1' }, { manualTicker: true });
    merchant = await MerchantClient.create(booted.url);
    const rule = { code: 'user_burst', kind: 'velocity', action: 'reject', params: { subject: 'user', count: 4, window_s: 3600 } };
    expect((await adminCall(booted.url, 'POST', '/admin/risk/rules', rule)).status).toBe(201);
  }, 60_000);
  afterAll(() => booted?.stop());

  test('a create that finds it full answers 503 + Retry-After at once, writes nothing, holds no risk counter; the same request succeeds once later', async () => {
    const bodies = Array.from({ length: 4 }, (_, i) => ({ merchant_order_no: `FULL-${i}`, amount: '5.00', subject: 'Sale day', user_id: 'burst-user' }));
    const db = openSqliteDatabase(booted.databaseUrl.slice('sqlite:'.length));
    db.exec('BEGIN IMMEDIATE');
    const answers = bodies.map((body) => merchant.call('POST', '/v1/payments', body).then((answer) => ({ body, answer })));
    const first = await Promise.race(answers);
    db.exec('COMMIT');
    db.close();

    expect(first.answer.status).toBe(503);
    expect(first.answer.body.error).toMatchObject({ code: 'unavailable', message: expect.stringContaining('at capacity') });
    expect(first.answer.headers.get('retry-after')).toBe(String(shed_retry_after_s));
    const all = await Promise.all(answers);
    expect(all.map(({ answer }) => answer.status).sort()).toEqual([201, 201, 201, 503]);
    expect((await merchant.call('GET', `/v1/payments?merchant_order_no=${first.body.merchant_order_no}`)).status).toBe(404);

    // The velocity rule allows four orders of this payer: the shed one did not count, so its retry is the fourth.
    const retried = await merchant.call('POST', '/v1/payments', first.body);
    expect(retried.status).toBe(201);
    const again = await merchant.call('POST', '/v1/payments', first.body);
    expect(again).toMatchObject({ status: 200, body: { id: retried.body.id } });
    const fifth = await merchant.call('POST', '/v1/payments', { ...first.body, merchant_order_no: 'FULL-5' });
    expect(fifth.body.error).toMatchObject({ code: 'risk_rejected' });

    const metrics = await metricsOf(booted.url);
    expect(metric(metrics, 'paycenter_admission_rejected_total', 'class="merchant_write",reason="overload"')).toBe(1);
  });
});
