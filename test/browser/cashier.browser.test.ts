/**
 * In a real headless Chromium (Debian's, driven by playwright-core): a payer opens the cashier,
 * picks Alipay, follows the QR link to the sandbox's pay page, pays, and watches the cashier turn
 * to success; an expired order shows the expired page; an operator's browser reads the order's
 * timeline with its path drawn on the state chart. Screenshots land in test-artifacts/.
 */
import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { admin_token } from '../http/harness.ts';
import { waitForPayment } from '../channels/world.ts';
import { artifacts, worldAndChromium } from './chromium.ts';
const step_timeout_ms = 10_000;

describe('the cashier and the timeline in a browser', () => {
  const env = worldAndChromium();

  /** A phone-sized page for payers; operators get a desktop-sized one. */
  async function newPage(width = 420): Promise<Page> {
    const page = await env.browser.newPage({ viewport: { width, height: 860 } });
    page.setDefaultTimeout(step_timeout_ms);
    return page;
  }

  test('pick Alipay, pay at the sandbox from the QR link, see success and the return link', async () => {
    const created = await env.world.merchant.createPayment({ amount: '88.00', subject: '演示 Demo', return_url: 'https://merchant.example/done' });
    const cashier = await newPage();
    await cashier.goto(created.body.cashier_url);
    await cashier.getByText('88.00').waitFor();
    await cashier.screenshot({ path: join(artifacts, 'cashier-1-open.png') });

    await cashier.click('button[data-method="alipay_qr"]');
    await cashier.locator('#action svg').waitFor();
    const qrLink = await cashier.locator('#qr-link').getAttribute('href');
    expect(qrLink).toStartWith(`${env.world.sandboxUrl}/pay/alipay/`);
    await cashier.screenshot({ path: join(artifacts, 'cashier-2-qr.png') });

    const payer = await newPage();
    await payer.goto(qrLink!);
    await payer.screenshot({ path: join(artifacts, 'cashier-3-sandbox-pay-page.png') });
    await payer.click('button.pay');
    await payer.waitForLoadState();
    await payer.close();

    // The cashier polls its status route and turns to success on its own.
    await cashier.locator('#success').waitFor();
    expect(await cashier.locator('#return').getAttribute('href')).toBe('https://merchant.example/done');
    await cashier.screenshot({ path: join(artifacts, 'cashier-4-success.png') });
    await cashier.close();
    await waitForPayment(env.world.merchant, created.body.id, (p) => p.status === 'succeeded');
  }, 60_000);

  test('switching methods at once is refused with a message to wait; a wrong link shows the not-found page', async () => {
    const created = await env.world.merchant.createPayment();
    const cashier = await newPage();
    await cashier.goto(created.body.cashier_url);
    await cashier.click('button[data-method="alipay_qr"]');
    await cashier.locator('#action svg').waitFor();
    await cashier.click('button[data-method="wechat_native"]');
    await cashier.getByText('Please wait a few seconds before choosing again').waitFor();
    await cashier.screenshot({ path: join(artifacts, 'cashier-6-wait.png') });
    const paying = await env.world.merchant.call('GET', `/v1/payments/${created.body.id}`);
    expect(paying.body.flows.map((f: any) => f.method)).toEqual(['alipay_qr']);

    await cashier.goto(created.body.cashier_url.replace(/t=[^&]+/, 't=wrong'));
    await cashier.locator('#not-found').waitFor();
    await cashier.close();
  }, 30_000);

  test('a closed order shows the expired page', async () => {
    const created = await env.world.merchant.createPayment();
    await env.world.merchant.call('POST', `/v1/payments/${created.body.id}/close`);
    await waitForPayment(env.world.merchant, created.body.id, (p) => p.status === 'closed');
    const page = await newPage();
    await page.goto(created.body.cashier_url);
    await page.locator('#expired').waitFor();
    expect(await page.locator('button.method').count()).toBe(0);
    await page.screenshot({ path: join(artifacts, 'cashier-5-expired.png') });
    await page.close();
  }, 30_000);

  test('an operator signs in and reads the timeline, the order\'s path drawn on the chart', async () => {
    const created = await env.world.merchant.createPayment({ method: 'wechat_native' });
    await env.world.merchant.call('POST', `/v1/payments/${created.body.id}/close`);
    await waitForPayment(env.world.merchant, created.body.id, (p) => p.status === 'closed');
    const page = await newPage(1280);
    await page.goto(`${env.world.url}/admin/login`);
    await page.fill('input[name="token"]', admin_token);
    await page.click('button');
    await page.waitForURL(`${env.world.url}/admin`);
    await page.goto(`${env.world.url}/admin/payments/${created.body.id}/timeline`);
    // The chart is an SVG the server draws.
    await page.locator('.chart svg').waitFor();
    expect(await page.getByText('close.request').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(artifacts, 'timeline.png'), fullPage: true });
    await page.close();
  }, 30_000);
});
