/** The cashier over real HTTP: a paycenter (which mounts it at /cashier) and the channel sandbox (bootWorld). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { default_check_gap_ms } from '../../src/cashier/routes.tsx';
import { cashierToken } from '../../src/cashier/token.ts';
import { MerchantClient } from '../http/harness.ts';
import { type World, bootWorld, payerDecides, waitForPayment, worldWithMovedClock } from '../channels/world.ts';

/** API.md's error body, as every non-2xx JSON answer carries it. */
async function expectError(response: Response, status: number, code: string, field: string | null = null) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const body = (await response.json()) as any;
  expect(body).toEqual({ error: { code, message: expect.any(String), field, request_id: response.headers.get('x-request-id') } });
  return body.error as { code: string; message: string };
}

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

  test('a missing or wrong token, another payment token, or an unknown payment answer the same 404: a page for the page, the error body for JSON', async () => {
    const one = cashierOf(await created());
    const other = cashierOf(await created());
    const unknown = 'pay_00000000000000000000000000';
    const links = ['', '?t=', `?t=${'A'.repeat(22)}`, `?t=${other.token}`].map((query) => `${base}/cashier/${one.id}${query}`)
      .concat(`${base}/cashier/${unknown}?t=${cashierToken(secret_key, unknown)}`);
    const pages = await Promise.all(links.map(async (url) => {
      const response = await fetch(url);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain('text/html');
      return response.text();
    }));
    expect(pages[0]).toContain('id="not-found"');
    expect(new Set(pages).size).toBe(1);

    const routes = ['status', 'pay', 'check'];
    const answers = await Promise.all(routes.flatMap((route) => [
      route === 'status' ? fetch(`${base}/cashier/${one.id}/status?t=${other.token}`) : post(`${base}/cashier/${one.id}/${route}?t=${other.token}`, { method: 'alipay_qr' }),
      route === 'status' ? fetch(`${base}/cashier/${unknown}/status`) : post(`${base}/cashier/${unknown}/${route}`, { method: 'alipay_qr' }),
    ]));
    for (const response of answers) expect(response.headers.get('cache-control')).toBe('no-store');
    const errors = await Promise.all(answers.map((response) => expectError(response, 404, 'not_found')));
    expect(new Set(errors.map((e) => e.message)).size).toBe(1);
    // Nothing was started on the payment a wrong link named.
    expect((await world.merchant.call('GET', `/v1/payments/${one.id}`)).body.flows).toEqual([]);
  });

  test('the page allows its own inline script by hash, never any inline script', async () => {
    const response = await fetch(cashierOf(await created()).page);
    const policy = response.headers.get('content-security-policy')!;
    const scripts = [...(await response.text()).matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    const hash = createHash('sha256').update(scripts[0]!).digest('base64');
    expect(policy).toContain(`script-src 'sha256-${hash}';`);
    expect(policy.split('; ').find((d) => d.startsWith('script-src'))).not.toContain('unsafe-inline');
  });

  test('the page and its JSON routes are in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as any;
    expect(Object.keys(doc.paths).filter((path) => path.startsWith('/cashier/'))).toEqual(['/cashier/{id}', '/cashier/{id}/status', '/cashier/{id}/pay', '/cashier/{id}/check']);
    expect(doc.paths['/cashier/{id}/pay'].post.requestBody.content['application/json'].schema.required).toEqual(['method']);
  });

  test('status answers the status and the seconds left', async () => {
    const payment = await created(world.merchant, { expire_seconds: 600 });
    const body = await statusOf(cashierOf(payment));
    expect(body.status).toBe('created');
    expect(body.expires_in).toBeGreaterThan(590);
    expect(body.expires_in).toBeLessThanOrEqual(600);
  });

  test('pay with alipay_qr answers as /v1 pay (the payment object and action) plus the QR as SVG; the payer pays; the page shows success with the return link', async () => {
    const payment = await created(world.merchant, { return_url: 'https://shop.example/return?o=1' });
    const cashier = cashierOf(payment);
    const paid = await post(cashier.api('pay'), { method: 'alipay_qr' });
    expect(paid.status).toBe(200);
    expect(paid.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(paid.headers.get('cache-control')).toBe('no-store');
    const { action, qr_svg, ...rest } = (await paid.json()) as any;
    const { notify_url, metadata, risk, ...payerSees } = (await world.merchant.call('GET', `/v1/payments/${payment.id}`)).body;
    expect(rest).toEqual(payerSees);
    expect(rest.status).toBe('paying');
    expect(rest.flows).toHaveLength(1);
    expect(action).toEqual({ type: 'qr_code', qr_code: expect.stringMatching(/^http/), pay_url: null });
    expect(action.qr_code).toStartWith(world.sandboxUrl);
    expect(qr_svg).toContain('<svg');

    // A refreshed page shows the same QR, without opening another trade.
    const page = await (await fetch(cashier.page)).text();
    expect(page).toContain('<svg');

    expect((await payerDecides(action.qr_code, 'pay')).status).toBe(200);
    expect((await waitForStatus(cashier, 'succeeded')).expires_in).toBe(0);
    const success = await (await fetch(cashier.page)).text();
    expect(success).toContain('id="success"');
    expect(success).toContain('href="https://shop.example/return?o=1"');
    expect(success).not.toContain('data-method=');
  });

  test('the pay answer leaves out what the merchant keeps for itself: notify_url, metadata and risk', async () => {
    const payment = await created(world.merchant, { notify_url: 'https://merchant.example/notify?key=s3cret-key', metadata: { internal_cost: 'cost-42' } });
    const paid = await post(cashierOf(payment).api('pay'), { method: 'alipay_qr' });
    expect(paid.status).toBe(200);
    const { qr_svg, ...body } = (await paid.json()) as any;
    expect(Object.keys(body)).not.toContainAnyValues(['notify_url', 'metadata', 'risk']);
    expect(JSON.stringify(body)).not.toMatch(/s3cret-key|cost-42/);
    expect(body).toMatchObject({ id: payment.id, status: 'paying', action: { type: 'qr_code' } });
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

  test('pay refuses bad requests and methods the merchant did not enable with API.md error bodies', async () => {
    const client = await MerchantClient.create(world.url, { methods: ['alipay_qr'] });
    const cashier = cashierOf(await created(client));
    await expectError(await post(cashier.api('pay'), { method: 'wechat_native' }), 400, 'unsupported_method', 'method');
    await expectError(await post(cashier.api('pay'), { method: 'cash' }), 400, 'unsupported_method', 'method');
    expect((await expectError(await post(cashier.api('pay'), {}), 400, 'invalid_request', 'method')).message).toBe('method is required');
    expect((await expectError(await post(cashier.api('pay'), { method: 7 }), 400, 'invalid_request', 'method')).message).toBe('method must be string');
    expect((await expectError(await post(cashier.api('pay'), { method: 'alipay_qr', parts: [] }), 400, 'invalid_request', 'parts')).message)
      .toBe('parts is not a known field');
    const notJson = await fetch(cashier.api('pay'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'method=alipay_qr' });
    expect((await expectError(notJson, 400, 'invalid_request', 'body')).message).toBe('body must be JSON (Content-Type: application/json)');
    const malformed = await fetch(cashier.api('pay'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"method":' });
    await expectError(malformed, 400, 'invalid_request', 'body');
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
    await expectError(again, 429, 'rate_limited');
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another payment has its own allowance.
    const other = await post(cashierOf(await created()).api('check'));
    expect(other.status).toBe(200);
    expect(((await other.json()) as any).status).toBe('created');
  });

  test('"check now" stays disabled for the server\'s own gap between checks, rendered from the same constant', async () => {
    const html = await (await fetch(cashierOf(await created()).page)).text();
    expect(html).toContain(`data-check-gap-ms="${default_check_gap_ms}"`);
    expect(html).toContain("var checkGapMs=Number(root.getAttribute('data-check-gap-ms'))");
    expect(html).toContain('setTimeout(function(){check.disabled=false;},checkGapMs)');
  });

  test('a closed order renders the expired page and cannot be paid', async () => {
    const payment = await created(world.merchant, { expire_seconds: 60 });
    const cashier = cashierOf(payment);
    expect((await world.merchant.call('POST', `/v1/payments/${payment.id}/close`)).status).toBe(200);
    await waitForPayment(world.merchant, payment.id, (p) => p.status === 'closed');
    expect(await statusOf(cashier)).toMatchObject({ status: 'closed', expires_in: 0 });
    const html = await (await fetch(cashier.page)).text();
    expect(html).toContain('id="expired"');
    expect(html).not.toContain('data-method=');
    expect(html).not.toContain('id="check"');
    await expectError(await post(cashier.api('pay'), { method: 'alipay_qr' }), 409, 'invalid_state');
  });
});

describe('cashier pay is rate limited per payment (a moved clock)', () => {
  const { world: moved, clock } = worldWithMovedClock();
  const payAt = (payment: { id: string }, method: string) =>
    post(`${moved.url}/cashier/${payment.id}/pay?t=${cashierToken(secret_key, payment.id)}`, { method });

  test('a second pay within the gap is refused with 429 and Retry-After, opening no trade; after the gap it goes', async () => {
    const payment = (await moved.merchant.createPayment()).body;
    const first = await payAt(payment, 'alipay_qr');
    expect(first.status).toBe(200);
    const { action } = (await first.json()) as any;

    const switched = await payAt(payment, 'wechat_native');
    await expectError(switched, 429, 'rate_limited');
    expect(Number(switched.headers.get('retry-after'))).toBe(3);
    expect(switched.headers.get('cache-control')).toBe('no-store');
    expect((await moved.merchant.call('GET', `/v1/payments/${payment.id}`)).body.flows).toHaveLength(1);
    clock.advance(2_000);
    expect(Number((await payAt(payment, 'wechat_native')).headers.get('retry-after'))).toBe(1);

    // Other payments have their own allowance.
    expect((await payAt((await moved.merchant.createPayment()).body, 'alipay_qr')).status).toBe(200);

    // Asking again for the same method answers the trade already open.
    clock.advance(1_000);
    const again = await payAt(payment, 'alipay_qr');
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).action).toEqual(action);
    clock.advance(3_000);
    const other = await payAt(payment, 'wechat_native');
    expect(other.status).toBe(200);
    expect(((await other.json()) as any).flows.map((f: any) => f.method)).toEqual(['alipay_qr', 'wechat_native']);
  });

  test('a pay refused before it opened anything does not hold the gate: the payer pays another way at once', async () => {
    const client = await MerchantClient.create(moved.url, { methods: ['alipay_qr', 'balance'] });
    expect((await client.call('POST', '/v1/balances/u_short/credits', { credit_no: 'C1', amount: '10.00' })).status).toBe(201);
    const payment = (await client.createPayment({ user_id: 'u_short' })).body;
    await expectError(await payAt(payment, 'balance'), 422, 'insufficient_balance', 'method');
    const other = await payAt(payment, 'alipay_qr');
    expect(other.status).toBe(200);
    expect(((await other.json()) as any).flows.map((f: any) => f.method)).toEqual(['alipay_qr']);
    // The pay that opened a trade holds the gate as before.
    await expectError(await payAt(payment, 'alipay_page'), 429, 'rate_limited');
  });

  test('pays racing each other still pass the gate one at a time', async () => {
    const payment = (await moved.merchant.createPayment()).body;
    const answers = await Promise.all(['alipay_qr', 'wechat_native', 'alipay_page'].map((method) => payAt(payment, method)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 429, 429]);
    expect((await moved.merchant.call('GET', `/v1/payments/${payment.id}`)).body.flows).toHaveLength(1);
  });

  test('a paid order answers invalid_state once the gap has passed', async () => {
    const payment = (await moved.merchant.createPayment()).body;
    const { action } = (await (await payAt(payment, 'alipay_qr')).json()) as any;
    expect((await payerDecides(action.qr_code, 'pay')).status).toBe(200);
    await waitForPayment(moved.merchant, payment.id, (p) => p.status === 'succeeded');
    clock.advance(3_000);
    await expectError(await payAt(payment, 'alipay_qr'), 409, 'invalid_state');
  });
});

describe('the cashier past its order\'s deadline (a moved clock)', () => {
  const { world: moved, clock } = worldWithMovedClock();

  // Before the test that moves the clock a day: a merchant's signed request must stay within its window.
  test('past its deadline but not closed yet, the expired page keeps "check now": a payment made at the last second can still be found', async () => {
    const payment = (await moved.merchant.createPayment({ expire_seconds: 60 })).body;
    clock.advance(61_000);
    const status = await (await fetch(`${moved.url}/cashier/${payment.id}/status?t=${cashierToken(secret_key, payment.id)}`)).json();
    expect(status).toMatchObject({ status: 'created', expires_in: 0 });
    const html = await (await fetch(payment.cashier_url)).text();
    expect(html).toContain('id="expired"');
    expect(html).toContain('id="check"');
  });

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
