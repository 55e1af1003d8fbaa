/**
 * Failover against the channel sandbox: a channel that fails (Alipay's in-band outage answer)
 * while a second one serves the same method costs payers nothing — every pay answers 200 with an
 * action from the second channel, and the first one's breaker opens after BREAKER_CONSECUTIVE
 * failures; with both failing the method leaves the cashier and /pay answers
 * no_channel_available; after BREAKER_OPEN_S BREAKER_HALF_OPEN_PROBES half-open probes, one after
 * the other, close the breaker again and the method comes back. The clock is moved by hand; the ticker and runner are driven by hand.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { default_breaker_settings } from '../../src/routing/breaker.ts';
import { type Answer, MerchantClient, adminCall } from '../http/harness.ts';
import { type World, bootWorld, drive } from '../channels/world.ts';

const clock = new ManualClock(Date.now());
let world: World;
let merchant: MerchantClient;
let second: Record<string, string>;
/** paycenter's warnings and errors, one JSON line each. */
const logged: string[] = [];

async function faults(appId: string, body: object | null): Promise<void> {
  const init = body ? { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : { method: 'DELETE' };
  expect((await fetch(`${world.sandboxUrl}/faults/alipay/${appId}`, init)).status).toBe(200);
}

async function pay(): Promise<{ created: Answer; paid: Answer }> {
  const created = await merchant.createPayment();
  const paid = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'alipay_qr' });
  return { created, paid };
}

/** The methods the payment's cashier offers now (what its page polls). */
async function cashierMethods(payment: { cashier_url: string }): Promise<string[]> {
  const url = new URL(payment.cashier_url);
  const answer = await fetch(`${world.url}${url.pathname}/status${url.search}`);
  expect(answer.status).toBe(200);
  return ((await answer.json()) as { methods: string[] }).methods;
}

const health = async (code: string) => (await adminCall(world.url, 'GET', `/admin/channels/${code}/health`)).body;

