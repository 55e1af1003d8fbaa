/**
 * Reconciliation (对账) of one channel's China day: its statement (downloaded through the
 * channel's adapter, or uploaded) against paycenter's flows and refunds, both ways.
 *
 * - The day's records are held as compact facts (day-index.ts, a named limit, in passes past it);
 *   a line that matches its record's facts costs no more. Other lines are judged on their whole
 *   records, read by id a batch at a time (a difference, a success recorded just across
 *   midnight, a refund of an older payment).
 * - Money the channel moved that paycenter did not record (`missing_local`) is repaired by an
 *   event to the order's actor — settled, or refunded automatically, as a late callback would be.
 *   Reconciliation never writes an order itself.
 * - A local success the file lacks waits in the holding pool (`pending`) in case a later day's
 *   file shows it; after RECON_HOLD_DAYS it becomes a `missing_channel` difference. The pool
 *   remembers how each hold ended, so a rerun of an earlier day brings none back and a rerun of
 *   the day that made a difference keeps it.
 * - A run of a day is one row per channel and date; running it again recomputes it, keeps the
 *   resolutions of the differences it finds again, and never repairs twice (an order's actor
 *   takes a report once; a difference already repaired stays as it was).
 * - A file that cannot be read fails the run with the reason; nothing of it is applied.
 */
import type { Engine } from '../../actors/engine.ts';
import { chinaDate } from '../channels/china-time.ts';
import { type Alerts, alertIdFor } from '../alerts/alerts.ts';
import type { ChannelRegistry, Channel } from '../channels/registry.ts';
import { type StatementFile, StatementError, type StatementRow } from '../channels/statement.ts';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../log.ts';
import { type Currency, currencies, formatAmount } from '../money.ts';
import type { ChannelRow, ReconDiffRow, ReconPendingRow, ReconRecord, ReconRunRow, Store } from '../store/store.ts';
import { type Counts, type DiffKind, type FeeRate, type Repair, factsVerdictOf, recordKey, rowKey, unknownLineKey, verdictOf, zeroCounts } from './classify.ts';
import { DayIndex, passOf, passesFor, recon_index_records_max } from './day-index.ts';
import { GarbageBound } from './garbage-bound.ts';

export type ReconOptions = {
  /** Days a local success may wait for a later statement before it is a missing_channel difference. */
  holdDays: number;
  /** How long a run may take before another instance may take it over. */
  leaseMs: number;
  /** The day's records one pass of a comparison holds in memory at most (a larger day takes more passes). */
  indexRecordsMax: number;
};
export const default_recon_options: ReconOptions = { holdDays: 2, leaseMs: 10 * 60_000, indexRecordsMax: recon_index_records_max };

/**
 * Days the holding pool keeps a mark after it ended (a statement showed the record, or a run made
 * it a missing_channel difference): a rerun of a day up to this old respects what later days
 * decided. A day older than this holds nothing anew, since its marks may be forgotten.
 */
export const recon_marks_kept_days = 92;

/** Ids per lookup of lines outside the day's records. */
const lookup_ids_max = 500;
/** Differences stored per run; past it they are counted, not listed (a broken file, not a day's work). */
export const recon_diffs_max = 10_000;

const day_ms = 86_400_000;
/** The China Standard Time day `date` (YYYY-MM-DD) as [start, end) epoch ms. */
export const chinaDayRange = (date: string): [number, number] => {
  const start = Date.parse(`${date}T00:00:00+08:00`);
  return [start, start + day_ms];
};
/** The China day `days` before `date` (both YYYY-MM-DD). */
export const daysBefore = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) - days * day_ms).toISOString().slice(0, 10);

export type RunRequest = { channel: string; date: string; source: ReconRunRow['source']; rerun: boolean; file?: StatementFile };
/** `ran`: this request compared the day (201, a rerun too), or answered the run that exists (200, API.md). */
export type RunOutcome = { ok: true; run: ReconRunRow; ran: boolean } | { ok: false; error: 'not_found' | 'running' };

/** `agrees`: a line an earlier run of this day found missing_local whose record agrees with it now. */
type Found = { kind: DiffKind; row: StatementRow | null; record: ReconRecord | null; repair: Repair | null; agrees: boolean };

/** What every pass of a comparison reads. */
type PassContext = {
  run: ReconRunRow; channel: Channel; file: StatementFile; marks: Map<string, ReconPendingRow>;
  /** Keys of missing_local differences an earlier run of this day found (and repaired, or was repairing when its process stopped). */
  foundBefore: Set<string>;
  /** Whether records no line showed may be held: not on a day older than the pool remembers. */
  holds: boolean;
  rate: FeeRate; currency: Currency; now: number;
};

