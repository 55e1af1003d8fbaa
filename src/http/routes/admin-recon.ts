/**
 * Reconciliation for operators (API.md "Reconciliation"): run a channel's day from its
 * statement (downloaded through the channel, or uploaded as the file an operator downloaded),
 * list and read runs with their differences, resolve a difference by hand.
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import { readAtMost } from '../../bounded-body.ts';
import { statement_bytes_max } from '../../channels/adapter.ts';
import { statementMediaTypeOf, statement_media_types } from '../../channels/statement.ts';
import { isoTime } from '../../clock.ts';
import type { Reconciliation, ResolveOutcome, RunOutcome } from '../../recon/reconciliation.ts';
import type { ReconDiffRow, ReconRunRow, Store } from '../../store/store.ts';
import { reconDiff, reconRun, reconRunPage } from '../answers.ts';
import { ApiError } from '../errors.ts';
import { describeIn, jsonAnswer, jsonOrPage } from '../openapi.ts';
import { jsonBody, optionalParam, pageLimit, queryParams } from '../validate.ts';

const channelCode = v.pipe(v.string(), v.regex(/^[a-z0-9_]{1,32}$/, 'must be a channel code'));
const chinaDate = v.pipe(v.string(), v.isoDate('must be a date (YYYY-MM-DD)'));
/** Runs a page lists at most. */
export const recon_runs_page_max = 100;
export const runsQuery = v.strictObject({
  channel: optionalParam(channelCode),
  date: optionalParam(chinaDate),
  after: optionalParam(v.pipe(v.string(), v.regex(/^rcn_[0-9A-Z]{26}$/, 'must be a reconciliation id'))),
  limit: pageLimit(recon_runs_page_max, 50),
});
export type RunsQuery = v.InferOutput<typeof runsQuery>;
const runRequest = v.strictObject({ channel: channelCode, date: chinaDate, rerun: v.optional(v.boolean(), false) });
const uploadQuery = v.strictObject({ channel: channelCode, date: chinaDate, rerun: v.optional(v.picklist(['true', 'false']), 'false') });
/** How long an operator's note on a difference may be. */
export const diff_note_chars_max = 1000;
// A difference is resolved once: reopening one would let a stale page undo a repair.
const resolution = v.strictObject({
  resolution: v.picklist(['ignored', 'repaired'], 'must be ignored or repaired'),
  note: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(diff_note_chars_max))), null),
});

/** A difference as API.md shows it (a run holds at most recon_diffs_max of them). */
export const diffView = (d: ReconDiffRow) => ({
  id: d.id, kind: d.kind, flow_id: d.flowId, refund_id: d.refundId, channel_trade_no: d.channelTradeNo,
  local: d.local, channel: d.channelRow, resolution: d.resolution, note: d.note, resolved_by: d.resolvedBy,
  resolved_at: d.resolvedAt === null ? null : isoTime(d.resolvedAt),
});

/** A hand resolution's difference, or the error the JSON route and the console's form both answer. */
export function resolvedDiff(outcome: ResolveOutcome, runId: string, diffId: string): ReconDiffRow {
  if (outcome.ok) return outcome.diff;
  if (outcome.error === 'not_found') throw new ApiError('not_found', `no difference ${diffId} in reconciliation ${runId}`);
  const { diff } = outcome;
  const by = diff.resolvedBy === null ? '' : ` by ${diff.resolvedBy}`;
  const at = diff.resolvedAt === null ? '' : ` at ${isoTime(diff.resolvedAt)}`;
  throw new ApiError('invalid_state', `difference ${diffId} is already ${diff.resolution}${by}${at}; only an open difference can be resolved`);
}

export const runView = (r: ReconRunRow, diffs?: ReconDiffRow[]) => ({
  id: r.id, channel: r.channel, date: r.date, status: r.status, source: r.source, error: r.error, counts: r.counts, totals: r.totals,
  created_at: isoTime(r.createdAt), finished_at: r.finishedAt === null ? null : isoTime(r.finishedAt),
  ...(diffs ? { diffs: diffs.map(diffView) } : {}),
});

/**
 * One page of runs as the query asks, for the JSON route and the console's page. Runs are listed
 * by day, not id (a day reconciled late has a newer id), so `after` must name a run: the page goes
 * on from its day and channel.
 */
