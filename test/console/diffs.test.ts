/**
 * Resolving a reconciliation difference by hand, in both stores: only an open difference can be
 * resolved — one the reconciliation repaired, or another operator ignored, is refused as
 * `409 invalid_state` (JSON) or a page saying so (the console's form on a stale page) and keeps its
 * resolution, note and who and when — and resolving one acknowledges its `recon_diff` alert. A
 * retry of the same resolution and note (its first answer lost) answers the difference as it
 * stands, and acknowledges the alert if the first try's acknowledgement failed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { alertIdFor } from '../../src/alerts/alerts.ts';
import { type Booted, adminCall, bootPaycenter, executeSql } from '../http/harness.ts';
import { type StoreKind, storeKinds } from '../store/stores.ts';
import { browse, csrfOn, seedReconRun, signIn } from './fixtures.ts';

/** Makes the database refuse every acknowledgement of an alert, and takes that back. */
const ackRefused: Record<StoreKind, { refuse: string[]; allow: string[] }> = {
  sqlite: {
    refuse: ["CREATE TRIGGER ack_refused BEFORE UPDATE OF acked_at ON alerts BEGIN SELECT RAISE(ABORT, 'the database went away'); END"],
    allow: ['DROP TRIGGER ack_refused'],
  },
  postgres: {
    refuse: [
      "CREATE FUNCTION ack_refused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the database went away'; END $$",
      'CREATE TRIGGER ack_refused BEFORE UPDATE OF acked_at ON alerts FOR EACH ROW EXECUTE FUNCTION ack_refused()',
    ],
    allow: ['DROP TRIGGER ack_refused ON alerts', 'DROP FUNCTION ack_refused()'],
  },
};

