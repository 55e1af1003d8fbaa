/** `bun dev` on a fresh directory: starts on SQLite with no Redis, and a demo merchant can sign a create at once. */
import { afterAll, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDev as startDevIn } from './harness/dev.ts';
import { freePort } from './harness/services.ts';
import { MerchantClient } from './http/harness.ts';

const repo = join(import.meta.dir, '..');
mkdirSync(join(repo, '.test-tmp'), { recursive: true });
const dir = mkdtempSync(join(repo, '.test-tmp', 'dev-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const startDev = (port: number) => startDevIn(dir, port);

test('bun dev starts with a demo merchant whose printed secret signs requests, the same one after a restart', async () => {
  const port = await freePort();
  const first = await startDev(port);
  let createdId: string;
  try {
    expect(first.banner).toContain('store: sqlite:data/paycenter.db');
    const created = await new MerchantClient(`http://127.0.0.1:${port}`, first.id, first.secret).createPayment();
    expect(created.status).toBe(201);
    createdId = created.body.id;
  } finally {
    first.child.kill('SIGTERM');
  }
  expect(await first.child.exited).toBe(0);

  const second = await startDev(port);
  try {
    expect([second.id, second.secret]).toEqual([first.id, first.secret]);
    const again = new MerchantClient(`http://127.0.0.1:${port}`, second.id, second.secret);
    expect((await again.call('GET', `/v1/payments/${createdId}`)).body.status).toBe('created');
  } finally {
    second.child.kill('SIGTERM');
    await second.child.exited;
  }
}, 60_000);

test('bun dev has sandbox channels ready: a demo order made by `bun run demo:order` is paid at the sandbox and succeeds', async () => {
  const port = await freePort();
  const dev = await startDev(port);
  try {
    expect(dev.banner).toContain(`sandbox: http://localhost:${port}/sandbox`);
    expect(dev.banner).toContain(`a demo order and its cashier URL: PORT=${port} bun run demo:order`);
    const script = Bun.spawnSync(['bun', join(repo, 'scripts/demo-order.ts'), '1.00', 'alipay_qr'], { cwd: dir, env: { ...process.env, PORT: String(port) } });
    const printed = script.stdout.toString();
    expect(`${script.exitCode} ${script.stderr.toString()}`).toBe('0 ');
    expect(printed).toContain(`cashier: http://localhost:${port}/cashier/pay_`);
    const paymentId = /payment (pay_\S+)/.exec(printed)![1]!;
    const qrCode = JSON.parse(/action: (.*)/.exec(printed)![1]!).qr_code as string;
    const paid = await fetch(qrCode, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outcome: 'pay' }) });
    expect(paid.status).toBe(200);
    const merchant = new MerchantClient(`http://127.0.0.1:${port}`, dev.id, dev.secret);
    let status = '';
    for (let i = 0; i < 100 && status !== 'succeeded'; i++, await Bun.sleep(50)) {
      status = (await merchant.call('GET', `/v1/payments/${paymentId}`)).body.status;
    }
    expect(status).toBe('succeeded');
  } finally {
    dev.child.kill('SIGTERM');
    await dev.child.exited;
  }
}, 60_000);
