/**
 * UnionPay end to end over real HTTP, on SQLite and Postgres: merchant → paycenter → the
 * sandbox's UnionPay gateway (its own CA; it shares no code with our adapter) → signed notifies
 * back. Paying by web (paycenter's page posts the signed form to the front gateway) and by QR; a
 * declined card paid again before payTimeout; a dropped notify found by the query; a repeated one
 * applied once; a payment after the order closed refunded automatically; partial and full refunds;
 * "still processing" answers; and answers signed by a certificate that must not be trusted. The clock is moved by hand, the
 * ticker and effect runner driven by hand; notifies travel for real.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { decodeTime } from 'ulid';
import { ManualClock } from '../../src/clock.ts';
import { newId } from '../../src/ids.ts';
import { createSandbox } from '../../src/sandbox/sandbox.ts';
import { freePort } from '../harness/services.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter, tableCounts } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';
import { drive, payerDecides } from './world.ts';

/** Each test waits for notifies travelling over real HTTP between two servers: more than bun's 5 s default under load. */
const test_timeout_ms = 30_000;

type UnionpayWorld = { booted: Booted; url: string; sandboxUrl: string; merchant: MerchantClient; merId: string; clock: ManualClock; stop(): Promise<void> };

async function bootUnionpayWorld(kind: (typeof storeKinds)[number]): Promise<UnionpayWorld> {
  // Ids are ULIDs from one monotonic factory per process, and UnionPay's txnTime is the flow id's
  // time: a world booted after another one moved its clock ahead starts at the ids' time, so that
  // its ids, txnTimes and payTimeouts agree.
  const clock = new ManualClock(decodeTime(newId('req').slice('req_'.length)) + 1_000);
  const sandboxPort = await freePort();
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}/sandbox`;
  const sandbox = createSandbox({ baseUrl: sandboxUrl, notifyRetryMs: [200, 500, 1_000] });
  const sandboxServer = Bun.serve({ port: sandboxPort, hostname: '127.0.0.1', fetch: new Hono().route('/sandbox', sandbox.app).fetch });
  const port = await freePort();
  const booted = await bootPaycenter(kind, { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` }, { clock, manualTicker: true });
  const provisioned = await fetch(`${sandboxUrl}/unionpay/merchants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const creds = (await provisioned.json()) as Record<string, string>;
  const channel = await adminCall(booted.url, 'POST', '/admin/channels', { code: 'unionpay_main', provider: 'unionpay', methods: ['unionpay_web', 'unionpay_qr'], config: creds });
  if (channel.status !== 201) throw new Error(`channel not created: ${JSON.stringify(channel.body)}`);
  const merchant = await MerchantClient.create(booted.url, { methods: ['unionpay_web', 'unionpay_qr'] });
  return {
    booted, url: booted.url, sandboxUrl, merchant, merId: creds.mer_id!, clock,
    async stop() {
      await booted.stop();
      await sandbox.stop();
      await sandboxServer.stop(true);
    },
  };
}

/** What the payer's browser does with a unionpay_web pay link: loads paycenter's page and posts its form to the front gateway. */
async function followWebPayLink(payUrl: string): Promise<{ page: string; form: Record<string, string>; action: string; policy: string; script: string }> {
  const loaded = await fetch(payUrl);
  const html = await loaded.text();
  const policy = loaded.headers.get('content-security-policy') ?? '';
  const script = /<script>([^<]*)<\/script>/.exec(html)?.[1] ?? '';
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no form on ${payUrl}: ${html.slice(0, 200)}`);
  const unescape = (s: string) => s.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
  const form = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [unescape(m[1]!), unescape(m[2]!)]));
  const posted = await fetch(unescape(action), { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
  const location = posted.headers.get('location');
  if (!location) throw new Error(`the front gateway answered ${posted.status}: ${(await posted.text()).slice(0, 300)}`);
  return { page: new URL(location, unescape(action)).href, form, action: unescape(action), policy, script };
}

for (const kind of storeKinds) {
  describe(`unionpay through the sandbox on ${kind} (a moved clock)`, () => {
    let world: UnionpayWorld;
    beforeAll(async () => {
      world = await bootUnionpayWorld(kind);
    }, 60_000);
    afterAll(() => world?.stop());

    /** The merchant's requests, signed at paycenter's (moved) time. */
    const call = (method: string, path: string, body?: object) => world.merchant.call(method, path, body, { timestamp: Math.floor(world.clock.now() / 1000) });
    const get = async (id: string) => (await call('GET', `/v1/payments/${id}`)).body;
    const eventsOf = async (id: string) =>
      (await call('GET', '/v1/events?limit=100')).body.data.filter((e: any) => e.data.id === id || e.data.payment_id === id).map((e: any) => e.type);
    const faults = (body: Record<string, unknown> | null) =>
      fetch(`${world.sandboxUrl}/faults/unionpay/${world.merId}`, body ? { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : { method: 'DELETE' });
    /** Drives timers and effects until `done` holds for the payment (a notify travels on its own), bounded. */
    async function until(id: string, done: (payment: any) => boolean): Promise<any> {
      for (let i = 0; i < 200; i++) {
        const payment = await get(id);
        if (done(payment)) return payment;
        await drive(world);
        await Bun.sleep(25);
      }
      throw new Error(`payment ${id} stayed ${JSON.stringify(await get(id))}`);
    }
    /** A new payment (paid at once when `method` is given: the answer carries the action); must be 201. */
    async function createPaid(fields: Record<string, unknown>) {
      const created = await world.merchant.createPayment(fields, { timestamp: Math.floor(world.clock.now() / 1000) });
      if (created.status !== 201) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
      return created;
    }
    /** Moves the clock past the next query gap (5 s) and drives. */
    const nextQuery = async () => {
      world.clock.advance(5_001);
      await drive(world);
    };

    test('unionpay_web: paycenter\'s page posts the signed consume to the front gateway; the payer pays; the notify settles it once', async () => {
      await faults(null);
      const created = await createPaid({ method: 'unionpay_web', amount: '12.34' });
      expect(created.status).toBe(201);
      expect(created.body.action).toMatchObject({ type: 'redirect' });
      const flow = created.body.flows[0];
      expect(flow).toMatchObject({ method: 'unionpay_web', channel: 'unionpay_main', status: 'pending' });
      const { page, form, action, policy, script } = await followWebPayLink(created.body.action.pay_url);
      expect(action).toBe(`${world.sandboxUrl}/unionpay/gateway/api/frontTransReq.do`);
      // A browser may run the page's one script and post the form to the gateway, and nothing else.
      expect(policy).toContain(`'sha256-${createHash('sha256').update(script).digest('base64')}'`);
      expect(policy).toContain(`form-action ${new URL(world.sandboxUrl).origin};`);
      expect(form).toMatchObject({
        version: '5.1.0', encoding: 'UTF-8', signMethod: '01', txnType: '01', txnSubType: '01', bizType: '000201', channelType: '07', accessType: '0',
        merId: world.merId, orderId: flow.id.replace('_', ''), txnAmt: '1234', currencyCode: '156',
        backUrl: `${world.url}/callbacks/unionpay/unionpay_main`,
      });
      // UnionPay's deadline (China time) is before the order's own.
      const chinaTime = (iso: string) => new Date(Date.parse(iso) + 8 * 3_600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
      expect(form.payTimeout! < chinaTime(created.body.expires_at)).toBe(true);
      expect(form.payTimeout! > form.txnTime!).toBe(true);
      expect((await payerDecides(page, 'pay')).status).toBe(200);
      const paid = await until(created.body.id, (p) => p.status === 'succeeded');
      expect(paid).toMatchObject({ paid_amount: '12.34' });
      expect(paid.flows[0].channel_trade_no).toMatch(/^\d{21}$/);
      expect(await eventsOf(created.body.id)).toEqual(['payment.succeeded']);
    }, test_timeout_ms);

    test('unionpay_web: a declined card is not final before payTimeout; the payer pays on UnionPay\'s page after all; succeeded, nothing refunded', async () => {
      await faults(null);
      const created = await createPaid({ method: 'unionpay_web' });
      const { page } = await followWebPayLink(created.body.action.pay_url);
      expect((await payerDecides(page, 'fail')).status).toBe(200);
      // The query reads origRespCode 60 while the payer may still pay: still paying, not failed.
      await nextQuery();
      const declined = await get(created.body.id);
      expect(declined.status).toBe('paying');
      expect(declined.flows[0].status).toBe('pending');
      expect((await payerDecides(page, 'pay')).status).toBe(200);
      const paid = await until(created.body.id, (p) => p.status === 'succeeded');
      expect(paid).toMatchObject({ paid_amount: '100.00', refunded_amount: '0.00' });
      expect(paid.flows[0].status).toBe('succeeded');
      expect(await eventsOf(created.body.id)).toEqual(['payment.succeeded']);
    }, test_timeout_ms);

    test('unionpay_qr: a declined card is not final before payTimeout either; the same code paid after all', async () => {
      await faults(null);
      const created = await createPaid({ method: 'unionpay_qr' });
      expect((await payerDecides(created.body.action.qr_code, 'fail')).status).toBe(200);
      await nextQuery();
      expect((await get(created.body.id)).flows[0].status).toBe('pending');
      expect((await payerDecides(created.body.action.qr_code, 'pay')).status).toBe(200);
      await until(created.body.id, (p) => p.status === 'succeeded');
      expect(await eventsOf(created.body.id)).toEqual(['payment.succeeded']);
    }, test_timeout_ms);

    test('a declined payment never paid again is final once the order\'s deadline passed: the flow failed, the order closed', async () => {
      await faults(null);
      const created = await createPaid({ method: 'unionpay_web', expire_seconds: 60 });
      const { page } = await followWebPayLink(created.body.action.pay_url);
      await payerDecides(page, 'fail');
      await nextQuery();
      expect((await get(created.body.id)).flows[0].status).toBe('pending');
      world.clock.advance(60_001);
      const closed = await until(created.body.id, (p) => p.status === 'closed');
      expect(closed).toMatchObject({ close_reason: 'timeout' });
      expect(closed.flows[0].status).toBe('failed');
      expect(await eventsOf(created.body.id)).toEqual(['payment.closed']);
    }, test_timeout_ms);

    test('a unionpay_web link carries only forms this channel signed: a changed amount gets no page', async () => {
      const created = await createPaid({ method: 'unionpay_web' });
      const tampered = created.body.action.pay_url.replace('txnAmt=10000', 'txnAmt=1');
      expect(tampered).not.toBe(created.body.action.pay_url);
      expect((await fetch(tampered)).status).toBe(404);
    }, test_timeout_ms);

    test('the cashier offers both UnionPay methods and pays with one', async () => {
      const created = await createPaid({});
      const link = new URL(created.body.cashier_url);
      const page = await (await fetch(`${world.url}${link.pathname}${link.search}`)).text();
      expect(page).toContain('data-method="unionpay_web"');
      expect(page).toContain('data-method="unionpay_qr"');
      expect(page).toContain('银联扫码');
      const paid = await fetch(`${world.url}${link.pathname}/pay${link.search}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'unionpay_qr' }) });
      expect(paid.status).toBe(200);
      expect(((await paid.json()) as { action: { type: string } }).action.type).toBe('qr_code');
    }, test_timeout_ms);

    test('unionpay_qr: the QR code from the back gateway; the payer scans and pays; succeeded', async () => {
      const created = await createPaid({ method: 'unionpay_qr' });
      expect(created.body.action).toMatchObject({ type: 'qr_code' });
      expect((await payerDecides(created.body.action.qr_code, 'pay')).status).toBe(200);
      await until(created.body.id, (p) => p.status === 'succeeded');
      expect(await eventsOf(created.body.id)).toEqual(['payment.succeeded']);
    }, test_timeout_ms);

    test('the notify is dropped: the active query finds the payment', async () => {
      await faults({ drop_notify_rate: 1, seed: 3 });
      const created = await createPaid({ method: 'unionpay_qr' });
      await payerDecides(created.body.action.qr_code, 'pay');
      await Bun.sleep(300);
      await drive(world);
      expect((await get(created.body.id)).status).toBe('paying');
      await nextQuery();
      expect(await get(created.body.id)).toMatchObject({ status: 'succeeded', paid_amount: '100.00' });
      expect(await eventsOf(created.body.id)).toEqual(['payment.succeeded']);
    }, test_timeout_ms);

    test('the notify is repeated: applied once, every copy answered ok and recorded', async () => {
      await faults({ duplicate_notify: 3, seed: 4 });
      const created = await createPaid({ method: 'unionpay_qr' });
      await payerDecides(created.body.action.qr_code, 'pay');
      await until(created.body.id, (p) => p.status === 'succeeded');
      let callbacks: any[] = [];
      for (let i = 0; i < 100 && callbacks.length < 3; i++) {
        await Bun.sleep(25);
        callbacks = (await adminCall(world.url, 'GET', `/admin/payments/${created.body.id}/timeline`)).body.callbacks;
      }
      expect(callbacks.length).toBe(3);
      expect(callbacks.every((c: any) => c.verified === true && c.provider === 'unionpay')).toBe(true);
      expect(await eventsOf(created.body.id)).toEqual(['payment.succeeded']);
    }, test_timeout_ms);

    test('still processing (origRespCode 05): the query asks again later; the payment succeeds once UnionPay knows', async () => {
      await faults({ drop_notify_rate: 1, processing_queries: 2, seed: 5 });
      const created = await createPaid({ method: 'unionpay_qr' });
      await payerDecides(created.body.action.qr_code, 'pay');
      await nextQuery();
      expect((await get(created.body.id)).flows[0].status).toBe('pending');
      world.clock.advance(10_001);
      await drive(world);
      expect((await get(created.body.id)).flows[0].status).toBe('pending');
      world.clock.advance(30_001);
      await drive(world);
      expect(await get(created.body.id)).toMatchObject({ status: 'succeeded' });
    }, test_timeout_ms);

    test('a payment after the order closed (UnionPay has no close) is refunded automatically', async () => {
      await faults(null);
      const created = await createPaid({ method: 'unionpay_qr', expire_seconds: 60 });
      world.clock.advance(60_001);
      const closed = await until(created.body.id, (p) => p.status === 'closed');
      expect(closed).toMatchObject({ status: 'closed', close_reason: 'timeout' });
      expect(closed.flows[0].status).toBe('closed');
      expect((await payerDecides(created.body.action.qr_code, 'pay', { force: true })).status).toBe(200);
      // The notify arrives; the success is refunded at once (UnionPay accepts it), and the refund query reads it done.
      await until(created.body.id, (p) => p.flows[0].status !== 'closed');
      await drive(world);
      await nextQuery();
      const after = await get(created.body.id);
      expect(after.status).toBe('closed');
      expect(after.flows[0].status).toBe('refunded');
      expect(await eventsOf(created.body.id)).toEqual(['payment.closed']);
    }, test_timeout_ms);

    test('refunds, partial then the rest: each is accepted, then the refund query reads it succeeded', async () => {
      await faults(null);
      const created = await createPaid({ method: 'unionpay_qr' });
      await payerDecides(created.body.action.qr_code, 'pay');
      await until(created.body.id, (p) => p.status === 'succeeded');
      const first = await call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R1', amount: '30.00' });
      expect(first.status).toBe(201);
      await drive(world);
      expect((await call('GET', `/v1/refunds/${first.body.id}`)).body.status).toBe('pending');
      await nextQuery();
      expect((await call('GET', `/v1/refunds/${first.body.id}`)).body.status).toBe('succeeded');
      expect(await get(created.body.id)).toMatchObject({ status: 'partially_refunded', refunded_amount: '30.00' });
      const rest = await call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R2', amount: '70.00' });
      expect(rest.status).toBe(201);
      await drive(world);
      await nextQuery();
      expect(await get(created.body.id)).toMatchObject({ status: 'refunded', refunded_amount: '100.00' });
      const beyond = await call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'R3', amount: '0.01' });
      expect(beyond.status).toBe(409);
      const types = await eventsOf(created.body.id);
      expect(types.filter((t: string) => t === 'refund.succeeded').length).toBe(2);
      // UnionPay's notifies of both refunds went to the plug-in's refund-notify page and were acknowledged (HTTP 200).
      const orderId = created.body.flows[0].id.replace('_', '');
      let notify: { delivered: number; failed: number } = { delivered: 0, failed: 0 };
      for (let i = 0; i < 100 && notify.delivered < 3; i++) {
        await Bun.sleep(25);
        notify = ((await (await fetch(`${world.sandboxUrl}/trades/unionpay/${world.merId}/${orderId}`)).json()) as { notify: typeof notify }).notify;
      }
      expect(notify).toMatchObject({ delivered: 3, failed: 0 });
    }, test_timeout_ms);

    test('a unionpay_web payment refunded: the refund names the gateway product (a QR one names the QR product, above)', async () => {
      await faults(null);
      const created = await createPaid({ method: 'unionpay_web', amount: '20.00' });
      const { page } = await followWebPayLink(created.body.action.pay_url);
      await payerDecides(page, 'pay');
      await until(created.body.id, (p) => p.status === 'succeeded');
      const refund = await call('POST', `/v1/payments/${created.body.id}/refunds`, { refund_no: 'RW1', amount: '20.00' });
      expect(refund.status).toBe(201);
      await drive(world);
      await nextQuery();
      expect((await call('GET', `/v1/refunds/${refund.body.id}`)).body.status).toBe('succeeded');
      expect(await get(created.body.id)).toMatchObject({ status: 'refunded', refunded_amount: '20.00' });
    }, test_timeout_ms);

    test('answers and notifies signed with an expired, wrong-CN or outside-the-chain certificate are refused', async () => {
      await faults({ drop_notify_rate: 0, seed: 6 });
      const created = await createPaid({ method: 'unionpay_qr' });
      for (const signer of ['expired', 'wrong_cn', 'untrusted']) {
        await faults({ signer, seed: 6 });
        // The active query's answer is refused: the flow stays pending.
        await nextQuery();
        expect((await get(created.body.id)).flows[0].status).toBe('pending');
      }
      // The notify is recorded raw and refused (UnionPay would retry it): the order does not move.
      await faults({ signer: 'wrong_cn', seed: 6 });
      const before = (await tableCounts(world.booted.databaseUrl)).callback_log!;
      await payerDecides(created.body.action.qr_code, 'pay');
      let recorded = before;
      for (let i = 0; i < 100 && recorded === before; i++) {
        await Bun.sleep(25);
        recorded = (await tableCounts(world.booted.databaseUrl)).callback_log!;
      }
      expect(recorded).toBeGreaterThan(before);
      expect((await get(created.body.id)).status).toBe('paying');
      // Signed properly again, the next query finds the payment.
      await faults(null);
      world.clock.advance(60_001);
      await drive(world);
      expect((await get(created.body.id)).status).toBe('succeeded');
    }, test_timeout_ms);
  });
}
