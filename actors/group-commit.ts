import type { OrderWrite, Store, WriteOutcome } from '../src/store/store.ts';

export type GroupCommitOptions = {
  /** Writes in one transaction at most. */
  batchMax: number;
  /** How long the first write of a batch waits for company before the batch commits. */
  waitMaxMs: number;
  /** Transactions committing at once (1 for SQLite, whose writer is single anyway). */
  inFlightMax: number;
};

type Waiting = { write: OrderWrite; resolve: (outcome: WriteOutcome) => void; reject: (error: unknown) => void };

/**
 * Group commit: the write sets of many orders' events share one durable transaction and
 * one fsync. Each event's caller waits for its own outcome; a failed transaction fails
 * every write in it (none of them committed) and the callers report the error.
 */
export class GroupCommitter {
  private queue: Waiting[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight = 0;
  /** Transactions committed and writes in them, for metrics and the bench. */
  readonly stats = { batches: 0, writes: 0 };

  constructor(private readonly store: Store, private readonly options: GroupCommitOptions) {}

  submit(write: OrderWrite): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.queue.length >= this.options.batchMax) this.flush();
    else if (this.timer === null && this.queue.length > 0) {
      this.timer = setTimeout(() => this.flush(), this.options.waitMaxMs);
    }
  }

  private flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.inFlight >= this.options.inFlightMax || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.options.batchMax);
    this.inFlight += 1;
    void this.commit(batch).finally(() => {
      this.inFlight -= 1;
      // Writes that arrived meanwhile have waited long enough: commit them now.
      if (this.queue.length > 0) this.flush();
    });
  }

  private async commit(batch: Waiting[]): Promise<void> {
    try {
      const outcomes = await this.store.commit(batch.map((w) => w.write));
      if (outcomes.length !== batch.length) throw new Error('assertion failed: one outcome per write');
      this.stats.batches += 1;
      this.stats.writes += batch.length;
      batch.forEach((w, i) => w.resolve(outcomes[i]!));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}
