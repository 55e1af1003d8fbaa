/**
 * The operator console in Chromium: the home page's figures refresh from its JSON without a reload.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { type World, bootWorld } from '../channels/world.ts';
import { admin_token } from '../http/harness.ts';
import { launchChromium } from './chromium.ts';

/** The machine is shared with other work: navigations wait for the first bytes only, steps wait generously. */
const step_timeout_ms = 20_000;
/** The home page refreshes every 10 s (home_refresh_ms): one refresh and some. */
const refresh_wait_ms = 25_000;

describe('the operator console in a browser (sqlite)', () => {
  let world: World;
  let browser: Browser;
  beforeAll(async () => {
    world = await bootWorld('sqlite');
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await world?.stop();
  }, 30_000);

  async function signedIn(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    page.setDefaultTimeout(step_timeout_ms);
    await page.goto(`${world.url}/admin/login`, { waitUntil: 'commit' });
    await page.fill('input[name="token"]', admin_token);
    await page.click('button');
    await page.waitForURL(`${world.url}/admin`, { waitUntil: 'commit' });
    return page;
  }

  test("the home page's figures follow new orders without a reload", async () => {
    await world.merchant.createPayment({ amount: '1.00' });
    const page = await signedIn(1280);
    const field = '[data-field="today.currencies.currency=CNY.orders"]';
    const before = Number(await page.locator(field).textContent());
    expect(before).toBeGreaterThanOrEqual(1);
    await page.evaluate('window.loadedOnce = true');
    await world.merchant.createPayment({ amount: '2.00' });
    await page.locator(field, { hasText: new RegExp(`^${before + 1}$`) }).waitFor({ timeout: refresh_wait_ms });
    expect(await page.evaluate('window.loadedOnce')).toBe(true);
    await page.close();
  }, 60_000);
});