export async function runsPage(store: Store, q: RunsQuery): Promise<{ runs: ReconRunRow[]; hasMore: boolean }> {
  const last = q.after === undefined ? undefined : await store.loadReconRun(q.after);
  if (last === null) throw new ApiError('invalid_request', `after names no reconciliation run: ${q.after}`, 'after');
  const rows = await store.listReconRuns({ channel: q.channel, date: q.date, after: last, limit: q.limit + 1 });
  return { runs: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

/** A run's answers: a new run, or the one that day already has. */
const run_answers = { 201: jsonAnswer(reconRun, 'The new run.'), 200: jsonAnswer(reconRun, 'The run this channel and day already had (rerun: false).') };

export function mountReconciliation(app: Hono, deps: { recon: Reconciliation; store: Store }): void {
  const answer = async (outcome: RunOutcome) => {
    if (!outcome.ok) {
      if (outcome.error === 'not_found') throw new ApiError('not_found', 'no such channel');
      throw new ApiError('invalid_state', 'this channel and date are being reconciled now; ask again shortly');
    }
    return { body: runView(outcome.run, await deps.store.listReconDiffs(outcome.run.id)), status: outcome.ran ? (201 as const) : (200 as const) };
  };

  app.post('/reconciliations', describeIn('operators', {
    summary: "Reconcile a channel's China day from its statement (201 new, 200 the existing run unless rerun)", responses: run_answers, errors: [404, 409],
  }), jsonBody(runRequest), async (c) => {
    const body = c.req.valid('json');
    const { body: run, status } = await answer(await deps.recon.run({ channel: body.channel, date: body.date, source: 'download', rerun: body.rerun }));
    return c.json(run, status);
  });

  app.post('/reconciliations/upload', describeIn('operators', {
    summary: 'Reconcile from a statement file in the body (application/zip for Alipay, text/csv or application/gzip for WeChat Pay)',
    requestBody: {
      required: true, description: `The statement file as the channel serves it, at most ${statement_bytes_max} bytes.`,
      content: Object.fromEntries(statement_media_types.map((type) => [type, { schema: { type: 'string', format: 'binary' } }])),
    },
    responses: run_answers, errors: [404, 409],
  }), queryParams(uploadQuery), async (c) => {
    const q = c.req.valid('query');
    const mediaType = statementMediaTypeOf(c.req.header('content-type'));
    if (mediaType === null) {
      throw new ApiError('invalid_request', `Content-Type must be one of ${statement_media_types.join(', ')}`, 'body');
    }
    const received = await readAtMost(c.req.raw.body, statement_bytes_max);
    if (received.truncated) throw new ApiError('invalid_request', `a statement file is at most ${statement_bytes_max} bytes`, 'body');
    const file = { bytes: received.bytes, mediaType, sha1: null };
    const { body: run, status } = await answer(await deps.recon.run({ channel: q.channel, date: q.date, source: 'upload', rerun: q.rerun === 'true', file }));
    return c.json(run, status);
  });

  app.get('/reconciliations', describeIn('operators', {
    summary: 'Reconciliation runs, newest day first (after=rcn_… pages on)', responses: { 200: jsonOrPage(reconRunPage, 'A page of runs, without their differences.') },
  }), queryParams(runsQuery), async (c) => {
    const page = await runsPage(deps.store, c.req.valid('query'));
    return c.json({ data: page.runs.map((r) => runView(r)), has_more: page.hasMore });
  });

  app.get('/reconciliations/:id', describeIn('operators', {
    summary: 'A reconciliation run with its differences', responses: { 200: jsonOrPage(reconRun, 'The run.') }, errors: [404],
  }), async (c) => {
    const run = await deps.store.loadReconRun(c.req.param('id'));
    if (!run) throw new ApiError('not_found', `no reconciliation ${c.req.param('id')}`);
    return c.json(runView(run, await deps.store.listReconDiffs(run.id)));
  });

  app.post('/reconciliations/:id/diffs/:diff', describeIn('operators', {
    summary: 'Resolve an open difference by hand (ignored, with a note; an identical retry answers 200, 409 once it is resolved otherwise)', responses: { 200: jsonAnswer(reconDiff, 'The difference as resolved (by this request, or by its earlier identical try).') }, errors: [404, 409],
  }), jsonBody(resolution), async (c) => {
    const body = c.req.valid('json');
    const { id, diff } = c.req.param();
    const outcome = await deps.recon.resolve(id, diff, { resolution: body.resolution, note: body.note, by: 'admin' });
    return c.json(diffView(resolvedDiff(outcome, id, diff)));
  });
}