/** A hand resolution's outcome: the difference resolved, or why not. */
export type ResolveOutcome = { ok: true; diff: ReconDiffRow } | { ok: false; error: 'not_found' } | { ok: false; error: 'not_open'; diff: ReconDiffRow };

/** What comparing a statement with the records came to, before anything is written. At most recon_diffs_max differences are listed; all are counted. */
type Comparison = {
  counts: Counts;
  found: Found[];
  channelNet: number;
  localNet: number;
  /** The fees charged less the fees refunds gave back. */
  feeMilli: number;
  pendingAdded: ReconPendingRow[];
  pendingRemoved: string[];
};

export class Reconciliation {
  constructor(
    private readonly deps: {
      store: Store; channels: ChannelRegistry; engine: Engine; alerts: Alerts; clock: Clock; log: Logger;
      /** The fee a channel is expected to charge (its configured fee_rate). */
      feeRateOf: (channel: ChannelRow) => FeeRate;
    },
    private readonly options: ReconOptions = default_recon_options,
  ) {}

  /** Runs (or answers the existing run of) one channel's day. */
  async run(request: RunRequest): Promise<RunOutcome> {
    const channel = await this.deps.channels.get(request.channel);
    if (!channel) return { ok: false, error: 'not_found' };
    const existing = await this.deps.store.findReconRun(request.channel, request.date);
    if (existing && !request.rerun && existing.status !== 'running') return { ok: true, run: existing, ran: false };
    const now = this.deps.clock.now();
    const run: ReconRunRow = {
      id: existing?.id ?? newId('rcn', now), channel: request.channel, date: request.date, status: 'running', source: request.source,
      counts: {}, totals: {}, error: null, leaseUntil: now + this.options.leaseMs, createdAt: existing?.createdAt ?? now, finishedAt: null,
    };
    if (!(await this.deps.store.startReconRun(run, request.rerun, now))) return { ok: false, error: 'running' };
    try {
      return { ok: true, run: await this.execute(run, channel, request.file), ran: true };
    } catch (error) {
      // A broken dependency (or a bug): the run says so instead of holding its lease until it runs out.
      await this.fail(run, `the run stopped: ${String(error).slice(0, 500)}`).catch(() => undefined);
      throw error;
    }
  }

  private async execute(run: ReconRunRow, channel: Channel, uploaded: StatementFile | undefined): Promise<ReconRunRow> {
    const log = { channel: run.channel, date: run.date, run_id: run.id };
    let file = uploaded;
    if (!file) {
      const downloaded = await channel.adapter.downloadStatement(run.date, this.deps.clock.now());
      if (!downloaded.ok) return this.fail(run, `the statement could not be downloaded: ${downloaded.message}`);
      file = downloaded.file;
    }
    const previous = new Map((await this.deps.store.listReconDiffs(run.id)).map((d) => [`${d.kind}:${d.recordKey}`, d]));
    let comparison: Comparison;
    try {
      comparison = await this.compare(run, channel, file, previous);
    } catch (error) {
      if (!(error instanceof StatementError)) throw error;
      this.deps.log.warn('statement refused', { ...log, error: error.message });
      return this.fail(run, error.message);
    }
    const diffs = comparison.found.map((f) => this.diffOf(run, f, previous));
    // Written before any repair is told, the run still holding its lease: if the process dies
    // between the two, the run that takes the day over finds each missing_local line it had found,
    // and keeps it a difference (repaired) although the order's record agrees with the line by then.
    await this.deps.store.recordReconDiffs(run.id, diffs);
    const repaired = await this.repair(diffs, comparison.found);
    // A repaired record completes now, after this day: the statement already showed it, so its own day must not hold it.
    for (const diff of repaired) comparison.pendingAdded.push({ channel: run.channel, recordId: diff.recordKey, state: 'seen', date: run.date, local: diff.local! });
    const currency = currencyOf(channel.row);
    const done: ReconRunRow = {
      ...run, status: 'done', counts: comparison.counts, leaseUntil: null, finishedAt: this.deps.clock.now(),
      // The currency is kept with the amounts: they are decimals of it, and a channel's currencies may change later.
      totals: {
        channel_amount: signedAmount(comparison.channelNet, currency), local_amount: signedAmount(comparison.localNet, currency),
        channel_fee: signedAmount(Math.round(comparison.feeMilli / 1000), currency), currency,
      },
    };
    await this.deps.store.finishReconRun({ run: done, diffs, pendingAdded: comparison.pendingAdded, pendingRemoved: comparison.pendingRemoved });
    await this.alert(run, diffs);
    this.deps.log.info('reconciled', { ...log, ...comparison.counts });
    return done;
  }

