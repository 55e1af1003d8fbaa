/**
 * The demo loop a newcomer walks, in a real Chromium: the example merchant's shop → Buy → the
 * cashier → Alipay → the sandbox's pay page in a new tab → Pay → the cashier shows success → back
 * to the shop, which shows the order paid, having received one verified `payment.succeeded`.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { type MerchantShop, merchantShop } from '../../examples/merchant/app.ts';
import { PaycenterClient } from '../../src/client/index.ts';
import { type World, all_methods, bootWorld } from '../channels/world.ts';
import { MerchantClient } from '../http/harness.ts';
import { artifacts, launchChromium } from './chromium.ts';

let world: World;
let browser: Browser;
let shop: MerchantShop;
let shopServer: ReturnType<typeof Bun.serve>;
let shopUrl: string;

beforeAll(async () => {
  world = await bootWorld('sqlite');
  shopServer = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('starting', { status: 503 }) });
  shopUrl = `http://127.0.0.1:${shopServer.port}`;
  const merchant = await MerchantClient.create(world.url, { methods: all_methods, notify_url: `${shopUrl}/notify` });
  const client = new PaycenterClient({ baseUrl: world.url, merchantId: merchant.merchantId, secret: merchant.secret });
  shop = merchantShop({ client, secret: merchant.secret, selfUrl: shopUrl });
  shopServer.reload({ fetch: shop.fetch });
  browser = await launchChromium();
}, 30_000);
afterAll(async () => {
  await browser?.close();
  shopServer?.stop(true);
  await world?.stop();
});

test('shop → cashier → sandbox in a new tab → Pay → cashier and shop show success; one verified payment.succeeded', async () => {
  const context = await browser.newContext({ viewport: { width: 420, height: 860 } });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  await page.goto(shopUrl);
  await page.getByRole('button', { name: /Buy/ }).click();
  await page.waitForURL(`${world.url}/cashier/**`);
  await page.screenshot({ path: join(artifacts, 'demo-1-cashier.png') });

  await page.click('button[data-method="alipay_qr"]');
  await page.locator('#action svg').waitFor();
  const [sandbox] = await Promise.all([context.waitForEvent('page'), page.click('#qr-link')]);
  await sandbox.waitForLoadState();
  expect(sandbox.url()).toStartWith(`${world.sandboxUrl}/pay/alipay/`);
  await expect(sandbox.locator('h1').textContent()).resolves.toMatch(/A cup of tea 一杯茶 \(SHOP-\d+\)/);
  await sandbox.screenshot({ path: join(artifacts, 'demo-2-sandbox.png') });
  await sandbox.click('button.pay');
  await sandbox.getByText('Close this tab').waitFor();
  await sandbox.screenshot({ path: join(artifacts, 'demo-3-sandbox-paid.png') });
  await sandbox.close();

  await page.locator('#success').waitFor();
  await page.screenshot({ path: join(artifacts, 'demo-4-cashier-success.png') });
  const back = await page.locator('#return').getAttribute('href');
  expect(back).toStartWith(`${shopUrl}/orders/SHOP-`);
  await page.click('#return');
  await page.locator('#status', { hasText: 'succeeded' }).waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(artifacts, 'demo-5-shop-paid.png') });

  const succeeded = shop.events.filter((e) => e.type === 'payment.succeeded');
  expect(succeeded.length).toBe(1);
  expect(succeeded[0]!.data).toMatchObject({ status: 'succeeded', merchant_order_no: back!.slice(`${shopUrl}/orders/`.length) });
  await context.close();
}, 60_000);
