import { DependencyError, assert, isDependencyFailure } from '../src/failures.ts';

export type GroupCommitOptions = {
  /** Writes in one transaction at most. */
  batchMax: number;
  /** How long the first write of a batch waits for company before the batch commits. */
  waitMaxMs: number;
  /** Transactions committing at once (see commitsInFlightFor). */
  inFlightMax: number;
  /**
   * Writes waiting for a transaction, at most. Beyond it the store is not keeping up: a new write
   * is refused at once (CommitQueueFullError, answered `unavailable`) instead of queueing memory
   * and latency without bound.
   */
  queueWritesMax: number;
};

/** The store is behind by `queueWritesMax` writes: a dependency's overload, retried by the caller. */
export class CommitQueueFullError extends DependencyError {
  constructor(queueWritesMax: number) {
    super('overload', `${queueWritesMax} writes are already waiting for the store; retry shortly`);
    this.name = 'CommitQueueFullError';
  }
}

type Waiting<In, Out> = { item: In; resolve: (outcome: Out) => void; reject: (error: unknown) => void };

/** Told of every committed transaction: its writes, and how long the store took to answer it. */
export type CommitObserver = (writes: number, ms: number) => void;

/**
 * Group commit: many callers' writes share one durable transaction and one fsync (order
 * events' write sets; request nonces). Each caller waits for its own outcome; a failed
 * transaction fails every write in it (none of them committed) and the callers report it —
 * unless it failed on a bug (an assertion, data the store refused), which is one write's: then
 * each write is committed again alone, so only the one at fault fails (and is parked), not its
 * neighbours. A dependency's failure fails them all, as a retry alone would fail again.
 */
export class GroupCommitter<In, Out> {
  private queue: Waiting<In, Out>[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight = 0;
  /** Transactions committed and writes in them, for metrics and the bench. */
  readonly stats = { batches: 0, writes: 0 };

  /** `commitBatch` commits all items in one transaction and returns one outcome per item, in order. */
  constructor(
    private readonly commitBatch: (items: In[]) => Promise<Out[]>,
    private readonly options: GroupCommitOptions,
    private readonly observe: CommitObserver = () => {},
  ) {}

  /** Writes waiting for a transaction now. */
  get waiting(): number {
    return this.queue.length;
  }

  submit(item: In): Promise<Out> {
    if (this.queue.length >= this.options.queueWritesMax) return Promise.reject(new CommitQueueFullError(this.options.queueWritesMax));
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
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

  private async commit(batch: Waiting<In, Out>[]): Promise<void> {
    const started = performance.now();
    let outcomes: Out[];
    try {
      outcomes = await this.commitBatch(batch.map((w) => w.item));
      assert(outcomes.length === batch.length, 'one outcome per write');
    } catch (error) {
      if (batch.length === 1 || isDependencyFailure(error)) {
        for (const w of batch) w.reject(error);
        return;
      }
      for (const w of batch) await this.commitAlone(w);
      return;
    }
    this.stats.batches += 1;
    this.stats.writes += batch.length;
    batch.forEach((w, i) => w.resolve(outcomes[i]!));
    // Told once the callers have their outcomes: a failing observer is its own bug, never a committed write's.
    this.observe(batch.length, performance.now() - started);
  }

  private async commitAlone(w: Waiting<In, Out>): Promise<void> {
    try {
      const [outcome] = await this.commitBatch([w.item]);
      assert(outcome !== undefined, 'one outcome per write');
      this.stats.batches += 1;
      this.stats.writes += 1;
      w.resolve(outcome);
    } catch (error) {
      w.reject(error);
    }
  }
}
