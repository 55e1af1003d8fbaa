/**
 * The operator console in Chromium: at 1280 px the action buttons of the alerts and a
 * reconciliation's differences are on screen however long the messages and ids are (text cells
 * wrap); the home page's figures refresh from its JSON without a reload; the sign-out control
 * ends the session, and signing in again goes back to the page asked for (screenshots in test-artifacts/).
 */
import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { seedReconRun } from '../console/fixtures.ts';
import { admin_token } from '../http/harness.ts';
import { artifacts, signedInPage, worldAndChromium } from './chromium.ts';

/** The home page refreshes every 10 s (home_refresh_ms) and its figures are counted once per 10 s (home_stats_fresh_ms): both, and some. */
const refresh_wait_ms = 35_000;

describe('the operator console in a browser (sqlite)', () => {
  const env = worldAndChromium();


  /** Every button the selector finds ends inside the window, and its table needs no sideways scrolling. */
  async function buttonsOnScreen(page: Page, selector: string): Promise<void> {
    const found = (await page.evaluate(`[...document.querySelectorAll(${JSON.stringify(selector)})].map((b) => {
      const scroll = b.closest('.scroll');
      return { right: Math.round(b.getBoundingClientRect().right), window: window.innerWidth, sideways: scroll.scrollWidth > scroll.clientWidth };
    })`)) as Array<{ right: number; window: number; sideways: boolean }>;
    expect(found.length).toBeGreaterThan(0);
    for (const b of found) expect(b).toEqual({ right: expect.any(Number), window: b.window, sideways: false });
    for (const b of found) expect(b.right).toBeLessThanOrEqual(b.window);
  }

  test('at 1280 px the Acknowledge and Ignore buttons are on screen, long messages and ids wrapping', async () => {
    const paymentId = (await env.world.merchant.createPayment({ method: 'alipay_qr' })).body.id as string;
    for (let i = 0; i < 3; i++) {
      await env.world.booted.paycenter.alerts.raise({
        kind: 'notify_failed', paymentId, channel: 'alipay_main',
        message: `notification evt_01M912FZWTV9B1SPYNNC356XX${i} of payment ${paymentId} to https://shop.example.com/callbacks/paycenter/orders/notify ran out of tries: the merchant answered 502 Bad Gateway six times`,
      });
    }
    // Both sides of each difference shown, as a real run's are: the widest rows the page draws.
    const flowId = `flw_${paymentId.slice(4)}`;
    const local = { kind: 'payment' as const, flowId, refundId: null, orderId: paymentId, amount: 1_234_567_89, status: 'succeeded', channelTradeNo: null, completedAt: Date.now() };
    const line = { kind: 'refund', channelTradeNo: '2026120522001347547586791368', flowId, refundId: 'rfd_01M9127QJ9N4PGR4H1P3QV1BNT', amount: 1_234_567_00, feeMilli: 740_740_123, at: Date.now(), status: 'succeeded' };
    const { run } = await seedReconRun(env.world.booted.paycenter, 'alipay_main', '2026-12-05', ['open', 'open', 'repaired'].map((resolution) => ({
      resolution: resolution as 'open' | 'repaired', kind: 'amount_mismatch', flowId, refundId: line.refundId, local, channelRow: line,
    })), { channel_amount: '-1234567.00', local_amount: '1234567.89', channel_fee: '7407.40', currency: 'CNY' });
    const page = await signedInPage(env.browser, env.world.url, 1280);
    await page.goto(`${env.world.url}/admin/alerts?open=true`);
    await page.screenshot({ path: join(artifacts, 'console-alerts-1280.png'), fullPage: true });
    await buttonsOnScreen(page, 'form[action$="/ack"] button');
    await page.goto(`${env.world.url}/admin/reconciliations/${run.id}`);
    await page.screenshot({ path: join(artifacts, 'console-differences-1280.png'), fullPage: true });
    await buttonsOnScreen(page, 'form[action^="/admin/forms/reconciliations/"] button');
    await page.close();
  }, 60_000);

  test("the home page's figures follow new orders without a reload", async () => {
    await env.world.merchant.createPayment({ amount: '1.00' });
    const page = await signedInPage(env.browser, env.world.url, 1280);
    const field = '[data-field="today.currencies.currency=CNY.orders"]';
    const before = Number(await page.locator(field).textContent());
    expect(before).toBeGreaterThanOrEqual(1);
    await page.evaluate('window.loadedOnce = true');
    await env.world.merchant.createPayment({ amount: '2.00' });
    // The figures are counted once per home_stats_fresh_ms: the page may have shown a count older than the first order.
    // (Read from here: the page's policy refuses playwright's evaluated predicates.)
    const until = Date.now() + refresh_wait_ms;
    while (Number(await page.locator(field).textContent()) <= before && Date.now() < until) await Bun.sleep(250);
    expect(Number(await page.locator(field).textContent())).toBeGreaterThan(before);
    expect(await page.evaluate('window.loadedOnce')).toBe(true);
    await page.close();
  }, 60_000);

  test('Sign out ends the session: the console sends the browser to sign in again, and back to the page it asked for', async () => {
    const page = await signedInPage(env.browser, env.world.url, 390);
    await page.click('form.signout button');
    await page.waitForURL(`${env.world.url}/admin/login`, { waitUntil: 'commit' });
    await page.goto(`${env.world.url}/admin/payments?status=closed`, { waitUntil: 'commit' });
    await page.waitForURL(`${env.world.url}/admin/login?next=%2Fadmin%2Fpayments%3Fstatus%3Dclosed`, { waitUntil: 'commit' });
    await page.fill('input[name="token"]', admin_token);
    await page.click('button');
    await page.waitForURL(`${env.world.url}/admin/payments?status=closed`, { waitUntil: 'commit' });
    await page.close();
  }, 60_000);
});
