/**
 * Two paycenter instances on one Postgres and one Redis, one channel sandbox (issue 11, item 16).
 * A create with `method` was answered `503 channel … did not answer in time` although the provider
 * had answered: an identical request on another instance started a second attempt, which closed
 * the first request's flow while its prepay was at the provider, and the first request then read a
 * flow that was not prepared. Now identical requests join one attempt whichever instance they
 * reach, each waits for that flow's prepay whoever runs it, and 503 means the provider is down.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { type Paycenter, startPaycenter } from '../../src/wiring.ts';
import { all_methods, connectChannels, startSandbox, tradeOpenings } from '../channels/world.ts';
import { freePort } from '../harness/services.ts';
import { freshDatabase } from '../store/stores.ts';
import { MerchantClient, admin_token } from './harness.ts';

const instances_total = 2;
/** The provider takes this long to open a trade: longer than the runners' poll, so a close issued meanwhile runs first. */
const provider_hold_ms = 500;
const requests_total = 8;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let instances: Paycenter[] = [];
/** The same merchant, talking to each instance. */
let clients: MerchantClient[] = [];
const openings = tradeOpenings(provider_hold_ms);

async function startInstance(databaseUrl: string): Promise<Paycenter> {
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, DATABASE_URL: databaseUrl, REDIS_URL: process.env.TEST_REDIS_URL!,
    ADMIN_TOKEN: admin_token, SECRET_KEY: Buffer.alloc(32, 9).toString('base64'), RATE_LIMIT_PER_S: '100000', RATE_LIMIT_BURST: '100000',
  }, 'production');
  return startPaycenter(config, { log: createLogger('error') });
}

beforeAll(async () => {
  database = await freshDatabase('postgres');
  sandbox = await startSandbox(undefined, openings.gate);
  instances = [];
  for (let i = 0; i < instances_total; i++) instances.push(await startInstance(database.url));
  await connectChannels(instances[0]!.url, sandbox.url);
  const merchant = await MerchantClient.create(instances[0]!.url, { methods: all_methods });
  clients = instances.map((instance) => new MerchantClient(instance.url, merchant.merchantId, merchant.secret));
}, 60_000);

afterAll(async () => {
  for (const instance of instances) await instance.stop();
  await sandbox?.stop();
  await database?.drop();
});

/** Request i goes to instance i mod 2, all at once. */
const spread = <T>(call: (client: MerchantClient) => Promise<T>): Promise<T[]> =>
  Promise.all(Array.from({ length: requests_total }, (_, i) => call(clients[i % instances_total]!)));

describe(`${instances_total} instances, identical requests spread over them`, () => {
  test('creates with method: no 503 while the provider answers, one trade, one QR code for all', async () => {
    const before = openings.count();
    const create = { merchant_order_no: `ORD-${randomBytes(6).toString('hex')}`, amount: '88.00', subject: 'Hotel booking', method: 'alipay_qr' };
    const answers = await spread((client) => client.call('POST', '/v1/payments', create));
    expect(answers.filter((a) => a.status >= 500).map((a) => a.body.error)).toEqual([]);
    expect(answers.map((a) => a.status).filter((s) => s === 201)).toHaveLength(1);
    expect(openings.count() - before).toBe(1);
    expect(new Set(answers.map((a) => a.body.action?.qr_code)).size).toBe(1);
    expect(answers[0]!.body.action.qr_code).toStartWith(sandbox.url);
  });

  test('pays: every one answers the same flow, none says the channel is down', async () => {
    const created = await clients[0]!.createPayment();
    const before = openings.count();
    const answers = await spread((client) => client.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'wechat_native' }));
    expect(answers.filter((a) => a.status !== 200).map((a) => a.body.error)).toEqual([]);
    expect(openings.count() - before).toBe(1);
    expect(new Set(answers.map((a) => a.body.flows.at(-1).id)).size).toBe(1);
    expect(new Set(answers.map((a) => a.body.action.qr_code)).size).toBe(1);
  });
});
