/**
 * What the console's tests share: a browser's session got by signing in over HTTP, pages fetched
 * as a browser asks for them, a form's CSRF token read off a page, and a reconciliation run with
 * differences (and their alerts) written straight to the store, as a finished run leaves them.
 */
import { alertIdFor } from '../../src/alerts/alerts.ts';
import { newId } from '../../src/ids.ts';
import type { ReconDiffRow, ReconRunRow } from '../../src/store/store.ts';
import type { Paycenter } from '../../src/wiring.ts';
import { admin_token } from '../http/harness.ts';

/** What Chromium sends when it navigates. */
export const browser_accept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** A signed-in browser's cookie header. */
export async function signIn(url: string): Promise<string> {
  const answer = await fetch(`${url}/admin/login`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${admin_token}`, redirect: 'manual',
  });
  if (answer.status !== 303) throw new Error(`sign-in answered ${answer.status}`);
  return answer.headers.get('set-cookie')!.split(';')[0]!;
}

/** A page as a browser gets it (no redirect followed). */
export const browse = (url: string, path: string, cookie: string, init: { method?: string; body?: string; referer?: string } = {}) => fetch(url + path, {
  method: init.method ?? 'GET', redirect: 'manual',
  headers: {
    accept: browser_accept, cookie, ...(init.referer ? { referer: url + init.referer } : {}),
    ...(init.body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
  },
  body: init.body,
});

/** The CSRF token of the first form on a page. */
export function csrfOn(html: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('no form with a CSRF token on the page');
  return token;
}

const flowId = (n: number) => `flw_01JD${String(n).padStart(22, '0')}`;

/** A difference to seed: its resolution (a fee_mismatch of a flow of its own), or more of it. */
export type DiffSeed = ReconDiffRow['resolution'] | (Partial<ReconDiffRow> & Pick<ReconDiffRow, 'resolution'>);

/**
 * A finished run of `channel` on `date` with one difference per seed, its counts by their kinds and
 * the totals given, and the `recon_diff` alert the run raises for each open one.
 */
export async function seedReconRun(
  paycenter: Paycenter, channel: string, date: string, seeds: DiffSeed[], totals: Record<string, string> = {},
): Promise<{ run: ReconRunRow; diffs: ReconDiffRow[] }> {
  const now = Date.now();
  const run: ReconRunRow = {
    id: newId('rcn', now), channel, date, status: 'running', source: 'upload', counts: {}, totals: {}, error: null,
    leaseUntil: now + 60_000, createdAt: now, finishedAt: null,
  };
  const started = await paycenter.store.startReconRun(run, false, now);
  if (!started) throw new Error('the run did not start');
  const diffs: ReconDiffRow[] = seeds.map((seed, i) => {
    const { resolution, ...more } = typeof seed === 'string' ? { resolution: seed } : seed;
    return {
      id: newId('dif', now), runId: run.id, kind: 'fee_mismatch', recordKey: flowId(i), flowId: flowId(i), refundId: null,
      channelTradeNo: `2026120522001${String(i).padStart(15, '0')}`, local: null, channelRow: null, resolution,
      note: resolution === 'repaired' ? "told the order's actor" : null, resolvedBy: resolution === 'open' ? null : 'reconciliation',
      resolvedAt: resolution === 'open' ? null : now, createdAt: now, ...more,
    };
  });
  const counts: Record<string, number> = {};
  for (const d of diffs) counts[d.kind] = (counts[d.kind] ?? 0) + 1;
  const done: ReconRunRow = { ...run, status: 'done', counts, totals, leaseUntil: null, finishedAt: now };
  await paycenter.store.finishReconRun({ run: done, diffs, pendingAdded: [], pendingRemoved: [] });
  for (const d of diffs.filter((d) => d.resolution === 'open')) {
    await paycenter.alerts.raise({ id: alertIdFor(d.id), kind: 'recon_diff', channel, message: `${channel} ${date}: fee_mismatch for ${d.recordKey}` });
  }
  return { run: done, diffs };
}
