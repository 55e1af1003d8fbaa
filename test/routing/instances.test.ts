/**
 * Three paycenter processes on one Postgres and one Redis share their channels' health and
 * breakers: failures seen by one process open the breaker for all within 2 s, and once it
 * half-opens, one probe prepay at a time goes through across all three while the others route
 * around it; BREAKER_HALF_OPEN_PROBES answered probes, each made by another process, close it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { default_breaker_settings } from '../../src/routing/breaker.ts';
import { startSandbox } from '../channels/world.ts';
import { freePort } from '../harness/services.ts';
import { MerchantClient, admin_token, adminCall } from '../http/harness.ts';
import { type ServerProcess, paycenterProcess } from '../reliability/harness.ts';
import { freshDatabase } from '../store/stores.ts';

const instances_total = 3;
/** Long enough for the first test to see the breaker open before it half-opens. */
const breaker_open_s = 6;
/** The sandbox holds each probe's prepay this long: every other pay is routed while the probe is in flight. */
const probe_hold_ms = 3_000;
/** How long the probing process is given to take the gate before the burst starts. */
const probe_claim_ms = 300;
/** BREAKER_HALF_OPEN_PROBES as the processes run with it (the default). */
const half_open_probes = default_breaker_settings.halfOpenProbes;
const secret_key = Buffer.alloc(32, 7).toString('base64');

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let database: Awaited<ReturnType<typeof freshDatabase>>;
let instances: ServerProcess[] = [];
let merchants: MerchantClient[] = [];
let apps: Array<Record<string, string>> = [];

async function provisionApp(): Promise<Record<string, string>> {
  const answer = await fetch(`${sandbox.url}/alipay/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return (await answer.json()) as Record<string, string>;
}

const faults = (appId: string, body: object) =>
  fetch(`${sandbox.url}/faults/alipay/${appId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const breakerAt = async (instance: ServerProcess) => (await adminCall(instance.url, 'GET', '/admin/channels/alipay_main/health')).body.breaker;

async function pay(merchant: MerchantClient) {
  const created = await merchant.createPayment();
  return merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'alipay_qr' });
}

beforeAll(async () => {
  sandbox = await startSandbox();
  database = await freshDatabase('postgres');
  instances = await Promise.all(Array.from({ length: instances_total }, async (_, i) => paycenterProcess({
    port: await freePort(), databaseUrl: database.url, redisUrl: process.env.TEST_REDIS_URL!, adminToken: admin_token, secretKey: secret_key,
    logName: `routing-instance-${i}.log`, env: { BREAKER_OPEN_S: String(breaker_open_s) },
  })));
  // One after the other: the first applies the migrations.
  for (const instance of instances) await instance.start();
  apps = [await provisionApp(), await provisionApp()];
  const first = instances[0]!.url;
  for (const [code, weight, config] of [['alipay_main', 100, apps[0]], ['alipay_b', 50, apps[1]]] as const) {
    expect((await adminCall(first, 'POST', '/admin/channels', { code, provider: 'alipay', methods: ['alipay_qr'], weight, config })).status).toBe(201);
  }
  const merchant = await MerchantClient.create(first, { methods: ['alipay_qr'], routing: 'weighted' });
  merchants = instances.map((instance) => new MerchantClient(instance.url, merchant.merchantId, merchant.secret));
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop()));
  await sandbox?.stop();
  await database?.drop();
});

describe('three processes, one Postgres, one Redis', () => {
  test('failures seen by one process open the breaker for all three within 2 s', async () => {
    // The others have read the breaker (closed) and keep it for a while: the test is that they still see the move in time.
    for (const instance of instances) expect(await breakerAt(instance)).toBe('closed');
    expect((await faults(apps[0]!.app_id!, { api_error_rate: 1, seed: 11 })).status).toBe(200);
    let opened = 0;
    for (let i = 0; i < 20 && (await breakerAt(instances[0]!)) !== 'open'; i++) {
      const paid = await pay(merchants[0]!);
      expect(paid.status).toBe(200);
      opened = Date.now();
    }
    expect(await breakerAt(instances[0]!)).toBe('open');
    for (const instance of instances.slice(1)) {
      while ((await breakerAt(instance)) !== 'open') await Bun.sleep(50);
      expect(Date.now() - opened).toBeLessThan(2_000);
    }
    // And they route around it: no prepay reaches the open channel.
    for (const merchant of merchants.slice(1)) {
      const paid = await pay(merchant);
      expect(paid.status).toBe(200);
      expect(paid.body.flows.map((f: any) => f.channel)).toEqual(['alipay_b']);
    }
  }, 60_000);

  test('half-open: one probe prepay at a time across all three; answered probes seen by different processes add up and close the breaker for all', async () => {
    // The channel answers again, slowly: each probe stays in flight while a burst is routed.
    expect((await faults(apps[0]!.app_id!, { api_timeout_rate: 1, api_timeout_hold_ms: probe_hold_ms, seed: 12 })).status).toBe(200);
    await Bun.sleep(breaker_open_s * 1_000 + 100);
    for (let round = 0; round < half_open_probes; round++) {
      // This round's probe goes through another process than the last one's: the count is shared.
      const prober = merchants[round % instances_total]!;
      const probe = pay(prober);
      await Bun.sleep(probe_claim_ms);
      const burst = await Promise.all(merchants.flatMap((merchant) => Array.from({ length: 3 }, () => pay(merchant))));
      for (const paid of burst) {
        expect(paid.status).toBe(200);
        expect(paid.body.flows.map((f: any) => f.channel)).toEqual(['alipay_b']);
      }
      const probed = await probe;
      expect(probed.status).toBe(200);
      expect(probed.body.flows.map((f: any) => f.channel)).toEqual(['alipay_main']);
      const expected = round + 1 < half_open_probes ? 'half_open' : 'closed';
      for (const instance of instances) {
        const deadline = Date.now() + 2_000;
        while ((await breakerAt(instance)) !== expected && Date.now() < deadline) await Bun.sleep(50);
        expect(await breakerAt(instance)).toBe(expected);
      }
    }
    const transitions = (await adminCall(instances[1]!.url, 'GET', '/admin/channels/alipay_main/health')).body.transitions;
    expect(transitions.slice(0, half_open_probes + 2).map((t: any) => [t.from, t.to])).toEqual([
      ['half_open', 'closed'], ...Array.from({ length: half_open_probes - 1 }, () => ['half_open', 'half_open']), ['open', 'half_open'], ['closed', 'open'],
    ]);
  }, 90_000);
});
