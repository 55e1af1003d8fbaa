/**
 * The process's one durable write path: order events' write sets, request nonce claims and the
 * hot path's records — the results of executed outbox rows (channel calls, notification
 * deliveries), channels' callbacks and their outcomes — join the same group-committed
 * transactions, so a signed request, a channel call, a delivery or a callback costs a share of
 * the batches' fsyncs rather than transactions of its own. A create carries its nonce inside its
 * order's write (one transaction for both); other routes claim theirs first.
 */
import type { Clock } from '../src/clock.ts';
import { emptyBatch } from '../src/store/rows.ts';
import type { CallbackOutcome, CallbackRow, Dialect, NonceClaim, NotificationResult, OrderWrite, OutboxResult, Store, WriteOutcome } from '../src/store/store.ts';
import { type CommitObserver, GroupCommitter, type GroupCommitOptions } from './group-commit.ts';

/**
 * Batches committing at once. SQLite has one writer thread, which runs batches one after
 * another; a second batch waiting in its queue keeps it busy while the main thread hands out the
 * first one's answers and gathers the next (at one in flight the writer idled about a third of
 * the time). Postgres commits on several pooled connections at once.
 */
export function commitsInFlightFor(dialect: Dialect): number {
  return dialect === 'sqlite' ? 2 : 4;
}

/**
 * Writes (order events and nonce claims) waiting for a transaction in one process, at most: at
 * ~20,000 writes/s on SQLite about half a second of work; more is a store that is not keeping up.
 */
export const commit_queue_writes_max = 10_000;

type Item =
  | { kind: 'write'; write: OrderWrite }
  | { kind: 'nonce'; claim: NonceClaim }
  | { kind: 'outbox'; result: OutboxResult }
  | { kind: 'notification'; result: NotificationResult }
  | { kind: 'callback'; callback: CallbackRow }
  | { kind: 'callback_outcome'; outcome: CallbackOutcome };
type Outcome = WriteOutcome | boolean | null;

export class DurableCommitter {
  private readonly batches: GroupCommitter<Item, Outcome>;

  constructor(store: Store, clock: Clock, options: GroupCommitOptions, observe?: CommitObserver) {
    this.batches = new GroupCommitter(async (items) => {
      const batch = emptyBatch(clock.now());
      for (const i of items) {
        if (i.kind === 'write') batch.writes.push(i.write);
        else if (i.kind === 'nonce') batch.nonces.push(i.claim);
        else if (i.kind === 'outbox') batch.outboxResults.push(i.result);
        else if (i.kind === 'notification') batch.notifications.push(i.result);
        else if (i.kind === 'callback') batch.callbacks.push(i.callback);
        else batch.callbackOutcomes.push(i.outcome);
      }
      const outcome = await store.commitBatch(batch);
      const next = { write: 0, nonce: 0, outbox: 0, notification: 0 };
      return items.map((i) => {
        switch (i.kind) {
          case 'write': return outcome.writes[next.write++]!;
          case 'nonce': return outcome.nonces[next.nonce++]!;
          case 'outbox': return outcome.outboxResults[next.outbox++]!;
          case 'notification': return outcome.notifications[next.notification++]!;
          default: return null;
        }
      });
    }, options, observe);
  }

  /** Items waiting for a transaction now (paycenter_commit_queue_items). */
  get waiting(): number {
    return this.batches.waiting;
  }

  /** Transactions committed and items in them, for metrics and the benches. */
  get stats(): { batches: number; writes: number } {
    return this.batches.stats;
  }

  write(write: OrderWrite): Promise<WriteOutcome> {
    return this.batches.submit({ kind: 'write', write }) as Promise<WriteOutcome>;
  }

  claimNonce(claim: NonceClaim): Promise<boolean> {
    return this.batches.submit({ kind: 'nonce', claim }) as Promise<boolean>;
  }

  /** Records what executing a claimed outbox row came to (store.finishOutbox, grouped); false when its claim was overtaken. */
  finishOutbox(result: OutboxResult): Promise<boolean> {
    return this.batches.submit({ kind: 'outbox', result }) as Promise<boolean>;
  }

  /** Records a notification's delivery attempt and what follows (store.recordNotification, grouped); false when its claim was overtaken. */
  recordNotification(result: NotificationResult): Promise<boolean> {
    return this.batches.submit({ kind: 'notification', result }) as Promise<boolean>;
  }

  /** Records a channel's callback as it arrived (store.insertCallback, grouped); durable once this resolves. */
  async recordCallback(callback: CallbackRow): Promise<void> {
    await this.batches.submit({ kind: 'callback', callback });
  }

  /** Records what became of a callback recorded before (store.updateCallback, grouped). */
  async recordCallbackOutcome(outcome: CallbackOutcome): Promise<void> {
    await this.batches.submit({ kind: 'callback_outcome', outcome });
  }
}
