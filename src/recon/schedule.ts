/**
 * The daily reconciliation: from RECON_AT (China time) on, each enabled channel's previous day
 * (of a provider whose plug-in reads statements) is reconciled once. Every instance looks each
 * minute; the run row of a channel and date is the claim (its lease lets another instance take
 * over a run whose instance died), so a day is reconciled once across instances and after
 * restarts, and a day missed while the service was down is run when it comes back.
 */
import { chinaDate, chinaDayStart } from '../channels/china-time.ts';
import { pluginOf } from '../channels/plugins.ts';
import type { ChannelRegistry } from '../channels/registry.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { PollingLoop } from '../polling-loop.ts';
import type { Reconciliation } from './reconciliation.ts';

/** How often each instance looks whether a day is due. */
export const recon_schedule_interval_ms = 60_000;
/** A scheduled run that failed (the statement not ready yet, the channel down) is tried again after this. */
export const recon_failed_retry_ms = 30 * 60_000;

export class ReconSchedule {
  private readonly loop: PollingLoop;
  /** The channels this process saw done for `doneDate`, so a minute's look costs no query for them (one day's worth at most). */
  private done = new Set<string>();
  private doneDate = '';

  constructor(private readonly deps: { recon: Reconciliation; channels: ChannelRegistry; clock: Clock; log: Logger; atMs: number }) {
    this.loop = new PollingLoop('reconciliation schedule', () => this.tick(), recon_schedule_interval_ms, deps.log);
  }

  /** Runs what is due now; returns the runs it started or found. */
  async tick(): Promise<number> {
    const now = this.deps.clock.now();
    const todayStart = chinaDayStart(now);
    if (now - todayStart < this.deps.atMs) return 0;
    const date = chinaDate(todayStart - 1);
    if (date !== this.doneDate) [this.done, this.doneDate] = [new Set(), date];
    let runs = 0;
    for (const channel of await this.deps.channels.all()) {
      if (channel.status !== 'enabled' || !pluginOf(channel.provider)?.statements || this.done.has(channel.code)) continue;
      const request = { channel: channel.code, date, source: 'schedule' as const };
      let outcome = await this.deps.recon.run({ ...request, rerun: false });
      if (outcome.ok && outcome.run.status === 'failed' && now - (outcome.run.finishedAt ?? now) >= recon_failed_retry_ms) {
        outcome = await this.deps.recon.run({ ...request, rerun: true });
      }
      if (!outcome.ok) continue;
      runs++;
      if (outcome.run.status === 'done') this.done.add(channel.code);
      if (outcome.run.status === 'failed') this.deps.log.warn('scheduled reconciliation failed', { channel: channel.code, date, error: outcome.run.error });
    }
    return runs;
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
