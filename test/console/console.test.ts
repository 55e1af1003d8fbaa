/**
 * The operator console over HTTP (JSON for API clients) and in a browser (pages): the home
 * page's figures, the payments search with every filter and keyset paging, the merchants list
 * and the risk center's summary, writes from pages (an alert acknowledged, a merchant's routing,
 * a rule disabled, a list entry added and removed, a breaker forced open and closed) refused
 * without the session's CSRF token and recorded when accepted, and every page fitting the
 * window at desktop and phone widths (screenshots in test-artifacts/).
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

  test('merchants in id order, a page at a time, without their secrets', async () => {
    for (const n of [1, 2]) expect((await adminCall(world.url, 'POST', '/admin/merchants', { merchant_id: `MCONSOLE${n}`, name: `Console ${n}` })).status).toBe(201);
    const all = (await adminCall(world.url, 'GET', '/admin/merchants?limit=100')).body;
    const ids = all.data.map((m: any) => m.merchant_id);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining(['MCONSOLE1', 'MCONSOLE2', world.merchant.merchantId]));
    expect(all.has_more).toBe(false);
    expect(all.data.find((m: any) => m.merchant_id === 'MCONSOLE1')).toEqual(expect.objectContaining({ name: 'Console 1', status: 'enabled', routing: 'smart' }));
    expect(JSON.stringify(all)).not.toContain('sk_');
    const first = (await adminCall(world.url, 'GET', '/admin/merchants?limit=1')).body;
    expect(first).toMatchObject({ has_more: true, data: [{ merchant_id: ids[0] }] });
    expect((await adminCall(world.url, 'GET', `/admin/merchants?limit=1&after=${ids[0]}`)).body.data[0].merchant_id).toBe(ids[1]);
    expect((await adminCall(world.url, 'GET', '/admin/merchants?limit=1000')).body.error.field).toBe('limit');
  });

  test("the risk center's summary: thresholds, every rule, the newest list entries and their count", async () => {
    expect((await adminCall(world.url, 'POST', '/admin/risk/rules', { code: 'console_big', kind: 'limit', action: 'review', params: { subject: 'user', period: 'day', amount: '50000.00' } })).status).toBe(201);
    for (const value of ['dev-old', 'dev-new']) expect((await adminCall(world.url, 'POST', '/admin/risk/lists', { subject: 'device', value })).status).toBe(201);
    const risk = (await adminCall(world.url, 'GET', '/admin/risk')).body;
    expect(risk.settings).toEqual((await adminCall(world.url, 'GET', '/admin/risk/settings')).body);
    expect(risk.rules).toEqual((await adminCall(world.url, 'GET', '/admin/risk/rules')).body.data);
    expect(risk.rules.map((r: any) => r.code)).toContain('console_big');
    expect(risk.lists.slice(0, 2).map((e: any) => e.value)).toEqual(['dev-new', 'dev-old']);
    expect(risk.lists_total).toBe((await adminCall(world.url, 'GET', '/admin/risk/lists')).body.data.length);
  });

  test('filters left empty, as API.md writes them (?channel=&date=), filter nothing', async () => {
    const everything = async (path: string, blank: string) => {
      const [all, blanks] = await Promise.all([adminCall(world.url, 'GET', path), adminCall(world.url, 'GET', `${path}?${blank}`)]);
      expect(blanks.status).toBe(200);
      expect(blanks.body).toEqual(all.body);
    };
    await everything('/admin/risk/lists', 'subject=');
    await everything('/admin/reconciliations', 'channel=&date=');
    await everything('/admin/alerts', 'open=&kind=&payment_id=&after=');
    expect((await adminCall(world.url, 'GET', '/admin/risk/lists?subject=nobody')).body.error.field).toBe('subject');
  });

  test('a signed-in browser walks from the home page to a payment found by its merchant order number and its timeline; every page fits the window', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
    await page.goto(`${world.url}/admin/login`);
    await page.fill('input[name="token"]', admin_token);
    await page.click('button');
    await page.waitForURL(`${world.url}/admin`);
    await page.getByText('Orders created today').waitFor();
    await page.click('header a[href="/admin/payments"]');
    await page.fill('input[name="merchant_order_no"]', 'CONSOLE-1');
    await page.click('form.filters button');
    await page.locator(`a[href="/admin/payments/${ids[1]}/timeline"]`).click();
    await page.waitForURL(`${world.url}/admin/payments/${ids[1]}/timeline`, { waitUntil: 'commit' });
    for (const [width, label] of [[1280, 'desktop'], [390, 'phone']] as const) {
      await page.setViewportSize({ width, height: 900 });
      for (const path of ['/admin', '/admin/payments', '/admin/merchants', '/admin/channels', '/admin/channels/alipay_main/health', '/admin/risk', '/admin/reconciliations', '/admin/alerts', '/admin/audit']) {
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
  test("writes from the merchants, risk and channel pages change what the JSON routes show, and are on the audit page", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${world.url}/admin/login`);
    await page.fill('input[name="token"]', admin_token);
    await page.click('button');
    await page.waitForURL(`${world.url}/admin`);
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');

    const merchantId = world.merchant.merchantId;
    await page.goto(`${world.url}/admin/merchants`);
    const merchantForm = page.locator(`form[action="/admin/forms/merchants/${merchantId}"]`);
    await merchantForm.locator('select[name="routing"]').selectOption('lowest_fee');
    await merchantForm.locator('button').click();
    await page.waitForURL(`${world.url}/admin/merchants`);
    expect((await adminCall(world.url, 'GET', `/admin/merchants/${merchantId}`)).body).toMatchObject({ routing: 'lowest_fee', status: 'enabled' });
    await page.locator(`form[action="/admin/forms/merchants/${merchantId}"] select[name="routing"]`).selectOption('smart');
    await page.locator(`form[action="/admin/forms/merchants/${merchantId}"] button`).click();
    await page.waitForURL(`${world.url}/admin/merchants`);
    expect((await adminCall(world.url, 'GET', `/admin/merchants/${merchantId}`)).body.routing).toBe('smart');

    expect((await adminCall(world.url, 'POST', '/admin/risk/rules', { code: 'console_toggle', kind: 'blacklist', action: 'reject', params: { subjects: ['device'] } })).status).toBe(201);
    const forged = await fetch(`${world.url}/admin/forms/risk/rules/console_toggle`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'status=disabled&_csrf=forged', redirect: 'manual' });
    expect(forged.status).toBe(401);
    await page.goto(`${world.url}/admin/risk`);
    await page.locator('form[action="/admin/forms/risk/rules/console_toggle"] button').click();
    await page.waitForURL(`${world.url}/admin/risk`);
    expect((await adminCall(world.url, 'GET', '/admin/risk/rules/console_toggle')).body.status).toBe('disabled');
    await page.locator('form[action="/admin/forms/risk/lists"] select[name="subject"]').selectOption('device');
    await page.fill('form[action="/admin/forms/risk/lists"] input[name="value"]', 'dev-console');
    await page.locator('form[action="/admin/forms/risk/lists"] button').click();
    await page.waitForURL(`${world.url}/admin/risk`);
    const added = (await adminCall(world.url, 'GET', '/admin/risk/lists?subject=device')).body.data.find((e: any) => e.value === 'dev-console');
    expect(added).toMatchObject({ subject: 'device', reason: null });
    await page.locator(`form[action="/admin/forms/risk/lists/${added.id}/remove"] button`).click();
    await page.waitForURL(`${world.url}/admin/risk`);
    expect((await adminCall(world.url, 'GET', '/admin/risk/lists?subject=device')).body.data.map((e: any) => e.value)).not.toContain('dev-console');

    await page.goto(`${world.url}/admin/channels/wechat_main/health`);
    const forceOpen = page.locator('form[action="/admin/forms/channels/wechat_main/breaker"]').filter({ has: page.locator('input[name="state"][value="open"]') });
    await forceOpen.locator('input[name="reason"]').fill('provider maintenance');
    await forceOpen.locator('button').click();
    await page.waitForURL(`${world.url}/admin/channels/wechat_main/health`);
    const opened = (await adminCall(world.url, 'GET', '/admin/channels/wechat_main/health')).body;
    expect(opened.breaker).toBe('open');
    expect(opened.transitions[0]).toMatchObject({ to: 'open', reason: expect.stringContaining('provider maintenance') });
    await page.getByText('provider maintenance').first().waitFor();
    const close = page.locator('form[action="/admin/forms/channels/wechat_main/breaker"]').filter({ has: page.locator('input[name="state"][value="closed"]') });
    await close.locator('input[name="reason"]').fill('maintenance over');
    await close.locator('button').click();
    await page.waitForURL(`${world.url}/admin/channels/wechat_main/health`);
    expect((await adminCall(world.url, 'GET', '/admin/channels/wechat_main/health')).body.breaker).toBe('closed');

    const targets = (await adminCall(world.url, 'GET', '/admin/audit')).body.data.filter((r: any) => r.actor === 'admin (console)').map((r: any) => r.target);
    expect(targets).toEqual(expect.arrayContaining([
      `/admin/forms/merchants/${merchantId}`, '/admin/forms/risk/rules/console_toggle', '/admin/forms/risk/lists', `/admin/forms/risk/lists/${added.id}/remove`,
      '/admin/forms/channels/wechat_main/breaker',
    ]));
    await context.close();
  }, 90_000);
});
