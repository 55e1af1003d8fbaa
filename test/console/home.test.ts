/**
 * The console's home page against real orders: today's figures per currency, labelled with it;
 * the success rate is paid ÷ attempted (an order nobody tried to pay is not a failure), the
 * volume the money paid on today's orders with what was refunded of it beside; every figure on
 * the page names the JSON field it is refreshed from, and that field exists; a channel with no
 * calls has no success rate; open alerts in China time; parked rows link to their alerts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/clock.ts';
import { home_stats_fresh_ms } from '../../src/console/home-stats.ts';
import { type World, bootWorld, payerDecides, waitForPayment } from '../channels/world.ts';
import { adminCall } from '../http/harness.ts';
import { browse, signIn } from './fixtures.ts';

/** The page script's reading of a `data-field` path (src/console/pages.tsx console_js). */
const at = (root: unknown, path: string): unknown => path.split('.').reduce<unknown>((value, step) => {
  if (value == null) return value;
  const pick = /^([a-z_]+)=(.*)$/.exec(step);
  if (pick && Array.isArray(value)) return value.find((item) => item != null && String(item[pick[1]!]) === pick[2]);
  return (value as Record<string, unknown>)[step];
}, root);

describe("the console's home (sqlite)", () => {
  let world: World;
  let cookie: string;
  // Today's figures are counted once per home_stats_fresh_ms: a test that wants new ones moves past it.
  const clock = new ManualClock(Date.now());
  beforeAll(async () => {
    world = await bootWorld('sqlite', { clock });
    cookie = await signIn(world.url);
  }, 60_000);
  afterAll(() => world?.stop(), 30_000);

  const home = async () => (await adminCall(world.url, 'GET', '/admin')).body;
  const homePage = async () => (await browse(world.url, '/admin', cookie)).text();

  test('a channel no call has reached yet shows no success rate, not 100 %', async () => {
    const html = await homePage();
    expect(html).not.toContain('100.0 %');
    expect(html.match(/<td>–<\/td>/g)?.length).toBeGreaterThanOrEqual(2);
  });

  test('success rate is paid ÷ attempted; the volume is what was paid on them, the refunded part beside it', async () => {
    await world.merchant.createPayment({ amount: '5.00' });
    const paid = await world.merchant.createPayment({ method: 'alipay_qr', amount: '100.00' });
    await world.merchant.createPayment({ method: 'wechat_native', amount: '7.00' });
    expect((await payerDecides(paid.body.action.qr_code, 'pay')).status).toBe(200);
    await waitForPayment(world.merchant, paid.body.id, (p) => p.status === 'succeeded');
    expect((await world.merchant.call('POST', `/v1/payments/${paid.body.id}/refunds`, { refund_no: 'HOME-R1', amount: '30.00' })).status).toBe(201);
    await waitForPayment(world.merchant, paid.body.id, (p) => p.status === 'partially_refunded');

    clock.advance(home_stats_fresh_ms);
    const cny = (await home()).today.currencies.find((c: { currency: string }) => c.currency === 'CNY');
    expect(cny).toEqual({ currency: 'CNY', orders: 3, attempted: 2, paid: 1, success_rate: 0.5, paid_amount: '100.00', refunded_amount: '30.00' });
  }, 30_000);

  test('every figure on the page is refreshed from a field its JSON has, and today\'s figures say their currency', async () => {
    await world.booted.paycenter.alerts.raise({ kind: 'parked', message: 'home page alert' });
    const [html, json] = await Promise.all([homePage(), home()]);
    const fields = [...html.matchAll(/data-field="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
    for (const name of ['orders', 'attempted', 'paid', 'success_rate', 'paid_amount', 'refunded_amount']) {
      expect(fields).toContain(`today.currencies.currency=CNY.${name}`);
    }
    expect(fields).toEqual(expect.arrayContaining(['open_alerts', 'open_diffs', 'parked']));
    for (const field of fields) expect({ field, value: at(json, field) }).not.toEqual({ field, value: undefined });
    const stats = [...html.matchAll(/<div class="value"[^>]*>(.*?)<\/div><\/div>/g)].map((m) => m[1]!);
    for (const value of stats) expect(value).toContain('data-field=');
    expect(html).toContain('href="/admin/alerts?kind=parked"');
    expect(html).toMatch(/<time datetime="[^"]+" title="[^"]+">[0-9-]+ [0-9:]+ CST<\/time><\/td><td><span class="badge">parked/);
  });
});
