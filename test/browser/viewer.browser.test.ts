/**
 * The state-chart viewer in Chromium: a real order's path drawn on the chart with one numbered
 * step per journal row that changed its state, the journal cursor moving along it, a simulated
 * event moving the scratch actor, and both pages fitting the window at desktop and phone widths
 * (screenshots in test-artifacts/).
 */
import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { waitForPayment } from '../channels/world.ts';
import { adminCall } from '../http/harness.ts';
import { artifacts, signedInPage, worldAndChromium } from './chromium.ts';


describe('the state-chart viewer in a browser (sqlite)', () => {
  const env = worldAndChromium();


  async function fitsWindow(page: Page, name: string): Promise<void> {
    for (const [width, label] of [[1280, 'desktop'], [390, 'phone']] as const) {
      await page.setViewportSize({ width, height: 900 });
      const [scroll, inner] = (await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]')) as [number, number];
      expect({ name, width, scroll }).toEqual({ name, width, scroll: inner });
      await page.screenshot({ path: join(artifacts, `viewer-${name}-${label}.png`), fullPage: true });
    }
  }

  test("an order's timeline numbers its path on the chart, and stepping through the journal moves the cursor", async () => {
    const created = await env.world.merchant.createPayment({ method: 'alipay_qr' });
    const id = created.body.id as string;
    await env.world.merchant.call('POST', `/v1/payments/${id}/close`);
    await waitForPayment(env.world.merchant, id, (p) => p.status === 'closed');
    const journal = (await adminCall(env.world.url, 'GET', `/admin/payments/${id}/timeline`)).body.events as Array<{ state_before: unknown; state_after: unknown }>;
    const changes = journal.filter((j) => JSON.stringify(j.state_before) !== JSON.stringify(j.state_after)).length;
    expect(changes).toBeGreaterThanOrEqual(3);

    const page = await signedInPage(env.browser, env.world.url, 1280);
    await page.goto(`${env.world.url}/admin/payments/${id}/timeline`, { waitUntil: 'commit' });
    await page.locator('.chart svg .journey').waitFor();
    expect(await page.locator('.journey .step').count()).toBe(changes);
    expect(await page.locator('.journey .step text').allTextContents()).toEqual(Array.from({ length: changes }, (_, i) => String(i + 1)));
    expect(await page.locator('.state.current[data-state="closed"]').count()).toBe(1);

    // The script loads after the page: the cursor starts on the last row once it runs.
    const cursorRow = () => page.locator('tr.cursor').getAttribute('data-row');
    await page.click('[data-step-by="1"]');
    await page.locator('tr.cursor').waitFor();
    expect(await cursorRow()).toBe(String(journal.length - 1));
    expect(await page.locator('.journey .step.at').getAttribute('data-step')).toBe(String(changes));
    await page.click('[data-step-by="-1"]');
    expect(await cursorRow()).toBe(String(journal.length - 2));
    for (let i = 0; i < journal.length; i++) await page.click('[data-step-by="-1"]');
    expect(await cursorRow()).toBe('0');
    expect(await page.locator('.journey .step.at').getAttribute('data-step')).toBe('1');
    expect(await page.locator('.journey .step.walked').count()).toBe(1);
    expect(await page.locator('.state.cursor').getAttribute('data-state')).toBe('created');

    // Event JSON is pretty-printed and folded.
    const firstEvent = page.locator('tr[data-row="1"] td:nth-child(3) details');
    await firstEvent.locator('summary').click();
    expect(await firstEvent.locator('pre').textContent()).toContain('\n  "type": ');
    await fitsWindow(page, 'timeline');
    await page.close();
  }, 120_000);

  test('the machine page: click a state for its transitions; a simulated event moves the scratch actor; the page fits the window', async () => {
    const page = await signedInPage(env.browser, env.world.url, 1280);
    await page.goto(`${env.world.url}/admin/machines`, { waitUntil: 'commit' });
    await page.locator('form.sim').waitFor();
    expect(await page.locator('.state.current').getAttribute('data-state')).toBe('created');

    await page.locator('.state[data-state="settled"] > rect').click({ position: { x: 20, y: 10 } });
    await page.locator('section[data-details="settled"]').waitFor({ state: 'visible' });
    expect(await page.locator('section[data-details="settled"]').textContent()).toContain('refund.request [refundAllowed]');

    await page.selectOption('form.sim select', 'pay.start');
    await page.click('form.sim button[type="submit"]');
    await page.locator('form.sim ol li').first().waitFor();
    expect(await page.locator('.state.current').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-state')))).toEqual(['paying', 'paying.active']);
    await page.selectOption('form.sim select', 'close.request');
    await page.click('form.sim button[type="submit"]');
    await page.locator('form.sim ol li').nth(1).waitFor();
    expect(await page.locator('.state.current').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-state')))).toEqual(['paying', 'paying.closing']);
    expect(await page.locator('form.sim ol li').nth(1).textContent()).toContain('channel.query');
    // A malformed event is refused and the actor stays where it was.
    await page.fill('form.sim textarea', '{"type":"close.request","reason":"bored"}');
    await page.click('form.sim button[type="submit"]');
    await page.locator('form.sim .error:not(:empty)').waitFor();
    expect(await page.locator('form.sim ol li').count()).toBe(2);
    await page.click('form.sim [data-reset]');
    expect(await page.locator('.state.current').getAttribute('data-state')).toBe('created');

    await page.click('[data-zoom="in"]');
    expect(await page.locator('[data-zoom-label]').textContent()).toBe('125 %');
    await fitsWindow(page, 'machine');
    await page.close();
  }, 120_000);
});
