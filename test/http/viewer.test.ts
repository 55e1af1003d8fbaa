/** The state-chart viewer: the machine as a graph, its layout and SVG, the scratch actor, and the operator pages over real HTTP. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createMachine } from 'xstate';
import { paymentMachine, paymentMachineVersion } from '../../machines/payment.machine.ts';
import { layoutOf } from '../../src/viewer/layout.ts';
import { journeyOf } from '../../src/viewer/pages.ts';
import { simulate, simulate_events_max } from '../../src/viewer/simulate.ts';
import { machineGraph, stateIdsOf } from '../../src/viewer/statechart.ts';
import { svgOf } from '../../src/viewer/svg.ts';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, adminCall, admin_token, bootPaycenter, settleThroughActor } from './harness.ts';

const payment_states = [
  'created', 'paying', 'paying.active', 'paying.closing', 'settled', 'settled.succeeded', 'settled.partially_refunded', 'settled.refunded', 'closed',
];
const payment_events = [
  'pay.start', 'flow.report', 'flow.prepared', 'timer.expire', 'timer.query', 'timer.close_retry', 'close.request', 'refund.request',
  'refund.report', 'timer.refund_query',
];
const browser_accept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('machineGraph, its layout and SVG', () => {
  const graph = machineGraph(paymentMachine);

  test('the payment graph has every state, nested ones under their parent, with the initial ones marked', () => {
    expect(graph.states.map((s) => s.id).sort()).toEqual([...payment_states].sort());
    expect(graph.states.find((s) => s.id === 'paying.closing')).toEqual({ id: 'paying.closing', parent: 'paying', initial: false, final: false, type: 'atomic' });
    expect(graph.states.filter((s) => s.initial).map((s) => s.id).sort()).toEqual(['created', 'paying.active', 'settled.succeeded']);
    expect(graph.states.find((s) => s.id === 'settled')?.type).toBe('compound');
  });

  test('the payment graph has every event, guards with their params, and eventless transitions', () => {
    const events = new Set(graph.transitions.map((t) => t.event));
    for (const event of payment_events) expect(events).toContain(event);
    expect(graph.transitions).toContainEqual({ source: 'created', event: 'pay.start', targets: ['paying'], guard: 'payStartsAttempt', delay: null });
    expect(graph.transitions).toContainEqual({ source: 'paying.active', event: 'flow.report', targets: ['settled'], guard: 'reportSettles(phase=open)', delay: null });
    expect(graph.transitions).toContainEqual({ source: 'paying.closing', event: null, targets: ['closed'], guard: 'nothingPending', delay: null });
    expect(graph.transitions).toContainEqual({ source: 'settled', event: 'refund.request', targets: [], guard: 'refundAllowed', delay: null });
  });

  test('delayed transitions carry their delay, final states are marked and drawn as exits', () => {
    const machine = createMachine({
      id: 'door', initial: 'open',
      states: {
        open: { after: { 5000: { target: 'closed' }, slowly: 'locked' }, on: { push: 'closed' } },
        closed: { on: { lock: { target: 'locked', guard: 'hasKey' } } },
        locked: { type: 'final' },
      },
    });
    const door = machineGraph(machine);
    expect(door.transitions).toContainEqual({ source: 'open', event: 'xstate.after.5000.door.open', targets: ['closed'], guard: null, delay: 5000 });
    expect(door.transitions).toContainEqual({ source: 'open', event: 'xstate.after.slowly.door.open', targets: ['locked'], guard: null, delay: 'slowly' });
    expect(door.transitions.filter((t) => t.source === 'open')).toHaveLength(3);
    expect(door.states.find((s) => s.id === 'locked')).toMatchObject({ final: true, type: 'final' });
    const svg = String(svgOf(layoutOf(door)));
    expect(svg).toContain('>after 5000ms</tspan>');
    expect(svg).toContain('>after slowly</tspan>');
    expect(svg).toContain('class="state atomic final" data-state="locked"');
  });

  test('the layout nests children inside their parent, keeps siblings apart, and lists transitions that stay inside their state', () => {
    const layout = layoutOf(graph);
    const box = (id: string) => layout.states.find((s) => s.id === id)!;
    for (const s of layout.states.filter((s) => s.parent !== null)) {
      const p = box(s.parent!);
      expect(s.x > p.x && s.y > p.y && s.x + s.width < p.x + p.width && s.y + s.height < p.y + p.height).toBe(true);
    }
    for (const a of layout.states) {
      for (const b of layout.states.filter((b) => b !== a && b.parent === a.parent)) {
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect({ a: a.id, b: b.id, apart }).toEqual({ a: a.id, b: b.id, apart: true });
      }
    }
    // Rows follow the transitions: created first, then paying, then where payments end.
    expect(box('created').y).toBeLessThan(box('paying').y);
    expect(box('paying').y + box('paying').height).toBeLessThan(box('settled').y);
    expect(box('settled').inner.map((t) => t.event)).toContain('refund.request');
    expect(box('paying.active').inner.map((t) => t.event)).toContain('pay.start');
    expect(layout.edges.every((e) => e.source !== e.target)).toBe(true);
    expect(layout.edges).toContainEqual(expect.objectContaining({ source: 'created', target: 'paying' }));
  });

  test('the SVG draws every state with its meaning as classes, and every label whole', () => {
    const svg = String(svgOf(layoutOf(graph), { current: stateIdsOf({ paying: 'closing' }), visited: ['created', 'paying'] }));
    for (const id of payment_states) expect(svg).toContain(`data-state="${id}"`);
    expect(svg).toContain('class="state atomic initial visited" data-state="created"');
    expect(svg).toContain('class="state atomic current" data-state="paying.closing"');
    expect(svg).toContain('class="state compound" data-state="settled"');
    expect(svg).toContain('>pay.start [payStartsAttempt]</tspan>');
    expect(svg).toContain('>↻ refund.request [refundAllowed]</text>');
    expect(svg).toContain('>always [nothingPending]</tspan>');
  });

  test('a journey numbers each journal row that changed state, creation included', () => {
    const row = (stateBefore: unknown, stateAfter: unknown) => ({ stateBefore, stateAfter }) as never;
    const { steps, upto } = journeyOf([row(null, 'created'), row('created', { paying: 'active' }), row({ paying: 'active' }, { paying: 'active' }), row({ paying: 'active' }, 'closed')]);
    expect(steps).toEqual([
      { step: 1, from: null, to: 'created' }, { step: 2, from: 'created', to: 'paying.active' }, { step: 3, from: 'paying.active', to: 'closed' },
    ]);
    expect(upto).toEqual([1, 2, 2, 3]);
    const svg = String(svgOf(layoutOf(graph), { current: ['closed'], visited: [] }, steps));
    expect(svg.match(/<g class="step" data-step="\d+">/g)).toHaveLength(3);
  });

  test('the scratch actor runs events through the pure machine from a sample order, and refuses malformed ones', () => {
    const paid = simulate([
      { type: 'pay.start', parts: [{ flowId: 'flow_1', method: 'alipay_qr', channel: 'alipay_main', amount: 10_000 }] },
      { type: 'flow.report', flowId: 'flow_1', status: 'succeeded', amount: 10_000, currency: 'CNY', source: 'callback' },
    ]);
    if (!paid.ok) throw new Error(paid.message);
    expect(paid.initial).toBe('created');
    expect(paid.steps.map((s) => s.state)).toEqual([{ paying: 'active' }, { settled: 'succeeded' }]);
    expect(paid.steps[0]!.effects.map((e: any) => e.type)).toContain('channel.prepay');
    expect(paid.steps[1]!.effects.map((e: any) => e.type)).toContain('merchant.notify');
    const ignored = simulate([{ type: 'timer.close_retry' }]);
    expect(ignored.ok && ignored.steps[0]).toMatchObject({ state: 'created', changed: false, effects: [] });
    expect(simulate([{ type: 'nope' }])).toMatchObject({ ok: false, error: 'invalid_events' });
    expect(simulate([{ type: 'close.request', reason: 'bored' }])).toMatchObject({ ok: false, error: 'invalid_events' });
    expect(simulate(Array.from({ length: simulate_events_max + 1 }, () => ({ type: 'timer.expire' })))).toMatchObject({ ok: false });
  });

  test('stateIdsOf lists a snapshot value and its ancestors', () => {
    expect(stateIdsOf('created')).toEqual(['created']);
    expect(stateIdsOf({ settled: 'partially_refunded' })).toEqual(['settled', 'settled.partially_refunded']);
    expect(stateIdsOf(null)).toEqual([]);
  });
});

type Page = { status: number; type: string; text: string };

async function get(url: string, accept?: string, token: string | null = admin_token): Promise<Page> {
  const headers: Record<string, string> = {};
  if (accept) headers.accept = accept;
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { headers });
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
}

for (const kind of storeKinds) {
  describe(`state-chart viewer on ${kind}`, () => {
    let booted: Booted;
    let merchant: MerchantClient;
    beforeAll(async () => {
      booted = await bootPaycenter(kind);
      merchant = await MerchantClient.create(booted.url, { methods: ['alipay_qr'], notify_url: 'https://merchant.example/notify' });
    });
    afterAll(async () => {
      await booted?.stop();
    });

    test('GET /admin/machines/payment.json is the graph with the machine name and version', async () => {
      const answer = await adminCall(booted.url, 'GET', '/admin/machines/payment.json');
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ name: 'payment', version: paymentMachineVersion });
      expect(answer.body.states.map((s: { id: string }) => s.id).sort()).toEqual([...payment_states].sort());
      const events = new Set(answer.body.transitions.map((t: { event: string | null }) => t.event));
      for (const event of payment_events) expect(events).toContain(event);
      expect((await adminCall(booted.url, 'GET', '/admin/machines/refund.json')).status).toBe(404);
    });

    test('GET /admin/machines is, for a browser, an SVG chart under a CSP without inline script; the app serves its script and style', async () => {
      const response = await fetch(`${booted.url}/admin/machines`, { headers: { authorization: `Bearer ${admin_token}`, accept: browser_accept } });
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self';");
      expect(response.headers.get('content-security-policy')).not.toContain('unsafe-inline');
      const page = await get(`${booted.url}/admin/machines`, browser_accept);
      expect(page.status).toBe(200);
      expect(page.type).toStartWith('text/html');
      expect(page.text).toContain('<script src="/admin/machines/assets/viewer.js" defer></script>');
      expect(page.text).not.toMatch(/<script>/);
      expect(page.text).toContain('<svg class="statechart"');
      expect(page.text).toContain('>pay.start [payStartsAttempt]</tspan>');
      expect(page.text).toContain('<section data-details="paying.active" hidden>');
      const asset = await get(`${booted.url}/admin/machines/assets/viewer.js`);
      expect(asset.status).toBe(200);
      expect(asset.type).toContain('javascript');
      expect((await get(`${booted.url}/admin/machines/assets/viewer.css`)).type).toContain('text/css');
      expect((await get(`${booted.url}/admin/machines/assets/package.json`)).status).toBe(404);
      expect((await get(`${booted.url}/admin/machines/assets/..%2Fpackage.json`)).status).toBe(404);
    });

    test('GET /admin/machines is, for other clients, the list of machines as JSON', async () => {
      for (const accept of [undefined, 'application/json', '*/*']) {
        const answer = await get(`${booted.url}/admin/machines`, accept);
        expect(answer.status).toBe(200);
        expect(answer.type).toStartWith('application/json');
        expect(JSON.parse(answer.text)).toEqual({ data: [{ name: 'payment', version: paymentMachineVersion }] });
      }
    });

    test('without the operator token every viewer route answers 401', async () => {
      for (const path of ['/admin/machines', '/admin/machines/payment.json', '/admin/machines/assets/viewer.js', '/admin/machines/payment/simulate?events=[]']) {
        expect((await get(booted.url + path, undefined, null)).status).toBe(401);
        expect((await get(booted.url + path, undefined, 'wrong')).status).toBe(401);
      }
    });

    test('a browser signs in once: the cookie opens the pages, but never a change', async () => {
      const login = (token: string) => fetch(`${booted.url}/admin/login`, {
        method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString(),
      });
      expect((await fetch(`${booted.url}/admin/login`)).status).toBe(200);
      expect((await login('wrong-token-wrong-token')).status).toBe(401);
      const signedIn = await login(admin_token);
      expect(signedIn.status).toBe(303);
      const cookie = signedIn.headers.get('set-cookie')!;
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Strict');
      const session = cookie.split(';')[0]!;
      expect((await fetch(`${booted.url}/admin/machines`, { headers: { cookie: session } })).status).toBe(200);
      const change = await fetch(`${booted.url}/admin/merchants`, {
        method: 'POST', headers: { cookie: session, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'by cookie' }),
      });
      expect(change.status).toBe(401);
    });

    test('a browser gets the timeline as HTML: journal, highlighted states, side tables, every string escaped', async () => {
      const created = await merchant.createPayment({ subject: '<script>alert("subject")</script>', metadata: { note: '<script>alert(1)</script>' } });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const closed = await merchant.call('POST', `/v1/payments/${id}/close`, {});
      expect(closed.status).toBe(200);

      const page = await get(`${booted.url}/admin/payments/${id}/timeline`, browser_accept);
      expect(page.status).toBe(200);
      expect(page.type).toStartWith('text/html');
      expect(page.text).toContain(`<h1>Payment ${id}</h1>`);
      expect(page.text).toContain('<b>close.request</b>');
      expect(page.text).toContain('class="state atomic current visited" data-state="closed"');
      expect(page.text.match(/<g class="step" data-step="\d+">/g)).toHaveLength(2);
      expect(page.text).toContain('<h2>Timers</h2>');
      expect(page.text).toContain('<h2>Outbox</h2>');
      expect(page.text).toContain('<h2>Merchant events</h2>');
      expect(page.text).not.toContain('<script>alert');
      expect(page.text).toContain('&quot;subject&quot;: &quot;&lt;script&gt;alert(\\&quot;subject\\&quot;)&lt;/script&gt;&quot;');
      expect(page.text).toContain('&quot;note&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;');
      // The notifier may have tried delivering meanwhile: any delivery status will do, but it is shown.
      expect(page.text).toMatch(/<td>payment\.closed<\/td><td><time [^>]+>[^<]+ CST<\/time><\/td><td>(pending|delivered|failed)<\/td><td>\d+<\/td>/);
      expect((await get(`${booted.url}/admin/payments/pay_nope/timeline`, browser_accept)).status).toBe(404);
      // A browser without a session is sent to sign in (src/console/errors.tsx); a wrong token is refused.
      const signedOut = await fetch(`${booted.url}/admin/payments/${id}/timeline`, { headers: { accept: browser_accept }, redirect: 'manual' });
      expect([signedOut.status, signedOut.headers.get('location')]).toEqual([303, `/admin/login?next=${encodeURIComponent(`/admin/payments/${id}/timeline`)}`]);
      expect((await get(`${booted.url}/admin/payments/${id}/timeline`, browser_accept, 'wrong')).status).toBe(401);
    });

    test("the timeline page says first what an operator asks: the amount as money, flows, refunds, risk", async () => {
      const created = await merchant.createPayment({ amount: '9.99', subject: 'a <b>mug</b>' });
      const id = created.body.id as string;
      await settleThroughActor(booted.paycenter, id);
      expect((await merchant.call('POST', `/v1/payments/${id}/refunds`, { refund_no: 'R1', amount: '1.50', reason: 'chipped <b>' })).status).toBe(201);

      const page = (await get(`${booted.url}/admin/payments/${id}/timeline`, browser_accept)).text;
      expect(page).toContain('<dt>amount</dt><dd>9.99 CNY</dd>');
      expect(page).toContain('<dt>subject</dt><dd>a &lt;b&gt;mug&lt;/b&gt;</dd>');
      expect(page).toContain('<dt>paid</dt><dd>9.99 CNY</dd>');
      expect(page).toContain('<dt>risk</dt><dd>allow, score 0</dd>');
      expect(page).toMatch(/<h2>Flows<\/h2>[\s\S]*<td>alipay_qr<\/td><td>alipay_main<\/td><td>9\.99 CNY<\/td><td>succeeded<\/td>/);
      expect(page).toMatch(/<h2>Refunds<\/h2>[\s\S]*<td>R1<\/td><td>1\.50 CNY<\/td><td>pending<\/td>\s*<td>chipped &lt;b&gt;<\/td>/);
    });

    test('GET /admin/machines/payment/simulate runs the events on a scratch actor and touches no order', async () => {
      const before = (await adminCall(booted.url, 'GET', '/admin/payments?limit=100')).body.data.length;
      const events = encodeURIComponent(JSON.stringify([{ type: 'close.request', reason: 'merchant' }]));
      const answer = await adminCall(booted.url, 'GET', `/admin/machines/payment/simulate?events=${events}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ initial: 'created', steps: [{ state: 'closed', states: ['closed'], changed: true }] });
      expect((await adminCall(booted.url, 'GET', '/admin/payments?limit=100')).body.data.length).toBe(before);
      expect((await adminCall(booted.url, 'GET', '/admin/machines/payment/simulate?events=not-json')).body.error).toMatchObject({ field: 'events' });
      expect((await adminCall(booted.url, 'GET', `/admin/machines/payment/simulate?events=${encodeURIComponent('[{"type":"nope"}]')}`)).status).toBe(400);
      expect((await adminCall(booted.url, 'GET', '/admin/machines/refund/simulate?events=[]')).status).toBe(404);
    });

    test('API clients keep the JSON timeline', async () => {
      const created = await merchant.createPayment();
      const id = created.body.id as string;
      for (const accept of [undefined, 'application/json', '*/*']) {
        const page = await get(`${booted.url}/admin/payments/${id}/timeline`, accept);
        expect(page.status).toBe(200);
        expect(page.type).toStartWith('application/json');
        expect(JSON.parse(page.text)).toMatchObject({ payment_id: id, status: 'created', events: [{ seq: 1 }] });
      }
    });
  });
}
