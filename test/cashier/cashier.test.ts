/** The cashier over real HTTP: a paycenter (which mounts it at /cashier) and the channel sandbox (bootWorld). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { cashierToken } from '../../src/cashier/token.ts';
import { MerchantClient } from '../http/harness.ts';
import { type World, bootWorld, payerDecides, waitForPayment, worldWithMovedClock } from '../channels/world.ts';

// The SECRET_KEY bootPaycenter configures (test/http/harness.ts).
const secret_key = new Uint8Array(Buffer.alloc(32, 9));

let world: World;
let base: string;

beforeAll(async () => {
  world = await bootWorld('sqlite');
  base = world.url;
});

afterAll(async () => {
  await world?.stop();
});

/** The payment's cashier page and its JSON routes. */
function cashierOf(payment: { cashier_url: string }): { page: string; api: (route: string) => string; id: string; token: string } {
  const url = new URL(payment.cashier_url);
  const id = url.pathname.split('/').pop()!;
  const token = url.searchParams.get('t')!;
  return { page: `${base}${url.pathname}${url.search}`, api: (route) => `${base}/cashier/${id}/${route}?t=${encodeURIComponent(token)}`, id, token };
}

async function created(client: MerchantClient = world.merchant, fields: Record<string, unknown> = {}) {
  const answer = await client.createPayment(fields);
  expect(answer.status).toBe(201);
  return answer.body;
}

async function statusOf(cashier: { api: (route: string) => string }) {
  const response = await fetch(cashier.api('status'));
  expect(response.status).toBe(200);
  return (await response.json()) as { status: string; expires_in: number };
}

async function waitForStatus(cashier: { api: (route: string) => string }, status: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await statusOf(cashier);
    if (body.status === status) return body;
    if (Date.now() > deadline) throw new Error(`status stayed ${body.status}`);
    await Bun.sleep(50);
  }
}

