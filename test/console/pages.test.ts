/**
 * The console's pages over HTTP, as a browser asks for them: errors inside the console (a bad
 * filter, a refused form, an unknown page) with a way back and the JSON body kept for API clients,
 * a browser without a session sent to sign in.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Booted, adminCall, bootPaycenter } from '../http/harness.ts';
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

    const missing = await browse(booted.url, '/admin/nowhere', cookie);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('no route GET /admin/nowhere');
    const noRun = await browse(booted.url, '/admin/reconciliations/rcn_nope', cookie, { referer: 'https://elsewhere.example/admin/x' });
    expect(noRun.status).toBe(404);
    expect(hrefs(await noRun.text(), 'elsewhere')).toEqual([]);

    const rule = await browse(booted.url, '/admin/forms/risk/rules/nope', cookie, { method: 'POST', body: `_csrf=${csrfOn(await (await browse(booted.url, '/admin/risk', cookie)).text())}&status=maybe` });
    expect(rule.status).toBe(400);
    expect(await rule.text()).toContain('status');

    const json = await adminCall(booted.url, 'GET', '/admin/payments?status=nope');
    expect(json.body.error).toMatchObject({ code: 'invalid_request', field: 'status' });
  });

  test('a browser without a session (or with one that ended) is sent to sign in; a script is answered 401', async () => {
    for (const stale of ['', 'paycenter_admin=ended-long-ago']) {
      const answer = await browse(booted.url, '/admin/alerts', stale);
      expect(answer.status).toBe(303);
      expect(answer.headers.get('location')).toBe('/admin/login');
    }
    expect((await fetch(`${booted.url}/admin/alerts`)).status).toBe(401);
    const wrongToken = await fetch(`${booted.url}/admin/alerts`, { headers: { accept: 'text/html', authorization: 'Bearer wrong' }, redirect: 'manual' });
    expect(wrongToken.status).toBe(401);
  });

});
