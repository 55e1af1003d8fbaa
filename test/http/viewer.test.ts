/** The state-chart viewer: the machine as a graph and as mermaid text, and the operator pages over real HTTP. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createMachine } from 'xstate';
import { paymentMachine, paymentMachineVersion } from '../../machines/payment.machine.ts';
import { machineGraph, mermaidOf, stateIdsOf } from '../../src/viewer/statechart.ts';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, adminCall, admin_token, bootPaycenter } from './harness.ts';

const payment_states = [
  'created', 'paying', 'paying.active', 'paying.closing', 'settled', 'settled.succeeded', 'settled.partially_refunded', 'settled.refunded', 'closed',
];
const payment_events = [
  'pay.start', 'flow.report', 'flow.prepared', 'timer.expire', 'timer.query', 'timer.close_retry', 'close.request', 'refund.request',
  'refund.report', 'timer.refund_query',
];
const browser_accept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('machineGraph and mermaidOf', () => {
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
    const text = mermaidOf(door);
    expect(text).toContain('open --> closed : after 5000ms');
    expect(text).toContain('open --> locked : after slowly');
    expect(text).toContain('locked --> [*]');
  });

  test('the mermaid text declares every state, nests children and labels edges with event and guard', () => {
    const text = mermaidOf(graph);
    expect(text).toStartWith('stateDiagram-v2\n  [*] --> created\n');
    for (const id of payment_states) expect(text).toContain(id.replace('.', '_'));
    expect(text).toContain('state paying {');
    expect(text).toContain('state "closing" as paying_closing');
    expect(text).toContain('created --> paying : pay.start [payStartsAttempt]');
    expect(text).toContain('paying_active --> created : always [nothingPending]');
    expect(text).toContain('settled --> settled : refund.request [refundAllowed]');
    expect(text).not.toContain('classDef');
  });

  test('highlights name only states of the graph; the current state wins over visited', () => {
    const text = mermaidOf(graph, { current: stateIdsOf({ paying: 'closing' }), visited: ['created', 'paying', 'nope\nclick created call x()'] });
    expect(text).toContain('class created visited\n');
    expect(text).toContain('class paying,paying_closing current\n');
    expect(text).not.toContain('click');
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

    test('GET /admin/machines is an HTML chart that loads mermaid from the app itself, which serves it', async () => {
      const page = await get(`${booted.url}/admin/machines`);
      expect(page.status).toBe(200);
      expect(page.type).toStartWith('text/html');
      expect(page.text).toContain('<script src="/admin/machines/assets/mermaid.min.js"></script>');
      expect(page.text).toContain('<pre class="mermaid">stateDiagram-v2');
      expect(page.text).toContain('created --&gt; paying : pay.start [payStartsAttempt]');
      const asset = await get(`${booted.url}/admin/machines/assets/mermaid.min.js`);
      expect(asset.status).toBe(200);
      expect(asset.type).toContain('javascript');
      expect(asset.text).toContain('globalThis["mermaid"]');
      expect((await get(`${booted.url}/admin/machines/assets/package.json`)).status).toBe(404);
      expect((await get(`${booted.url}/admin/machines/assets/..%2Fpackage.json`)).status).toBe(404);
    });

    test('without the operator token every viewer route answers 401', async () => {
      for (const path of ['/admin/machines', '/admin/machines/payment.json', '/admin/machines/assets/mermaid.min.js']) {
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
      expect(page.text).toContain('class closed current');
      expect(page.text).toContain('<h2>Timers</h2>');
      expect(page.text).toContain('<h2>Outbox</h2>');
      expect(page.text).toContain('<h2>Merchant events</h2>');
      expect(page.text).not.toContain('<script>alert');
      expect(page.text).toContain('&quot;subject&quot;:&quot;&lt;script&gt;alert(\\&quot;subject\\&quot;)&lt;/script&gt;&quot;');
      expect(page.text).toContain('&quot;note&quot;:&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;');
      // The notifier may have tried delivering meanwhile: any delivery status will do, but it is shown.
      expect(page.text).toMatch(/<td>payment\.closed<\/td><td>[^<]+<\/td><td>(pending|delivered|failed)<\/td><td>\d+<\/td>/);
      expect((await get(`${booted.url}/admin/payments/pay_nope/timeline`, browser_accept)).status).toBe(404);
      expect((await get(`${booted.url}/admin/payments/${id}/timeline`, browser_accept, null)).status).toBe(401);
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
