/**
 * Channels and their currencies: a provider's channel lists only the currencies its transformers
 * convert (Alipay and WeChat Pay: CNY), and a channel's limits are amounts in its one currency.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Booted, adminCall, bootPaycenter } from './harness.ts';

const pem = (kind: string) => `-----BEGIN ${kind}-----\nMIIx\n-----END ${kind}-----`;
const alipayConfig = { app_id: '2021000000000001', private_key: pem('PRIVATE KEY'), alipay_public_key: pem('PUBLIC KEY'), gateway_url: 'https://openapi.alipay.com/gateway.do' };
const wechatpayConfig = {
  mchid: '1900000109', appid: 'wxd678efh567hg6787', serial_no: 'SERIAL', private_key: pem('PRIVATE KEY'), apiv3_key: 'a'.repeat(32),
  platform_serial: 'PLATFORM', platform_public_key: pem('PUBLIC KEY'),
};

describe('channel currencies and limits', () => {
  let booted: Booted;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
  });
  afterAll(() => booted?.stop());

  const create = (body: Record<string, unknown>) => adminCall(booted.url, 'POST', '/admin/channels', body);
  const patch = (code: string, body: Record<string, unknown>) => adminCall(booted.url, 'PATCH', `/admin/channels/${code}`, body);

  test('alipay and wechatpay channels are refused any currency but CNY, naming the field', async () => {
    const alipay = await create({ code: 'ali_usd', provider: 'alipay', methods: ['alipay_qr'], currencies: ['USD'], config: alipayConfig });
    expect(alipay.status).toBe(400);
    expect(alipay.body.error).toMatchObject({ code: 'invalid_request', field: 'currencies', message: 'currencies must be among CNY for provider alipay' });
    const wechat = await create({ code: 'wx_multi', provider: 'wechatpay', methods: ['wechat_native'], currencies: ['CNY', 'HKD'], config: wechatpayConfig });
    expect(wechat.status).toBe(400);
    expect(wechat.body.error).toMatchObject({ code: 'invalid_request', field: 'currencies', message: 'currencies must be among CNY for provider wechatpay' });
    expect((await create({ code: 'wx_cny', provider: 'wechatpay', methods: ['wechat_native'], currencies: ['CNY'], config: wechatpayConfig })).status).toBe(201);
  });

  test('a change of currencies is checked against the provider too', async () => {
    expect((await create({ code: 'ali_cny', provider: 'alipay', methods: ['alipay_qr'], config: alipayConfig })).status).toBe(201);
    const changed = await patch('ali_cny', { currencies: ['EUR'] });
    expect(changed.status).toBe(400);
    expect(changed.body.error).toMatchObject({ code: 'invalid_request', field: 'currencies' });
    expect((await adminCall(booted.url, 'GET', '/admin/channels')).body.data.find((c: any) => c.code === 'ali_cny').currencies).toEqual(['CNY']);
  });

  test('limits are parsed and shown in the channel\'s currency', async () => {
    const yen = await create({ code: 'bal_jpy', provider: 'balance', methods: ['balance'], currencies: ['JPY'], single_limit: '1500', daily_limit: '90000', config: {} });
    expect(yen.status).toBe(201);
    expect(yen.body).toMatchObject({ currencies: ['JPY'], single_limit: '1500', daily_limit: '90000' });
    // Yen have no minor digits: a CNY-shaped limit is not a yen amount.
    const cnyShaped = await create({ code: 'bal_jpy2', provider: 'balance', methods: ['balance'], currencies: ['JPY'], single_limit: '15.00', config: {} });
    expect(cnyShaped.status).toBe(400);
    expect(cnyShaped.body.error).toMatchObject({ code: 'invalid_amount', field: 'single_limit' });
    const listed = await adminCall(booted.url, 'GET', '/admin/channels');
    expect(listed.body.data.find((c: any) => c.code === 'bal_jpy')).toMatchObject({ single_limit: '1500', daily_limit: '90000' });
  });

  test('a channel of several currencies can have no limits', async () => {
    const several = await create({ code: 'bal_multi', provider: 'balance', methods: ['balance'], currencies: ['USD', 'EUR'], daily_limit: '100.00', config: {} });
    expect(several.status).toBe(400);
    expect(several.body.error).toMatchObject({ code: 'invalid_request', field: 'daily_limit' });
    expect(several.body.error.message).toContain('exactly one currency');
    expect((await create({ code: 'bal_multi', provider: 'balance', methods: ['balance'], currencies: ['USD', 'EUR'], config: {} })).status).toBe(201);
    const limited = await patch('bal_multi', { single_limit: '10.00' });
    expect(limited.status).toBe(400);
    expect(limited.body.error).toMatchObject({ code: 'invalid_request', field: 'single_limit' });
  });

  test('changing the currency needs the limits again: stored minor units are never reinterpreted', async () => {
    expect((await create({ code: 'bal_usd', provider: 'balance', methods: ['balance'], currencies: ['USD'], single_limit: '15.00', config: {} })).status).toBe(201);
    const kept = await patch('bal_usd', { currencies: ['JPY'] });
    expect(kept.status).toBe(400);
    expect(kept.body.error).toMatchObject({ code: 'invalid_request', field: 'single_limit' });
    const given = await patch('bal_usd', { currencies: ['JPY'], single_limit: '1500' });
    expect(given.status).toBe(200);
    expect(given.body).toMatchObject({ currencies: ['JPY'], single_limit: '1500', daily_limit: null });
    // Other changes keep the limits as they are.
    expect((await patch('bal_usd', { weight: 5 })).body).toMatchObject({ weight: 5, single_limit: '1500' });
  });
});
