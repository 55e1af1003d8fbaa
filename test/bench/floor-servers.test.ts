/**
 * The floors' servers (`bun run bench floor`, `bun run bench lifecycle-floor`) do what they claim,
 * so that their numbers mean what docs/benchmarks.md says: a create is answered once its rows are
 * durable, and only then; a whole payment — signed create, prepay at the sandbox, the provider's
 * signed notify, the merchant told — makes its four commits; neither starts without its environment.
 */
import { Database } from 'bun:sqlite';
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Server, startServer } from '../../bench/http-load.ts';
import { requestSignature } from '../../src/http/signature.ts';
import { Ledger, Payer } from '../../bench/lifecycle/load.ts';
import { type Sandbox, merchantEndpoint, sandboxApp, startSandboxProcess } from '../../bench/lifecycle/world.ts';

const repo = join(import.meta.dir, '..', '..');
const server_path = join(repo, 'bench', 'floor', 'payment-server.ts');
const create_server_path = join(repo, 'bench', 'floor', 'server.ts');
const dir = join(repo, '.test-tmp', `payment-floor-${process.pid}`);
const database = join(dir, 'floor.db');
const merchant = { id: 'M_FLOOR', secret: 'floor-secret-test-0123456789abcdef' };

let sandbox: Sandbox;
let floor: Server;
const ledger = new Ledger();
const endpoint = merchantEndpoint(ledger.onEvent);
let payerUrl: (flowId: string) => string;

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  sandbox = await startSandboxProcess();
  const app = await sandboxApp(sandbox.url);
  payerUrl = app.payerUrl;
  floor = await startServer([process.execPath, server_path], {
    FLOOR_DATABASE: database, FLOOR_MERCHANT_ID: merchant.id, FLOOR_MERCHANT_SECRET: merchant.secret,
    FLOOR_MERCHANT_NOTIFY_URL: endpoint.url, FLOOR_ALIPAY: JSON.stringify(app.config),
  });
}, 60_000);

afterAll(async () => {
  await floor?.stop();
  await sandbox?.stop();
  endpoint.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('three payments: each created, paid at the sandbox, settled by its notify, its merchant told, four commits each', async () => {
  const payer = new Payer(floor.url, { ...merchant, payerUrl }, ledger, () => 'paid');
  await Promise.all([payer.pay('test'), payer.pay('test'), payer.pay('test')]);
  expect(ledger.failures).toEqual([]);
  expect(ledger.completions.length).toBe(3);

  // A delivery is committed after the merchant answered it: waited for (the floor's process), bounded.
  const db = new Database(database, { readonly: true });
  const delivered = () => (db.query('SELECT count(*) AS n FROM merchant_events WHERE delivered_at IS NOT NULL').get() as { n: number }).n;
  try {
    for (let waited = 0; delivered() < 3 && waited < 5_000; waited += 50) await Bun.sleep(50);
    const orders = db.query('SELECT id, status, version FROM orders ORDER BY id').all() as { id: string; status: string; version: number }[];
    expect(orders.map((o) => [o.status, o.version])).toEqual([['succeeded', 4], ['succeeded', 4], ['succeeded', 4]]);
    expect(new Set(orders.map((o) => o.id))).toEqual(new Set(ledger.completions.map((c) => c.paymentId)));
    for (const { id } of orders) {
      const journal = db.query('SELECT seq FROM journal WHERE order_id = ? ORDER BY seq').all(id) as { seq: number }[];
      expect(journal.map((j) => j.seq)).toEqual([1, 2, 3, 4]);
    }
    expect(delivered()).toBe(3);
    expect((db.query('SELECT count(*) AS n FROM flows').get() as { n: number }).n).toBe(3);
  } finally {
    db.close();
  }
}, 60_000);

test('without its channel the payment floor refuses to start', async () => {
  const child = Bun.spawn([process.execPath, server_path], {
    env: { ...process.env, FLOOR_DATABASE: join(dir, 'never.db'), FLOOR_MERCHANT_ID: merchant.id, FLOOR_MERCHANT_SECRET: merchant.secret, FLOOR_MERCHANT_NOTIFY_URL: endpoint.url, PORT: '1' },
    stdout: 'ignore', stderr: 'pipe',
  });
  expect(await child.exited).not.toBe(0);
  expect(await new Response(child.stderr).text()).toContain('FLOOR_ALIPAY');
});

/** A signed create of `merchant_order_no` to `path` at `url`. */
function signedCreate(url: string, path: string, merchantOrderNo: string): Promise<Response> {
  const body = JSON.stringify({ merchant_order_no: merchantOrderNo, amount: '10.00', subject: 'floor test' });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = `n-${merchantOrderNo}`;
  const signature = requestSignature(merchant.secret, 'POST', path, timestamp, nonce, body);
  return fetch(`${url}${path}`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', authorization: `PAYC-HMAC-SHA256 merchant_id="${merchant.id}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"` },
  });
}

test('the create floor answers a create once its order, journal row, timer and nonce are written; its unwritten route writes nothing', async () => {
  const createDatabase = join(dir, 'creates.db');
  const creates = await startServer([process.execPath, create_server_path], {
    FLOOR_DATABASE: createDatabase, FLOOR_MERCHANT_ID: merchant.id, FLOOR_MERCHANT_SECRET: merchant.secret,
  });
  try {
    const written = await signedCreate(creates.url, '/v1/payments', 'W1');
    expect(written.status).toBe(201);
    const payment = (await written.json()) as { id: string; status: string; amount: string };
    expect([payment.status, payment.amount]).toEqual(['created', '10.00']);
    expect((await signedCreate(creates.url, '/v1/payments/unwritten', 'U1')).status).toBe(201);
    expect((await signedCreate(creates.url, '/v1/payments', 'W2').then((r) => r.text()))).toContain('"status":"created"');
    const db = new Database(createDatabase, { readonly: true });
    try {
      const count = (table: string) => (db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      expect(db.query('SELECT merchant_order_no AS no, version FROM orders ORDER BY no').all()).toEqual([{ no: 'W1', version: 1 }, { no: 'W2', version: 1 }]);
      expect([count('journal'), count('timers'), count('nonces')]).toEqual([2, 2, 2]);
    } finally {
      db.close();
    }
  } finally {
    await creates.stop();
  }
}, 30_000);

test('without its database the create floor refuses to start', async () => {
  const child = Bun.spawn([process.execPath, create_server_path], {
    env: { ...process.env, FLOOR_DATABASE: '', FLOOR_MERCHANT_ID: merchant.id, FLOOR_MERCHANT_SECRET: merchant.secret, PORT: '1' },
    stdout: 'ignore', stderr: 'pipe',
  });
  expect(await child.exited).not.toBe(0);
  expect(await new Response(child.stderr).text()).toContain('FLOOR_DATABASE');
});
