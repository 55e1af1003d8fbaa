/**
 * The served OpenAPI document says what paycenter really answers. Against a real paycenter and
 * the channel sandbox, the main routes are called (create, pay, get, refund, events, balances, the
 * cashier, risk, reconciliation, alerts, channels, merchants, operations, callbacks), and every
 * answer must have a status its operation declares and a body that parses with the very valibot
 * schema the document's `$ref` names (src/http/answers.ts; strict objects, so a field a view
 * renames or adds fails here). The document's other promises are pinned beside: the error body
 * for every error status, no console forms, the statement upload's body, integer page limits,
 * amounts' pattern, rule params by kind, and the operations routes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as v from 'valibot';
import { chinaDate } from '../../src/channels/china-time.ts';
import { named_answers } from '../../src/http/answers.ts';
import { all_methods, bootWorld, payerDecides, payerPage, waitForPayment, type World } from '../channels/world.ts';
import { type Answer, MerchantClient, adminCall, admin_token, answerOf } from './harness.ts';

type Media = { schema?: { $ref?: string } };
type Response = { $ref?: string; description?: string; content?: Record<string, Media>; headers?: Record<string, unknown> };
type Operation = { responses: Record<string, Response>; parameters?: Array<{ in: string; name: string; schema?: Record<string, unknown> }>; requestBody?: any };
type Document = { paths: Record<string, Record<string, Operation>>; components: { responses: Record<string, Response>; schemas: Record<string, unknown> } };

let world: World;
let doc: Document;
/** `METHOD /template` → the statuses checked against it. */
const checked = new Map<string, Set<number>>();

beforeAll(async () => {
  world = await bootWorld('sqlite');
  doc = (await (await fetch(`${world.url}/openapi.json`)).json()) as Document;
}, 60_000);
afterAll(() => world?.stop());