  /**
   * Reads the whole file and classifies it before anything is written: a bad line refuses the
   * file. A day of more records than one index holds is compared in passes (see day-index.ts):
   * the pass that overflows counts the day's records, and the comparison starts again with as
   * many passes as they need.
   */
  private async compare(run: ReconRunRow, channel: Channel, file: StatementFile, previous: Map<string, ReconDiffRow>): Promise<Comparison> {
    const marks = new Map((await this.deps.store.listReconPending(run.channel)).map((p) => [p.recordId, p]));
    const foundBefore = new Set([...previous.values()].filter((d) => d.kind === 'missing_local').map((d) => d.recordKey));
    const now = this.deps.clock.now();
    const holds = run.date >= daysBefore(chinaDate(now), recon_marks_kept_days);
    const context: PassContext = { run, channel, file, marks, foundBefore, holds, rate: this.deps.feeRateOf(channel.row), currency: currencyOf(channel.row), now };
    for (let passes = 1; ;) {
      const c: Comparison = { counts: zeroCounts(), found: [], channelNet: 0, localNet: 0, feeMilli: 0, pendingAdded: [], pendingRemoved: [] };
      let overflow: number | null = null;
      for (let pass = 0; pass < passes && overflow === null; pass++) overflow = await this.comparePass(context, c, pass, passes);
      if (overflow === null) {
        this.promoteHeld(run, marks, c);
        return c;
      }
      passes = passesFor(overflow, this.options.indexRecordsMax, passes);
    }
  }

  /** One pass: its share of the day's records against its share of the lines. Null when done; when its share overflows the index, the day's records (all passes'), counted. */
  private async comparePass(x: PassContext, c: Comparison, pass: number, passes: number): Promise<number | null> {
    const day = chinaDayRange(x.run.date);
    const [dayStart, dayEnd] = day;
    const index = new DayIndex(this.options.indexRecordsMax);
    const garbage = new GarbageBound();
    let full = false;
    let records = 0;
    await this.deps.store.eachReconFactsCompleted(x.run.channel, dayStart, dayEnd, (page) => {
      garbage.read(page.length);
      records += page.length;
      for (const facts of page) {
        if (full || passOf(facts.key, passes) !== pass) continue;
        if (!index.add(facts)) full = true;
        else c.localNet += facts.kind === 'payment' ? facts.amount : -facts.amount;
      }
    });
    if (full) return records;

    let unsettled: StatementRow[] = [];
    for await (const row of x.channel.adapter.statementRows(x.file)) {
      garbage.read(1);
      const key = rowKey(row);
      if (passOf(key, passes) !== pass) continue;
      if (row.status === 'succeeded') c.channelNet += row.kind === 'payment' ? row.amount : -row.amount;
      // A refund line's fee is one given back (the providers sign it opposite to a payment's): the total is the net charged.
      c.feeMilli += row.kind === 'payment' ? row.feeMilli : -row.feeMilli;
      const slot = index.unshownSlot(key);
      if (slot >= 0) {
        index.markShown(slot);
        // The hot path: a line that matches its record's facts needs nothing more of the record.
        if (factsVerdictOf(row, index.factsAt(slot), x.rate) === 'matched' && !x.foundBefore.has(key)) {
          if (x.marks.get(key)?.state === 'held') c.pendingRemoved.push(key);
          c.counts.matched++;
          continue;
        }
      }
      unsettled.push(row);
      if (unsettled.length < lookup_ids_max) continue;
      await this.judgeByIds(x, c, unsettled, day);
      unsettled = [];
    }
    await this.judgeByIds(x, c, unsettled, day);
    await this.holdUnshown(x, c, index);
    return null;
  }

  /** Lines that are not plain matches of the day (a difference, a record of another day, none): judged on their whole records, read by id. */
  private async judgeByIds(x: PassContext, c: Comparison, rows: StatementRow[], day: [number, number]): Promise<void> {
    if (rows.length === 0) return;
    const records = await this.deps.store.reconRecordsByIds(
      rows.filter((r) => r.kind === 'payment').map((r) => r.flowId), rows.flatMap((r) => (r.refundId === null ? [] : [r.refundId])),
    );
    const byKey = new Map(records.map((r) => [recordKey(r), r]));
    for (const row of rows) {
      const key = rowKey(row);
      const record = byKey.get(key);
      if (record) this.shown(x, c, record, day);
      const verdict = verdictOf(row, record, x.rate, x.currency, x.now);
      // A difference an earlier run of this day found is that difference still, not a match, though its record agrees now.
      const agrees = verdict.kind === 'matched' && x.foundBefore.has(key);
      const kind = agrees ? 'missing_local' : verdict.kind;
      c.counts[kind]++;
      if (kind !== 'matched' && c.found.length < recon_diffs_max) c.found.push({ kind, row, record: record ?? null, repair: verdict.kind === 'matched' ? null : verdict.repair, agrees });
    }
  }

