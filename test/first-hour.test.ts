/**
 * A newcomer's first hour against a real `bun dev` in a fresh directory: the README's curl
 * walkthrough runs as pasted, `demo:order` says what it did, `/sandbox` has a page, the demo
 * shop receives the notifications, and a bad signature is explained (only under bun dev).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Dev, startDev } from './harness/dev.ts';
import { freePort } from './harness/services.ts';
import { MerchantClient } from './http/harness.ts';

const repo = join(import.meta.dir, '..');
mkdirSync(join(repo, '.test-tmp'), { recursive: true });
const dir = mkdtempSync(join(repo, '.test-tmp', 'first-hour-'));
let dev: Dev;
let url: string;

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  dev = await startDev(dir, port);
}, 30_000);
afterAll(async () => {
  dev?.child.kill('SIGTERM');
  await dev?.child.exited;
  rmSync(dir, { recursive: true, force: true });
});

/** The README's shell blocks marked to run against bun dev. */
function readmeBlocks(): string[] {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  return [...readme.matchAll(/<!-- readme-test: runs against bun dev -->\n```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

test('the README’s curl walkthrough runs as pasted: created, paid at the sandbox, succeeded, refunded, events listed', async () => {
  const blocks = readmeBlocks();
  expect(blocks.length).toBeGreaterThan(0);
  for (const block of blocks) {
    const run = Bun.spawnSync(['bash', '-e', '-o', 'pipefail', '-c', block], { cwd: dir, env: { ...process.env, PAYCENTER: url }, timeout: 60_000 });
    const out = run.stdout.toString();
    expect(`${run.exitCode} ${run.stderr.toString()}`).toBe('0 ');
    expect(out).toContain('"type": "qr_code"');
    expect(out).toMatch(/"status": "succeeded",\s*"paid_amount": "100.00"/);
    expect(out).toMatch(/"id": "rfd_[0-9A-Z]+",\s*"status": "(pending|succeeded)"/);
    expect(out).toContain('"type": "payment.succeeded"');
    expect(out).not.toContain('"error"');
  }
}, 90_000);

test('demo:order says what it did, and a method only starts paying', () => {
  const demo = (...args: string[]) => Bun.spawnSync(['bun', join(repo, 'scripts/demo-order.ts'), ...args], { cwd: dir, env: { ...process.env, PUBLIC_URL: url } });
  const plain = demo('0.01');
  expect(plain.exitCode).toBe(0);
  expect(plain.stdout.toString()).toContain('It waits for the payer at the cashier');
  const paying = demo('12.00', 'wechat_native');
  const said = paying.stdout.toString();
  expect(paying.exitCode).toBe(0);
  expect(said).toContain('Started paying with wechat_native: the order is paying, NOT paid yet');
  expect(said).not.toMatch(/pays at once|paid\b(?! yet)/);
});

test('/sandbox has an index page listing the latest trades', async () => {
  const page = await fetch(`${url}/sandbox`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('Channel sandbox');
});

test('the demo shop is up and the demo merchant’s notifications go to it', async () => {
  const shop = /demo shop \(the example merchant, receives the notifications\): (\S+)/.exec(dev.banner)![1]!;
  expect((await fetch(shop)).status).toBe(200);
  const merchant = (await (await fetch(`${url}/admin/merchants/${dev.id}`, { headers: { authorization: `Bearer ${/admin token: (\S+)/.exec(dev.banner)![1]}` } })).json()) as { notify_url: string };
  expect(merchant.notify_url).toBe(`${shop}/notify`);
});

test('under bun dev a signature that does not verify is answered with the string the server signed', async () => {
  const wrong = new MerchantClient(url, dev.id, 'not the secret');
  const now = Math.floor(Date.now() / 1000);
  const answer = await wrong.call('POST', '/v1/payments?x=1', '{"a":1}', { timestamp: now, nonce: 'n0nce' });
  expect(answer.status).toBe(401);
  expect(answer.body.error.message).toContain(JSON.stringify(`POST\n/v1/payments?x=1\n${now}\nn0nce\n{"a":1}\n`));
});