for (const kind of storeKinds) {
  describe(`resolving a difference by hand (${kind})`, () => {
    let booted: Booted;
    beforeAll(async () => {
      booted = await bootPaycenter(kind);
    }, 30_000);
    afterAll(() => booted?.stop());

    const diffOf = async (runId: string, diffId: string) =>
      (await adminCall(booted.url, 'GET', `/admin/reconciliations/${runId}`)).body.diffs.find((d: { id: string }) => d.id === diffId);
    const alertOf = async (diffId: string) =>
      (await adminCall(booted.url, 'GET', '/admin/alerts?kind=recon_diff')).body.data.find((a: { id: string }) => a.id === alertIdFor(diffId));

    test('an open difference is ignored once, its alert acknowledged; a second ignore is refused and changes nothing', async () => {
      const { run, diffs: [open] } = await seedReconRun(booted.paycenter, 'alipay_main', '2026-12-01', ['open']);
      expect((await alertOf(open!.id)).acked_at).toBeNull();
      const path = `/admin/reconciliations/${run.id}/diffs/${open!.id}`;
      const first = await adminCall(booted.url, 'POST', path, { resolution: 'ignored', note: 'agreed with the channel' });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ resolution: 'ignored', note: 'agreed with the channel', resolved_by: 'admin' });
      expect((await alertOf(open!.id)).acked_at).not.toBeNull();

      const second = await adminCall(booted.url, 'POST', path, { resolution: 'ignored', note: 'overwritten?' });
      expect(second.status).toBe(409);
      expect(second.body.error).toMatchObject({ code: 'invalid_state' });
      expect(second.body.error.message).toContain('already ignored by admin');
      expect(await diffOf(run.id, open!.id)).toEqual(first.body);
    });

    test('an identical retry answers the difference as it stands (200); another resolution or note is still refused', async () => {
      const { run, diffs: [open] } = await seedReconRun(booted.paycenter, 'alipay_main', '2026-12-04', ['open']);
      const path = `/admin/reconciliations/${run.id}/diffs/${open!.id}`;
      const first = await adminCall(booted.url, 'POST', path, { resolution: 'ignored', note: 'agreed with the channel' });
      expect(first.status).toBe(200);
      const retry = await adminCall(booted.url, 'POST', path, { resolution: 'ignored', note: 'agreed with the channel' });
      expect(retry.status).toBe(200);
      expect(retry.body).toEqual(first.body);
      expect((await adminCall(booted.url, 'POST', path, { resolution: 'repaired', note: 'agreed with the channel' })).status).toBe(409);
      expect((await adminCall(booted.url, 'POST', path, { resolution: 'ignored', note: 'agreed with the channel.' })).status).toBe(409);
      expect((await adminCall(booted.url, 'POST', path, { resolution: 'ignored' })).status).toBe(409);
      expect(await diffOf(run.id, open!.id)).toEqual(first.body);
    });

    test("a retry acknowledges the alert when the first try's acknowledgement failed after its write", async () => {
      const { run, diffs: [open] } = await seedReconRun(booted.paycenter, 'alipay_main', '2026-12-05', ['open']);
      const path = `/admin/reconciliations/${run.id}/diffs/${open!.id}`;
      for (const statement of ackRefused[kind].refuse) await executeSql(booted.databaseUrl, statement);
      const failed = await adminCall(booted.url, 'POST', path, { resolution: 'repaired', note: 'refunded at the channel' });
      for (const statement of ackRefused[kind].allow) await executeSql(booted.databaseUrl, statement);
      expect(failed.status).toBeGreaterThanOrEqual(500);
      expect(await diffOf(run.id, open!.id)).toMatchObject({ resolution: 'repaired', note: 'refunded at the channel', resolved_by: 'admin' });
      expect((await alertOf(open!.id)).acked_at).toBeNull();

      const retry = await adminCall(booted.url, 'POST', path, { resolution: 'repaired', note: 'refunded at the channel' });
      expect(retry.status).toBe(200);
      expect(retry.body).toEqual(await diffOf(run.id, open!.id));
      expect((await alertOf(open!.id)).acked_at).not.toBeNull();
    });

    test('a difference the reconciliation repaired cannot be ignored: its resolution and note stay', async () => {
      const { run, diffs: [repaired] } = await seedReconRun(booted.paycenter, 'alipay_main', '2026-12-02', ['repaired']);
      const before = await diffOf(run.id, repaired!.id);
      const answer = await adminCall(booted.url, 'POST', `/admin/reconciliations/${run.id}/diffs/${repaired!.id}`, { resolution: 'ignored', note: 'stale page' });
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe('invalid_state');
      expect(await diffOf(run.id, repaired!.id)).toEqual({ ...before, resolution: 'repaired', note: "told the order's actor", resolved_by: 'reconciliation' });
      expect((await adminCall(booted.url, 'POST', `/admin/reconciliations/${run.id}/diffs/dif_nope`, { resolution: 'ignored', note: 'x' })).status).toBe(404);
      expect((await adminCall(booted.url, 'POST', `/admin/reconciliations/${run.id}/diffs/${repaired!.id}`, { resolution: 'open' })).body.error.field).toBe('resolution');
    });

    test("the console's Ignore on a page older than another operator's decision says so, and the first note stays", async () => {
      const { run, diffs: [open] } = await seedReconRun(booted.paycenter, 'wechat_main', '2026-12-03', ['open']);
      const cookie = await signIn(booted.url);
      const page = `/admin/reconciliations/${run.id}`;
      const csrf = csrfOn(await (await browse(booted.url, page, cookie)).text());
      const form = `/admin/forms/reconciliations/${run.id}/diffs/${open!.id}`;
      const ignore = (note: string) => browse(booted.url, form, cookie, { method: 'POST', body: `_csrf=${csrf}&note=${encodeURIComponent(note)}`, referer: page });
      expect((await ignore('   ')).status).toBe(400);
      const first = await ignore('duplicate line, the channel agreed');
      expect(first.status).toBe(303);
      // The same form sent again (a reload, a double click) goes back to the page as the first did.
      const again = await ignore('duplicate line, the channel agreed');
      expect(again.status).toBe(303);
      expect(again.headers.get('location')).toBe(page);
      const stale = await ignore('second operator');
      expect(stale.status).toBe(409);
      const html = await stale.text();
      expect(html).toContain('is already ignored by admin (console)');
      expect(html).toContain(`href="${page}"`);
      expect(await diffOf(run.id, open!.id)).toMatchObject({ resolution: 'ignored', note: 'duplicate line, the channel agreed', resolved_by: 'admin (console)' });
      const audit = (await adminCall(booted.url, 'GET', '/admin/audit?limit=100')).body.data.filter((r: { target: string }) => r.target === form);
      // The first and its retry were answered as done; the refused one wrote nothing and is not recorded.
      expect(audit).toHaveLength(2);
    });
  });
}
