/**
 * Paying end to end over real HTTP: merchant → paycenter → channel sandbox (the providers' wire
 * protocols) → payer → signed notify → paycenter's callback route → the order's actor.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { flows_per_order_max } from '../../machines/payment.model.ts';
import { chinaDate } from '../../src/channels/china-time.ts';
import { rsaSign } from '../../src/channels/rsa.ts';
import { adminCall, tableCounts } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';
import { type World, bootWorld, drive, payerDecides, payerPage, waitForPayment, worldWithMovedClock } from './world.ts';

const cases = [
  { method: 'alipay_qr', action: 'qr_code' },
  { method: 'alipay_page', action: 'redirect' },
  { method: 'wechat_native', action: 'qr_code' },
  { method: 'wechat_jsapi', action: 'none' },
] as const;

describe.each(storeKinds)('paying through the sandbox on %s', (kind) => {
  let world: World;
  beforeAll(async () => {
    world = await bootWorld(kind);
  });
  afterAll(() => world.stop());

  test.each(cases)('$method: create → pay → the payer pays → notify → succeeded, notified once', async ({ method, action }) => {
    const created = await world.merchant.createPayment({ amount: '12.34', user_id: 'openid-payer-1' });
    expect(created.status).toBe(201);
    const paid = await world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method });
    expect(paid.status).toBe(200);
    expect(paid.body.status).toBe('paying');
    expect(paid.body.action.type).toBe(action);
    expect(paid.body.flows).toHaveLength(1);
    expect(paid.body.flows[0]).toMatchObject({ method, status: 'pending', amount: '12.34' });

    if (method === 'wechat_jsapi') {
      // What a JSAPI page hands to WeixinJSBridge: the prepay id, signed with the merchant key.
      expect(paid.body.action.params.package).toMatch(/^prepay_id=/);
      expect(paid.body.action.params.paySign.length).toBeGreaterThan(100);
    }
    const page = method === 'wechat_jsapi'
      ? `${world.sandboxUrl}/pay/wechatpay/${world.wechatpay.mchid}/${paid.body.flows[0].id}`
      : await payerPage(paid.body.action);
    expect((await payerDecides(page, 'pay')).status).toBe(200);

    const done = await waitForPayment(world.merchant, created.body.id, (p) => p.status === 'succeeded');
    expect(done).toMatchObject({ paid_amount: '12.34', refunded_amount: '0.00' });
    expect(done.flows[0].status).toBe('succeeded');
    expect(done.flows[0].channel_trade_no).toBeString();
    const events = await world.merchant.call('GET', '/v1/events?limit=100');
    expect(events.body.data.filter((e: any) => e.type === 'payment.succeeded' && e.data.id === created.body.id)).toHaveLength(1);
    // The notify's raw record is on the order's timeline, verified and applied.
    const timeline = await adminCall(world.url, 'GET', `/admin/payments/${created.body.id}/timeline`);
    const applied = timeline.body.callbacks.filter((cb: any) => cb.verified === true && cb.outcome === 'applied');
    expect(applied.length).toBeGreaterThanOrEqual(1);
    expect(applied[0].body.length).toBeGreaterThan(0);
  });

  test('the same method again while the payer has not paid answers the same flow; another method closes it', async () => {
    const created = await world.merchant.createPayment();
    const first = await world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'alipay_qr' });
    const again = await world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'alipay_qr' });
    expect(again.body.action).toEqual(first.body.action);
    expect(again.body.flows).toHaveLength(1);

    const other = await world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'wechat_native' });
    expect(other.status).toBe(200);
    expect(other.body.action.type).toBe('qr_code');
    const settled = await waitForPayment(world.merchant, created.body.id, (p) => p.flows.length === 2 && p.flows[0].status === 'closed');
    expect(settled.flows.map((f: any) => [f.method, f.status])).toEqual([['alipay_qr', 'closed'], ['wechat_native', 'pending']]);
    // The earlier trade is closed at Alipay too: the payer can no longer pay it.
    expect((await payerDecides(first.body.action.qr_code, 'pay')).status).toBe(409);
  });

  test('an order takes at most flows_per_order_max payment attempts; then paying answers invalid_state', async () => {
    const created = await world.merchant.createPayment();
    const methods = ['alipay_qr', 'wechat_native'];
    for (let i = 0; i < flows_per_order_max; i++) {
      expect((await world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: methods[i % 2] })).status).toBe(200);
    }
    const refused = await world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'alipay_qr' });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'invalid_state']);
    expect(refused.body.error.message).toContain('create a new one');
    expect((await world.merchant.call('GET', `/v1/payments/${created.body.id}`)).body.flows).toHaveLength(flows_per_order_max);
  });

  test('create with method pays at once and answers the action', async () => {
    const created = await world.merchant.createPayment({ method: 'wechat_native' });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('paying');
    expect(created.body.action.qr_code).toStartWith(world.sandboxUrl);
  });

  test('a retried create with method: the same flow while the payer has not paid, the order as it is once paid or switched', async () => {
    const order = { merchant_order_no: `ORD-RETRY-${kind}`, method: 'alipay_qr' };
    const first = await world.merchant.createPayment(order);
    const retried = await world.merchant.createPayment(order);
    expect(retried.status).toBe(200);
    expect(retried.body.action).toEqual(first.body.action);
    expect(retried.body.flows).toHaveLength(1);
    await payerDecides(first.body.action.qr_code, 'pay');
    await waitForPayment(world.merchant, first.body.id, (p) => p.status === 'succeeded');
    const afterPaid = await world.merchant.createPayment(order);
    expect(afterPaid.status).toBe(200);
    expect(afterPaid.body).toMatchObject({ id: first.body.id, status: 'succeeded', paid_amount: first.body.amount });
    expect(afterPaid.body.action).toBeUndefined();

    // The payer switched to WeChat Pay at the cashier: a retry of the create does not switch back.
    const switching = { merchant_order_no: `ORD-SWITCH-${kind}`, method: 'alipay_qr' };
    const created = await world.merchant.createPayment(switching);
    expect((await world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'wechat_native' })).status).toBe(200);
    const again = await world.merchant.createPayment(switching);
    expect(again.status).toBe(200);
    expect(again.body.flows.map((f: any) => f.method)).toEqual(['alipay_qr', 'wechat_native']);
    expect(again.body.flows[1].status).toBe('pending');
  });

  test('a refund goes to the channel and comes back succeeded', async () => {
    const created = await world.merchant.createPayment({ method: 'alipay_qr', amount: '50.00' });
    await payerDecides(created.body.action.qr_code, 'pay');
    await waitForPayment(world.merchant, created.body.id, (p) => p.status === 'succeeded');
    const refund = await world.merchant.call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R1', amount: '20.00' });
    expect(refund.status).toBe(201);
    const refunded = await waitForPayment(world.merchant, created.body.id, (p) => p.status === 'partially_refunded');
    expect(refunded.refunded_amount).toBe('20.00');
    const trade = await (await fetch(`${world.sandboxUrl}/trades/alipay/${world.alipay.app_id}/${created.body.flows[0].id}`)).json() as any;
    expect(JSON.stringify(trade)).toContain(refund.body.id);
    // The merchant hears which refund finished: refund events carry the refund object.
    const events = (await world.merchant.call('GET', '/v1/events?limit=100')).body.data.filter((e: any) => e.type === 'refund.succeeded');
    expect(events.find((e: any) => e.data.id === refund.body.id)?.data).toMatchObject({
      id: refund.body.id, payment_id: created.body.id, refund_no: 'R1', amount: '20.00', status: 'succeeded',
    });
  });

  test('a merchant close asks the channel, closes the trade there, then closes the order', async () => {
    const created = await world.merchant.createPayment({ method: 'wechat_native' });
    const closing = await world.merchant.call('POST', `/v1/payments/${created.body.id}/close`);
    expect(closing.status).toBe(200);
    const closed = await waitForPayment(world.merchant, created.body.id, (p) => p.status === 'closed');
    expect(closed.close_reason).toBe('merchant');
    expect(closed.flows[0].status).toBe('closed');
    expect((await payerDecides(created.body.action.qr_code, 'pay')).status).toBe(409);
  });

  test('a forged Alipay notify changes nothing, is refused, and its raw record is kept', async () => {
    const created = await world.merchant.createPayment({ method: 'alipay_qr', amount: '9.99' });
    const flowId = created.body.flows[0].id;
    const forger = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 });
    const params: Record<string, string> = {
      app_id: world.alipay.app_id!, out_trade_no: flowId, trade_no: '2026112422001', trade_status: 'TRADE_SUCCESS',
      total_amount: '9.99', notify_id: randomBytes(8).toString('hex'), sign_type: 'RSA2', charset: 'utf-8',
    };
    const text = Object.keys(params).filter((k) => k !== 'sign_type').sort().map((k) => `${k}=${params[k]}`).join('&');
    params.sign = await rsaSign(forger.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), text);
    const before = await tableCounts(world.booted.databaseUrl);
    const answer = await fetch(`${world.url}/callbacks/alipay/alipay_main`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString(),
    });
    expect(answer.status).toBe(400);
    expect(await answer.text()).not.toBe('success');
    const after = await tableCounts(world.booted.databaseUrl);
    expect(after).toEqual({ ...before, callback_log: before.callback_log! + 1 });
    const payment = await world.merchant.call('GET', `/v1/payments/${created.body.id}`);
    expect(payment.body.status).toBe('paying');
  });

  test('a forged WeChat Pay notify is refused with {"code":"FAIL"}', async () => {
    const before = await tableCounts(world.booted.databaseUrl);
    const answer = await fetch(`${world.url}/callbacks/wechatpay/wechat_main`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', 'wechatpay-timestamp': String(Math.floor(Date.now() / 1000)), 'wechatpay-nonce': 'n',
        'wechatpay-serial': world.wechatpay.platform_serial!, 'wechatpay-signature': Buffer.alloc(256).toString('base64'),
      },
      body: JSON.stringify({ id: 'x', resource: { algorithm: 'AEAD_AES_256_GCM', ciphertext: 'AAAA', nonce: 'n', associated_data: 'transaction' } }),
    });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as any).code).toBe('FAIL');
    expect(await tableCounts(world.booted.databaseUrl)).toEqual({ ...before, callback_log: before.callback_log! + 1 });
  });

  test("a channel's daily limit: once today's collections would pass it, the method has no channel until the next day", async () => {
    const paid = await world.merchant.createPayment({ method: 'alipay_qr', amount: '100.00' });
    await payerDecides(paid.body.action.qr_code, 'pay');
    await waitForPayment(world.merchant, paid.body.id, (p) => p.status === 'succeeded');
    const collected = await world.booted.paycenter.store.collectedSince('alipay_main', 0);
    const limit = (collected + 15_000) / 100; // 150.00 more than collected so far
    expect((await adminCall(world.url, 'PATCH', '/admin/channels/alipay_main', { daily_limit: limit.toFixed(2) })).status).toBe(200);
    await Bun.sleep(2_100); // the channel list and the collected amounts are cached for 2 s
    try {
      const over = await world.merchant.createPayment({ method: 'alipay_qr', amount: '150.01' });
      expect([over.status, over.body.error?.code]).toEqual([422, 'no_channel_available']);
      expect((await world.merchant.createPayment({ method: 'alipay_qr', amount: '150.00' })).status).toBe(201);
    } finally {
      expect((await adminCall(world.url, 'PATCH', '/admin/channels/alipay_main', { daily_limit: null })).status).toBe(200);
      await Bun.sleep(2_100);
    }
  });

  test('no enabled channel for a method: no_channel_available, and create with it leaves no order; a retry of one made before answers it', async () => {
    const madeBefore = { merchant_order_no: `ORD-BEFORE-${kind}`, method: 'wechat_native' };
    const earlier = await world.merchant.createPayment(madeBefore);
    expect((await adminCall(world.url, 'PATCH', '/admin/channels/wechat_main', { status: 'disabled' })).status).toBe(200);
    await Bun.sleep(2_100); // the channel list is cached for 2 s
    const before = await tableCounts(world.booted.databaseUrl);
    const refused = await world.merchant.createPayment({ method: 'wechat_native' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('no_channel_available');
    expect(await tableCounts(world.booted.databaseUrl)).toEqual(before);
    const retried = await world.merchant.createPayment(madeBefore);
    expect([retried.status, retried.body.id]).toEqual([200, earlier.body.id]);
    expect((await adminCall(world.url, 'PATCH', '/admin/channels/wechat_main', { status: 'enabled' })).status).toBe(200);
  });
});

describe('when the payer fails at the channel (sqlite, a moved clock)', () => {
  const { world, clock } = worldWithMovedClock();

  test.each(['alipay_qr', 'wechat_native'])('%s: the active query finds the failure; the flow fails and the order is created again', async (method) => {
    const created = await world.merchant.createPayment({ method });
    expect((await payerDecides(created.body.action.qr_code, 'fail')).status).toBe(200);
    clock.advance(5_001);
    await drive(world);
    const after = await world.merchant.call('GET', `/v1/payments/${created.body.id}`);
    expect(after.body.flows[0].status).toBe(method === 'alipay_qr' ? 'pending' : 'failed');
    expect(after.body.status).toBe(method === 'alipay_qr' ? 'paying' : 'created');
  });
});

describe('statements through the adapters (sqlite)', () => {
  let world: World;
  beforeAll(async () => {
    world = await bootWorld('sqlite');
  });
  afterAll(() => world.stop());

  test.each(['alipay_main', 'wechat_main'])('%s: yesterday\'s statement downloads; today\'s is refused as the provider does', async (code) => {
    const channel = await world.booted.paycenter.channels.get(code);
    const now = Date.now();
    const yesterday = await channel!.adapter.downloadStatement(chinaDate(now - 86_400_000), now);
    expect(yesterday.ok).toBe(true);
    expect(yesterday.ok && yesterday.file.bytes.length).toBeGreaterThan(0);
    const today = await channel!.adapter.downloadStatement(chinaDate(now), now);
    expect(today).toMatchObject({ ok: false, code: 'rejected', retryable: false });
  });
});

describe('a channel that refuses the prepay (sqlite)', () => {
  let world: World;
  beforeAll(async () => {
    // A fixed random source: smart routing never explores, so the refusing channel (highest weight) is tried first.
    world = await bootWorld('sqlite', { random: () => 0.5 });
  });
  afterAll(() => world.stop());

  test('channel_error (502) when no other channel is left: the flow failed, nothing was charged, the order is back to created', async () => {
    // An app id the gateway does not know: Alipay refuses every call (isv.invalid-app-id).
    const refusing = { ...world.alipay, app_id: '2021000000000001' };
    const created = await adminCall(world.url, 'POST', '/admin/channels', { code: 'alipay_refusing', provider: 'alipay', methods: ['alipay_qr'], weight: 1_000, config: refusing });
    expect(created.status).toBe(201);
    // The healthy channel for the method is off: otherwise the request moves on to it (see below).
    expect((await adminCall(world.url, 'PATCH', '/admin/channels/alipay_main', { status: 'disabled' })).status).toBe(200);
    await Bun.sleep(2_100); // the channel list is cached for 2 s
    const payment = await world.merchant.createPayment();
    const refused = await world.merchant.call('POST', `/v1/payments/${payment.body.id}/pay`, { method: 'alipay_qr' });
    expect(refused.status).toBe(502);
    expect(refused.body.error.code).toBe('channel_error');
    const after = await world.merchant.call('GET', `/v1/payments/${payment.body.id}`);
    expect(after.body.status).toBe('created');
    expect(after.body.flows.map((f: any) => [f.channel, f.status])).toEqual([['alipay_refusing', 'failed']]);
  });

  test('with another channel for the method, the same request moves on to it with a new flow: 200 and an action', async () => {
    expect((await adminCall(world.url, 'PATCH', '/admin/channels/alipay_main', { status: 'enabled' })).status).toBe(200);
    await Bun.sleep(2_100);
    const payment = await world.merchant.createPayment();
    const paid = await world.merchant.call('POST', `/v1/payments/${payment.body.id}/pay`, { method: 'alipay_qr' });
    expect(paid.status).toBe(200);
    expect(paid.body.action.type).toBe('qr_code');
    expect(paid.body.flows.map((f: any) => [f.channel, f.status])).toEqual([['alipay_refusing', 'failed'], ['alipay_main', 'pending']]);
  });
});