  /**
   * This day's statement showed the record: a hold of it ends. A record of another day (a success
   * recorded just across midnight, a line a day late) is marked seen, so that no run of its own
   * day — run late, or run again after this one — holds it. A mark a run made a difference of stays.
   */
  private shown(x: PassContext, c: Comparison, record: ReconRecord, [dayStart, dayEnd]: [number, number]): void {
    const key = recordKey(record);
    const mark = x.marks.get(key);
    if (mark?.state === 'held') c.pendingRemoved.push(key);
    const otherDay = record.completedAt !== null && (record.completedAt < dayStart || record.completedAt >= dayEnd);
    if (otherDay && (mark === undefined || mark.state === 'held')) c.pendingAdded.push({ channel: x.run.channel, recordId: key, state: 'seen', date: x.run.date, local: record });
  }

  /** The pass's records no line showed wait in the pool (read whole by id, a batch at a time), unless a file showed them before or the pool decided them already. */
  private async holdUnshown(x: PassContext, c: Comparison, index: DayIndex): Promise<void> {
    let batch: Array<{ key: string; kind: ReconRecord['kind'] }> = [];
    const hold = async () => {
      const ids = (kind: ReconRecord['kind']) => batch.filter((b) => b.kind === kind).map((b) => b.key);
      for (const record of await this.deps.store.reconRecordsByIds(ids('payment'), ids('refund'))) {
        c.pendingAdded.push({ channel: x.run.channel, recordId: recordKey(record), state: 'held', date: x.run.date, local: record });
      }
      batch = [];
    };
    for (const unshown of index.unshown()) {
      const mark = x.marks.get(unshown.key);
      // An earlier day's statement showed it: that day counted its line.
      if (mark?.state === 'seen' && mark.date < x.run.date) continue;
      c.counts.pending++;
      // Held already, shown by a later day's statement, or made a difference: a rerun changes none of that.
      if (mark || !x.holds) continue;
      batch.push(unshown);
      if (batch.length === lookup_ids_max) await hold();
    }
    if (batch.length > 0) await hold();
  }

  /**
   * Records held past the hold become missing_channel differences, and their marks say so, dated
   * this day: a rerun of this day lists them again, a rerun of their own day holds them no more.
   * Marks that ended more than recon_marks_kept_days before this day are forgotten.
   */
  private promoteHeld(run: ReconRunRow, marks: Map<string, ReconPendingRow>, c: Comparison): void {
    const lastHeldDay = daysBefore(run.date, this.options.holdDays);
    const forgetBefore = daysBefore(run.date, recon_marks_kept_days);
    const removed = new Set(c.pendingRemoved);
    for (const mark of marks.values()) {
      if (mark.state !== 'held' && mark.date < forgetBefore) {
        c.pendingRemoved.push(mark.recordId);
        continue;
      }
      const due = mark.state === 'held' && mark.date <= lastHeldDay && !removed.has(mark.recordId);
      if (!due && !(mark.state === 'promoted' && mark.date === run.date)) continue;
      c.counts.missing_channel++;
      if (c.found.length < recon_diffs_max) c.found.push({ kind: 'missing_channel', row: null, record: mark.local, repair: null, agrees: false });
      if (!due) continue;
      c.pendingRemoved.push(mark.recordId);
      c.pendingAdded.push({ ...mark, state: 'promoted', date: run.date });
    }
  }

  private diffOf(run: ReconRunRow, found: Found, previous: Map<string, ReconDiffRow>): ReconDiffRow {
    const key = found.record ? recordKey(found.record) : unknownLineKey(found.row!);
    const before = previous.get(`${found.kind}:${key}`);
    const now = this.deps.clock.now();
    return {
      id: before?.id ?? newId('dif', now), runId: run.id, kind: found.kind, recordKey: key,
      flowId: found.record?.flowId ?? found.row?.flowId ?? null, refundId: found.record?.refundId ?? found.row?.refundId ?? null,
      channelTradeNo: found.row?.channelTradeNo ?? found.record?.channelTradeNo ?? null,
      local: found.record, channelRow: found.row, resolution: before?.resolution ?? 'open', note: before?.note ?? null,
      resolvedBy: before?.resolvedBy ?? null, resolvedAt: before?.resolvedAt ?? null, createdAt: before?.createdAt ?? now,
    };
  }

