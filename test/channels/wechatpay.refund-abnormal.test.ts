/**
 * WeChat Pay's refund state ABNORMAL: the money already left the merchant's account but did not
 * reach the payer, and an operator finishes the refund by hand. It must never count as failed —
 * that would free the amount for a second refund — so the refund stays pending, its amount
 * claimed, and the order keeps asking. CLOSED alone is a failed refund.
 *
 * The sandbox settles every refund at once, so the end-to-end case puts a loopback "WeChat" in
 * front of it: everything is forwarded to the sandbox, refund answers come back ABNORMAL, and
 * each answer is signed again with this proxy's own platform key (the channel's).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { WechatpayAdapter, type WechatpayConfig } from '../../src/channels/wechatpay/adapter.ts';
import type { RefundReport } from '../../src/channels/adapter.ts';
import { type WechatRefundStatus, refundStatusOf } from '../../src/channels/wechatpay/transformers.ts';
import { rsaSign } from '../../src/channels/rsa.ts';
import { ManualClock } from '../../src/clock.ts';
import { freePort } from '../harness/services.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from '../http/harness.ts';
import { type FakeProvider, type RsaPair, fakeProvider, rsaPair } from './interop-keys.ts';
import { drive, payerDecides, startSandbox } from './world.ts';

describe('refundStatusOf', () => {
  test.each([
    ['SUCCESS', 'succeeded'],
    ['PROCESSING', 'pending'],
    ['ABNORMAL', 'pending'],
    ['CLOSED', 'failed'],
  ] as Array<[WechatRefundStatus, RefundReport['status']]>)('%s is %s', (status, expected) => {
    expect(refundStatusOf(status)).toBe(expected);
  });
});

const proxy_platform_serial = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678';

/** The Wechatpay-* headers WeChat signs an answer with, here with the proxy's platform key. */
async function platformHeaders(keys: RsaPair, body: string): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  return {
    'wechatpay-timestamp': timestamp, 'wechatpay-nonce': nonce, 'wechatpay-serial': proxy_platform_serial,
    'wechatpay-signature': await rsaSign(keys.privateKey, `${timestamp}\n${nonce}\n${body}\n`),
  };
}

const isRefundPath = (path: string) => path.startsWith('/v3/refund/domestic/refunds');

/** The refund calls a proxy forwarded, as `METHOD /path`. */
const refundCallsOf = (proxy: FakeProvider) =>
  proxy.requests.filter((r) => isRefundPath(r.pathAndQuery)).map((r) => `${r.method} ${r.pathAndQuery.split('?')[0]}`);

/** Forwards every call to `upstream` (the sandbox's WeChat Pay), answering refunds as ABNORMAL. */
function abnormalRefundsProxy(upstream: string, keys: RsaPair): FakeProvider {
  return fakeProvider(async (request) => {
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'accept', 'content-type']) {
      const value = request.headers.get(name);
      if (value) headers[name] = value;
    }
    const answer = await fetch(`${upstream}${request.pathAndQuery}`, { method: request.method, headers, body: request.method === 'GET' ? undefined : request.body });
    let text = await answer.text();
    if (isRefundPath(request.pathAndQuery) && answer.status === 200) text = JSON.stringify({ ...JSON.parse(text), status: 'ABNORMAL' });
    return new Response(answer.status === 204 ? null : text, { status: answer.status, headers: { 'content-type': 'application/json', ...(await platformHeaders(keys, text)) } });
  });
}

