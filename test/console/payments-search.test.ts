/**
 * The payments search by creation time over HTTP: the time a table shows, pasted back as it is,
 * finds the payment; so do its China day, its minute, and its `created_at` from JSON as the upper
 * end (each end is held whole); a day the calendar lacks is refused, naming the parameter; the
 * page's filters are date inputs, and a time a date input cannot hold is kept as text.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { decodeTime } from 'ulid';
import { chinaDate } from '../../src/channels/china-time.ts';
import { ManualClock } from '../../src/clock.ts';
import { chinaTime } from '../../src/console/pages.tsx';
import { newId } from '../../src/ids.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter } from '../http/harness.ts';
import { browse, signIn } from './fixtures.ts';

describe('the payments search by creation time (sqlite)', () => {
  let booted: Booted;
  let clock: ManualClock;
  let cookie: string;
  beforeAll(async () => {
    // A search by time is a search by id, and ids carry the latest time any id of the process was
    // minted with (ULID's monotonic factory): files run before this one move their clocks days
    // ahead. Starting past every id so far, a payment's id carries its creation time, as in production.
    clock = new ManualClock(decodeTime(newId('req').slice(4)) + 1000);
    booted = await bootPaycenter('sqlite', {}, { clock });
    cookie = await signIn(booted.url);
  }, 30_000);
  afterAll(() => booted?.stop());

  test('the time a table shows finds its payment pasted back, as do its day, its minute and its created_at', async () => {
    const merchant = await MerchantClient.create(booted.url);
    const created = await merchant.createPayment({}, { timestamp: Math.floor(clock.now() / 1000) });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const ms = Date.parse(created.body.created_at);
    const found = async (query: string) => {
      const answer = await adminCall(booted.url, 'GET', `/admin/payments?merchant_id=${merchant.merchantId}&${query}`);
      expect({ query, status: answer.status }).toEqual({ query, status: 200 });
      return { query, found: answer.body.data.map((p: { id: string }) => p.id) };
    };
    const table = await (await browse(booted.url, `/admin/payments?id=${id}`, cookie)).text();
    const shown = /<time [^>]*>([^<]+)<\/time>/.exec(table)![1]!;
    expect(shown).toBe(chinaTime(ms));
    const day = chinaDate(ms);
    for (const query of [
      `created_from=${encodeURIComponent(shown)}&created_to=${encodeURIComponent(shown)}`,
      `created_from=${day}&created_to=${day}`,
      `created_from=${encodeURIComponent(created.body.created_at)}&created_to=${encodeURIComponent(created.body.created_at)}`,
      `created_to=${encodeURIComponent(shown.slice(0, 16))}`,
    ]) expect(await found(query)).toEqual({ query, found: [id] });
    for (const query of [`created_to=${chinaDate(ms - 86_400_000)}`, `created_from=${chinaDate(ms + 86_400_000)}`]) {
      expect(await found(query)).toEqual({ query, found: [] });
    }
  });

  test('a day the calendar lacks is refused, naming the parameter; the filters are date inputs, a time kept as text', async () => {
    const bad = await adminCall(booted.url, 'GET', '/admin/payments?created_from=2026-02-30');
    expect(bad.body.error).toMatchObject({ code: 'invalid_request', field: 'created_from' });
    expect(bad.body.error.message).toContain('a China date (2026-12-05)');
    const page = await (await browse(booted.url, `/admin/payments?created_from=2026-12-05&created_to=${encodeURIComponent('2026-12-05 01:39:37 CST')}`, cookie)).text();
    expect(page).toContain('<input name="created_from" type="date" value="2026-12-05"');
    expect(page).toContain('<input name="created_to" type="text" value="2026-12-05 01:39:37 CST"');
    expect((await browse(booted.url, '/admin/payments', cookie)).status).toBe(200);
  });
});
