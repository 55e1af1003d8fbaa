/**
 * The daily reconciliation: from RECON_AT (China time) on, each enabled channel's previous day
 * (of a provider whose plug-in reads statements) is reconciled once. Every instance looks each
 * minute; the run row of a channel and date is the claim (its lease lets another instance take
 * over a run whose instance died), so a day is reconciled once across instances and after
 * restarts. Days missed while the service was down are caught up, oldest first, as far back as
 * recon_catch_up_days_max and never before the day the channel was created.
 */
import { chinaDate, chinaDayStart } from '../channels/china-time.ts';
import { pluginOf } from '../channels/plugins.ts';
import type { ChannelRegistry } from '../channels/registry.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { PollingLoop } from '../polling-loop.ts';
import type { ChannelRow } from '../store/store.ts';
import { type Reconciliation, daysBefore } from './reconciliation.ts';

/** How often each instance looks whether a day is due. */
export const recon_schedule_interval_ms = 60_000;
/** A scheduled run that failed (the statement not ready yet, the channel down) is tried again after this. */
export const recon_failed_retry_ms = 30 * 60_000;
/**
 * Days back from yesterday the schedule reconciles (yesterday included): a service down longer
 * than this leaves the older days to an operator. Providers keep their bills for months; a week
 * of days per channel is a few queries a minute until they are done.
 */
export const recon_catch_up_days_max = 7;

/**
 * The days due at `todayStart` for a channel, oldest first (an earlier day's holds are judged by the
 * later days' statements): up to recon_catch_up_days_max before today, none before the channel's
 * creation day — its statements of earlier days hold nothing of paycenter's — but always yesterday.
 */
export function dueDates(todayStart: number, channel: Pick<ChannelRow, 'createdAt'>): string[] {
  const today = chinaDate(todayStart);
  const yesterday = daysBefore(today, 1);
  const first = chinaDate(channel.createdAt);
  const dates: string[] = [];
  for (let back = recon_catch_up_days_max; back >= 1; back--) {
    const date = daysBefore(today, back);
    if (date >= first || date === yesterday) dates.push(date);
  }
  return dates;
}

export class ReconSchedule {
  private readonly loop: PollingLoop;
  /** `date channel` of the runs this process saw done within the catch-up window, so a minute's look costs no query for them. */
  private done = new Set<string>();

  constructor(private readonly deps: { recon: Reconciliation; channels: ChannelRegistry; clock: Clock; log: Logger; atMs: number }) {
    this.loop = new PollingLoop('reconciliation schedule', () => this.tick(), recon_schedule_interval_ms, deps.log);
  }

  /** Runs what is due now; returns the days it reconciled. */
  async tick(): Promise<number> {
    const now = this.deps.clock.now();
    const todayStart = chinaDayStart(now);
    if (now - todayStart < this.deps.atMs) return 0;
    // Keys start with their date: those before the window are done with for good.
    const oldest = daysBefore(chinaDate(todayStart), recon_catch_up_days_max);
    for (const key of this.done) if (key < oldest) this.done.delete(key);
    let runs = 0;
    for (const channel of await this.deps.channels.all()) {
      if (channel.status !== 'enabled' || !pluginOf(channel.provider)?.statements) continue;
      for (const date of dueDates(todayStart, channel)) {
        if (!this.done.has(`${date} ${channel.code}`) && (await this.runDay(channel.code, date, now))) runs++;
      }
    }
    return runs;
  }

  /** Reconciles one channel's day unless it is done (or failed lately); whether it compared the day. */
  private async runDay(channel: string, date: string, now: number): Promise<boolean> {
    const request = { channel, date, source: 'schedule' as const };
    let outcome = await this.deps.recon.run({ ...request, rerun: false });
    if (outcome.ok && outcome.run.status === 'failed' && now - (outcome.run.finishedAt ?? now) >= recon_failed_retry_ms) {
      outcome = await this.deps.recon.run({ ...request, rerun: true });
    }
    if (!outcome.ok) return false;
    if (outcome.run.status === 'done') this.done.add(`${date} ${channel}`);
    if (outcome.run.status === 'failed' && outcome.ran) this.deps.log.warn('scheduled reconciliation failed', { channel, date, error: outcome.run.error });
    return outcome.ran;
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