const post = (url: string, body?: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

describe('cashier', () => {
  test('the token in cashier_url is the signed token of that payment', async () => {
    const payment = await created();
    const cashier = cashierOf(payment);
    expect(cashier.id).toBe(payment.id);
    expect(cashier.token).toBe(cashierToken(secret_key, payment.id));
  });

  test('the page shows amount, subject (escaped), merchant name, time left and the merchant methods in its order', async () => {
    const client = await MerchantClient.create(world.url, { name: 'Cafe <b>Lotus</b>', methods: ['wechat_native', 'alipay_page', 'alipay_qr'] });
    const payment = await created(client, { amount: '12.34', subject: '<script>alert("x")</script> room' });
    const response = await fetch(cashierOf(payment).page);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    expect(html).toStartWith('<!DOCTYPE html>');
    expect(html).toContain('<meta name="viewport"');
    expect(html).toContain('12.34');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; room');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('Cafe &lt;b&gt;Lotus&lt;/b&gt;');
    expect(html).toContain('已支付但页面未跳转？立即查询');
    expect(html).toContain('id="timer"');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="https?:/); // nothing from elsewhere
    const order = ['wechat_native', 'alipay_page', 'alipay_qr'].map((m) => html.indexOf(`data-method="${m}"`));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(html).not.toContain('data-method="wechat_jsapi"');
    expect(html).toContain('支付宝扫码');
    expect(html).toContain('Alipay QR');
  });

  test('a missing or wrong token, another payment token, or an unknown payment answer a plain 404', async () => {
    const one = cashierOf(await created());
    const other = cashierOf(await created());
    const urls = [
      `${base}/cashier/${one.id}`,
      `${base}/cashier/${one.id}?t=`,
      `${base}/cashier/${one.id}?t=${'A'.repeat(22)}`,
      `${base}/cashier/${one.id}?t=${other.token}`,
      `${base}/cashier/${one.id}/status?t=${other.token}`,
      `${base}/cashier/pay_00000000000000000000000000?t=${cashierToken(secret_key, 'pay_00000000000000000000000000')}`,
    ];
    for (const url of urls) {
      const response = await fetch(url);
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('Not Found');
    }
    for (const route of ['pay', 'check']) {
      const response = await post(`${base}/cashier/${one.id}/${route}?t=${other.token}`, { method: 'alipay_qr' });
      expect(response.status).toBe(404);
    }
  });

  test('status answers the status and the seconds left', async () => {
    const payment = await created(world.merchant, { expire_seconds: 600 });
    const body = await statusOf(cashierOf(payment));
    expect(body.status).toBe('created');
    expect(body.expires_in).toBeGreaterThan(590);
    expect(body.expires_in).toBeLessThanOrEqual(600);
  });

  test('pay with alipay_qr answers the QR as SVG; the payer pays; status turns succeeded; the page shows success with the return link', async () => {
    const payment = await created(world.merchant, { return_url: 'https://shop.example/return?o=1' });
    const cashier = cashierOf(payment);
    const paid = await post(cashier.api('pay'), { method: 'alipay_qr' });
    expect(paid.status).toBe(200);
    const body = (await paid.json()) as any;
    expect(body.status).toBe('paying');
    expect(body.action.type).toBe('qr_code');
    expect(body.action.qr_code).toStartWith(world.sandboxUrl);
    expect(body.qr_svg).toContain('<svg');

    // A refreshed page shows the same QR, without opening another trade.
    const page = await (await fetch(cashier.page)).text();
    expect(page).toContain('<svg');
    const again = (await (await post(cashier.api('pay'), { method: 'alipay_qr' })).json()) as any;
    expect(again.action).toEqual(body.action);

    expect((await payerDecides(body.action.qr_code, 'pay')).status).toBe(200);
    await waitForStatus(cashier, 'succeeded');
    const success = await (await fetch(cashier.page)).text();
    expect(success).toContain('id="success"');
    expect(success).toContain('href="https://shop.example/return?o=1"');
    expect(success).not.toContain('data-method=');

    const late = await post(cashier.api('pay'), { method: 'alipay_qr' });
    expect(late.status).toBe(409);
    expect(((await late.json()) as any).error.code).toBe('invalid_state');
  });

  test('redirect methods answer a pay_url', async () => {
    const cashier = cashierOf(await created());
    const paid = await post(cashier.api('pay'), { method: 'alipay_page' });
    expect(paid.status).toBe(200);
    const body = (await paid.json()) as any;
    expect(body.action.type).toBe('redirect');
    expect(body.action.pay_url).toBeString();
    expect(body.qr_svg).toBeUndefined();
  });

  test('pay refuses bad requests and methods the merchant did not enable', async () => {
    const client = await MerchantClient.create(world.url, { methods: ['alipay_qr'] });
    const cashier = cashierOf(await created(client));
    const notEnabled = await post(cashier.api('pay'), { method: 'wechat_native' });
    expect(notEnabled.status).toBe(400);
    expect(((await notEnabled.json()) as any).error.code).toBe('unsupported_method');
    const unknown = await post(cashier.api('pay'), { method: 'cash' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).error.code).toBe('unsupported_method');
    const missing = await post(cashier.api('pay'), {});
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as any).error.code).toBe('invalid_request');
    const notJson = await fetch(cashier.api('pay'), { method: 'POST', body: 'method=alipay_qr' });
    expect(notJson.status).toBe(400);
  });

  test('check asks the channel and answers the status; a second check within the gap is rate limited', async () => {
    // The channel's notify is lost: only asking the channel finds the payment.
    const faults = `${world.sandboxUrl}/faults/wechatpay/${world.wechatpay.mchid}`;
    const put = await fetch(faults, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drop_notify_rate: 1 }) });
    expect(put.status).toBe(200);
    const payment = await created();
    const cashier = cashierOf(payment);
    const paid = (await (await post(cashier.api('pay'), { method: 'wechat_native' })).json()) as any;
    expect((await payerDecides(paid.action.qr_code, 'pay')).status).toBe(200);
    await Bun.sleep(300);
    expect((await statusOf(cashier)).status).toBe('paying');
    await fetch(faults, { method: 'DELETE' });
    const checked = await post(cashier.api('check'));
    expect(checked.status).toBe(200);
    expect(((await checked.json()) as any).status).toBe('succeeded');
    const again = await post(cashier.api('check'));
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await again.json()) as any).error.code).toBe('rate_limited');
    // Another payment has its own allowance.
    const other = await post(cashierOf(await created()).api('check'));
    expect(other.status).toBe(200);
    expect(((await other.json()) as any).status).toBe('created');
  });

  test('a closed order renders the expired page and cannot be paid', async () => {
    const payment = await created(world.merchant, { expire_seconds: 60 });
    const cashier = cashierOf(payment);
    expect((await world.merchant.call('POST', `/v1/payments/${payment.id}/close`)).status).toBe(200);
    await waitForPayment(world.merchant, payment.id, (p) => p.status === 'closed');
    expect((await statusOf(cashier)).status).toBe('closed');
    const html = await (await fetch(cashier.page)).text();
    expect(html).toContain('id="expired"');
    expect(html).not.toContain('data-method=');
    const paid = await post(cashier.api('pay'), { method: 'alipay_qr' });
    expect(paid.status).toBe(409);
  });
});

describe('the cashier link expires a day after its order does (a moved clock)', () => {
  const { world: moved, clock } = worldWithMovedClock();

  test('the expired page until then, a 404 after', async () => {
    const payment = (await moved.merchant.createPayment({ expire_seconds: 60 })).body;
    expect((await fetch(payment.cashier_url)).status).toBe(200);
    clock.advance(61_000);
    const expired = await fetch(payment.cashier_url);
    expect(expired.status).toBe(200);
    expect(await expired.text()).toContain('id="expired"');
    clock.advance(24 * 3_600_000);
    expect((await fetch(payment.cashier_url)).status).toBe(404);
  });
});
