/**
 * Crash, on SQLite and on Postgres with Redlock: paycenter (a child process) is killed with SIGKILL between the freeze and the capture
 * of combined payments, and again between the capture and the merchant's notification. After
 * each restart every freeze resolves exactly once (one freeze entry, then one capture or one
 * release), the audit is clean, and each order's payment.succeeded reaches the merchant as one
 * event id.
 */
import { afterAll, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { auditStore } from '../../src/audit/audit.ts';
import { openStore } from '../../src/store/open.ts';
import { payerDecides, startSandbox } from '../channels/world.ts';
import { freePort } from '../harness/services.ts';
import { MerchantClient, adminCall, admin_token } from '../http/harness.ts';
import { merchantEndpoint, paycenterProcess, persist } from '../reliability/harness.ts';
import { freshDatabase, storeKinds } from '../store/stores.ts';

const orders_total = 6;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch((e) => console.error('cleanup failed:', e));
});

test.each(storeKinds)('%s: SIGKILL between freeze and capture, and between capture and notification: each freeze resolves once', async (kind) => {
  const sandbox = await startSandbox([300, 600, 1_000, 2_000, 4_000]);
  cleanups.push(() => sandbox.stop());
  const endpoint = merchantEndpoint(7);
  cleanups.push(() => endpoint.stop());
  const database = await freshDatabase(kind);
  cleanups.push(() => database.drop());
  const server = paycenterProcess({
    port: await freePort(), databaseUrl: database.url, redisUrl: kind === 'postgres' ? process.env.TEST_REDIS_URL! : null, adminToken: admin_token,
    secretKey: Buffer.alloc(32, 7).toString('base64'), logName: `balance-crash-${kind}-${Date.now()}.log`,
    // The merchant endpoint refuses first attempts: retries a few seconds apart, not 30 s. (A delivery a kill cut short still waits out its 60 s lease.)
    env: { NOTIFY_RETRY_S: '1,2,4,8,15' },
  });
  cleanups.push(() => server.stop());
  await server.start();

  const wechatpay = (await (await fetch(`${sandbox.url}/wechatpay/merchants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as Record<string, string>;
  expect((await adminCall(server.url, 'POST', '/admin/channels', { code: 'wechat_main', provider: 'wechatpay', methods: ['wechat_native'], config: wechatpay })).status).toBe(201);
  const merchant = await MerchantClient.create(server.url, { methods: ['wechat_native', 'balance'], notify_url: endpoint.url });
  const user = `crash${randomBytes(3).toString('hex')}`;
  expect((await merchant.call('POST', `/v1/balances/${user}/credits`, { credit_no: 'T1', amount: '100.00' })).status).toBe(201);

  const paid: Array<{ id: string; qr: string }> = [];
  for (let i = 0; i < orders_total; i++) {
    const created = await merchant.createPayment({ amount: '30.00', user_id: user });
    const answer = await merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { parts: [{ method: 'balance', amount: '10.00' }, { method: 'wechat_native', amount: '20.00' }] });
    expect(answer.status).toBe(200);
    paid.push({ id: created.body.id, qr: answer.body.action.qr_code });
  }
  expect((await merchant.call('GET', `/v1/balances/${user}`)).body).toMatchObject({ available: '40.00', frozen: '60.00' });

  // Between freeze and capture: the payers pay while paycenter is down; the sandbox's notifies
  // (and, after the restart, the active queries) bring the successes.
  await server.kill();
  for (const order of paid.slice(0, orders_total - 1)) expect((await payerDecides(order.qr, 'pay')).status).toBe(200);
  await server.start();
  const get = (id: string) => persist(`get ${id}`, () => merchant.call('GET', `/v1/payments/${id}`));
  for (const order of paid.slice(0, orders_total - 1)) {
    for (let i = 0; (await get(order.id)).body.status !== 'succeeded'; i++) {
      if (i > 400) throw new Error(`${order.id} did not settle`);
      await Bun.sleep(50);
    }
  }
  // Between capture and notification: the merchant endpoint refuses first attempts, so deliveries are still due.
  await server.kill();
  await server.start();
  const last = paid.at(-1)!;
  expect((await persist('close', () => merchant.call('POST', `/v1/payments/${last.id}/close`))).status).toBe(200);
  for (let i = 0; (await get(last.id)).body.status !== 'closed'; i++) {
    if (i > 400) throw new Error(`${last.id} did not close`);
    await Bun.sleep(50);
  }
  const delivered = () => new Set(endpoint.deliveries.filter((d) => d.answered === 200 && d.type === 'payment.succeeded').map((d) => d.paymentId));
  // The endpoint refuses first attempts and a kill may cut one short: a retry, or a lease running out, can be needed.
  for (let i = 0; delivered().size < orders_total - 1; i++) {
    if (i > 1_800) throw new Error(`notifications not delivered: ${[...delivered()].length}`);
    await Bun.sleep(50);
  }
  await server.stop();

  const store = await openStore(database.url);
  try {
    expect((await auditStore(store, { nowMs: Date.now() })).breaches).toEqual([]);
    const entries = await store.ledger.rows({ sql: 'SELECT kind, freeze_id FROM balance_entries WHERE user_id = ? ORDER BY id', params: [user] });
    const perFreeze = new Map<string, string[]>();
    for (const e of entries.filter((e) => e.freeze_id)) perFreeze.set(String(e.freeze_id), [...(perFreeze.get(String(e.freeze_id)) ?? []), String(e.kind)]);
    expect([...perFreeze.values()].sort()).toEqual([...Array(orders_total - 1).fill(['freeze', 'capture']), ['freeze', 'release']].sort());
    const [account] = await store.ledger.rows({ sql: 'SELECT available, frozen FROM balance_accounts WHERE user_id = ?', params: [user] });
    expect([Number(account!.available), Number(account!.frozen)]).toEqual([10_000 - (orders_total - 1) * 1_000, 0]);
  } finally {
    await store.close();
  }
  // One event id per settled order, however often it was delivered.
  const ids = endpoint.deliveries.filter((d) => d.type === 'payment.succeeded');
  expect(new Set(ids.map((d) => d.paymentId)).size).toBe(new Set(ids.map((d) => d.id)).size);
}, 240_000);
