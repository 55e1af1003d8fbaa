/**
 * The operator routes against callers who are not signed in, over HTTP: a form posted to the
 * statement upload — the one route without the ordinary body limit, for its files — keeps the
 * limit (it used to be read whole, any size, to look for a CSRF token, before the session was even
 * checked), the routes anyone may post (sign-in, sign-out) leave nothing in the operators' record,
 * and a sign-in goes on only to a page of the console (no open redirect).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Booted, adminCall, admin_token, bootPaycenter } from '../http/harness.ts';

describe('operator routes, signed out (sqlite)', () => {
  let booted: Booted;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
  });
  afterAll(() => booted?.stop());

  test('a form bigger than the body limit to the statement upload is refused by the limit, like any other route', async () => {
    // 200 kB here; without the limit, 128 MiB (Bun's) a request, 64 operator requests at once.
    const answer = await fetch(`${booted.url}/admin/reconciliations/upload?channel=alipay_main&date=2026-12-01`, {
      method: 'POST', headers: { cookie: 'paycenter_admin=made-up', 'content-type': 'application/x-www-form-urlencoded' },
      body: `_csrf=${'x'.repeat(200_000)}`,
    });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error: unknown }).error).toMatchObject({ code: 'invalid_request', field: 'body' });
  });

  test('sign-in goes on only to a path of the console: never to another site, however the link spells it', async () => {
    const signIn = (next: string) => fetch(`${booted.url}/admin/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual',
      body: new URLSearchParams({ token: admin_token, next }),
    });
    const elsewhere = [
      'https://evil.example/admin', '//evil.example/admin', '/\\evil.example/admin', '\\\\evil.example/admin', '/\t/evil.example/admin',
      'https:evil.example/admin', 'javascript:alert(1)', '/admin/../..//evil.example', '/admin/%2e%2e/%2e%2e//evil.example', '/administrator',
      '/', 'admin', '/v1/payments', `/admin/${'x'.repeat(3000)}`,
    ];
    for (const next of elsewhere) {
      const answer = await signIn(next);
      expect({ next, status: answer.status, location: answer.headers.get('location') }).toEqual({ next, status: 303, location: '/admin' });
    }
    for (const next of ['/admin/payments?status=paying&limit=5', '/admin//evil.example']) {
      expect((await signIn(next)).headers.get('location')).toBe(next);
    }
    const page = await (await fetch(`${booted.url}/admin/login?next=${encodeURIComponent('//evil.example/"><script>alert(1)</script>')}`)).text();
    expect(page).toContain('name="next" value="/admin"');
    expect(page).not.toContain('<script>');
  });

  test('a sign-out posted by anybody is not an operator\'s write: the record stays as it was', async () => {
    const before = (await adminCall(booted.url, 'GET', '/admin/audit')).body.data.length;
    for (let i = 0; i < 3; i++) expect((await fetch(`${booted.url}/admin/logout`, { method: 'POST', redirect: 'manual' })).status).toBe(303);
    const after = (await adminCall(booted.url, 'GET', '/admin/audit')).body.data;
    expect(after.filter((row: { target: string }) => row.target === '/admin/logout')).toEqual([]);
    expect(after.length).toBe(before);
  });
});