  /**
   * Tells each order's actor what the statement showed (`found[i]` is what `diffs[i]` was made
   * from); a difference still open is repaired once its event applied. Returns those repaired now.
   * An open difference whose record agrees with its line now was repaired since an earlier run of
   * this day found it (by that run, before its process stopped, or by a late report): it is marked so.
   */
  private async repair(diffs: ReconDiffRow[], found: Found[]): Promise<ReconDiffRow[]> {
    const repaired: ReconDiffRow[] = [];
    for (const [i, diff] of diffs.entries()) {
      const { repair, agrees } = found[i]!;
      if (diff.resolution !== 'open') continue;
      if (agrees) this.markRepaired(diff, "the order's record agrees with the statement now: repaired since an earlier run of this day found it");
      if (!repair) continue;
      const result = await this.deps.engine.dispatch(repair.orderId, repair.event);
      if (result.outcome !== 'applied') continue;
      this.markRepaired(diff, `told the order's actor (${repair.event.type}); the payment is now ${result.order.row.status}`);
      repaired.push(diff);
    }
    return repaired;
  }

  private markRepaired(diff: ReconDiffRow, note: string): void {
    diff.resolution = 'repaired';
    diff.resolvedBy = 'reconciliation';
    diff.resolvedAt = this.deps.clock.now();
    diff.note = note;
  }

  private async alert(run: ReconRunRow, diffs: ReconDiffRow[]): Promise<void> {
    for (const diff of diffs.filter((d) => d.resolution === 'open')) {
      const local = diff.local;
      await this.deps.alerts.raise({
        id: alertIdFor(diff.id), kind: 'recon_diff', channel: run.channel, paymentId: local?.orderId ?? null,
        message: `${run.channel} ${run.date}: ${diff.kind} for ${diff.recordKey} (run ${run.id})`,
      });
    }
  }

  private async fail(run: ReconRunRow, error: string): Promise<ReconRunRow> {
    const failed: ReconRunRow = { ...run, status: 'failed', error, leaseUntil: null, finishedAt: this.deps.clock.now() };
    // A refused file changes nothing: the run's earlier differences and the pool stay as they were.
    const diffs = await this.deps.store.listReconDiffs(run.id);
    await this.deps.store.finishReconRun({ run: failed, diffs, pendingAdded: [], pendingRemoved: [] });
    return failed;
  }

  /**
   * Resolves an open difference by hand (an operator ignores it, or marks it repaired at the
   * channel) and acknowledges the alert that asked for the decision. A difference resolved already
   * (by the reconciliation's repair, or another operator's page) is left as it is: `not_open`.
   * One that already has this very resolution, note and resolver is this request's retry (its
   * first try's answer was lost): the difference as it stands.
   */
  async resolve(runId: string, diffId: string, change: { resolution: 'ignored' | 'repaired'; note: string | null; by: string }): Promise<ResolveOutcome> {
    const outcome = await this.deps.store.resolveReconDiff(runId, diffId, { resolution: change.resolution, note: change.note, resolvedBy: change.by, resolvedAt: this.deps.clock.now() });
    if (!outcome) return { ok: false, error: 'not_found' };
    if (!outcome.resolved && !resolvedAs(outcome.diff, change)) return { ok: false, error: 'not_open', diff: outcome.diff };
    // A retry acknowledges too: the first try may have failed between its write and this (a second acknowledgement changes nothing).
    await this.deps.alerts.ack(alertIdFor(diffId), change.by);
    return { ok: true, diff: outcome.diff };
  }
}

/** Whether a difference holds exactly what this resolution would have written (its time aside). */
const resolvedAs = (diff: ReconDiffRow, change: { resolution: 'ignored' | 'repaired'; note: string | null; by: string }) =>
  diff.resolution === change.resolution && diff.note === change.note && diff.resolvedBy === change.by;

/** Net amounts may be negative (a day of refunds): the sign, then the API's decimal. */
const signedAmount = (minor: number, currency: Currency) => `${minor < 0 ? '-' : ''}${formatAmount(Math.abs(minor), currency)}`;

/** A channel's statement is in its one currency (channels with limits have exactly one; all paycenter's providers serve CNY). */
function currencyOf(channel: ChannelRow): Currency {
  const currency = channel.currencies[0];
  if (channel.currencies.length !== 1 || !currencies.includes(currency as Currency)) {
    throw new Error(`assertion failed: channel ${channel.code} reconciles in one known currency, not ${channel.currencies.join(', ')}`);
  }
  return currency as Currency;
}
