/**
 * The console's pages over HTTP, as a browser asks for them: errors inside the console (a bad
 * filter, a refused form, an unknown page) with a way back and the JSON body kept for API clients,
 * a browser without a session sent to sign in and back to where it was going; the alerts page with the JSON route's filters and
 * pages (an old alert stays reachable after a flood); the operators' record a page at a time; a
 * second acknowledgement that writes nothing and is not recorded; a sign-out control on every page.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { newId } from '../../src/ids.ts';
import { type Booted, adminCall, admin_token, bootPaycenter } from '../http/harness.ts';
import { browse, csrfOn, signIn } from './fixtures.ts';

const hrefs = (html: string, containing: string) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&')).filter((h) => h.includes(containing));

describe('the console in a browser, over HTTP (sqlite)', () => {
  let booted: Booted;
  let cookie: string;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
    cookie = await signIn(booted.url);
  }, 30_000);
  afterAll(() => booted?.stop());

  test('a bad filter, a refused form and an unknown page are pages of the console with a way back; API clients keep the JSON body', async () => {
    const bad = await browse(booted.url, '/admin/payments?status=nope', cookie, { referer: '/admin/payments' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toStartWith('text/html');
    const html = await bad.text();
    expect(html).toContain('status must be one of');
    expect(html).toContain('href="/admin/payments"');
    expect(html).toContain('action="/admin/logout"');

    const missing = await browse(booted.url, '/admin/nowhere', cookie);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('no route GET /admin/nowhere');
    const noRun = await browse(booted.url, '/admin/reconciliations/rcn_nope', cookie, { referer: 'https://elsewhere.example/admin/x' });
    expect(noRun.status).toBe(404);
    expect(hrefs(await noRun.text(), 'elsewhere')).toEqual([]);

    const csrf = csrfOn(await (await browse(booted.url, '/admin/risk', cookie)).text());
    const rule = await browse(booted.url, '/admin/forms/risk/rules/nope', cookie, { method: 'POST', body: `_csrf=${csrf}&status=maybe` });
    expect(rule.status).toBe(400);
    expect(await rule.text()).toContain('status');
    const breaker = await browse(booted.url, '/admin/forms/channels/alipay_main/breaker', cookie, { method: 'POST', body: `_csrf=${csrf}&state=open&reason=%20%20%20` });
    expect(breaker.status).toBe(400);
    expect(await breaker.text()).toContain('reason must have a length of at least 1');

    const json = await adminCall(booted.url, 'GET', '/admin/payments?status=nope');
    expect(json.body.error).toMatchObject({ code: 'invalid_request', field: 'status' });
    expect((await adminCall(booted.url, 'POST', '/admin/channels/alipay_main/breaker', { state: 'open', reason: '   ' })).body.error.field).toBe('reason');
  });

  test('a browser without a session (or with one that ended) is sent to sign in, and comes back where it was going; a script is answered 401', async () => {
    for (const stale of ['', 'paycenter_admin=ended-long-ago']) {
      const answer = await browse(booted.url, '/admin/alerts?kind=parked', stale);
      expect(answer.status).toBe(303);
      expect(answer.headers.get('location')).toBe('/admin/login?next=%2Fadmin%2Falerts%3Fkind%3Dparked');
    }
    const form = await (await browse(booted.url, '/admin/login?next=%2Fadmin%2Falerts%3Fkind%3Dparked', '')).text();
    expect(form).toContain('<input type="hidden" name="next" value="/admin/alerts?kind=parked">');
    const signedIn = await fetch(`${booted.url}/admin/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual',
      body: `token=${admin_token}&next=${encodeURIComponent('/admin/alerts?kind=parked')}`,
    });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/admin/alerts?kind=parked');
    // A form posted after the session ended comes back to the page it was on; the home page needs no `next`.
    const posted = await browse(booted.url, '/admin/forms/risk/rules/nope', '', { method: 'POST', body: 'status=disabled', referer: '/admin/risk' });
    expect(posted.headers.get('location')).toBe('/admin/login?next=%2Fadmin%2Frisk');
    expect((await browse(booted.url, '/admin', '')).headers.get('location')).toBe('/admin/login');
    expect((await fetch(`${booted.url}/admin/alerts`)).status).toBe(401);
    const wrongToken = await fetch(`${booted.url}/admin/alerts`, { headers: { accept: 'text/html', authorization: 'Bearer wrong' }, redirect: 'manual' });
    expect(wrongToken.status).toBe(401);
  });

  test('the alerts page takes the JSON route\'s filters and pages on: an alert older than a flood is reached by "older" links', async () => {
    const paymentId = `pay_${newId('pay').slice(4)}`;
    await booted.paycenter.alerts.raise({ kind: 'auto_refund', message: 'the one that matters', paymentId });
    for (let i = 0; i < 120; i++) await booted.paycenter.alerts.raise({ kind: 'notify_failed', message: `flood ${i}` });

    let path: string | undefined = '/admin/alerts?open=true';
    const seen: string[] = [];
    for (let pages = 0; path !== undefined && pages < 10; pages++) {
      const html: string = await (await browse(booted.url, path, cookie)).text();
      seen.push(...[...html.matchAll(/<span class="text">(flood \d+|the one that matters)<\/span>/g)].map((m) => m[1]!));
      path = hrefs(html, 'after=alr_')[0];
    }
    expect(seen).toHaveLength(121);
    expect(seen.at(-1)).toBe('the one that matters');

    const byKind = await (await browse(booted.url, '/admin/alerts?kind=auto_refund', cookie)).text();
    expect(byKind).toContain('the one that matters');
    expect(byKind).not.toContain('flood 1');
    expect(byKind).toContain('<option value="auto_refund" selected="">');
    const byPayment = await (await browse(booted.url, `/admin/alerts?payment_id=${paymentId}`, cookie)).text();
    expect(byPayment).toContain('the one that matters');
    expect((await browse(booted.url, '/admin/alerts?kind=nope', cookie)).status).toBe(400);
  });

  test('a second acknowledgement writes nothing and is not recorded: a stale page is told who acknowledged it, an API client gets the alert', async () => {
    await booted.paycenter.alerts.raise({ kind: 'parked', message: 'acknowledge me twice' });
    const alert = (await adminCall(booted.url, 'GET', '/admin/alerts?kind=parked&open=true')).body.data[0];
    const page = await (await browse(booted.url, '/admin/alerts?kind=parked', cookie)).text();
    const ack = () => browse(booted.url, `/admin/alerts/${alert.id}/ack`, cookie, { method: 'POST', body: `_csrf=${csrfOn(page)}`, referer: '/admin/alerts?kind=parked' });
    const first = await ack();
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/admin/alerts?kind=parked');
    const second = await ack();
    expect(second.status).toBe(409);
    expect(await second.text()).toContain('was already acknowledged at');
    const retried = await adminCall(booted.url, 'POST', `/admin/alerts/${alert.id}/ack`);
    expect(retried.status).toBe(200);
    expect(retried.body.acked_at).not.toBeNull();
    const records = (await adminCall(booted.url, 'GET', '/admin/audit?limit=100')).body.data.filter((r: { target: string }) => r.target.includes(alert.id));
    expect(records).toHaveLength(1);
  });

  test("the operators' record pages on like the other lists: has_more, limit, a checked after", async () => {
    for (let i = 0; i < 3; i++) await booted.paycenter.alerts.raise({ kind: 'parked', message: `record ${i}` });
    for (const a of (await adminCall(booted.url, 'GET', '/admin/alerts?kind=parked&open=true')).body.data) await adminCall(booted.url, 'POST', `/admin/alerts/${a.id}/ack`);
    const all = (await adminCall(booted.url, 'GET', '/admin/audit?limit=100')).body;
    expect(all.data.length).toBeGreaterThanOrEqual(4);
    expect(all.has_more).toBe(false);
    const first = (await adminCall(booted.url, 'GET', '/admin/audit?limit=2')).body;
    expect(first).toMatchObject({ has_more: true, data: [{ id: all.data[0].id }, { id: all.data[1].id }] });
    const next = (await adminCall(booted.url, 'GET', `/admin/audit?limit=2&after=${first.data[1].id}`)).body;
    expect(next.data[0].id).toBe(all.data[2].id);
    expect((await adminCall(booted.url, 'GET', '/admin/audit?after=nope')).body.error.field).toBe('after');
    expect((await adminCall(booted.url, 'GET', '/admin/audit?limit=1000')).body.error.field).toBe('limit');
    const html = await (await browse(booted.url, '/admin/audit?limit=2', cookie)).text();
    expect(hrefs(html, 'after=aud_')).toEqual([`/admin/audit?after=${first.data[1].id}&limit=2`]);
  });
});