beforeAll(async () => {
  // A fixed random source: `weighted` then always ranks the heavier alipay_main first.
  world = await bootWorld('sqlite', { clock, manualTicker: true, random: () => 0.5, log: createLogger('warn', (line) => logged.push(line)) });
  const app = await fetch(`${world.sandboxUrl}/alipay/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  second = (await app.json()) as Record<string, string>;
  const created = await adminCall(world.url, 'POST', '/admin/channels', { code: 'alipay_b', provider: 'alipay', methods: ['alipay_qr'], weight: 50, config: second });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ fee_rate: '0', health: { breaker: 'closed', calls: 0, window_s: 300, hidden_in_cashier: false } });
  merchant = await MerchantClient.create(world.url, { methods: ['alipay_qr', 'wechat_native'], routing: 'weighted' });
  clock.advance(2_001); // the channel list is cached for 2 s
}, 60_000);
afterAll(() => world?.stop());

describe('failover between two channels of one method (sqlite, sandbox faults)', () => {
  test('a failing channel: every pay still answers 200 with an action from the healthy one; the breaker opens after BREAKER_CONSECUTIVE failures', async () => {
    await faults(world.alipay.app_id!, { api_error_rate: 1, seed: 3 });
    for (let i = 0; i < default_breaker_settings.consecutive; i++) {
      const { paid } = await pay();
      expect(paid.status).toBe(200);
      expect(paid.body.action.type).toBe('qr_code');
      expect(paid.body.flows.map((f: any) => [f.channel, f.status])).toEqual([['alipay_main', 'failed'], ['alipay_b', 'pending']]);
    }
    const opened = await health('alipay_main');
    expect(opened).toMatchObject({ breaker: 'open', calls: 5, failures: 5, success_rate: 0, hidden_in_cashier: true });
    // Each failed call is logged with its cause; the window only counts them.
    const failedCalls = logged.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'channel call failed');
    expect(failedCalls).toHaveLength(5);
    for (const entry of failedCalls) expect(entry).toMatchObject({ level: 'warn', channel: 'alipay_main', call: 'prepay', error: expect.stringMatching(/\S/) });
    expect(opened.transitions[0]).toMatchObject({ from: 'closed', to: 'open', reason: '5 calls failed in a row' });
    const alerts = (await adminCall(world.url, 'GET', '/admin/alerts?open=true')).body.data.filter((a: any) => a.kind === 'breaker_open');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ channel: 'alipay_main', payment_id: null });
  }, 30_000);

  test('with the breaker open the failing channel gets no prepay: the timeline says it was skipped and why', async () => {
    const { created, paid } = await pay();
    expect(paid.status).toBe(200);
    expect(paid.body.flows.map((f: any) => f.channel)).toEqual(['alipay_b']);
    const timeline = (await adminCall(world.url, 'GET', `/admin/payments/${created.body.id}/timeline`)).body;
    const [routing, ...others] = timeline.events.find((e: any) => e.event.type === 'pay.start').event.routing;
    expect(others).toEqual([]);
    expect(routing).toMatchObject({
      method: 'alipay_qr', flow_id: paid.body.flows[0].id, strategy: 'weighted', chosen: 'alipay_b', probe: false, skipped: [{ channel: 'alipay_main', reason: 'breaker open' }],
    });
    expect(routing.considered.map((c: any) => c.channel)).toEqual(['alipay_b']);
    // Another channel serves the method: the cashier still offers it.
    expect(await cashierMethods(created.body)).toEqual(['alipay_qr', 'wechat_native']);
  }, 30_000);

  test('the failover is on the timeline: the second pay event names the channel and flow it moved on from', async () => {
    await adminCall(world.url, 'POST', '/admin/channels/alipay_main/breaker', { state: 'closed', reason: 'test: try it again' });
    const { created, paid } = await pay();
    expect(paid.status).toBe(200);
    const [failed, served] = paid.body.flows;
    const timeline = (await adminCall(world.url, 'GET', `/admin/payments/${created.body.id}/timeline`)).body;
    const starts = timeline.events.filter((e: any) => e.event.type === 'pay.start').map((e: any) => e.event.routing);
    expect(starts.map((notes: any[]) => notes.length)).toEqual([1, 1]);
    expect(starts[0][0]).toMatchObject({ flow_id: failed.id, chosen: 'alipay_main' });
    expect(starts[1][0]).toMatchObject({ flow_id: served.id, chosen: served.channel, failover_from: { channel: 'alipay_main', flow_id: failed.id } });
    expect(starts[1][0].skipped).toContainEqual({ channel: 'alipay_main', reason: 'failed in this request' });
  }, 30_000);

  test('a combined payment: each attempt notes the routed part (method, flow, channels considered and skipped), also across a failover; the balance part is not routed', async () => {
    const combined = await MerchantClient.create(world.url, { methods: ['alipay_qr', 'balance'], routing: 'weighted' });
    const user = `p_${Date.now().toString(36)}`;
    expect((await combined.call('POST', `/v1/balances/${user}/credits`, { credit_no: 'T1', amount: '50.00' })).status).toBe(201);
    const created = await combined.createPayment({ amount: '100.00', user_id: user });
    const parts = [{ method: 'balance', amount: '20.00' }, { method: 'alipay_qr', amount: '80.00' }];
    const paid = await combined.call('POST', `/v1/payments/${created.body.id}/pay`, { parts });
    expect(paid.status).toBe(200);
    // alipay_main still fails: the request moved on to alipay_b, with a new balance part beside it.
    const flows = paid.body.flows.map((f: any) => [f.method, f.channel, f.status]);
    expect(flows).toEqual([['balance', 'balance', 'closed'], ['alipay_qr', 'alipay_main', 'failed'], ['balance', 'balance', 'pending'], ['alipay_qr', 'alipay_b', 'pending']]);
    const [, failed, , served] = paid.body.flows;
    const timeline = (await adminCall(world.url, 'GET', `/admin/payments/${created.body.id}/timeline`)).body;
    const starts = timeline.events.filter((e: any) => e.event.type === 'pay.start').map((e: any) => e.event);
    expect(starts).toHaveLength(2);
    for (const start of starts) expect(start.parts.map((p: any) => p.method)).toEqual(['balance', 'alipay_qr']);
    expect(starts.map((s: any) => s.routing.map((n: any) => [n.method, n.flow_id, n.chosen]))).toEqual([
      [['alipay_qr', failed.id, 'alipay_main']], [['alipay_qr', served.id, 'alipay_b']],
    ]);
    expect(starts[0].routing[0].considered.map((c: any) => c.channel).sort()).toEqual(['alipay_b', 'alipay_main']);
    expect(starts[1].routing[0]).toMatchObject({
      failover_from: { channel: 'alipay_main', flow_id: failed.id }, skipped: [{ channel: 'alipay_main', reason: 'failed in this request' }],
    });
  }, 30_000);

  test('both failing: the method leaves the cashier and /pay answers no_channel_available', async () => {
    await adminCall(world.url, 'POST', '/admin/channels/alipay_main/breaker', { state: 'open', reason: 'test: known outage' });
    await faults(second.app_id!, { api_error_rate: 1, seed: 4 });
    let last: Answer | undefined;
    for (let i = 0; i < default_breaker_settings.consecutive; i++) {
      last = (await pay()).paid;
      expect(last.status).toBe(422);
      expect(last.body.error.code).toBe('no_channel_available');
    }
    expect((await health('alipay_b')).breaker).toBe('open');
    const { created, paid } = await pay();
    expect(paid.status).toBe(422);
    expect(paid.body.error.code).toBe('no_channel_available');
    expect(await cashierMethods(created.body)).toEqual(['wechat_native']);
    const page = await (await fetch(created.body.cashier_url)).text();
    expect(page).toMatch(/data-method="alipay_qr"[^>]*hidden/);
    expect(page).not.toMatch(/data-method="wechat_native"[^>]*hidden/);
    // No prepay was sent anywhere for this one: no flow at all.
    expect((await merchant.call('GET', `/v1/payments/${created.body.id}`)).body.flows).toEqual([]);
  }, 30_000);

  test('recovery: after BREAKER_OPEN_S, BREAKER_HALF_OPEN_PROBES answered probes one after the other close the breaker, traffic and the method return; a forced open stays open', async () => {
    await faults(world.alipay.app_id!, null);
    await faults(second.app_id!, null);
    clock.advance(default_breaker_settings.openMs);
    let created: Answer | undefined;
    for (let probe = 1; probe <= default_breaker_settings.halfOpenProbes; probe++) {
      expect((await health('alipay_b')).breaker).toBe('half_open');
      const paid = await pay();
      created = paid.created;
      expect(paid.paid.status).toBe(200);
      expect(paid.paid.body.flows.map((f: any) => f.channel)).toEqual(['alipay_b']);
      const timeline = (await adminCall(world.url, 'GET', `/admin/payments/${created.body.id}/timeline`)).body;
      expect(timeline.events.find((e: any) => e.event.type === 'pay.start').event.routing).toMatchObject([{ chosen: 'alipay_b', probe: true }]);
    }
    const closed = await health('alipay_b');
    expect(closed).toMatchObject({ breaker: 'closed', calls: 0 });
    expect(closed.transitions.slice(0, 5).map((t: any) => [t.from, t.to, t.reason])).toEqual([
      ['half_open', 'closed', '3 half-open probes answered in a row'],
      ['half_open', 'half_open', 'half-open probe 2 of 3 answered'],
      ['half_open', 'half_open', 'half-open probe 1 of 3 answered'],
      ['open', 'half_open', 'open for 30 s: letting a probe through'],
      ['closed', 'open', '5 calls failed in a row'],
    ]);
    // alipay_main was forced open by an operator: it stays open however long it has been.
    expect((await health('alipay_main')).breaker).toBe('open');
    expect(await cashierMethods(created!.body)).toEqual(['alipay_qr', 'wechat_native']);
    await drive(world);
  }, 30_000);
});
