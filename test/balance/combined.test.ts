/**
 * Combined payments end to end: the balance part frozen with the attempt (try), captured when
 * the channel's part succeeds (confirm), released when it fails, is replaced, or the order
 * closes or times out (cancel); refunds take the external part first. Real HTTP, the channel
 * sandbox's wire protocols, both stores; the audit is the oracle after each world.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { auditStore } from '../../src/audit/audit.ts';
import { type World, bootWorld, drive, payerDecides, waitForPayment, worldWithMovedClock } from '../channels/world.ts';
import { MerchantClient, tableCounts } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';

const payer = () => `p${randomBytes(4).toString('hex')}`;
const parts = (balance: string, external: string, method = 'alipay_qr') => ({ parts: [{ method: 'balance', amount: balance }, { method, amount: external }] });

/** A merchant with the balance and the sandbox's channels, and helpers over its payers. */
function balanceMerchant(world: () => Pick<World, 'url'>) {
  let merchant: MerchantClient;
  beforeAll(async () => {
    merchant = await MerchantClient.create(world().url, { methods: ['alipay_qr', 'wechat_native', 'balance'] });
  });
  return {
    get client() {
      return merchant;
    },
    async funded(amount: string): Promise<string> {
      const user = payer();
      const credited = await merchant.call('POST', `/v1/balances/${user}/credits`, { credit_no: 'T1', amount });
      if (credited.status !== 201) throw new Error(`credit failed: ${JSON.stringify(credited.body)}`);
      return user;
    },
    async balance(user: string) {
      return (await merchant.call('GET', `/v1/balances/${user}`)).body;
    },
    async kinds(user: string) {
      return (await merchant.call('GET', `/v1/balances/${user}/entries`)).body.data.map((e: any) => e.kind);
    },
  };
}

describe.each(storeKinds)('combined payments through the sandbox on %s', (kind) => {
  let world: World;
  beforeAll(async () => {
    world = await bootWorld(kind);
  });
  afterAll(async () => {
    expect((await auditStore(world.booted.paycenter.store, { nowMs: Date.now() })).breaches).toEqual([]);
    await world.stop();
  });
  const m = balanceMerchant(() => world);

  test('balance + Alipay: frozen with the attempt, captured when the payer pays', async () => {
    const user = await m.funded('50.00');
    const created = await m.client.createPayment({ amount: '100.00', user_id: user });
    const paid = await m.client.call('POST', `/v1/payments/${created.body.id}/pay`, parts('20.00', '80.00'));
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'paying', action: { type: 'qr_code' } });
    expect(paid.body.flows.map((f: any) => [f.method, f.channel, f.amount, f.status])).toEqual([
      ['balance', 'balance', '20.00', 'pending'], ['alipay_qr', 'alipay_main', '80.00', 'pending'],
    ]);
    expect(await m.balance(user)).toMatchObject({ available: '30.00', frozen: '20.00' });
    expect((await payerDecides(paid.body.action.qr_code, 'pay')).status).toBe(200);
    const done = await waitForPayment(m.client, created.body.id, (p) => p.status === 'succeeded');
    expect(done.flows.map((f: any) => f.status)).toEqual(['succeeded', 'succeeded']);
    expect(await m.balance(user)).toMatchObject({ available: '30.00', frozen: '0.00' });
    expect(await m.kinds(user)).toEqual(['credit', 'freeze', 'capture']);
  });

  test('paying again replaces the attempt: its balance part is released before the new one freezes', async () => {
    const user = await m.funded('30.00');
    const created = await m.client.createPayment({ amount: '100.00', user_id: user });
    await m.client.call('POST', `/v1/payments/${created.body.id}/pay`, parts('30.00', '70.00'));
    const second = await m.client.call('POST', `/v1/payments/${created.body.id}/pay`, parts('25.00', '75.00', 'wechat_native'));
    expect(second.status).toBe(200);
    expect(await m.balance(user)).toMatchObject({ available: '5.00', frozen: '25.00' });
    expect(await m.kinds(user)).toEqual(['credit', 'freeze', 'release', 'freeze']);
    const closed = await m.client.call('POST', `/v1/payments/${created.body.id}/close`);
    expect(closed.status).toBe(200);
    await waitForPayment(m.client, created.body.id, (p) => p.status === 'closed');
    expect(await m.balance(user)).toMatchObject({ available: '30.00', frozen: '0.00' });
  });

  test('a balance part beyond available: 422 insufficient_balance, nothing written, no flow, no channel called', async () => {
    const user = await m.funded('10.00');
    const created = await m.client.createPayment({ amount: '100.00', user_id: user });
    const before = await tableCounts(world.booted.databaseUrl);
    const paid = await m.client.call('POST', `/v1/payments/${created.body.id}/pay`, parts('10.01', '89.99'));
    expect(paid.status).toBe(422);
    expect(paid.body.error.code).toBe('insufficient_balance');
    expect(await tableCounts(world.booted.databaseUrl)).toEqual(before);
    expect(await m.balance(user)).toMatchObject({ available: '10.00', frozen: '0.00' });
  });

  test('a refund spanning both parts: the channel part first, then the balance part; refund.succeeded once', async () => {
    const user = await m.funded('20.00');
    const created = await m.client.createPayment({ amount: '100.00', user_id: user });
    const paid = await m.client.call('POST', `/v1/payments/${created.body.id}/pay`, parts('20.00', '80.00'));
    await payerDecides(paid.body.action.qr_code, 'pay');
    await waitForPayment(m.client, created.body.id, (p) => p.status === 'succeeded');
    const refund = await m.client.call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R1', amount: '90.00' });
    expect(refund.status).toBe(201);
    await waitForPayment(m.client, created.body.id, (p) => p.status === 'partially_refunded');
    expect(await m.balance(user)).toMatchObject({ available: '10.00', frozen: '0.00' });
    const rest = await m.client.call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R2', amount: '10.01' });
    expect(rest.body.error.code).toBe('refund_exceeds_paid');
    await m.client.call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R2', amount: '10.00' });
    await waitForPayment(m.client, created.body.id, (p) => p.status === 'refunded');
    expect(await m.balance(user)).toMatchObject({ available: '20.00' });
    const events = (await m.client.call('GET', '/v1/events?limit=100')).body.data
      .filter((e: any) => e.type.startsWith('refund.') && e.data.payment_id === created.body.id);
    expect(events.map((e: any) => [e.type, e.data.refund_no])).toEqual([['refund.succeeded', 'R1'], ['refund.succeeded', 'R2']]);
  });
});

