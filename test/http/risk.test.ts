/** Risk: the payer-velocity rule, unit by unit and over real HTTP (the error code risk_rejected). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { PayerVelocity } from '../../src/risk/velocity.ts';
import { type Booted, MerchantClient, bootPaycenter, tableCounts } from './harness.ts';

describe('PayerVelocity', () => {
  const payer = { userId: 'u1', deviceId: null, clientIp: '10.0.0.1' };

  test('refuses past the limit within the window, by any of the payer identities, per merchant', () => {
    const velocity = new PayerVelocity({ ordersMax: 2, windowMs: 60_000 });
    velocity.record('M1', payer, 0);
    expect(velocity.check('M1', payer, 1)).toBeNull();
    velocity.record('M1', payer, 1);
    expect(velocity.check('M1', payer, 2)).toStartWith('payer_velocity');
    // Another user behind the same address is the same payer as far as the address goes.
    expect(velocity.check('M1', { userId: 'u2', deviceId: null, clientIp: '10.0.0.1' }, 2)).toStartWith('payer_velocity');
    expect(velocity.check('M1', { userId: 'u2', deviceId: null, clientIp: null }, 2)).toBeNull();
    expect(velocity.check('M2', payer, 2)).toBeNull();
    expect(velocity.check('M1', payer, 60_001)).toBeNull();
  });

  test('an order that names no payer is not counted', () => {
    const velocity = new PayerVelocity({ ordersMax: 1, windowMs: 60_000 });
    const nobody = { userId: null, deviceId: null, clientIp: null };
    velocity.record('M1', nobody, 0);
    expect(velocity.check('M1', nobody, 1)).toBeNull();
  });
});

describe('risk over HTTP (sqlite)', () => {
  let booted: Booted;
  let merchant: MerchantClient;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite', { RISK_PAYER_ORDERS_PER_MIN: '3' });
    merchant = await MerchantClient.create(booted.url);
  });
  afterAll(() => booted.stop());

  test('the fourth new order of one payer in a minute is risk_rejected, changes nothing, and names the rule; retries and other payers pass', async () => {
    const orders = [];
    for (let i = 0; i < 3; i++) orders.push(await merchant.createPayment({ user_id: 'payer-1' }));
    expect(orders.map((o) => o.status)).toEqual([201, 201, 201]);
    const before = await tableCounts(booted.databaseUrl);
    const refused = await merchant.createPayment({ user_id: 'payer-1' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('risk_rejected');
    expect(refused.body.error.message).toStartWith('payer_velocity');
    expect(await tableCounts(booted.databaseUrl)).toEqual(before);

    const retry = await merchant.createPayment({ user_id: 'payer-1', merchant_order_no: orders[0]!.body.merchant_order_no });
    expect(retry.status).toBe(200);
    expect((await merchant.createPayment({ user_id: 'payer-2' })).status).toBe(201);
  });
});
