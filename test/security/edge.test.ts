/**
 * The HTTP-edge attacks of issue #11 (items 1, 4–8, 10, 11), run from outside against the real
 * paycenter over HTTP, with the channel sandbox: each test is the attack and the behaviour that
 * must hold. Requests from other source addresses use other loopback addresses (127.0.0.2, …),
 * so per-address limits are seen as a second client would see them. The clock is moved by hand.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { openSqliteDatabase } from '../../src/store/sqlite-batch.ts';
import { lookup } from 'node:dns/promises';
import { request } from 'node:http';
import { hostname } from 'node:os';
import { ManualClock } from '../../src/clock.ts';
import { requestSignature } from '../../src/http/signature.ts';
import { classifyAddress } from '../../src/net/outbound.ts';
import { bootWorld, type World } from '../channels/world.ts';
import { createSandbox } from '../../src/sandbox/sandbox.ts';
import { freePort } from '../harness/services.ts';
import { type Booted, MerchantClient, adminCall, admin_token, bootPaycenter, tableCounts } from '../http/harness.ts';
import { type AlipayCreds, alipayCall, startReceiver } from '../sandbox/helpers.ts';

const metrics_token = 'metrics_0123456789abcdef';
const limits = { perAddressBurst: 5, perChannelBurst: 8 };
/** A reverse proxy in front of paycenter, as TRUSTED_PROXIES names it. */
const trusted_proxy = '127.0.0.20';

const clock = new ManualClock(Date.now());
let world: World;

beforeAll(async () => {
  world = await bootWorld('sqlite', { clock, manualTicker: true }, {
    OUTBOUND_ALLOW_PRIVATE: '0', METRICS_TOKEN: metrics_token,
    CALLBACK_RATE_PER_ADDRESS_PER_S: '1', CALLBACK_BURST_PER_ADDRESS: String(limits.perAddressBurst),
    CALLBACK_RATE_PER_CHANNEL_PER_S: '1', CALLBACK_BURST_PER_CHANNEL: String(limits.perChannelBurst),
    TRUSTED_PROXIES: trusted_proxy,
  });
});

afterAll(async () => {
  await world?.stop();
});

