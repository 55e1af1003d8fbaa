/**
 * Resolving a reconciliation difference by hand, in both stores: only an open difference can be
 * resolved — one the reconciliation repaired, or another operator ignored, is refused as
 * `409 invalid_state` (JSON) or a page saying so (the console's form on a stale page) and keeps its
 * resolution, note and who and when — and resolving one acknowledges its `recon_diff` alert.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { alertIdFor } from '../../src/alerts/alerts.ts';
import { type Booted, adminCall, bootPaycenter } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';
import { browse, csrfOn, seedReconRun, signIn } from './fixtures.ts';

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
      const stale = await ignore('second operator');
      expect(stale.status).toBe(409);
      const html = await stale.text();
      expect(html).toContain('is already ignored by admin (console)');
      expect(html).toContain(`href="${page}"`);
      expect(await diffOf(run.id, open!.id)).toMatchObject({ resolution: 'ignored', note: 'duplicate line, the channel agreed', resolved_by: 'admin (console)' });
      const audit = (await adminCall(booted.url, 'GET', '/admin/audit?limit=100')).body.data.filter((r: { target: string }) => r.target === form);
      expect(audit).toHaveLength(1);
    });
  });
}
