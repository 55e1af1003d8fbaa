/**
 * The operator console over HTTP (JSON for API clients) and in a browser (pages): the home
 * page's figures, the payments search with every filter and keyset paging, writes from pages
 * refused without the session's CSRF token and recorded when accepted, and every page fitting
 * the window at desktop and phone widths (screenshots in test-artifacts/).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { type World, bootWorld } from '../channels/world.ts';
import { chromiumBinary } from '../harness/services.ts';
import { adminCall, admin_token } from '../http/harness.ts';

const artifacts = join(import.meta.dir, '..', '..', 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const chromium_args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

describe('the operator console (sqlite)', () => {
  let world: World;
  let browser: Browser;
  const ids: string[] = [];
  beforeAll(async () => {
    world = await bootWorld('sqlite');
    for (const [i, method] of ['alipay_qr', 'wechat_native', 'alipay_qr', undefined, undefined].entries()) {
      const created = await world.merchant.createPayment({ merchant_order_no: `CONSOLE-${i}`, ...(method ? { method } : {}) });
      ids.push(created.body.id);
    }
    await world.merchant.call('POST', `/v1/payments/${ids[4]}/close`);
    browser = await chromium.launch({ executablePath: chromiumBinary()!, args: chromium_args, timeout: 30_000 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await world?.stop();
  }, 30_000);

  const search = async (query: string) => (await adminCall(world.url, 'GET', `/admin/payments?${query}`)).body;

  test('payments search: each filter, newest first, keyset pages, a time range, one by id', async () => {
    const all = await search(`merchant_id=${world.merchant.merchantId}`);
    expect(all.data.map((p: any) => p.id)).toEqual([...ids].reverse());
    expect((await search('merchant_order_no=CONSOLE-2')).data.map((p: any) => p.id)).toEqual([ids[2]]);
    expect((await search(`merchant_id=${world.merchant.merchantId}&status=closed`)).data.map((p: any) => p.id)).toEqual([ids[4]]);
    expect((await search(`merchant_id=${world.merchant.merchantId}&method=alipay_qr`)).data.map((p: any) => p.id)).toEqual([ids[2], ids[0]]);
    expect((await search(`merchant_id=${world.merchant.merchantId}&channel=wechat_main`)).data.map((p: any) => p.id)).toEqual([ids[1]]);
    expect((await search(`id=${ids[3]}`)).data.map((p: any) => p.id)).toEqual([ids[3]]);
    const first = await search(`merchant_id=${world.merchant.merchantId}&limit=2`);
    expect(first).toMatchObject({ has_more: true });
    const second = await search(`merchant_id=${world.merchant.merchantId}&limit=2&after=${first.data[1].id}`);
    expect(second.data.map((p: any) => p.id)).toEqual([ids[2], ids[1]]);
    const created = first.data[0].created_at as string;
    expect((await search(`merchant_id=${world.merchant.merchantId}&created_from=${created}`)).data[0].id).toBe(ids[4]);
    expect((await search(`merchant_id=${world.merchant.merchantId}&created_to=2000-01-01T00:00:00Z`)).data).toEqual([]);
    expect((await adminCall(world.url, 'GET', '/admin/payments?limit=1000')).body.error.field).toBe('limit');
    expect((await adminCall(world.url, 'GET', '/admin/payments?status=nope')).body.error.field).toBe('status');
  });

  test("the home page's figures: today's orders, channels with their health, open alerts and differences, parked rows", async () => {
    const home = (await adminCall(world.url, 'GET', '/admin')).body;
    expect(home.today.currencies[0]).toMatchObject({ currency: 'CNY' });
    expect(home.today.currencies[0].orders).toBeGreaterThanOrEqual(5);
    expect(home.channels.map((c: any) => c.code).sort()).toEqual(['alipay_main', 'wechat_main']);
    expect(typeof home.open_alerts).toBe('number');
    expect(typeof home.open_diffs).toBe('number');
    expect(home.parked).toBe(0);
    expect(home.channels.map((c: any) => c.health.breaker)).toEqual(['closed', 'closed']);
  });

  test('a signed-in browser walks from the home page to a payment found by its merchant order number and its timeline; every page fits the window', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
    await page.goto(`${world.url}/admin/login`);
    await page.fill('input[name="token"]', admin_token);
    await page.click('button');
    await page.waitForURL(`${world.url}/admin`);
    await page.getByText('Orders today').waitFor();
    await page.click('header a[href="/admin/payments"]');
    await page.fill('input[name="merchant_order_no"]', 'CONSOLE-1');
    await page.click('form.filters button');
    await page.locator(`a[href="/admin/payments/${ids[1]}/timeline"]`).click();
    await page.waitForURL(`${world.url}/admin/payments/${ids[1]}/timeline`, { waitUntil: 'commit' });
    for (const [width, label] of [[1280, 'desktop'], [390, 'phone']] as const) {
      await page.setViewportSize({ width, height: 900 });
      for (const path of ['/admin', '/admin/payments', '/admin/channels', '/admin/reconciliations', '/admin/alerts', '/admin/audit']) {
        await page.goto(world.url + path);
        const [scroll, inner] = await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]') as [number, number];
        expect({ path, width, scroll }).toEqual({ path, width, scroll: inner });
        await page.screenshot({ path: join(artifacts, `console-${label}${path.replaceAll('/', '-')}.png`), fullPage: true });
      }
    }
    await page.close();
  }, 90_000);

  test('a write from a page needs the session\'s CSRF token; an accepted one is on the audit page', async () => {
    await world.booted.paycenter.alerts.raise({ kind: 'parked', message: 'console test' });
    const alert = (await adminCall(world.url, 'GET', '/admin/alerts?open=true&kind=parked')).body.data[0];
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${world.url}/admin/login`);
    await page.fill('input[name="token"]', admin_token);
    await page.click('button');
    await page.waitForURL(`${world.url}/admin`);
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const forged = await fetch(`${world.url}/admin/alerts/${alert.id}/ack`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: '_csrf=forged', redirect: 'manual' });
    expect(forged.status).toBe(401);
    const missing = await fetch(`${world.url}/admin/alerts/${alert.id}/ack`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' });
    expect(missing.status).toBe(401);
    await page.goto(`${world.url}/admin/alerts`);
    await page.locator(`form[action="/admin/alerts/${alert.id}/ack"] button`).click();
    await page.waitForURL(`${world.url}/admin/alerts`);
    expect((await adminCall(world.url, 'GET', '/admin/alerts?kind=parked')).body.data[0].acked_at).not.toBeNull();
    const audit = (await adminCall(world.url, 'GET', '/admin/audit')).body.data;
    expect(audit[0]).toMatchObject({ actor: 'admin (console)', action: 'POST', target: `/admin/alerts/${alert.id}/ack` });
    await context.close();
  }, 60_000);
});