describe('a freeze never outlives its order', () => {
  const { world, clock } = worldWithMovedClock();
  const m = balanceMerchant(() => world);

  test('the payer fails at WeChat Pay: the query finds it, the balance part is released, the order can be paid again', async () => {
    const user = await m.funded('50.00');
    const created = await m.client.createPayment({ amount: '100.00', user_id: user });
    const paid = await m.client.call('POST', `/v1/payments/${created.body.id}/pay`, parts('20.00', '80.00', 'wechat_native'));
    expect((await payerDecides(paid.body.action.qr_code, 'fail')).status).toBe(200);
    clock.advance(5_001);
    await drive(world);
    expect((await m.client.call('GET', `/v1/payments/${created.body.id}`)).body.status).toBe('created');
    expect(await m.balance(user)).toMatchObject({ available: '50.00', frozen: '0.00' });
    expect(await m.kinds(user)).toEqual(['credit', 'freeze', 'release']);
  });

  test('the deadline asks the channel, closes the attempt there and releases the balance part', async () => {
    const user = await m.funded('20.00');
    const created = await m.client.createPayment({ amount: '100.00', user_id: user, expire_seconds: 60 });
    await m.client.call('POST', `/v1/payments/${created.body.id}/pay`, parts('20.00', '80.00'));
    expect(await m.balance(user)).toMatchObject({ frozen: '20.00' });
    clock.advance(60_001);
    await drive(world);
    const closed = (await m.client.call('GET', `/v1/payments/${created.body.id}`)).body;
    expect(closed).toMatchObject({ status: 'closed', close_reason: 'timeout' });
    expect(closed.flows.map((f: any) => f.status)).toEqual(['closed', 'closed']);
    expect(await m.balance(user)).toMatchObject({ available: '20.00', frozen: '0.00' });
  });

  test('the audit is clean at the moved clock', async () => {
    expect((await auditStore(world.booted.paycenter.store, { nowMs: clock.now() })).breaches).toEqual([]);
  });
});