describe('a refund WeChat Pay answers ABNORMAL, end to end', () => {
  // Channel answers are signed with real time (±300 s), so the clock moves only a little.
  const clock = new ManualClock(Date.now());
  const keys = rsaPair();
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  let proxy: FakeProvider;
  let booted: Booted;
  let merchant: MerchantClient;
  let channelConfig: Record<string, string>;

  beforeAll(async () => {
    sandbox = await startSandbox();
    const provisioned = await fetch(`${sandbox.url}/wechatpay/merchants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const sandboxConfig = (await provisioned.json()) as Record<string, string>;
    proxy = abnormalRefundsProxy(sandboxConfig.base_url!, keys);
    channelConfig = { ...sandboxConfig, base_url: proxy.url, platform_serial: proxy_platform_serial, platform_public_key: keys.publicKey };
    const port = await freePort();
    booted = await bootPaycenter('sqlite', { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` }, { clock, manualTicker: true });
    const channel = await adminCall(booted.url, 'POST', '/admin/channels', { code: 'wechat_main', provider: 'wechatpay', methods: ['wechat_native'], config: channelConfig });
    if (channel.status !== 201) throw new Error(`channel not created: ${JSON.stringify(channel.body)}`);
    merchant = await MerchantClient.create(booted.url, { methods: ['wechat_native'] });
  });
  afterAll(async () => {
    await booted?.stop();
    await proxy?.stop();
    await sandbox?.stop();
  });

  /** Moves the clock by `ms`, then fires due timers and runs due effects until both are idle. */
  async function after(ms: number): Promise<void> {
    clock.advance(ms);
    await drive({ booted });
  }

  const paymentOf = async (id: string) => (await merchant.call('GET', `/v1/payments/${id}`)).body;

  test('the adapter reads ABNORMAL, from the refund call and from the refund query, as pending', async () => {
    const adapter = new WechatpayAdapter(channelConfig as WechatpayConfig, { notifyUrl: 'http://127.0.0.1/callbacks/wechatpay/wechat_main', timeoutMs: 5_000 });
    const { flowId } = await paidFlow('12.34');
    const refund = await adapter.refund({ refundId: 'rfd_ADAPTER1', flowId, method: 'wechat_native', amount: 1234, flowAmount: 1234, currency: 'CNY', reason: null, now: Date.now() });
    expect(refund).toEqual({ ok: true, report: { refundId: 'rfd_ADAPTER1', status: 'pending' } });
    const queried = await adapter.refundQuery('rfd_ADAPTER1', flowId, Date.now());
    expect(queried).toEqual({ ok: true, report: { refundId: 'rfd_ADAPTER1', status: 'pending' } });
  });

  /** A payment of `amount` the payer paid at the sandbox, settled through the order's own query. */
  async function paidFlow(amount: string): Promise<{ paymentId: string; flowId: string }> {
    const created = await merchant.createPayment({ amount });
    const paid = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'wechat_native' });
    expect(paid.status).toBe(200);
    expect((await payerDecides(paid.body.action.qr_code, 'pay')).status).toBe(200);
    // The sandbox's notify is signed with its own platform key, not the proxy's: the query finds the payment.
    await after(5_000);
    expect(await paymentOf(created.body.id)).toMatchObject({ status: 'succeeded', paid_amount: amount });
    return { paymentId: created.body.id, flowId: paid.body.flows[0].id };
  }

  test('the refund stays pending with its amount claimed, the order keeps asking, and a second refund is refused', async () => {
    const { paymentId } = await paidFlow('20.00');
    const refunded = await merchant.call('POST', `/v1/payments/${paymentId}/refunds`, { refund_no: 'R-ABNORMAL-1', amount: '20.00' });
    expect(refunded.status).toBe(201);
    const refundCallsBefore = refundCallsOf(proxy).length;
    await after(0);
    // The refund call, then refund queries on the order's schedule: every answer ABNORMAL.
    for (const gap of [5_000, 10_000, 30_000]) await after(gap);
    const calls = refundCallsOf(proxy).slice(refundCallsBefore);
    expect(calls[0]).toBe('POST /v3/refund/domestic/refunds');
    expect(calls.filter((c) => c.startsWith('GET ')).length).toBeGreaterThanOrEqual(3);

    const refund = await merchant.call('GET', `/v1/refunds/${refunded.body.id}`);
    expect(refund.body).toMatchObject({ status: 'pending', completed_at: null });
    expect(await paymentOf(paymentId)).toMatchObject({ status: 'succeeded' });
    // The amount is still claimed: the same money cannot be refunded a second time.
    const again = await merchant.call('POST', `/v1/payments/${paymentId}/refunds`, { refund_no: 'R-ABNORMAL-2', amount: '20.00' });
    expect(again.status).toBe(422);
    expect(again.body.error.code).toBe('refund_exceeds_paid');
    const events = await merchant.call('GET', '/v1/events?limit=100');
    expect(events.body.data.filter((e: any) => e.type.startsWith('refund.'))).toEqual([]);
  });
});
