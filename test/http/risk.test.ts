/**
 * The risk center over real HTTP on SQLite: every admin route's contract, the risk_rejected
 * answer (and that a refusal writes nothing), review decisions on the payment object and the
 * timeline, exact limits under 50 concurrent creates, and the China-time day rollover.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/clock.ts';
import { freshDatabase } from '../store/stores.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter, startInstance, tableCounts } from './harness.ts';

const rule = (code: string, kind: string, params: object, extra: object = {}) => ({ code, kind, action: 'reject', params, ...extra });

describe('risk admin routes and decisions (sqlite)', () => {
  let booted: Booted;
  let merchant: MerchantClient;
  const admin = (method: string, path: string, body?: unknown) => adminCall(booted.url, method, `/admin/risk${path}`, body);
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
    merchant = await MerchantClient.create(booted.url, { methods: ['alipay_qr'] });
  }, 60_000);
  afterAll(() => booted.stop(), 60_000);

  test('a production start has no rules and the default thresholds', async () => {
    expect((await admin('GET', '/rules')).body).toEqual({ data: [] });
    expect((await admin('GET', '/settings')).body).toEqual({ review_at: 50, reject_at: 80 });
  });

  test('rules: create, read, list, change, delete — and the refusals of each', async () => {
    expect((await adminCall(booted.url, 'GET', '/admin/risk/rules', undefined, 'wrong')).body.error.code).toBe('unauthenticated');
    const created = await admin('POST', '/rules', rule('user_daily_cny', 'limit', { subject: 'user', period: 'day', amount: '5000.00' }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      code: 'user_daily_cny', kind: 'limit', action: 'reject', score: 0, status: 'enabled', params: { subject: 'user', period: 'day', amount: '5000.00' },
    });
    const again = await admin('POST', '/rules', rule('user_daily_cny', 'velocity', { subject: 'user', count: 1, window_s: 1 }));
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'order_conflict', field: 'code' });
    const badParams = await admin('POST', '/rules', rule('bad', 'limit', { subject: 'user', period: 'day', amount: '5000' }));
    expect(badParams.status).toBe(400);
    expect(badParams.body.error).toMatchObject({ code: 'invalid_request', field: 'params.amount' });
    expect((await admin('POST', '/rules', rule('bad', 'nonsense', {}))).body.error).toMatchObject({ code: 'invalid_request', field: 'kind' });
    expect((await admin('POST', '/rules', rule('Bad Code', 'blacklist', { subjects: ['user'] }))).body.error.field).toBe('code');

    expect((await admin('GET', '/rules/user_daily_cny')).body.code).toBe('user_daily_cny');
    expect((await admin('GET', '/rules')).body.data.map((r: any) => r.code)).toEqual(['user_daily_cny']);
    expect((await admin('GET', '/rules/nope')).status).toBe(404);

    const disabled = await admin('PATCH', '/rules/user_daily_cny', { status: 'disabled' });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ status: 'disabled', params: { amount: '5000.00' } });
    expect((await admin('PATCH', '/rules/user_daily_cny', { params: { subject: 'nobody' } })).body.error.field).toBe('params.subject');
    expect((await admin('PATCH', '/rules/user_daily_cny', { kind: 'velocity' })).body.error).toMatchObject({ code: 'invalid_request', field: 'kind' });
    expect((await admin('PATCH', '/rules/nope', { status: 'enabled' })).status).toBe(404);

    const deleted = await admin('DELETE', '/rules/user_daily_cny');
    expect(deleted.status).toBe(204);
    expect((await admin('DELETE', '/rules/user_daily_cny')).status).toBe(404);
    expect((await admin('GET', '/rules/user_daily_cny')).status).toBe(404);
  });

  test('lists: add (an ip may be a CIDR range), list by subject, remove', async () => {
    const user = await admin('POST', '/lists', { subject: 'user', value: 'fraudster', reason: 'chargebacks' });
    expect(user.status).toBe(201);
    expect(user.body).toMatchObject({ subject: 'user', value: 'fraudster', reason: 'chargebacks' });
    expect(user.body.id).toStartWith('rsk_');
    expect((await admin('POST', '/lists', { subject: 'ip', value: '10.0.0.0/8' })).status).toBe(201);
    expect((await admin('POST', '/lists', { subject: 'ip', value: '2001:db8::/32' })).status).toBe(201);
    const badIp = await admin('POST', '/lists', { subject: 'ip', value: '10.0.0.0/33' });
    expect(badIp.body.error).toMatchObject({ code: 'invalid_request', field: 'value' });
    expect((await admin('POST', '/lists', { subject: 'card', value: 'x' })).body.error.field).toBe('subject');
    expect((await admin('GET', '/lists?subject=ip')).body.data.map((e: any) => e.value)).toEqual(['10.0.0.0/8', '2001:db8::/32']);
    expect((await admin('GET', '/lists?subject=card')).status).toBe(400);
    expect((await admin('GET', '/lists')).body.data).toHaveLength(3);
    expect((await admin('DELETE', `/lists/${user.body.id}`)).status).toBe(204);
    expect((await admin('DELETE', `/lists/${user.body.id}`)).status).toBe(404);
    for (const entry of (await admin('GET', '/lists')).body.data) await admin('DELETE', `/lists/${entry.id}`);
  });

  /** How often this instance read its rules, lists and settings whole. */
  const reads = async () => Number(/^paycenter_risk_rule_reads_total (\d+)$/m.exec(await (await fetch(`${booted.url}/metrics`)).text())![1]);

  test('an import of list entries, one request each, reads no list again: each entry joins this instance\'s copy and refuses at once', async () => {
    await admin('POST', '/rules', rule('imported', 'blacklist', { subjects: ['device', 'ip'] }));
    expect((await merchant.createPayment({ device_id: 'fresh' })).status).toBe(201);
    const before = await reads();
    const imported: string[] = [];
    for (let i = 0; i < 30; i++) imported.push((await admin('POST', '/lists', { subject: 'device', value: `imported-${i}` })).body.id);
    imported.push((await admin('POST', '/lists', { subject: 'ip', value: '203.0.113.0/25' })).body.id);
    expect((await merchant.createPayment({ device_id: 'imported-29' })).body.error.message).toContain('imported');
    expect((await merchant.createPayment({ client_ip: '203.0.113.127' })).status).toBe(422);
    expect((await merchant.createPayment({ client_ip: '203.0.113.128' })).status).toBe(201);
    expect(await reads()).toBe(before);
    await admin('DELETE', '/rules/imported');
    for (const id of imported) await admin('DELETE', `/lists/${id}`);
    expect(await reads()).toBeGreaterThan(before);
  });

  test('changing rules one request each reads no list again, and each change applies at once', async () => {
    const listed = (await admin('POST', '/lists', { subject: 'user', value: 'switched-payer' })).body.id;
    const create = () => merchant.createPayment({ user_id: 'switched-payer' });
    const before = await reads();
    await admin('POST', '/rules', rule('switched', 'blacklist', { subjects: ['user'] }));
    expect((await create()).status).toBe(422);
    await admin('PATCH', '/rules/switched', { status: 'disabled' });
    expect((await create()).status).toBe(201);
    await admin('PATCH', '/rules/switched', { status: 'enabled' });
    expect((await create()).status).toBe(422);
    await admin('DELETE', '/rules/switched');
    expect((await create()).status).toBe(201);
    expect(await reads()).toBe(before);
    await admin('DELETE', `/lists/${listed}`);
  });

  test('settings: PUT sets both thresholds; review_at above reject_at is refused', async () => {
    expect((await admin('PUT', '/settings', { review_at: 40, reject_at: 90 })).body).toEqual({ review_at: 40, reject_at: 90 });
    expect((await admin('GET', '/settings')).body).toEqual({ review_at: 40, reject_at: 90 });
    expect((await admin('PUT', '/settings', { review_at: 91, reject_at: 90 })).status).toBe(400);
    expect((await admin('PUT', '/settings', { review_at: 40 })).body.error.field).toBe('reject_at');
    await admin('PUT', '/settings', { review_at: 50, reject_at: 80 });
  });

  test('a reject answers 422 risk_rejected naming the rule (never a score) and writes nothing; a retry of an existing order is not refused', async () => {
    const kept = await merchant.createPayment({ user_id: 'later-listed' });
    await admin('POST', '/rules', rule('blacklist_all', 'blacklist', { subjects: ['user', 'ip'] }));
    const entry = await admin('POST', '/lists', { subject: 'user', value: 'later-listed' });
    const ip = await admin('POST', '/lists', { subject: 'ip', value: '198.51.100.0/24' });
    const before = await tableCounts(booted.databaseUrl);
    const refused = await merchant.createPayment({ user_id: 'later-listed' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('risk_rejected');
    expect(refused.body.error.message).toContain('blacklist_all');
    expect(refused.body.error.message).not.toMatch(/score|\d/);
    expect((await merchant.createPayment({ client_ip: '198.51.100.255' })).status).toBe(422);
    expect(await tableCounts(booted.databaseUrl)).toEqual(before);
    expect((await merchant.createPayment({ client_ip: '198.51.101.0' })).status).toBe(201);

    const retry = await merchant.createPayment({ user_id: 'later-listed', merchant_order_no: kept.body.merchant_order_no });
    expect(retry.status).toBe(200);
    // Paying is assessed again: the payer was listed since the order was created.
    const pay = await merchant.call('POST', `/v1/payments/${kept.body.id}/pay`, { method: 'alipay_qr' });
    expect(pay.status).toBe(422);
    expect(pay.body.error.code).toBe('risk_rejected');
    await admin('DELETE', `/lists/${entry.body.id}`);
    await admin('DELETE', `/lists/${ip.body.id}`);
    await admin('DELETE', '/rules/blacklist_all');
  });

  test('review rules add scores: the order proceeds flagged, with the rules on the payment object and their values on the timeline', async () => {
    await admin('POST', '/rules', rule('big_single', 'limit', { subject: 'user', period: 'single', amount: '500.00' }, { action: 'review', score: 30 }));
    await admin('POST', '/rules', rule('big_single_2', 'limit', { subject: 'user', period: 'single', amount: '800.00' }, { action: 'review', score: 25 }));
    const small = await merchant.createPayment({ user_id: 'u-review', amount: '500.00' });
    expect(small.body.risk).toEqual({ decision: 'allow', score: 0, rules: [] });
    const some = await merchant.createPayment({ user_id: 'u-review', amount: '500.01' });
    expect(some.body.risk).toEqual({ decision: 'allow', score: 30, rules: ['big_single'] });
    const flagged = await merchant.createPayment({ user_id: 'u-review', amount: '800.01' });
    expect(flagged.status).toBe(201);
    expect(flagged.body.risk).toEqual({ decision: 'review', score: 55, rules: ['big_single', 'big_single_2'] });
    const alerts = (await adminCall(booted.url, 'GET', '/admin/alerts?open=true')).body.data.filter((a: any) => a.kind === 'risk_review');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ payment_id: flagged.body.id, acked_at: null });
    expect(alerts[0].message).toContain('big_single, big_single_2');
    const timeline = await adminCall(booted.url, 'GET', `/admin/payments/${flagged.body.id}/timeline`);
    expect(timeline.body.events[0].event.risk).toMatchObject({
      decision: 'review', score: 55,
      hits: [{ code: 'big_single', action: 'review', score: 30, saw: { amount: 80_001, limit: 50_000 } }, { code: 'big_single_2', saw: { limit: 80_000 } }],
    });
    await admin('PUT', '/settings', { review_at: 50, reject_at: 55 });
    expect((await merchant.createPayment({ user_id: 'u-review', amount: '800.01' })).body.error.message).toContain('big_single, big_single_2');
    await admin('PUT', '/settings', { review_at: 50, reject_at: 80 });
    await admin('DELETE', '/rules/big_single');
    await admin('DELETE', '/rules/big_single_2');
  });

  test('50 concurrent creates by one payer against a daily limit of 10 payments: exactly 10; closing 3 lets exactly 3 more', async () => {
    await admin('POST', '/rules', rule('user_daily_count', 'limit', { subject: 'user', period: 'day', count: 10 }));
    const burst = () => Promise.all(Array.from({ length: 50 }, () => merchant.createPayment({ user_id: 'burst-user' })));
    const first = await burst();
    const created = first.filter((a) => a.status === 201);
    expect(created).toHaveLength(10);
    expect(first.filter((a) => a.status === 422).every((a) => a.body.error.code === 'risk_rejected')).toBe(true);
    for (const order of created.slice(0, 3)) expect((await merchant.call('POST', `/v1/payments/${order.body.id}/close`)).body.status).toBe('closed');
    expect((await burst()).filter((a) => a.status === 201)).toHaveLength(3);
    await admin('DELETE', '/rules/user_daily_count');
  });

  test('the same for an amount: 50 concurrent creates of 100.00 against 1000.00 a day, then 3 closed', async () => {
    await admin('POST', '/rules', rule('user_daily_amount', 'limit', { subject: 'user', period: 'day', amount: '1000.00' }));
    const burst = () => Promise.all(Array.from({ length: 50 }, () => merchant.createPayment({ user_id: 'amount-user', amount: '100.00' })));
    const created = (await burst()).filter((a) => a.status === 201);
    expect(created).toHaveLength(10);
    for (const order of created.slice(0, 3)) await merchant.call('POST', `/v1/payments/${order.body.id}/close`);
    expect((await burst()).filter((a) => a.status === 201)).toHaveLength(3);
    await admin('DELETE', '/rules/user_daily_amount');
  });

  test('the admin routes and their request schemas are in the OpenAPI document', async () => {
    const document = (await (await fetch(`${booted.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, any>> };
    for (const path of ['/admin/risk/rules', '/admin/risk/rules/{code}', '/admin/risk/lists', '/admin/risk/lists/{id}', '/admin/risk/settings']) {
      expect(Object.keys(document.paths)).toContain(path);
    }
    expect(document.paths['/admin/risk/rules']!.post.requestBody.content['application/json'].schema.properties.kind.enum)
      .toEqual(['blacklist', 'limit', 'velocity', 'amount_anomaly', 'location_anomaly']);
  });

  test('decisions and their latency are in /metrics', async () => {
    const metrics = await (await fetch(`${booted.url}/metrics`)).text();
    expect(metrics).toMatch(/paycenter_risk_decisions_total\{decision="reject",stage="create"\} [1-9]/);
    expect(metrics).toMatch(/paycenter_risk_rule_hits_total\{rule="user_daily_count",action="reject"\} 87/);
    expect(metrics).toContain('paycenter_risk_evaluation_seconds_bucket');
    // One SQLite instance: the orders its counters hold in memory, one record each.
    expect(metrics).toMatch(/^paycenter_risk_counted_orders [1-9]\d*$/m);
  });
});

describe('risk windows move with the clock (sqlite)', () => {
  // 2026-12-01T15:59:59.000Z is 23:59:59 in China.
  const clock = new ManualClock(Date.parse('2026-12-01T15:59:59.000Z'));
  let booted: Booted;
  let merchant: MerchantClient;
  const create = (fields: Record<string, unknown>) => merchant.createPayment(fields, { timestamp: Math.floor(clock.now() / 1000) });
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite', {}, { clock, manualTicker: true });
    merchant = await MerchantClient.create(booted.url);
  }, 60_000);
  afterAll(() => booted.stop(), 60_000);

  test('a daily limit is full until 23:59:59.999 China time and empty at midnight', async () => {
    await adminCall(booted.url, 'POST', '/admin/risk/rules', rule('day2', 'limit', { subject: 'device', period: 'day', count: 2 }));
    expect((await create({ device_id: 'dev-1' })).status).toBe(201);
    expect((await create({ device_id: 'dev-1' })).status).toBe(201);
    clock.advance(999);
    expect((await create({ device_id: 'dev-1' })).status).toBe(422);
    clock.advance(1);
    expect((await create({ device_id: 'dev-1' })).status).toBe(201);
  });

  test('a velocity window holds an order until its last millisecond', async () => {
    await adminCall(booted.url, 'POST', '/admin/risk/rules', rule('ip_burst', 'velocity', { subject: 'ip', count: 1, window_s: 60 }));
    expect((await create({ client_ip: '203.0.113.9' })).status).toBe(201);
    clock.advance(59_999);
    expect((await create({ client_ip: '203.0.113.9' })).status).toBe(422);
    clock.advance(1);
    expect((await create({ client_ip: '203.0.113.9' })).status).toBe(201);
  });
});

describe('a single SQLite instance keeps its counts across a restart', () => {
  test('the counters are seeded from the orders: open ones count, closed ones do not, windows too', async () => {
    const database = await freshDatabase('sqlite');
    const first = await startInstance(database.url);
    let second: Awaited<ReturnType<typeof startInstance>> | null = null;
    try {
      const merchant = await MerchantClient.create(first.url);
      await adminCall(first.url, 'POST', '/admin/risk/rules', rule('count3', 'limit', { subject: 'user', period: 'day', count: 3 }));
      await adminCall(first.url, 'POST', '/admin/risk/rules', rule('dev2', 'velocity', { subject: 'device', count: 2, window_s: 3600 }));
      const orders = [];
      for (let i = 0; i < 3; i++) orders.push(await merchant.createPayment({ user_id: 'restart-user' }));
      await merchant.call('POST', `/v1/payments/${orders[0]!.body.id}/close`);
      for (let i = 0; i < 2; i++) expect((await merchant.createPayment({ device_id: 'restart-device' })).status).toBe(201);
      await first.stop();

      second = await startInstance(database.url);
      const again = new MerchantClient(second.url, merchant.merchantId, merchant.secret);
      expect((await again.createPayment({ user_id: 'restart-user' })).status).toBe(201);
      expect((await again.createPayment({ user_id: 'restart-user' })).body.error.message).toContain('count3');
      expect((await again.createPayment({ device_id: 'restart-device' })).body.error.message).toContain('dev2');
    } finally {
      await second?.stop();
      await database.drop();
    }
  });
});