type Raw = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** One request over a socket bound to `from` (another loopback address: another client). */
function fromAddress(from: string, method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<Raw> {
  const target = new URL(world.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: Number(target.port), path, method, headers, localAddress: from }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function query<T>(sql: string, ...params: Array<string | number>): T[] {
  const db = new Database(world.booted.databaseUrl.slice('sqlite:'.length), { readonly: true });
  const rows = db.query(sql).all(...params) as T[];
  db.close();
  return rows;
}

const metricValue = async (name: string, labels: string) => {
  const text = await (await fetch(`${world.url}/metrics`, { headers: { authorization: `Bearer ${metrics_token}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
};

const form = { 'content-type': 'application/x-www-form-urlencoded' };
/** Callback buckets refill at 1/s: this long restores every burst. */
const refill = () => clock.advance(30_000);

describe('1. the open callback route', () => {
  test('a callback for no channel (or the wrong provider) is refused unread, stores nothing, and is counted', async () => {
    refill();
    const before = (await tableCounts(world.booted.databaseUrl)).callback_log;
    const counted = await metricValue('paycenter_callbacks_refused_total', 'reason="unknown_channel"');
    for (const route of ['alipay/nobody', 'wechatpay/alipay_main']) {
      const answer = await fetch(`${world.url}/callbacks/${route}`, { method: 'POST', headers: form, body: `pad=${'x'.repeat(200_000)}` });
      expect(answer.status).toBe(404);
      expect(((await answer.json()) as any).code).toBe('FAIL');
    }
    expect((await tableCounts(world.booted.databaseUrl)).callback_log).toBe(before);
    expect(await metricValue('paycenter_callbacks_refused_total', 'reason="unknown_channel"')).toBe(counted + 2);
  });

  test('a callback that does not verify keeps only the first 4 KiB of its body, and says so', async () => {
    refill();
    const answer = await fetch(`${world.url}/callbacks/alipay/alipay_main`, { method: 'POST', headers: form, body: `notify_id=1&pad=${'y'.repeat(100_000)}` });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toBe('failure');
    const [row] = query<{ body: string; verified: number; outcome: string }>('SELECT body, verified, outcome FROM callback_log ORDER BY id DESC LIMIT 1');
    expect(row!.verified).toBe(0);
    expect(row!.body).toHaveLength(4096);
    expect(row!.outcome).toContain('body kept truncated: first 4096 of 100016 bytes');
  });

  test('callbacks are limited per source address, and then per channel, in the provider’s format', async () => {
    refill();
    const post = (from: string, route: string) => fromAddress(from, 'POST', `/callbacks/${route}`, form, 'notify_id=2');
    const first = await Promise.all(Array.from({ length: limits.perAddressBurst + 1 }, () => post('127.0.0.2', 'alipay/alipay_main')));
    expect(first.map((r) => r.status).sort()).toEqual([...Array(limits.perAddressBurst).fill(400), 429]);
    // Another address still gets in, until the channel's own limit.
    const second = await Promise.all(Array.from({ length: limits.perChannelBurst - limits.perAddressBurst + 1 }, () => post('127.0.0.3', 'alipay/alipay_main')));
    expect(second.map((r) => r.status).sort()).toEqual([...Array(limits.perChannelBurst - limits.perAddressBurst).fill(400), 429]);
    expect(second.find((r) => r.status === 429)!.body).toBe('failure');
    // Another channel is not held back by this one's flood.
    expect((await post('127.0.0.4', 'wechatpay/wechat_main')).status).toBe(400); // refused by its adapter: it was let in
    expect(await metricValue('paycenter_callbacks_refused_total', 'reason="address_rate_limited"')).toBeGreaterThanOrEqual(1);
    expect(await metricValue('paycenter_callbacks_refused_total', 'reason="channel_rate_limited"')).toBeGreaterThanOrEqual(1);
    refill();
    expect((await post('127.0.0.2', 'alipay/alipay_main')).status).toBe(400);
  });
});

describe('4. a nonce is spent by any request that passed authentication', () => {
  test('a create refused for its method, replayed byte for byte after the method is enabled, is a replay', async () => {
    const merchant = await MerchantClient.create(world.url, { methods: ['wechat_native'] });
    const body = JSON.stringify({ merchant_order_no: 'REPLAY-1', amount: '10.00', subject: 'Replay', method: 'alipay_qr' });
    const signed = { nonce: 'replay-nonce-1', timestamp: Math.floor(clock.now() / 1000) };
    const refused = await merchant.call('POST', '/v1/payments', body, signed);
    expect(refused.body.error.code).toBe('unsupported_method');
    expect((await adminCall(world.url, 'PATCH', `/admin/merchants/${merchant.merchantId}`, { methods: ['alipay_qr', 'wechat_native'] })).status).toBe(200);
    const replayed = await merchant.call('POST', '/v1/payments', body, signed);
    expect(replayed.status).toBe(401);
    expect(replayed.body.error.code).toBe('replayed_request');
    expect((await merchant.call('GET', '/v1/payments?merchant_order_no=REPLAY-1')).status).toBe(404);
  });

  test('a request refused because its merchant was disabled is a replay once the merchant is enabled again', async () => {
    const merchant = await MerchantClient.create(world.url);
    await adminCall(world.url, 'PATCH', `/admin/merchants/${merchant.merchantId}`, { status: 'disabled' });
    const body = JSON.stringify({ merchant_order_no: 'REPLAY-2', amount: '10.00', subject: 'Replay' });
    const signed = { nonce: 'replay-nonce-2', timestamp: Math.floor(clock.now() / 1000) };
    expect((await merchant.call('POST', '/v1/payments', body, signed)).body.error.code).toBe('merchant_disabled');
    await adminCall(world.url, 'PATCH', `/admin/merchants/${merchant.merchantId}`, { status: 'enabled' });
    expect((await merchant.call('POST', '/v1/payments', body, signed)).body.error.code).toBe('replayed_request');
  });

  test('a create that fails validation spends its nonce too; a good create still spends it once', async () => {
    const signed = { nonce: 'replay-nonce-3', timestamp: Math.floor(clock.now() / 1000) };
    const bad = JSON.stringify({ merchant_order_no: 'REPLAY-3', amount: '10.00' });
    expect((await world.merchant.call('POST', '/v1/payments', bad, signed)).body.error.code).toBe('invalid_request');
    expect((await world.merchant.call('POST', '/v1/payments', bad, signed)).body.error.code).toBe('replayed_request');
    const good = { nonce: 'replay-nonce-4', timestamp: signed.timestamp };
    expect((await world.merchant.createPayment({}, good)).status).toBe(201);
    expect((await world.merchant.createPayment({}, good)).body.error.code).toBe('replayed_request');
  });
});

describe('5. merchant URLs cannot aim paycenter at internal addresses', () => {
  const internal = [
    'http://169.254.169.254/latest/meta-data', 'http://100.100.100.200/', 'http://[fe80::1]/', 'http://[::ffff:a9fe:a9fe]/',
    'http://0.0.0.0:8080/', 'http://2130706433/', 'http://127.1/', 'http://0x7f.0.0.1/', 'http://10.0.0.8/', 'http://192.168.1.1/',
    'http://[::1]/', 'http://localhost:3000/', 'http://[fd00:ec2::254]/', 'https://user:pw@example.com/',
  ];

  test.each(internal)('notify_url and return_url %p are refused at validation, naming the field', async (url) => {
    for (const field of ['notify_url', 'return_url']) {
      const answer = await world.merchant.createPayment({ [field]: url });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'invalid_request', field });
    }
  });

  test('the operator routes refuse them alike', async () => {
    const created = await adminCall(world.url, 'POST', '/admin/merchants', { name: 'SSRF', notify_url: 'http://[::ffff:a9fe:a9fe]/' });
    expect(created.body.error).toMatchObject({ code: 'invalid_request', field: 'notify_url' });
    const changed = await adminCall(world.url, 'PATCH', `/admin/merchants/${world.merchant.merchantId}`, { notify_url: 'http://2130706433/' });
    expect(changed.body.error).toMatchObject({ code: 'invalid_request', field: 'notify_url' });
  });

  test('a public URL is accepted', async () => {
    expect((await world.merchant.createPayment({ notify_url: 'https://merchant.example.com/notify', return_url: 'https://merchant.example.com/done' })).status).toBe(201);
  });

  test('a name that resolves to an internal address is refused when paycenter connects: nothing is sent', async () => {
    const name = hostname();
    const [resolved] = await lookup(name, { all: true });
    expect(['loopback', 'private']).toContain(classifyAddress(resolved!.address) ?? 'name');
    const receiver = startReceiver(() => new Response('ok'));
    try {
      const notifyUrl = `http://${name}:${new URL(receiver.url).port}/notify`;
      const created = await world.merchant.createPayment({ notify_url: notifyUrl });
      expect(created.status).toBe(201);
      expect((await world.merchant.call('POST', `/v1/payments/${created.body.id}/close`)).status).toBe(200);
      expect(await world.booted.paycenter.delivery.tick()).toBeGreaterThan(0);
      expect(receiver.received).toHaveLength(0);
      const attempts = query<{ error: string }>(
        'SELECT a.error FROM notification_attempts a JOIN merchant_events e ON e.id = a.event_id WHERE e.order_id = ?', created.body.id,
      );
      expect(attempts[0]!.error).toContain(`resolves to ${resolved!.address}`);
    } finally {
      await receiver.stop();
    }
  });
});

describe('6. signatures cover the request target as sent', () => {
  test('a path with dot segments is refused as not canonical, whichever spelling was signed', async () => {
    const created = await world.merchant.createPayment();
    const id = created.body.id as string;
    for (const path of [`/v1/./payments/${id}`, `/v1/payments/x/../${id}`, `/v1/%2e/payments/${id}`]) {
      for (const signedAs of [path, `/v1/payments/${id}`]) {
        const answer = await rawSigned('GET', path, signedAs);
        expect(answer.status).toBe(400);
        expect(JSON.parse(answer.body).error.code).toBe('invalid_request');
      }
    }
    expect((await rawSigned('GET', `/v1/payments/${id}`, `/v1/payments/${id}`)).status).toBe(200);
  });
});

describe('7. operators sign in for a session, not with the token', () => {
  const signIn = (from: string, token: string) =>
    fromAddress(from, 'POST', '/admin/login', form, new URLSearchParams({ token }).toString());
  const cookieOf = (answer: Raw) => String(answer.headers['set-cookie'] ?? '').split(';')[0]!;

  test('the cookie is a random session id (HttpOnly, SameSite=Strict), revoked by sign-out', async () => {
    const answer = await signIn('127.0.0.6', admin_token);
    expect(answer.status).toBe(303);
    const cookie = cookieOf(answer);
    expect(cookie).not.toContain(admin_token);
    expect(String(answer.headers['set-cookie'])).toContain('HttpOnly');
    expect(String(answer.headers['set-cookie'])).toContain('SameSite=Strict');
    expect(String(answer.headers['set-cookie'])).not.toContain('Secure'); // PUBLIC_URL is http here
    expect((await fromAddress('127.0.0.6', 'GET', '/admin/machines', { cookie })).status).toBe(200);
    expect((await fromAddress('127.0.0.6', 'POST', '/admin/logout', { cookie })).status).toBe(303);
    expect((await fromAddress('127.0.0.6', 'GET', '/admin/machines', { cookie })).status).toBe(401);
  });

  test('the raw token as a cookie opens nothing', async () => {
    expect((await fromAddress('127.0.0.6', 'GET', '/admin/machines', { cookie: `paycenter_admin=${admin_token}` })).status).toBe(401);
  });

  test('a session expires, and DELETE /admin/sessions revokes every session', async () => {
    const expiring = cookieOf(await signIn('127.0.0.6', admin_token));
    const revoked = cookieOf(await signIn('127.0.0.6', admin_token));
    clock.advance(8 * 3_600_000);
    expect((await fromAddress('127.0.0.6', 'GET', '/admin/machines', { cookie: expiring })).status).toBe(401);
    clock.advance(-8 * 3_600_000);
    expect((await fromAddress('127.0.0.6', 'GET', '/admin/machines', { cookie: revoked })).status).toBe(200);
    expect((await adminCall(world.url, 'DELETE', '/admin/sessions')).status).toBe(204);
    expect((await fromAddress('127.0.0.6', 'GET', '/admin/machines', { cookie: revoked })).status).toBe(401);
  });

  test('failed sign-ins are limited per address: after 10, even the right token waits; other addresses do not', async () => {
    for (let i = 0; i < 10; i++) expect((await signIn('127.0.0.7', `wrong-${i}`)).status).toBe(401);
    const blocked = await signIn('127.0.0.7', admin_token);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    const bearer = await fromAddress('127.0.0.7', 'GET', '/admin/channels', { authorization: `Bearer ${admin_token}` });
    expect(bearer.status).toBe(429);
    expect((await signIn('127.0.0.8', admin_token)).status).toBe(303);
  });

  test('behind a trusted proxy they count by the address it forwards: one caller locked out is not every operator', async () => {
    const viaProxy = (client: string, token: string) =>
      fromAddress(trusted_proxy, 'POST', '/admin/login', { ...form, 'x-forwarded-for': `10.9.9.9, ${client}` }, new URLSearchParams({ token }).toString());
    for (let i = 0; i < 10; i++) expect((await viaProxy('203.0.113.1', `wrong-${i}`)).status).toBe(401);
    expect((await viaProxy('203.0.113.1', admin_token)).status).toBe(429);
    expect((await viaProxy('203.0.113.2', admin_token)).status).toBe(303);
  });

  test('X-Forwarded-For from a peer that is not a trusted proxy changes nothing', async () => {
    for (let i = 0; i < 10; i++) {
      const forged = { ...form, 'x-forwarded-for': `203.0.113.${100 + i}` };
      expect((await fromAddress('127.0.0.21', 'POST', '/admin/login', forged, `token=wrong-${i}`)).status).toBe(401);
    }
    expect((await fromAddress('127.0.0.21', 'POST', '/admin/login', { ...form, 'x-forwarded-for': '203.0.113.99' }, `token=${admin_token}`)).status).toBe(429);
  });

  test('wrong bearer tokens count as failed sign-ins', async () => {
    for (let i = 0; i < 10; i++) expect((await fromAddress('127.0.0.9', 'GET', '/admin/channels', { authorization: `Bearer wrong-${i}` })).status).toBe(401);
    expect((await fromAddress('127.0.0.9', 'GET', '/admin/channels', { authorization: `Bearer ${admin_token}` })).status).toBe(429);
  });
});

function expectStrict(headers: Headers): void {
  expect(headers.get('content-type')).toStartWith('text/html');
  expect(headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  expect(headers.get('content-security-policy')).toContain("default-src 'none'");
  expect(headers.get('x-content-type-options')).toBe('nosniff');
}

describe('8. every HTML page has a strict policy', () => {
  test('login, console, chart, timeline and docs pages', async () => {
    const session = String((await fromAddress('127.0.0.10', 'POST', '/admin/login', form, `token=${admin_token}`)).headers['set-cookie']).split(';')[0]!;
    const payment = await world.merchant.createPayment();
    for (const path of ['/admin/login', '/admin', '/admin/machines', `/admin/payments/${payment.body.id}/timeline`, '/docs']) {
      const answer = await fetch(world.url + path, { headers: { cookie: session, accept: 'text/html' } });
      expect(answer.status).toBe(200);
      expectStrict(answer.headers);
      await answer.arrayBuffer();
    }
  });

  test('JSON answers are nosniff too', async () => {
    expect((await fetch(`${world.url}/healthz`)).headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('8. the sandbox (as `bun dev` mounts it), behind https', () => {
  let mounted: Booted;
  let sandbox: ReturnType<typeof createSandbox>;

  beforeAll(async () => {
    const port = await freePort();
    sandbox = createSandbox({ baseUrl: `http://127.0.0.1:${port}/sandbox` });
    // Served over plain HTTP here, but announced as https (as behind a TLS proxy): cookies must be Secure.
    mounted = await bootPaycenter('sqlite', { PORT: String(port), PUBLIC_URL: 'https://pay.example.test' }, { mounts: [{ path: '/sandbox', app: sandbox.app }] });
  });

  afterAll(async () => {
    await mounted?.stop();
    await sandbox?.stop();
  });

  test('7. behind https, the session cookie is Secure', async () => {
    const answer = await fetch(`${mounted.url}/admin/login`, { method: 'POST', headers: form, body: `token=${admin_token}`, redirect: 'manual' });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('set-cookie')).toContain('Secure');
  });

  test('renders a return_url as a link only when it is http(s), and its pages carry a strict policy of their own', async () => {
    const creds = (await (await fetch(`${mounted.url}/sandbox/alipay/apps`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).json()) as AlipayCreds;
    for (const [returnUrl, linked] of [['javascript:alert(document.domain)', false], ['https://merchant.example/done', true]] as const) {
      const biz = { out_trade_no: `JS-${linked}`, total_amount: '1.00', subject: 'x' };
      const created = await alipayCall(creds, 'alipay.trade.precreate', biz, { return_url: returnUrl });
      const paid = await fetch(created.data.qr_code!, { method: 'POST', headers: form, body: 'outcome=pay' });
      const page = await paid.text();
      expect(page).toContain('TRADE_SUCCESS');
      expect(page.includes('javascript:')).toBe(false);
      expect(page.includes('href="https://merchant.example/done"')).toBe(linked);
      // The sandbox's own policy (it plays providers' pages): its inline handlers by hash, no framing.
      expect(paid.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(paid.headers.get('content-security-policy')).toMatch(/script-src 'unsafe-hashes' 'sha256-[^']+' 'sha256-[^']+';/);
      expect(paid.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });
});

describe('10. duplicate JSON keys', () => {
  test('a repeated amount is refused naming the key; nothing is created', async () => {
    const before = (await tableCounts(world.booted.databaseUrl)).orders;
    const body = '{"merchant_order_no":"DUP-1","amount":"1.00","subject":"Dup","amount":"99999.00"}';
    const answer = await world.merchant.call('POST', '/v1/payments', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'invalid_request', field: 'amount' });
    expect((await tableCounts(world.booted.databaseUrl)).orders).toBe(before);
  });

  test('at any depth, and in operator routes', async () => {
    const nested = '{"merchant_order_no":"DUP-2","amount":"1.00","subject":"Dup","metadata":{"k":1,"\\u006b":2}}';
    expect((await world.merchant.call('POST', '/v1/payments', nested)).body.error).toMatchObject({ code: 'invalid_request', field: 'metadata.k' });
    const admin = await fetch(`${world.url}/admin/merchants`, {
      method: 'POST', headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json' }, body: '{"name":"a","name":"b"}',
    });
    expect(((await admin.json()) as any).error).toMatchObject({ code: 'invalid_request', field: 'name' });
  });
});

describe('11. /metrics', () => {
  test('asks for METRICS_TOKEN when one is set', async () => {
    expect((await fetch(`${world.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${world.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const answer = await fetch(`${world.url}/metrics`, { headers: { authorization: `Bearer ${metrics_token}` } });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('paycenter_callbacks_refused_total');
  });
});

describe('1. callback log retention', () => {
  test('refused callbacks past retention are purged; a callback of an order still open is kept', async () => {
    refill();
    const lastId = async () => {
      const answer = await fetch(`${world.url}/callbacks/alipay/alipay_main`, { method: 'POST', headers: form, body: 'notify_id=old' });
      expect(answer.status).toBe(400);
      return query<{ id: string }>('SELECT id FROM callback_log ORDER BY id DESC LIMIT 1')[0]!.id;
    };
    const refusedId = await lastId();
    const keptId = await lastId();
    const open = await world.merchant.createPayment({ method: 'alipay_qr' });
    expect(open.status).toBe(201);
    // The second stands for a verified callback of that open order (paying at the channel), as the store records one.
    const db = openSqliteDatabase(world.booted.databaseUrl.slice('sqlite:'.length));
    db.run('UPDATE callback_log SET verified = 1, order_id = ? WHERE id = ?', [open.body.id, keptId]);
    db.close();
    clock.advance(91 * 86_400_000);
    expect(await world.booted.paycenter.retention.purge()).toBeGreaterThanOrEqual(1);
    const left = new Set(query<{ id: string }>('SELECT id FROM callback_log').map((r) => r.id));
    expect(left.has(refusedId)).toBe(false);
    expect(left.has(keptId)).toBe(true);
  });
});

/** A signed GET sent over a raw socket (fetch would resolve the dot segments before sending). */
async function rawSigned(method: string, path: string, signedAs: string): Promise<Raw> {
  const timestamp = String(Math.floor(clock.now() / 1000));
  const nonce = crypto.randomUUID();
  const signature = requestSignature(world.merchant.secret, method, signedAs, timestamp, nonce, '');
  const authorization = `PAYC-HMAC-SHA256 merchant_id="${world.merchant.merchantId}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"`;
  return fromAddress('127.0.0.1', method, path, { authorization });
}
