/**
 * Parking: what the background loops do with a row whose work hit a bug (src/failures.ts).
 * A bug would fail the same way on every retry, so the row leaves the queue — an outbox row
 * gets status `parked`, a timer moves to `parked_timers` — and stays there until an operator
 * has fixed the cause and queues it again (POST /admin/parked/…/retry). Each parking is logged
 * as an error, counted in /metrics and raised as an operator alert (kind `parked`).
 */
import type { Clock } from '../src/clock.ts';
import { errorText } from '../src/failures.ts';
import type { Logger } from '../src/log.ts';
import type { ClaimedOutboxRow, Store, TimerRow } from '../src/store/store.ts';

/** How much of the error's text a parked row keeps (and the alert says). */
export const parked_error_chars_max = 500;

export type ParkedNotice = { source: 'outbox' | 'timer'; orderId: string; ref: string; kind: string; loop: string; error: string };

export type ParkingDeps = {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Told of every row parked: the metric and the operator alert. */
  onParked?: (notice: ParkedNotice) => Promise<void> | void;
};

export class Parking {
  constructor(private readonly deps: ParkingDeps) {}

  /** Parks a claimed outbox row that hit a bug in `loop` — unless another claim took it meanwhile (its lease ran out): then that claim's work stands. */
  async outboxRow(row: ClaimedOutboxRow, error: unknown, loop: string): Promise<void> {
    const text = errorText(error, parked_error_chars_max);
    if (!(await this.deps.store.finishOutbox({ outboxId: row.id, claim: row.claim, at: this.deps.clock.now(), error: text, next: { status: 'parked' } }))) return;
    await this.told({ source: 'outbox', orderId: row.orderId, ref: row.id, kind: row.kind, loop, error: text }, error);
  }

  /** Parks a timer whose firing hit a bug; false when the order re-armed or removed it meanwhile (nothing parked). */
  async timer(timer: TimerRow, error: unknown, loop: string): Promise<boolean> {
    const text = errorText(error, parked_error_chars_max);
    if (!(await this.deps.store.parkTimer(timer, text, this.deps.clock.now()))) return false;
    await this.told({ source: 'timer', orderId: timer.orderId, ref: timer.key, kind: 'timer', loop, error: text }, error);
    return true;
  }

  private async told(notice: ParkedNotice, error: unknown): Promise<void> {
    this.deps.log.error('row parked: a bug, not retried until an operator queues it again', {
      payment_id: notice.orderId, source: notice.source, ref: notice.ref, kind: notice.kind, loop: notice.loop, error: notice.error,
      stack: (error as Error)?.stack,
    });
    await this.deps.onParked?.(notice);
  }
}
