/**
 * The cashier and the payer's balance: shown where the merchant enabled it and the order names
 * its payer; paying with it alone, or combining it with a channel when it does not cover the amount.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { cashierParts } from '../../src/cashier/routes.tsx';
import { type World, bootWorld, worldWithMovedClock } from '../channels/world.ts';
import { MerchantClient } from '../http/harness.ts';

describe('cashierParts', () => {
  test.each([
    ['balance picked', 100, 'balance', 0, [{ method: 'balance', amount: 100 }]],
    ['balance covers', 100, 'alipay_qr', 150, [{ method: 'balance', amount: 100 }]],
    ['balance short: combined', 100, 'alipay_qr', 30, [{ method: 'balance', amount: 30 }, { method: 'alipay_qr', amount: 70 }]],
    ['no balance offered', 100, 'alipay_qr', null, [{ method: 'alipay_qr', amount: 100 }]],
    ['empty balance', 100, 'alipay_qr', 0, [{ method: 'alipay_qr', amount: 100 }]],
  ] as const)('%s', (_, amount, method, available, parts) => {
    expect(cashierParts(amount, method, available)).toEqual([...parts]);
  });
});

const cashierOf = (world: Pick<World, 'url'>) => ({
  links(payment: { cashier_url: string }) {
    const url = new URL(payment.cashier_url);
    return { page: `${world.url}${url.pathname}${url.search}`, pay: `${world.url}${url.pathname}/pay${url.search}` };
  },
  pay: (url: string, body: object) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
});

describe('the cashier offers the balance', () => {
  let world: World;
  let merchant: MerchantClient;
  beforeAll(async () => {
    world = await bootWorld('sqlite');
    merchant = await MerchantClient.create(world.url, { methods: ['alipay_qr', 'balance'] });
  });
  afterAll(() => world.stop());

  const cashier = (payment: { cashier_url: string }) => cashierOf(world).links(payment);
  const pay = (url: string, body: object) => cashierOf(world).pay(url, body);

  test('shows the available balance and combines it with the chosen channel', async () => {
    await merchant.call('POST', '/v1/balances/cu1/credits', { credit_no: 'T1', amount: '30.00' });
    const order = (await merchant.createPayment({ amount: '100.00', user_id: 'cu1' })).body;
    const page = await (await fetch(cashier(order).page)).text();
    expect(page).toContain('id="use-balance"');
    expect(page).toContain('30.00');
    expect(page).not.toContain('data-method="balance"');
    const answer = await pay(cashier(order).pay, { method: 'alipay_qr', use_balance: true });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as any;
    expect(body.flows.map((f: any) => [f.method, f.amount])).toEqual([['balance', '30.00'], ['alipay_qr', '70.00']]);
    expect(body.action.type).toBe('qr_code');
  });

  test('pays with the balance alone when it covers the amount', async () => {
    await merchant.call('POST', '/v1/balances/cu2/credits', { credit_no: 'T1', amount: '100.00' });
    const order = (await merchant.createPayment({ amount: '100.00', user_id: 'cu2' })).body;
    expect(await (await fetch(cashier(order).page)).text()).toContain('data-method="balance"');
    const answer = await pay(cashier(order).pay, { method: 'balance' });
    expect(((await answer.json()) as any).status).toBe('succeeded');
  });

  test('an order without user_id is offered no balance, and cannot be paid with it', async () => {
    const order = (await merchant.createPayment({ amount: '1.00' })).body;
    expect(await (await fetch(cashier(order).page)).text()).not.toContain('id="use-balance"');
    const answer = await pay(cashier(order).pay, { method: 'balance' });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as any).error.code).toBe('unsupported_method');
  });
});

// Its own world: the cashier lets a payment start again only some seconds after the last, so the clock moves.
describe('paying again at the cashier (a moved clock)', () => {
  const { world, clock } = worldWithMovedClock();

  test('after a combined pay, paying another way still uses the balance this order froze', async () => {
    const merchant = await MerchantClient.create(world.url, { methods: ['alipay_qr', 'wechat_native', 'balance'] });
    await merchant.call('POST', '/v1/balances/cu5/credits', { credit_no: 'T1', amount: '30.00' });
    const order = (await merchant.createPayment({ amount: '100.00', user_id: 'cu5' })).body;
    const { links, pay } = cashierOf(world);
    const first = (await (await pay(links(order).pay, { method: 'alipay_qr', use_balance: true })).json()) as any;
    expect(first.flows.map((f: any) => [f.method, f.amount])).toEqual([['balance', '30.00'], ['alipay_qr', '70.00']]);
    clock.advance(10_000);
    // The page still offers the 30.00 this order holds frozen, and paying another way uses it again.
    expect(await (await fetch(links(order).page)).text()).toContain('30.00');
    const again = (await (await pay(links(order).pay, { method: 'wechat_native', use_balance: true })).json()) as any;
    // The new attempt's parts come last; the first attempt's balance part was released (closed) by the same commit.
    expect(again.flows.slice(2).map((f: any) => [f.method, f.amount, f.status])).toEqual([['balance', '30.00', 'pending'], ['wechat_native', '70.00', 'pending']]);
    expect(again.flows[0]).toMatchObject({ method: 'balance', status: 'closed' });
    expect((await merchant.call('GET', '/v1/balances/cu5')).body).toMatchObject({ available: '0.00', frozen: '30.00' });
  });

  test('an order in another currency than the balances\' is offered no balance, and cannot be paid with it', async () => {
    const merchant = await MerchantClient.create(world.url, { methods: ['alipay_qr', 'balance'] });
    await merchant.call('POST', '/v1/balances/cu6/credits', { credit_no: 'T1', amount: '50.00' });
    const order = (await merchant.createPayment({ amount: '1500', currency: 'JPY', user_id: 'cu6' })).body;
    const { links, pay } = cashierOf(world);
    expect(await (await fetch(links(order).page)).text()).not.toContain('id="use-balance"');
    const answer = await pay(links(order).pay, { method: 'balance' });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as any).error.code).toBe('unsupported_method');
    const api = await merchant.call('POST', `/v1/payments/${order.id}/pay`, { method: 'balance' });
    expect(api.body.error).toMatchObject({ code: 'unsupported_method', field: 'method' });
  });
});
