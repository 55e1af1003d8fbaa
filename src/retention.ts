/**
 * Retention: what paycenter deletes once nothing needs it. The callback log keeps every callback
 * for CALLBACK_RETENTION_DAYS, and beyond that only those an open order or an unmatched payment
 * still needs (the rule is in store/retention.ts); expired operator sessions go at once. Runs
 * hourly in every instance: deletes are idempotent, so instances running it together only
 * share the work.
 */
import type { Clock } from './clock.ts';
import type { Logger } from './log.ts';
import { PollingLoop } from './polling-loop.ts';
import type { Store } from './store/store.ts';

export type RetentionOptions = {
  callbackRetentionMs: number;
  intervalMs: number;
  /** Callbacks deleted per statement: short transactions that never hold the writer long. */
  purgeBatchMax: number;
  /** Statements per run; the rest waits for the next run, so a long backlog never makes a long run. */
  purgeBatchesPerRunMax: number;
};

export const default_retention_options: Omit<RetentionOptions, 'callbackRetentionMs'> = {
  intervalMs: 3_600_000,
  purgeBatchMax: 1_000,
  purgeBatchesPerRunMax: 100,
};

export class Retention {
  private readonly loop: PollingLoop;

  constructor(private readonly deps: { store: Store; clock: Clock; log: Logger }, private readonly options: RetentionOptions) {
    this.loop = new PollingLoop('retention', () => this.purge(), options.intervalMs, deps.log);
  }

  /** One run: returns how many callbacks were deleted. */
  async purge(): Promise<number> {
    const now = this.deps.clock.now();
    await this.deps.store.purgeAdminSessions(now);
    let deleted = 0;
    for (let batch = 0; batch < this.options.purgeBatchesPerRunMax; batch++) {
      const count = await this.deps.store.purgeCallbacks(now - this.options.callbackRetentionMs, this.options.purgeBatchMax);
      deleted += count;
      if (count < this.options.purgeBatchMax) break;
    }
    if (deleted > 0) this.deps.log.info('callbacks purged', { deleted });
    return deleted;
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
