/**
 * The operator routes against callers who are not signed in, over HTTP: a form posted to the
 * statement upload — the one route without the ordinary body limit, for its files — keeps the
 * limit (it used to be read whole, any size, to look for a CSRF token, before the session was even
 * checked), and the routes anyone may post (sign-in, sign-out) leave nothing in the operators' record.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Booted, adminCall, bootPaycenter } from '../http/harness.ts';

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

  test('a sign-out posted by anybody is not an operator\'s write: the record stays as it was', async () => {
    const before = (await adminCall(booted.url, 'GET', '/admin/audit')).body.data.length;
    for (let i = 0; i < 3; i++) expect((await fetch(`${booted.url}/admin/logout`, { method: 'POST', redirect: 'manual' })).status).toBe(303);
    const after = (await adminCall(booted.url, 'GET', '/admin/audit')).body.data;
    expect(after.filter((row: { target: string }) => row.target === '/admin/logout')).toEqual([]);
    expect(after.length).toBe(before);
  });
});
