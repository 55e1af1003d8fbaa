/**
 * A combined pay whose request died between its commit and its prepay (paycenter killed while
 * the payer waited), retried by the merchant after the join window: the crash and fault run on
 * Postgres (seed 1543243351) left three such orders in `paying` because the test's payer paid
 * the replaced attempt's flow. What paycenter must do, and does: the retry starts a new attempt,
 * the first one's freeze is released in the same commit that freezes again, the answer's
 * `action` is the new attempt's trade, the replaced attempt's prepay never opens a trade when
 * the runner gets to it, and paying the new trade settles the order and captures the balance.
 * The clock is moved by hand, the ticker and the effect runner driven by hand; only the
 * sandbox's notify of the payment is waited for.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { prepay_join_window_ms } from '../../machines/payment.model.ts';
import { inline_prepay_grace_ms } from '../../actors/write-set.ts';
import { auditStore } from '../../src/audit/audit.ts';
import { ManualClock } from '../../src/clock.ts';
import { newId } from '../../src/ids.ts';
import { type World, bootWorld, drive, payerDecides, waitForPayment } from '../channels/world.ts';
import { MerchantClient } from '../http/harness.ts';
import { answeringFlow } from '../reliability/harness.ts';
import { storeKinds } from '../store/stores.ts';

describe.each(storeKinds)('a combined pay retried after its request died, on %s', (kind) => {
  const clock = new ManualClock(Date.now());
  let world: World;
  let merchant: MerchantClient;
  beforeAll(async () => {
    world = await bootWorld(kind, { clock, manualTicker: true }, {}, undefined, () => clock.now());
    merchant = await MerchantClient.create(world.url, { methods: ['alipay_qr', 'balance'] });
  });
  afterAll(async () => {
    expect((await auditStore(world.booted.paycenter.store, { nowMs: clock.now() })).breaches).toEqual([]);
    await world.stop();
  });

  test('the retry replaces the attempt; its answer is the new trade, which settles the order', async () => {
    const user = `p${randomBytes(4).toString('hex')}`;
    expect((await merchant.call('POST', `/v1/balances/${user}/credits`, { credit_no: 'T1', amount: '0.50' })).status).toBe(201);
    const created = await merchant.createPayment({ amount: '10.00', user_id: user });
    const paymentId: string = created.body.id;
    const parts = [{ method: 'balance', amount: '0.50' }, { method: 'alipay_qr', amount: '9.50' }];

    // The first request's pay.start commits (the freeze, the prepay row), then the process dies
    // before the request runs the prepay: the actor's event as that request sent it, nothing after.
    const { engine } = world.booted.paycenter;
    const at = clock.now();
    const first = [
      { flowId: newId('flw', at), method: 'balance', channel: 'balance', amount: 50 },
      { flowId: newId('flw', at), method: 'alipay_qr', channel: 'alipay_main', amount: 950 },
    ];
    expect((await engine.dispatch(paymentId, { type: 'pay.start', at, parts: first })).outcome).toBe('applied');

    // The merchant's retry lands after the join window, before the runner took the orphaned
    // prepay (a loaded machine): a new attempt, not a join.
    expect(prepay_join_window_ms).toBeGreaterThanOrEqual(inline_prepay_grace_ms);
    clock.advance(prepay_join_window_ms + 1_000);
    const retried = await merchant.call('POST', `/v1/payments/${paymentId}/pay`, { parts });
    expect(retried.status).toBe(200);
    // The replaced attempt's channel part stays pending until its channel confirms the close.
    expect(retried.body.flows.map((f: any) => [f.method, f.status])).toEqual([
      ['balance', 'closed'], ['alipay_qr', 'pending'], ['balance', 'pending'], ['alipay_qr', 'pending'],
    ]);
    const answering = answeringFlow(retried.body, 'alipay_qr')!;
    expect(answering.id).not.toBe(first[1]!.flowId);
    // The payer is shown the new attempt's trade; the first flow of the method is the replaced one.
    expect(retried.body.action.qr_code).toEndWith(`/${answering.id}`);
    expect(retried.body.flows.find((f: any) => f.method === 'alipay_qr').id).toBe(first[1]!.flowId);
    const balance = async () => (await merchant.call('GET', `/v1/balances/${user}`)).body;
    expect(await balance()).toMatchObject({ available: '0.00', frozen: '0.50' });

    // The runner gets to the orphaned prepay: its flow was replaced, so no trade opens for it.
    clock.advance(inline_prepay_grace_ms);
    await drive(world);
    const trade = (flowId: string) => fetch(`${world.sandboxUrl}/trades/alipay/${world.alipay.app_id}/${flowId}`);
    expect((await trade(first[1]!.flowId)).status).toBe(404);
    const replaced = (await merchant.call('GET', `/v1/payments/${paymentId}`)).body;
    expect(replaced.flows.map((f: any) => f.status)).toEqual(['closed', 'closed', 'pending', 'pending']);

    // The sandbox's notify brings the success (asynchronously: waited for, bounded).
    expect((await payerDecides(retried.body.action.qr_code, 'pay')).status).toBe(200);
    const paid = await waitForPayment(merchant, paymentId, (p) => p.status === 'succeeded');
    expect(paid.flows.map((f: any) => f.status)).toEqual(['closed', 'closed', 'succeeded', 'succeeded']);
    expect(await balance()).toMatchObject({ available: '0.00', frozen: '0.00' });
    const entries = (await merchant.call('GET', `/v1/balances/${user}/entries`)).body.data.map((e: any) => e.kind);
    expect(entries).toEqual(['credit', 'freeze', 'release', 'freeze', 'capture']);
  });
});