const templateRegex = (template: string) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
const paramsIn = (template: string) => (template.match(/\{/g) ?? []).length;

/** The documented operation a request reaches: a literal segment wins over a parameter (…/upload is not …/{id}). */
function operationOf(method: string, path: string): { key: string; op: Operation } {
  const pathname = new URL(path, 'http://x').pathname;
  const [template] = Object.keys(doc.paths).filter((t) => templateRegex(t).test(pathname) && doc.paths[t]![method.toLowerCase()]).sort((a, b) => paramsIn(a) - paramsIn(b));
  if (!template) throw new Error(`no documented operation for ${method} ${pathname}`);
  return { key: `${method} ${template}`, op: doc.paths[template]![method.toLowerCase()]! };
}

/** A response object, with a reference to a shared one followed. */
const resolved = (response: Response): Response =>
  response.$ref ? doc.components.responses[response.$ref.slice('#/components/responses/'.length)]! : response;

/** The answer's status is one its operation declares, and its body is what that status's schema says. */
function expectDocumented(method: string, path: string, answer: Answer): Answer {
  const { key, op } = operationOf(method, path);
  const declared = op.responses[String(answer.status)] ?? op.responses[`${String(answer.status)[0]}XX`];
  if (!declared) throw new Error(`${key} answered ${answer.status}, which it does not declare (${Object.keys(op.responses).join(', ')}): ${JSON.stringify(answer.body)}`);
  checked.set(key, (checked.get(key) ?? new Set()).add(answer.status));
  const response = resolved(declared);
  if (!response.content) {
    expect([key, answer.body]).toEqual([key, '']);
    return answer;
  }
  const mediaType = (answer.headers.get('content-type') ?? '').split(';')[0]!;
  const media = response.content[mediaType];
  if (!media) throw new Error(`${key} ${answer.status} answered ${mediaType}; declared ${Object.keys(response.content).join(', ')}`);
  if (mediaType !== 'application/json') return answer;
  const name = media.schema?.$ref?.slice('#/components/schemas/'.length);
  const schema = name === undefined ? undefined : named_answers.get(name);
  if (!schema) throw new Error(`${key} ${answer.status}: its JSON schema is not a named answer (${JSON.stringify(media.schema)})`);
  const parsed = v.safeParse(schema, answer.body);
  if (!parsed.success) throw new Error(`${key} ${answer.status} does not fit ${name}:\n${misfits(parsed.issues).join('\n')}\n${JSON.stringify(answer.body)}`);
  return answer;
}

/** Where an answer does not fit, down to the field: a union's issue holds each option's own. */
function misfits(issues: readonly v.BaseIssue<unknown>[]): string[] {
  return [...new Set(issues.flatMap((issue) => (issue.issues
    ? misfits(issue.issues)
    : [`  ${issue.path?.map((p) => String(p.key)).join('.') ?? '(the body)'}: ${issue.message}`])))];
}

const admin = async (method: string, path: string, body?: unknown) => expectDocumented(method, path, await adminCall(world.url, method, path, body));
const signed = async (client: MerchantClient, method: string, path: string, body?: object) => expectDocumented(method, path, await client.call(method, path, body));
const plain = async (method: string, path: string, init: RequestInit = {}) => expectDocumented(method, path, await answerOf(await fetch(world.url + path, { method, ...init })));
const orderNo = () => `OA-${crypto.randomUUID().slice(0, 12)}`;

describe('every answer is one the document declares, with the schema it names', () => {
  test('payments, refunds, events', async () => {
    const m = world.merchant;
    const fields = { merchant_order_no: orderNo(), amount: '100.00', subject: 'Hotel booking', user_id: 'u1', metadata: { room: 12 } };
    const created = await signed(m, 'POST', '/v1/payments', fields);
    expect(created.status).toBe(201);
    expect((await signed(m, 'POST', '/v1/payments', fields)).status).toBe(200);
    expect((await signed(m, 'POST', '/v1/payments', { ...fields, amount: '99.00' })).status).toBe(409);
    expect((await signed(m, 'POST', '/v1/payments', { ...fields, merchant_order_no: orderNo(), amount: '100' })).status).toBe(400);
    expect((await expectDocumented('GET', '/v1/payments/x', await m.call('GET', `/v1/payments/${created.body.id}`, undefined, { authorization: null }))).status).toBe(401);
    const id = created.body.id as string;
    expect((await signed(m, 'GET', `/v1/payments/${id}`)).status).toBe(200);
    expect((await signed(m, 'GET', '/v1/payments/pay_01JD0000000000000000000000')).status).toBe(404);
    expect((await signed(m, 'GET', `/v1/payments?merchant_order_no=${fields.merchant_order_no}`)).status).toBe(200);

    const paying = await signed(m, 'POST', `/v1/payments/${id}/pay`, { method: 'alipay_qr' });
    expect(paying.status).toBe(200);
    expect((await payerDecides(await payerPage(paying.body.action), 'pay')).status).toBe(200);
    await waitForPayment(m, id, (p) => p.status === 'succeeded');
    expect((await signed(m, 'POST', `/v1/payments/${id}/pay`, { method: 'alipay_qr' })).status).toBe(409);
    expect((await signed(m, 'POST', `/v1/payments/${id}/close`)).status).toBe(409);

    const refund = await signed(m, 'POST', `/v1/payments/${id}/refunds`, { refund_no: 'R1', amount: '30.00', reason: 'one night' });
    expect(refund.status).toBe(201);
    expect((await signed(m, 'POST', `/v1/payments/${id}/refunds`, { refund_no: 'R1', amount: '30.00', reason: 'one night' })).status).toBe(200);
    expect((await signed(m, 'POST', `/v1/payments/${id}/refunds`, { refund_no: 'R2', amount: '99.00' })).status).toBe(422);
    expect((await signed(m, 'GET', `/v1/payments/${id}/refunds`)).status).toBe(200);
    expect((await signed(m, 'GET', `/v1/refunds/${refund.body.id}`)).status).toBe(200);
    await waitForPayment(m, id, (p) => p.status === 'partially_refunded' && p.flows.length === 1);

    const atOnce = await signed(m, 'POST', '/v1/payments', { merchant_order_no: orderNo(), amount: '5.00', subject: 'At once', method: 'wechat_native' });
    expect([atOnce.status, atOnce.body.action.type]).toEqual([201, 'qr_code']);
    expect((await signed(m, 'POST', `/v1/payments/${atOnce.body.id}/close`)).status).toBe(200);

    const events = await waitForEvents(m, 2);
    expect((await signed(m, 'POST', `/v1/events/${events.data[0].id}/redeliver`)).status).toBe(202);
    expect((await signed(m, 'GET', '/v1/events?limit=0')).status).toBe(400);
  }, 60_000);

  test('payer balances, and paying from one', async () => {
    const m = await MerchantClient.create(world.url, { methods: [...all_methods, 'balance'] });
    expect((await signed(m, 'GET', '/v1/balances/u2')).status).toBe(200);
    const credit = { credit_no: 'TOPUP-1', amount: '80.00', reason: 'top-up' };
    expect((await signed(m, 'POST', '/v1/balances/u2/credits', credit)).status).toBe(201);
    expect((await signed(m, 'POST', '/v1/balances/u2/credits', credit)).status).toBe(200);
    expect((await signed(m, 'POST', '/v1/balances/u2/debits', { debit_no: 'D1', amount: '1.00' })).status).toBe(201);
    expect((await signed(m, 'POST', '/v1/balances/u2/debits', { debit_no: 'D2', amount: '1000.00' })).status).toBe(422);
    const order = await signed(m, 'POST', '/v1/payments', { merchant_order_no: orderNo(), amount: '10.00', subject: 'From the balance', user_id: 'u2' });
    const paid = await signed(m, 'POST', `/v1/payments/${order.body.id}/pay`, { method: 'balance' });
    expect([paid.status, paid.body.status]).toEqual([200, 'succeeded']);
    expect((await signed(m, 'GET', '/v1/balances/u2')).body.available).toBe('69.00');
    expect((await signed(m, 'GET', '/v1/balances/u2/entries?limit=2')).body.has_more).toBe(true);
    expect((await signed(m, 'GET', '/v1/balances/bad%20id')).status).toBe(400);
    const account = await admin('GET', `/admin/balances/${m.merchantId}/u2?limit=1`);
    expect([account.status, account.body.entries.length, account.body.has_more]).toEqual([200, 1, true]);
  }, 30_000);

  test('the cashier', async () => {
    const created = (await signed(world.merchant, 'POST', '/v1/payments', { merchant_order_no: orderNo(), amount: '12.00', subject: 'Cashier' })).body;
    const url = new URL(created.cashier_url);
    const at = (route: string, token = url.searchParams.get('t')!) => `${url.pathname}${route}?t=${encodeURIComponent(token)}`;
    expect((await plain('GET', at(''))).status).toBe(200);
    expect((await plain('GET', at('', 'wrong'))).status).toBe(404);
    expect((await plain('GET', at('/status'))).status).toBe(200);
    expect((await plain('GET', at('/status', 'wrong'))).status).toBe(404);
    const json = { method: 'POST', headers: { 'content-type': 'application/json' } };
    expect((await plain('POST', at('/pay'), { ...json, body: JSON.stringify({ method: 'alipay_qr' }) })).status).toBe(200);
    expect((await plain('POST', at('/pay'), { ...json, body: JSON.stringify({ method: 'wechat_native' }) })).status).toBe(429);
    expect((await plain('POST', at('/check'))).status).toBe(200);
  }, 30_000);

  test('merchants, channels and their health', async () => {
    const merchant = await admin('POST', '/admin/merchants', { name: 'Documented', methods: ['alipay_qr'], routing: 'lowest_fee' });
    expect(merchant.status).toBe(201);
    const id = merchant.body.merchant_id as string;
    expect((await admin('POST', '/admin/merchants', { merchant_id: id, name: 'Again' })).status).toBe(409);
    expect((await admin('GET', `/admin/merchants/${id}`)).status).toBe(200);
    expect((await admin('PATCH', `/admin/merchants/${id}`, { status: 'disabled' })).status).toBe(200);
    expect((await admin('GET', '/admin/merchants?limit=1')).status).toBe(200);
    expect((await admin('GET', '/admin/merchants/NOPE')).status).toBe(404);
    expect((await expectDocumented('GET', '/admin/merchants', await adminCall(world.url, 'GET', '/admin/merchants', undefined, 'wrong'))).status).toBe(401);

    const app = await (await fetch(`${world.sandboxUrl}/alipay/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
    const added = await admin('POST', '/admin/channels', { code: 'alipay_extra', provider: 'alipay', methods: ['alipay_qr'], single_limit: '5000.00', config: app });
    expect([added.status, added.body.config.private_key]).toEqual([201, '[redacted]']);
    expect((await admin('GET', '/admin/channels')).status).toBe(200);
    expect((await admin('PATCH', '/admin/channels/alipay_extra', { fee_rate: '0.0060', status: 'disabled' })).status).toBe(200);
    expect((await admin('POST', '/admin/channels/alipay_extra/breaker', { state: 'open', reason: 'maintenance' })).body.breaker).toBe('open');
    expect((await admin('GET', '/admin/channels/alipay_extra/health')).body.transitions.length).toBeGreaterThan(0);
    expect((await admin('GET', '/admin/channels/nope/health')).status).toBe(404);
  }, 30_000);

  test('risk rules, lists, thresholds and the alert a review raises', async () => {
    const rule = { code: 'merchant_single', kind: 'limit', action: 'review', score: 60, params: { subject: 'merchant', period: 'single', amount: '50.00' } };
    expect((await admin('POST', '/admin/risk/rules', rule)).status).toBe(201);
    expect((await admin('POST', '/admin/risk/rules', rule)).status).toBe(409);
    expect((await admin('POST', '/admin/risk/rules', { ...rule, code: 'velocity_ip', kind: 'velocity', params: { subject: 'ip', count: 100, window_s: 60 } })).status).toBe(201);
    expect((await admin('GET', '/admin/risk/rules')).body.data).toHaveLength(2);
    expect((await admin('GET', '/admin/risk/rules/merchant_single')).status).toBe(200);
    expect((await admin('PATCH', '/admin/risk/rules/velocity_ip', { status: 'disabled' })).status).toBe(200);
    expect((await admin('DELETE', '/admin/risk/rules/velocity_ip')).status).toBe(204);
    expect((await admin('DELETE', '/admin/risk/rules/velocity_ip')).status).toBe(404);
    const entry = await admin('POST', '/admin/risk/lists', { subject: 'ip', value: '10.9.0.0/16', reason: 'incident' });
    expect(entry.status).toBe(201);
    expect((await admin('GET', '/admin/risk/lists?subject=ip')).body.data).toHaveLength(1);
    expect((await admin('DELETE', `/admin/risk/lists/${entry.body.id}`)).status).toBe(204);
    expect((await admin('GET', '/admin/risk/settings')).status).toBe(200);
    expect((await admin('PUT', '/admin/risk/settings', { review_at: 50, reject_at: 80 })).status).toBe(200);
    expect((await admin('GET', '/admin/risk')).status).toBe(200);

    // Reviewed, not refused: let through, flagged, and an operator alerted.
    const order = await signed(world.merchant, 'POST', '/v1/payments', { merchant_order_no: orderNo(), amount: '60.00', subject: 'Reviewed' });
    expect(order.body.risk).toEqual({ decision: 'review', score: 60, rules: ['merchant_single'] });
    const alerts = await waitForAlert();
    expect((await admin('POST', `/admin/alerts/${alerts.body.data[0].id}/ack`)).body.acked_at).not.toBeNull();
    expect((await admin('POST', '/admin/alerts/alr_01JD0000000000000000000000/ack')).status).toBe(404);
    expect((await admin('DELETE', '/admin/risk/rules/merchant_single')).status).toBe(204);
  }, 30_000);

  test('reconciliation', async () => {
    // Yesterday's statement exists (empty); today's does not yet: a done run and a failed one.
    const today = chinaDate(Date.now());
    const yesterday = chinaDate(Date.now() - 86_400_000);
    expect((await admin('POST', '/admin/reconciliations', { channel: 'wechat_main', date: yesterday })).body).toMatchObject({ status: 'done', counts: { matched: 0 } });
    const run = await admin('POST', '/admin/reconciliations', { channel: 'alipay_main', date: today });
    expect([run.status, run.body.status]).toEqual([201, 'failed']);
    expect((await admin('POST', '/admin/reconciliations', { channel: 'alipay_main', date: today })).status).toBe(200);
    expect((await admin('POST', '/admin/reconciliations', { channel: 'nope', date: today })).status).toBe(404);
    expect((await admin('GET', `/admin/reconciliations?channel=alipay_main&date=${today}`)).body.data).toHaveLength(1);
    expect((await admin('GET', `/admin/reconciliations/${run.body.id}`)).status).toBe(200);
    expect((await admin('POST', `/admin/reconciliations/${run.body.id}/diffs/dif_01JD0000000000000000000000`, { resolution: 'ignored' })).status).toBe(404);
    const upload = await fetch(`${world.url}/admin/reconciliations/upload?channel=wechat_main&date=${today}`, {
      method: 'POST', headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'text/plain' }, body: 'a,b\n',
    });
    expect((await expectDocumented('POST', '/admin/reconciliations/upload', await answerOf(upload))).status).toBe(400);
  }, 30_000);

  test('the operators\' other views', async () => {
    const order = (await signed(world.merchant, 'POST', '/v1/payments', { merchant_order_no: orderNo(), amount: '3.00', subject: 'Timeline' })).body;
    expect((await admin('GET', `/admin/payments/${order.id}/timeline?limit=5`)).status).toBe(200);
    expect((await admin('GET', '/admin/payments?limit=2')).body.has_more).toBe(true);
    expect((await admin('GET', '/admin')).status).toBe(200);
    expect((await admin('GET', '/admin/audit')).status).toBe(200);
    expect((await admin('GET', '/admin/machines')).status).toBe(200);
    expect((await admin('GET', '/admin/machines/payment.json')).status).toBe(200);
    const events = encodeURIComponent(JSON.stringify([{ type: 'close.request', reason: 'merchant' }]));
    expect((await admin('GET', `/admin/machines/payment/simulate?events=${events}`)).body.steps).toHaveLength(1);
    expect((await admin('GET', '/admin/machines/payment/simulate?events=not-json')).status).toBe(400);
    expect((await admin('GET', '/admin/parked')).status).toBe(200);
    expect((await admin('POST', '/admin/parked/outbox/obx_01JD0000000000000000000000/retry')).status).toBe(404);
    expect((await admin('POST', `/admin/parked/timers/${order.id}/nope/retry`)).status).toBe(404);
    expect((await admin('GET', '/admin/memory')).status).toBe(200);
    const sent = await waitForEvents(world.merchant, 1);
    expect((await admin('POST', `/admin/events/${sent.data[0].id}/resend`)).status).toBe(202);
    expect((await admin('DELETE', '/admin/sessions')).status).toBe(204);
  }, 30_000);

  test('operations and callbacks', async () => {
    expect((await plain('GET', '/healthz')).status).toBe(200);
    expect((await plain('GET', '/readyz')).status).toBe(200);
    expect((await plain('GET', '/metrics')).status).toBe(200);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await plain('POST', '/callbacks/alipay/alipay_main', { headers: form, body: 'out_trade_no=flw_x&sign=bad' })).status).toBe(400);
    expect((await plain('POST', '/callbacks/wechatpay/wechat_main', { headers: { 'content-type': 'application/json' }, body: '{"id":"x"}' })).status).toBe(400);
    expect((await plain('POST', '/callbacks/alipay/nope', { headers: form, body: 'a=b' })).status).toBe(404);
  }, 30_000);
});

/** Operations whose success is not reached here, and why; every other one must have been seen succeeding. */
const success_elsewhere: Record<string, string> = {
  'POST /admin/reconciliations/upload': 'needs a provider\'s statement file (test/recon/reconciliation.test.ts uploads them)',
  'POST /admin/reconciliations/{id}/diffs/{diff}': 'needs a difference (test/recon)',
  'POST /admin/parked/outbox/{id}/retry': 'needs a parked row (test/reliability)',
  'POST /admin/parked/timers/{paymentId}/{key}/retry': 'needs a parked timer (test/reliability)',
  'POST /callbacks/{provider}/{channel_code}': 'the sandbox\'s own notifies succeed in the flows above, sent by the sandbox, not checked here',
};

test('every documented operation was checked with a success, except those named with a reason', () => {
  const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
  const unseen = operations.filter((key) => !(success_elsewhere[key] || [...(checked.get(key) ?? [])].some((s) => s < 300)));
  expect(unseen).toEqual([]);
});

describe('the document itself', () => {
  const operations = () => Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, op })));

  test('every operation declares a success, and each JSON one names a component the answers define', () => {
    for (const { key, op } of operations()) {
      const successes = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
      expect([key, successes.length > 0]).toEqual([key, true]);
      for (const [status, response] of successes) {
        const ref = response.content?.['application/json']?.schema?.$ref;
        if (response.content?.['application/json']) expect([key, status, named_answers.has(ref?.slice('#/components/schemas/'.length) ?? '')]).toEqual([key, status, true]);
      }
    }
    for (const name of named_answers.keys()) expect(doc.components.schemas[name]).toBeDefined();
  });

  test('every error status is a shared response whose body is the Error schema; 429 carries Retry-After', () => {
    for (const { key, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        // Answered otherwise, on purpose: callbacks in each provider's format, the cashier's page in HTML, readiness with its checks.
        if (!/^[45]\d\d$/.test(status) || key.startsWith('POST /callbacks/') || response.content?.['text/html'] || key === 'GET /readyz') continue;
        expect([key, status, response.$ref?.startsWith('#/components/responses/')]).toEqual([key, status, true]);
        expect(resolved(response).content?.['application/json']?.schema?.$ref).toBe('#/components/schemas/Error');
      }
    }
    expect(doc.components.responses.RateLimited!.headers?.['Retry-After']).toMatchObject({ required: true });
    expect(JSON.stringify(doc)).not.toContain('"success"');
  });

  test('the console\'s forms are not in it; the operations, the cashier page and callbacks are', () => {
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/admin/forms/'))).toEqual([]);
    for (const path of ['/healthz', '/readyz', '/metrics', '/cashier/{id}', '/callbacks/{provider}/{channel_code}']) expect([path, doc.paths[path] !== undefined]).toEqual([path, true]);
    expect(doc.paths['/readyz']!.get!.responses['503']!.content!['application/json']!.schema!.$ref).toBe('#/components/schemas/NotReady');
  });

  test('the statement upload takes its files as binary strings', () => {
    const content = doc.paths['/admin/reconciliations/upload']!.post!.requestBody.content;
    expect(Object.keys(content).sort()).toEqual(['application/gzip', 'application/zip', 'text/csv']);
    for (const media of Object.values<any>(content)) expect(media.schema).toEqual({ type: 'string', format: 'binary' });
  });

  test('page limits are integers with bounds and a default', () => {
    const limits = operations().flatMap(({ key, op }) => (op.parameters ?? []).filter((p) => p.in === 'query' && p.name === 'limit').map((p) => [key, p.schema]));
    expect(limits.length).toBeGreaterThanOrEqual(7);
    for (const [key, schema] of limits) expect([key, schema]).toEqual([key, { type: 'integer', minimum: 1, maximum: expect.any(Number), default: expect.any(Number) }]);
  });

  test('every amount a request takes has the decimal pattern and says a bad one is invalid_amount', () => {
    const body = (path: string, method = 'post') => doc.paths[path]![method]!.requestBody.content['application/json'].schema;
    const amounts = [
      body('/v1/payments').properties.amount, body('/v1/payments/{id}/refunds').properties.amount, body('/v1/balances/{user_id}/credits').properties.amount,
      body('/v1/payments/{id}/pay').anyOf[1].properties.parts.items.properties.amount, body('/admin/channels').properties.single_limit.anyOf[0],
    ];
    for (const amount of amounts) expect(amount).toMatchObject({ type: 'string', maxLength: 32, pattern: expect.any(String), description: expect.stringContaining('invalid_amount') });
  });

  test('a rule\'s params are documented for each kind, keyed on kind', () => {
    const schema = doc.paths['/admin/risk/rules']!.post!.requestBody.content['application/json'].schema;
    expect(schema.oneOf.map((o: any) => o.properties.kind.const)).toEqual(['blacklist', 'limit', 'velocity', 'amount_anomaly', 'location_anomaly']);
    expect(schema.oneOf[2].properties.params.required).toEqual(['subject', 'count', 'window_s']);
  });
});

async function waitForEvents(client: MerchantClient, count: number): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const page = await signed(client, 'GET', '/v1/events?limit=100');
    if (page.body.data.length >= count) return page.body;
    await Bun.sleep(50);
  }
  throw new Error(`fewer than ${count} events`);
}

async function waitForAlert(): Promise<Answer> {
  for (let i = 0; i < 200; i++) {
    const alerts = await admin('GET', '/admin/alerts?open=true&kind=risk_review');
    if (alerts.body.data.length > 0) return alerts;
    await Bun.sleep(50);
  }
  throw new Error('no risk_review alert');
}
