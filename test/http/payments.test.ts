/** The /v1 payment and refund routes over real HTTP, on SQLite and on Postgres. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { storeKinds } from '../store/stores.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter, settleThroughActor } from './harness.ts';

for (const kind of storeKinds) {
  describe(`payments API on ${kind}`, () => {
    let booted: Booted;
    let merchant: MerchantClient;
    let other: MerchantClient;
    beforeAll(async () => {
      booted = await bootPaycenter(kind);
      merchant = await MerchantClient.create(booted.url, { notify_url: 'https://merchant.example/notify', methods: ['alipay_qr', 'balance'] });
      other = await MerchantClient.create(booted.url);
    });
    afterAll(async () => {
      await booted?.stop();
    });

    test('create answers 201 with the payment object; a retry answers 200 with the same; a change 409', async () => {
      const created = await merchant.createPayment({ merchant_order_no: 'ORD-A1', amount: '100.00', metadata: { room: 12 } });
      expect(created.status).toBe(201);
      expect(created.headers.get('x-request-id')).toStartWith('req_');
      expect(created.body).toMatchObject({
        merchant_id: merchant.merchantId, merchant_order_no: 'ORD-A1', amount: '100.00', currency: 'CNY', subject: 'Hotel booking',
        status: 'created', paid_amount: '0.00', refunded_amount: '0.00', flows: [], notify_url: 'https://merchant.example/notify',
        metadata: { room: 12 }, paid_at: null, closed_at: null, close_reason: null,
      });
      expect(created.body.id).toMatch(/^pay_[0-9A-Z]{26}$/);
      expect(created.body.cashier_url).toStartWith(`http://localhost:0/cashier/${created.body.id}?t=`);
      expect(Date.parse(created.body.expires_at) - Date.parse(created.body.created_at)).toBe(1_800_000);
      const retry = await merchant.createPayment({ merchant_order_no: 'ORD-A1', amount: '100.00' });
      expect(retry.status).toBe(200);
      expect(retry.body.id).toBe(created.body.id);
      const changed = await merchant.createPayment({ merchant_order_no: 'ORD-A1', amount: '100.01' });
      expect(changed.status).toBe(409);
      expect(changed.body.error).toMatchObject({ code: 'order_conflict', field: 'merchant_order_no' });
    });

    test("a caller's X-Request-Id comes back, on an answer and in an error's body; one longer than 128 characters is replaced", async () => {
      const order = { merchant_order_no: 'ORD-TRACE', amount: '1.00', subject: 'traced' };
      const traced = await merchant.call('POST', '/v1/payments', order, { headers: { 'x-request-id': 'shop-trace-42' } });
      expect(traced.status).toBe(201);
      expect(traced.headers.get('x-request-id')).toBe('shop-trace-42');
      const refused = await merchant.call('POST', '/v1/payments', { ...order, amount: '2.00' }, { headers: { 'x-request-id': 'shop-trace-43' } });
      expect(refused.status).toBe(409);
      expect(refused.headers.get('x-request-id')).toBe('shop-trace-43');
      expect(refused.body.error.request_id).toBe('shop-trace-43');
      const replaced = await merchant.call('GET', `/v1/payments/${traced.body.id}`, undefined, { headers: { 'x-request-id': 'x'.repeat(129) } });
      expect(replaced.headers.get('x-request-id')).toMatch(/^req_[0-9A-Z]{26}$/);
    });

    test('the same merchant_order_no belongs to each merchant separately', async () => {
      const mine = await merchant.createPayment({ merchant_order_no: 'ORD-SHARED' });
      const theirs = await other.createPayment({ merchant_order_no: 'ORD-SHARED', amount: '5.00' });
      expect([mine.status, theirs.status]).toEqual([201, 201]);
      expect(mine.body.id).not.toBe(theirs.body.id);
    });

    test('get by id and by merchant_order_no; another merchant gets 404', async () => {
      const created = await merchant.createPayment({ merchant_order_no: 'ORD-GET', expire_seconds: 600, currency: 'JPY', amount: '1500' });
      expect(created.status).toBe(201);
      const byId = await merchant.call('GET', `/v1/payments/${created.body.id}`);
      expect(byId.body).toMatchObject({ id: created.body.id, amount: '1500', currency: 'JPY' });
      const byNo = await merchant.call('GET', '/v1/payments?merchant_order_no=ORD-GET');
      expect(byNo.body.id).toBe(created.body.id);
      const foreign = await other.call('GET', `/v1/payments/${created.body.id}`);
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe('not_found');
      expect((await other.call('GET', '/v1/payments?merchant_order_no=ORD-GET')).status).toBe(404);
    });

    test('close an unpaid payment: closed, payment.closed in the events; closing again is the same answer', async () => {
      const created = await merchant.createPayment();
      const closed = await merchant.call('POST', `/v1/payments/${created.body.id}/close`);
      expect(closed.status).toBe(200);
      expect(closed.body).toMatchObject({ status: 'closed', close_reason: 'merchant' });
      expect((await merchant.call('POST', `/v1/payments/${created.body.id}/close`)).body.status).toBe('closed');
      const events = await merchant.call('GET', '/v1/events?limit=100');
      const mine = events.body.data.filter((e: any) => e.data.id === created.body.id);
      expect(mine.map((e: any) => e.type)).toEqual(['payment.closed']);
      expect(mine[0].data.status).toBe('closed');
    });

    test('refunds: 201 new, 200 same refund_no, 409 other amount, 422 beyond what was paid, 409 before paid and once refunded', async () => {
      const created = await merchant.createPayment({ amount: '100.00' });
      const id = created.body.id;
      const early = await merchant.call('POST', `/v1/payments/${id}/refunds`, { refund_no: 'R0', amount: '1.00' });
      expect([early.status, early.body.error.code]).toEqual([409, 'invalid_state']);
      await settleThroughActor(booted.paycenter, id);
      const paid = await merchant.call('GET', `/v1/payments/${id}`);
      expect(paid.body).toMatchObject({ status: 'succeeded', paid_amount: '100.00' });
      const first = await merchant.call('POST', `/v1/payments/${id}/refunds`, { refund_no: 'R1', amount: '30.00', reason: 'one night less' });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ payment_id: id, refund_no: 'R1', amount: '30.00', reason: 'one night less', status: 'pending', completed_at: null });
      expect(first.body.id).toMatch(/^rfd_/);
      const again = await merchant.call('POST', `/v1/payments/${id}/refunds`, { refund_no: 'R1', amount: '30.00' });
      expect([again.status, again.body.id]).toEqual([200, first.body.id]);
      const conflict = await merchant.call('POST', `/v1/payments/${id}/refunds`, { refund_no: 'R1', amount: '31.00' });
      expect([conflict.status, conflict.body.error.code]).toEqual([409, 'order_conflict']);
      const tooMuch = await merchant.call('POST', `/v1/payments/${id}/refunds`, { refund_no: 'R2', amount: '70.01' });
      expect([tooMuch.status, tooMuch.body.error.code]).toEqual([422, 'refund_exceeds_paid']);
      const rest = await merchant.call('POST', `/v1/payments/${id}/refunds`, { refund_no: 'R2', amount: '70.00' });
      expect(rest.status).toBe(201);
      expect((await merchant.call('GET', `/v1/refunds/${first.body.id}`)).body.refund_no).toBe('R1');
      expect((await other.call('GET', `/v1/refunds/${first.body.id}`)).status).toBe(404);
      const list = await merchant.call('GET', `/v1/payments/${id}/refunds`);
      expect(list.body.data.map((r: any) => r.refund_no)).toEqual(['R1', 'R2']);
      const closeSettled = await merchant.call('POST', `/v1/payments/${id}/close`);
      expect([closeSettled.status, closeSettled.body.error.code]).toEqual([409, 'invalid_state']);
      // Both refunds succeed at the channel: the payment is refunded, and a further refund is a state error.
      const flowId = paid.body.flows[0].id;
      for (const refund of [first.body, rest.body]) {
        await booted.paycenter.engine.dispatch(id, { type: 'refund.report', at: Date.now(), refundId: refund.id, flowId, status: 'succeeded' });
      }
      expect((await merchant.call('GET', `/v1/payments/${id}`)).body.status).toBe('refunded');
      const afterAll = await merchant.call('POST', `/v1/payments/${id}/refunds`, { refund_no: 'R3', amount: '1.00' });
      expect([afterAll.status, afterAll.body.error.code]).toEqual([409, 'invalid_state']);
    });

    test('events page oldest first with a cursor', async () => {
      const client = await MerchantClient.create(booted.url);
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const p = await client.createPayment();
        await client.call('POST', `/v1/payments/${p.body.id}/close`);
        ids.push(p.body.id);
      }
      const first = await client.call('GET', '/v1/events?limit=2');
      expect(first.body.data.map((e: any) => e.data.id)).toEqual(ids.slice(0, 2));
      expect(first.body.has_more).toBe(true);
      const rest = await client.call('GET', `/v1/events?after=${first.body.data[1].id}&limit=2`);
      expect(rest.body.data.map((e: any) => e.data.id)).toEqual(ids.slice(2));
      expect(rest.body.has_more).toBe(false);
    });

    test('pay: state, methods and parts are checked, then no channel can serve yet', async () => {
      const p = await merchant.createPayment({ amount: '100.00' });
      const path = `/v1/payments/${p.body.id}/pay`;
      expect((await merchant.call('POST', path, { method: 'wechat_native' })).body.error.code).toBe('unsupported_method');
      const parts = { parts: [{ method: 'balance', amount: '20.00' }, { method: 'alipay_qr', amount: '70.00' }] };
      expect((await merchant.call('POST', path, parts)).body.error).toMatchObject({ code: 'amount_mismatch', field: 'parts' });
      const none = await merchant.call('POST', path, { method: 'alipay_qr' });
      expect([none.status, none.body.error.code]).toEqual([422, 'no_channel_available']);
      const withMethod = await merchant.createPayment({ merchant_order_no: 'ORD-M1', method: 'alipay_qr' });
      expect([withMethod.status, withMethod.body.error.code]).toEqual([422, 'no_channel_available']);
      expect((await merchant.call('GET', '/v1/payments?merchant_order_no=ORD-M1')).status).toBe(404);
      await settleThroughActor(booted.paycenter, p.body.id);
      const settled = await merchant.call('POST', path, { method: 'alipay_qr' });
      expect([settled.status, settled.body.error.code]).toEqual([409, 'invalid_state']);
    });

    test('operator routes: merchant secret shown once, channels redacted, timeline is the journal', async () => {
      const created = await adminCall(booted.url, 'POST', '/admin/merchants', { merchant_id: 'M_OPS1', name: 'Ops' });
      expect(created.status).toBe(201);
      expect(created.body.secret).toStartWith('sk_');
      const read = await adminCall(booted.url, 'GET', '/admin/merchants/M_OPS1');
      expect(read.body).toMatchObject({ merchant_id: 'M_OPS1', status: 'enabled' });
      expect(JSON.stringify(read.body)).not.toContain(created.body.secret);
      expect((await adminCall(booted.url, 'POST', '/admin/merchants', { merchant_id: 'M_OPS1', name: 'Again' })).status).toBe(409);
      const channel = await adminCall(booted.url, 'POST', '/admin/channels', {
        code: 'alipay_main', provider: 'alipay', methods: ['alipay_qr'], single_limit: '50000.00',
        config: { app_id: '2021000000000001', private_key: '-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----', alipay_public_key: '-----BEGIN PUBLIC KEY-----\nMIIpub\n-----END PUBLIC KEY-----', gateway_url: 'https://openapi.alipay.com/gateway.do' },
      });
      expect(channel.status).toBe(201);
      // Keys are redacted by their type (Secret), not by their name: a public key is shown as given.
      expect(channel.body.config).toMatchObject({ app_id: '2021000000000001', private_key: '[redacted]', alipay_public_key: '-----BEGIN PUBLIC KEY-----\nMIIpub\n-----END PUBLIC KEY-----' });
      expect(channel.body.single_limit).toBe('50000.00');
      const listed = await adminCall(booted.url, 'GET', '/admin/channels');
      expect(JSON.stringify(listed.body)).not.toContain('MIIsecret');
      const patched = await adminCall(booted.url, 'PATCH', '/admin/channels/alipay_main', { weight: 7, status: 'disabled' });
      expect(patched.body).toMatchObject({ weight: 7, status: 'disabled', config: { private_key: '[redacted]' } });
      const badConfig = await adminCall(booted.url, 'POST', '/admin/channels', { code: 'wx', provider: 'wechatpay', methods: ['wechat_native'], config: { mchid: '1' } });
      expect(badConfig.body.error).toMatchObject({ code: 'invalid_request', field: 'config.appid' });
      const p = await merchant.createPayment();
      await merchant.call('POST', `/v1/payments/${p.body.id}/close`);
      const timeline = await adminCall(booted.url, 'GET', `/admin/payments/${p.body.id}/timeline`);
      expect(timeline.body.events.map((e: any) => [e.seq, e.event.type, e.state_after])).toEqual([[1, 'payment.create', 'created'], [2, 'close.request', 'closed']]);
    });

    test('operations: healthz, readyz, metrics, openapi, docs', async () => {
      expect((await fetch(`${booted.url}/healthz`)).status).toBe(200);
      const ready: any = await (await fetch(`${booted.url}/readyz`)).json();
      expect(ready).toEqual({ status: 'ready', checks: { store: 'ok' } });
      const metrics = await (await fetch(`${booted.url}/metrics`)).text();
      expect(metrics).toContain('paycenter_http_requests_total{method="POST",route="/v1/payments",status="201"}');
      expect(metrics).toContain('paycenter_actor_events_total');
      expect(metrics).toContain('paycenter_outbox_backlog');
      // The creates above committed: their transactions are timed and their writes counted. What waits
      // at this instant depends on background deliveries; its exact count is pinned in limits.test.ts.
      const value = (name: string) => Number(metrics.split('\n').find((line) => line.startsWith(`${name} `))?.split(' ')[1]);
      expect(value('paycenter_store_commit_seconds_count')).toBeGreaterThan(0);
      expect(value('paycenter_store_committed_items_total')).toBeGreaterThanOrEqual(value('paycenter_store_commit_seconds_count'));
      expect(value('paycenter_commit_queue_items')).toBeGreaterThanOrEqual(0);
      const openapi: any = await (await fetch(`${booted.url}/openapi.json`)).json();
      expect(openapi.openapi).toBe('3.1.0');
      expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/v1/payments', '/v1/payments/{id}/refunds', '/admin/merchants', '/v1/events']));
      expect(openapi.paths['/v1/payments'].post.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['merchant_order_no', 'amount', 'subject']));
      expect(await (await fetch(`${booted.url}/docs`)).text()).toContain('/docs/assets/swagger-ui-bundle.js');
      expect((await fetch(`${booted.url}/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
    });
  });
}
