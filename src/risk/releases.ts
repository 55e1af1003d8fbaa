/**
 * A closed order's limit shares, given back durably (API.md: "an order that closes gives its
 * share back"). Given back after the close's commit and never tried again, a share stayed counted
 * until its counter expired whenever Redis or the database failed at that moment, or the process
 * stopped: the payer was refused payments they were entitled to. Now the close's own commit
 * carries a row of kind `risk.release` naming the limit counters the order holds (releaseRowOf,
 * from the engine's write set). The process that committed the close gives the shares back at
 * once (`committed`; counters in memory before the close is answered); this loop takes up a row
 * still pending release_inline_grace_ms later — after a failure or a crash — and tries it again
 * while the dependency fails, for as long as a counter could still hold the share.
 *
 * Giving back is idempotent per order and counter (an order is a member of a counter, not an
 * increment: counters.ts), so a row run twice — at once here and by a loop after a crash, or by
 * two loops whose lease ran out — gives back once and never lets a subject past a limit.
 */
import type { DurableCommitter } from '../../actors/durable-commit.ts';
import type { Parking } from '../../actors/parking.ts';
import type { PaymentContext } from '../../machines/payment.model.ts';
import type { Clock } from '../clock.ts';
import { assert, errorText, isDependencyFailure } from '../failures.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../log.ts';
import { PollingLoop } from '../polling-loop.ts';
import { retryDueAt } from '../retry-schedule.ts';
import { type OutboxKind, type OutboxRowOf, readOutboxRow } from '../store/outbox.ts';
import type { ClaimedOutboxRow, OrderWrite, OutboxResult, Store } from '../store/store.ts';
import type { Counters } from './counters.ts';
import { countersHeldBy, day_ms, isLimitCounter } from './evaluate.ts';

const release_kind = 'risk.release' satisfies OutboxKind;
export type ReleaseRow = OutboxRowOf<typeof release_kind>;

/** How long the process that closed an order has to give its shares back before the loop (of any instance) takes the row up. */
export const release_inline_grace_ms = 10_000;
/** Gaps before each try again while a dependency fails, in ms; the last one repeats. */
export const release_retry_gaps_ms = [5_000, 30_000, 120_000, 600_000];
/**
 * A row is tried again for at most this long after its close: a month's limit keeps its counter a
 * day past the month (counting.ts counterAsks), so after this no counter holds the share any more.
 */
export const release_tries_for_ms = 32 * day_ms;
/** ± share of each gap, so that the rows of a Redis outage do not all come back in one tick. */
const release_jitter_share = 0.2;
const release_batch_max = 64;
const release_interval_ms = 1_000;
/** Longer than one release takes (one script, one transaction), so a live one's row is not claimed twice. */
const release_lease_ms = 30_000;
const error_text_chars_max = 500;

/** The row a close's commit carries when the order holds limit shares (its windows' entries stay: it was a new order all the same). */
export function releaseRowOf(ctx: PaymentContext, at: number): ReleaseRow | null {
  const counters = countersHeldBy(ctx).filter(isLimitCounter);
  if (counters.length === 0) return null;
  return { id: newId('obx', at), orderId: ctx.id, kind: release_kind, payload: { counters }, createdAt: at, dueAt: at + release_inline_grace_ms };
}

/** What a try that a dependency refused comes to: tried again after the next gap, or done once no counter can hold the share. */
export function releaseRetried(row: ClaimedOutboxRow, at: number, error: string, random: () => number): OutboxResult {
  const gap = release_retry_gaps_ms[Math.min(row.attempts, release_retry_gaps_ms.length - 1)]!;
  const dueAt = retryDueAt([gap], 0, at, release_jitter_share, random)!;
  if (dueAt > row.createdAt + release_tries_for_ms) return { outboxId: row.id, claim: row.claim, at, error, next: { status: 'done' } };
  return { outboxId: row.id, claim: row.claim, at, error, next: { status: 'retry', dueAt } };
}

export type RiskReleasesDeps = {
  store: Store; committer: DurableCommitter; counters: Counters; clock: Clock; log: Logger; parking: Parking; random?: () => number;
};

export class RiskReleases {
  private readonly loop: PollingLoop;

  constructor(private readonly deps: RiskReleasesDeps) {
    this.loop = new PollingLoop('risk releases', () => this.tick(), release_interval_ms, deps.log);
  }

  /**
   * Hears every committed write (engine.onCommitted) and gives a close's shares back at once.
   * Nothing is awaited before the release, so counters in memory have it before the close is answered.
   */
  async committed(write: OrderWrite): Promise<void> {
    for (const stored of write.outbox) {
      if (stored.kind !== release_kind) continue;
      const row = readOutboxRow(stored);
      assert(row.kind === release_kind, `outbox row ${row.id} changed kind`);
      await this.giveBack(row).catch((error: unknown) => {
        // The row stays pending: the loop takes it up after the grace (and parks it if this was a bug).
        this.deps.log.warn('risk shares of a closed order not given back (or not recorded) yet; the row is tried again', {
          payment_id: row.orderId, outbox_id: row.id, error: errorText(error, error_text_chars_max),
        });
      });
    }
  }

  /** Tries every row due now (one claim of at most release_batch_max); returns how many were tried. */
  async tick(): Promise<number> {
    const rows = await this.deps.store.claimOutbox([release_kind], this.deps.clock.now(), release_lease_ms, release_batch_max);
    await Promise.all(rows.map((row) => this.execute(row)));
    return rows.length;
  }

  /** A failing dependency is tried again (releaseRetried); anything else thrown is a bug and parks the row. */
  private async execute(row: ClaimedOutboxRow): Promise<void> {
    try {
      const typed = readOutboxRow(row);
      assert(typed.kind === release_kind, `outbox row ${row.id} of kind ${row.kind} reached the risk releases`);
      await this.giveBack(typed, row.claim);
    } catch (error) {
      if (!isDependencyFailure(error)) return this.deps.parking.outboxRow(row, error, 'risk releases');
      const result = releaseRetried(row, this.deps.clock.now(), errorText(error, error_text_chars_max), this.deps.random ?? Math.random);
      const log = { payment_id: row.orderId, outbox_id: row.id, attempts: row.attempts + 1, error: result.error };
      if (result.next.status === 'done') this.deps.log.warn('risk shares of a closed order: its counters have expired meanwhile, nothing is left to give back', log);
      else this.deps.log.info('risk shares of a closed order will be tried again', log);
      await this.deps.committer.finishOutbox(result);
    }
  }

  /**
   * Gives the row's shares back, then marks it done (a crash in between only gives back again:
   * nothing); `claim` when the row was claimed (the loop), none for the close's own process.
   */
  private async giveBack(row: ReleaseRow, claim?: number): Promise<void> {
    await this.deps.counters.release(row.orderId, row.payload.counters);
    await this.deps.committer.finishOutbox({ outboxId: row.id, ...(claim === undefined ? {} : { claim }), at: this.deps.clock.now(), error: null, next: { status: 'done' } });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
