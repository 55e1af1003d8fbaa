/**
 * Nothing waits forever, against the sandbox: at expiry (or on a merchant's close) the order asks
 * the channel first, closes the trade there, then closes here — unless the channel says it was
 * paid, and then the order succeeds instead. A moved clock replaces waiting; the ticker and the
 * effect runner are driven by hand so each step is visible.
 */
import { describe, expect, test } from 'bun:test';
import { openSqliteDatabase } from '../../src/store/sqlite-batch.ts';
import { adminCall } from '../http/harness.ts';
import { type World, drive, payerDecides, worldWithMovedClock } from './world.ts';

async function dropNotifies(world: World, provider: 'alipay' | 'wechatpay', account: string): Promise<void> {
  const answer = await fetch(`${world.sandboxUrl}/faults/${provider}/${account}`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drop_notify_rate: 1, seed: 7 }),
  });
  expect(answer.status).toBe(200);
}

describe('timeouts and closes at the channel (sqlite, a moved clock)', () => {
  const { world, clock } = worldWithMovedClock();

  const get = async (id: string) => (await world.merchant.call('GET', `/v1/payments/${id}`)).body;
  const sandboxTrade = async (provider: string, account: string, flowId: string) =>
    (await (await fetch(`${world.sandboxUrl}/trades/${provider}/${account}/${flowId}`)).json()) as Record<string, unknown>;

  test('an unpaid order times out: queried, closed at WeChat Pay, then closed here and notified', async () => {
    const created = await world.merchant.createPayment({ method: 'wechat_native', expire_seconds: 60 });
    clock.advance(60_001);
    await drive(world);
    const closed = await get(created.body.id);
    expect(closed).toMatchObject({ status: 'closed', close_reason: 'timeout' });
    expect(closed.flows[0].status).toBe('closed');
    expect(JSON.stringify(await sandboxTrade('wechatpay', world.wechatpay.mchid!, closed.flows[0].id))).toContain('CLOSED');
    const effects = JSON.stringify((await adminCall(world.url, 'GET', `/admin/payments/${created.body.id}/timeline`)).body);
    expect(effects.indexOf('channel.query')).toBeLessThan(effects.indexOf('channel.close'));
    const events = (await world.merchant.call('GET', '/v1/events?limit=100')).body.data.filter((e: any) => e.data.id === created.body.id);
    expect(events.map((e: any) => e.type)).toEqual(['payment.closed']);
  });

  test('once its time is up an order starts no new attempt, before its timer has run: no trade is opened past expires_at', async () => {
    const created = await world.merchant.createPayment({ method: 'wechat_native', expire_seconds: 60 });
    const unpaid = await world.merchant.createPayment({ expire_seconds: 60 });
    clock.advance(60_000);
    for (const [id, method] of [[created.body.id, 'alipay_qr'], [unpaid.body.id, 'wechat_native']]) {
      const refused = await world.merchant.call('POST', `/v1/payments/${id}/pay`, { method });
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({ code: 'invalid_state' });
      expect(refused.body.error.message).toContain('expired');
      const token = new URL((await get(id)).cashier_url).searchParams.get('t');
      const cashier = await fetch(`${world.url}/cashier/${id}/pay?t=${token}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method }),
      });
      expect(cashier.status).toBe(409);
    }
    expect((await get(created.body.id)).flows).toHaveLength(1);
    expect((await get(unpaid.body.id)).flows).toHaveLength(0);
    await drive(world);
    expect((await get(created.body.id)).status).toBe('closed');
    expect((await get(unpaid.body.id)).status).toBe('closed');
  });

  test('paid at Alipay but the notify was lost: the expiry query finds the payment and the order succeeds instead', async () => {
    await dropNotifies(world, 'alipay', world.alipay.app_id!);
    const created = await world.merchant.createPayment({ method: 'alipay_qr', expire_seconds: 60 });
    expect((await payerDecides(created.body.action.qr_code, 'pay')).status).toBe(200);
    expect((await get(created.body.id)).status).toBe('paying');
    clock.advance(60_001);
    await drive(world);
    const paid = await get(created.body.id);
    expect(paid).toMatchObject({ status: 'succeeded', close_reason: null, paid_amount: '100.00' });
    const events = (await world.merchant.call('GET', '/v1/events?limit=100')).body.data.filter((e: any) => e.data.id === created.body.id);
    expect(events.map((e: any) => e.type)).toEqual(['payment.succeeded']);
  });

  test('a merchant close of an order the payer already paid: the channel says paid, the order succeeds', async () => {
    await dropNotifies(world, 'wechatpay', world.wechatpay.mchid!);
    const created = await world.merchant.createPayment({ method: 'wechat_native' });
    await payerDecides(created.body.action.qr_code, 'pay');
    const closing = await world.merchant.call('POST', `/v1/payments/${created.body.id}/close`);
    expect(closing.status).toBe(200);
    expect(closing.body).toMatchObject({ status: 'paying', close_reason: 'merchant' });
    await drive(world);
    expect(await get(created.body.id)).toMatchObject({ status: 'succeeded', close_reason: null });
  });

  test('a payment that lands after the order closed is refunded at its channel automatically', async () => {
    const created = await world.merchant.createPayment({ method: 'wechat_native', expire_seconds: 60 });
    clock.advance(60_001);
    await drive(world);
    expect((await get(created.body.id)).status).toBe('closed');
    // The payer's money arrives anyway (a race the channel lost), and its notify says so.
    await fetch(`${world.sandboxUrl}/faults/wechatpay/${world.wechatpay.mchid}`, { method: 'DELETE' });
    expect((await payerDecides(created.body.action.qr_code, 'pay', { force: true })).status).toBe(200);
    const flowId = (await get(created.body.id)).flows[0].id;
    let after = await get(created.body.id);
    for (let i = 0; i < 100 && after.flows[0].status !== 'refunded'; i++) {
      await Bun.sleep(20);
      await drive(world);
      after = await get(created.body.id);
    }
    expect(after.status).toBe('closed');
    expect(after.flows[0].status).toBe('refunded');
    expect(JSON.stringify(await sandboxTrade('wechatpay', world.wechatpay.mchid!, flowId))).toContain(`rfd_${flowId.slice(4)}`);
  });

  test('a channel that collected another amount: never settles, all of it goes back, and the order closes at its expiry', async () => {
    const faults = `${world.sandboxUrl}/faults/wechatpay/${world.wechatpay.mchid}`;
    await fetch(faults, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ wrong_amount: true }) });
    const created = await world.merchant.createPayment({ method: 'wechat_native', amount: '20.00', expire_seconds: 60 });
    expect((await payerDecides(created.body.action.qr_code, 'pay')).status).toBe(200);
    await fetch(faults, { method: 'DELETE' });
    const flowId = created.body.flows[0].id;
    let after = await get(created.body.id);
    for (let i = 0; i < 100 && after.flows[0].status !== 'refunded'; i++, await Bun.sleep(20)) {
      await drive(world);
      after = await get(created.body.id);
    }
    expect(after).toMatchObject({ status: 'created', paid_amount: '0.00' });
    expect(after.flows[0].status).toBe('refunded');
    // WeChat Pay checks a refund's `total` against its trade: the refund is of what it took, 20.01.
    const trade = await sandboxTrade('wechatpay', world.wechatpay.mchid!, flowId);
    expect(trade.refunds).toMatchObject([{ outRefundNo: `rfd_${flowId.slice(4)}`, amountFen: 2_001 }]);
    // Reconciliation reads the flow's row: what went through the channel, so the bill's lines match it.
    const db = openSqliteDatabase(world.booted.databaseUrl.slice('sqlite:'.length));
    expect(db.query('SELECT amount, status FROM flows WHERE id = ?').get(flowId)).toEqual({ amount: 2_001, status: 'refunded' });
    db.close();
    clock.advance(60_001);
    await drive(world);
    expect(await get(created.body.id)).toMatchObject({ status: 'closed', close_reason: 'timeout' });
    const events = (await world.merchant.call('GET', '/v1/events?limit=100')).body.data.filter((e: any) => e.data.id === created.body.id);
    expect(events.map((e: any) => e.type)).toEqual(['payment.closed']);
    const alerts = (await adminCall(world.url, 'GET', '/admin/alerts?limit=100')).body.data.filter((a: any) => a.payment_id === created.body.id);
    expect(alerts.map((a: any) => a.kind).sort()).toEqual(['amount_mismatch', 'auto_refund']);
    // Amounts an operator reads are money, not minor units.
    expect(alerts.find((a: any) => a.kind === 'auto_refund').message).toContain('20.01 CNY collected by flow');
    expect(alerts.find((a: any) => a.kind === 'amount_mismatch').message).toMatch(/reported 20\.01 CNY, flow is 20\.00 CNY/);
  });
});

describe('a refund the channel never got (sqlite, a moved clock)', () => {
  const { world, clock } = worldWithMovedClock();

  const faults = (body: object | null) =>
    fetch(`${world.sandboxUrl}/faults/alipay/${world.alipay.app_id}`, {
      method: body ? 'PUT' : 'DELETE', headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
    });

  /** An order paid at Alipay (the sandbox's notify settled it): its create's answer and the payment as read after. */
  async function paidAtAlipay(amount: string) {
    const created = await world.merchant.createPayment({ method: 'alipay_qr', amount });
    await payerDecides(created.body.action.qr_code, 'pay');
    let payment = (await world.merchant.call('GET', `/v1/payments/${created.body.id}`)).body;
    for (let i = 0; i < 100 && payment.status !== 'succeeded'; i++, await Bun.sleep(20)) {
      payment = (await world.merchant.call('GET', `/v1/payments/${created.body.id}`)).body;
    }
    expect(payment.status).toBe('succeeded');
    return { created, payment };
  }

  /** Calls answered by the Alipay channel so far (the channel health's histogram, from /metrics). */
  async function alipayCalls(): Promise<number> {
    const text = await (await fetch(`${world.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('paycenter_channel_call_duration_seconds_count{') && l.includes('channel="alipay_main"') && l.includes('outcome="answered"'));
    return Number(line?.split(' ').at(-1) ?? 0);
  }

  test('a refund that ended is never sent to its channel again: a late retry of its call finds it over and calls nobody', async () => {
    const { created } = await paidAtAlipay('30.00');
    expect((await world.merchant.call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R-over', amount: '10.00' })).status).toBe(201);
    await drive(world);
    const order = async () => (await world.booted.paycenter.engine.load(created.body.id))!;
    expect((await order()).context.refunds.map((r) => r.status)).toEqual(['succeeded']);
    // The refund call's row runs again, as a retry scheduled before the refund ended would.
    const db = openSqliteDatabase(world.booted.databaseUrl.slice('sqlite:'.length));
    const refundRows = () => db.query("SELECT status FROM outbox WHERE order_id = ? AND kind = 'channel.refund'").all(created.body.id);
    const replanted = db.query("UPDATE outbox SET status = 'pending', due_at = ?, lease_until = NULL, completed_at = NULL WHERE order_id = ? AND kind = 'channel.refund'")
      .run(clock.now(), created.body.id).changes;
    expect(replanted).toBe(1);
    const calls = await alipayCalls();
    await drive(world);
    expect(await alipayCalls()).toBe(calls);
    expect(refundRows()).toEqual([{ status: 'done' }]);
    db.close();
    expect((await order()).context.refunds.map((r) => r.status)).toEqual(['succeeded']);
  });

  test('the refund call gives up while Alipay is down; the refund query finds no refund there and sends it again', async () => {
    const { created, payment } = await paidAtAlipay('40.00');

    expect((await faults({ api_error_rate: 1, seed: 3 })).status).toBe(200);
    const refund = await world.merchant.call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R-lost', amount: '15.00' });
    expect(refund.status).toBe(201);
    // Every retry of the refund call meets an outage until the row gives up (about 45 minutes).
    for (let round = 0; round < 10; round++) {
      await drive(world);
      clock.advance(31 * 60_000);
    }
    const gaveUp = await world.booted.paycenter.store.listFailedOutbox(100);
    expect(gaveUp.filter((row) => row.orderId === created.body.id).map((row) => row.kind)).toContain('channel.refund');
    // The merchant API would refuse requests signed five hours before the moved clock: read the actor.
    const order = () => world.booted.paycenter.engine.load(created.body.id);
    expect((await order())!.context.refunds[0]!.status).toBe('pending');

    await faults(null);
    clock.advance(31 * 60_000);
    await drive(world);
    const after = (await order())!;
    expect(after.context.refunds[0]!.status).toBe('succeeded');
    expect(after.row.status).toBe('partially_refunded');
    const trade = await (await fetch(`${world.sandboxUrl}/trades/alipay/${world.alipay.app_id}/${payment.flows[0].id}`)).json();
    expect(JSON.stringify(trade).split(refund.body.id).length - 1).toBeGreaterThanOrEqual(1);
  });
});

// Its own world: a clock three hours on would put every later request outside the signature window.
describe('after downtime (sqlite, a clock moved by hours)', () => {
  const { world, clock } = worldWithMovedClock();

  test('a query timer that fires hours late schedules the next query from when it fired', async () => {
    const created = await world.merchant.createPayment({ method: 'wechat_native', expire_seconds: 86_400 });
    const queryTimer = async () => (await world.booted.paycenter.store.listTimers(created.body.id)).find((t) => t.key.startsWith('query'))!;
    expect(await queryTimer()).toBeDefined();
    clock.advance(3 * 3_600_000);
    await world.booted.paycenter.ticker.tick();
    // From the old due time, the next query would be due already, and the one after it, and so on.
    expect((await queryTimer()).dueAt).toBeGreaterThan(clock.now());
  });
});
