/**
 * The SQLite store's side writes: the small writes around the orders that are no part of a
 * Batch — outbox claims, timer leases and removals — which the hot path makes several times per
 * payment (its records — outbox results, delivery attempts, callbacks — ride the batches).
 * Written on this thread's connection, each would fsync on the event loop and, worse, wait there
 * (SQLite's busy handler sleeps) for the writer thread's commit to release the write lock,
 * stalling every request. So they go to the writer thread as
 * data, and group-commit like the orders do: while one message of them is with the writer, the
 * next ones queue and are sent together — one transaction and one fsync for all of them.
 */
import type { SideOutcome, SideResult, SideStatement } from './sqlite-batch.ts';

/** Side writes sent in one message at most; the rest wait for the next. */
export const side_writes_per_message_max = 512;

type Queued = { write: SideStatement[]; resolve: (results: SideResult[]) => void; reject: (error: Error) => void };

export class SideWrites {
  private readonly queue: Queued[] = [];
  private sending = false;

  constructor(private readonly send: (writes: SideStatement[][]) => Promise<SideOutcome[]>) {}

  /** Runs the statements in one transaction on the writer thread; resolves with each statement's result once durable. */
  run(write: SideStatement[]): Promise<SideResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      if (!this.sending) void this.sendQueued();
    });
  }

  private async sendQueued(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0) {
      const taken = this.queue.splice(0, side_writes_per_message_max);
      try {
        const outcomes = await this.send(taken.map((q) => q.write));
        taken.forEach((q, i) => {
          const outcome = outcomes[i]!;
          if ('results' in outcome) q.resolve(outcome.results);
          else q.reject(new Error(`SQLite write failed: ${outcome.error}`));
        });
      } catch (error) {
        for (const q of taken) q.reject(error as Error);
      }
    }
    this.sending = false;
  }
}
