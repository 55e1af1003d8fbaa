/**
 * Alipay and WeChat Pay adapters convert CNY only. Asked for another currency (a channel created
 * before currencies were checked per provider), they answer a non-retryable flow_not_supported
 * without calling the provider — never a thrown assertion that would retry the effect forever.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import type { ChannelAdapter, ChannelFailure } from '../../src/channels/adapter.ts';
import { AlipayAdapter } from '../../src/channels/alipay/adapter.ts';
import { WechatpayAdapter } from '../../src/channels/wechatpay/adapter.ts';
import type { Currency } from '../../src/money.ts';
import { fakeProvider, rsaPair } from './interop-keys.ts';

const provider = fakeProvider(() => new Response('{}', { status: 500 }));
afterAll(() => provider.stop());

const keys = rsaPair();
const options = { notifyUrl: 'http://127.0.0.1/callbacks/x/y', timeoutMs: 2_000 };
const adapters: Array<[string, string, ChannelAdapter]> = [
  ['Alipay', 'alipay_qr', new AlipayAdapter({ app_id: '2021000000000001', private_key: keys.privateKey, alipay_public_key: keys.publicKey, gateway_url: provider.url }, options)],
  ['WeChat Pay', 'wechat_native', new WechatpayAdapter({
    mchid: '1900000109', appid: 'wxd678efh567hg6787', serial_no: 'SERIAL', private_key: keys.privateKey, apiv3_key: 'a'.repeat(32),
    platform_serial: 'PLATFORM', platform_public_key: keys.publicKey, base_url: provider.url,
  }, options)],
];

describe.each(adapters)('%s', (name, method, adapter) => {
  const refused = (currency: Currency): ChannelFailure => ({ ok: false, code: 'flow_not_supported', retryable: false, message: `${name} does not serve ${currency} (only CNY)` });

  test('a prepay in USD is flow_not_supported, and nothing is sent', async () => {
    const before = provider.requests.length;
    const answer = await adapter.prepay({
      flowId: 'flw_USD', method, amount: 1234, currency: 'USD', subject: 'x', expiresAt: Date.now() + 600_000,
      returnUrl: null, clientIp: null, payerId: null, now: Date.now(),
    });
    expect(answer).toEqual(refused('USD'));
    expect(provider.requests.length).toBe(before);
  });

  test('a refund in JPY is flow_not_supported, and nothing is sent', async () => {
    const before = provider.requests.length;
    const answer = await adapter.refund({ refundId: 'rfd_JPY', flowId: 'flw_JPY', method, amount: 1500, flowAmount: 1500, currency: 'JPY', reason: null, now: Date.now() });
    expect(answer).toEqual(refused('JPY'));
    expect(provider.requests.length).toBe(before);
  });

  test('CNY is still sent', async () => {
    const before = provider.requests.length;
    await adapter.refund({ refundId: 'rfd_CNY', flowId: 'flw_CNY', method, amount: 100, flowAmount: 100, currency: 'CNY', reason: null, now: Date.now() });
    expect(provider.requests.length).toBe(before + 1);
  });
});
