/**
 * The ticker: fires due timers as events to their orders' actors. Timers are rows in the store
 * (the truth); a tick claims due ones with a lease, dispatches each, and removes a timer only
 * after its dispatch returned — unless the order re-armed it meanwhile. Every timer fires under
 * its row's lease, whichever way it was found, so two ticks (or processes) never fire it at
 * once. Only a crash between dispatch and removal fires one again, after its lease: timers are
 * at least once, and a re-fired query or close costs one more channel call, never money.
 *
 * With Redis, a ZSET index (redis-timers.ts) finds due timers without polling the table; the
 * table is still swept now and then for timers overdue by more than a grace period, so a timer
 * whose index entry was lost (a crash between commit and ZADD, a Redis flush) still fires.
 */
import * as v from 'valibot';
import type { TimerEvent } from '../machines/payment.rules.ts';
import type { Clock } from '../src/clock.ts';
import type { Logger } from '../src/log.ts';
import { PollingLoop } from '../src/polling-loop.ts';
import type { Store, TimerRow } from '../src/store/store.ts';
import { AssertionError, isDependencyFailure } from '../src/failures.ts';
import type { Engine } from './engine.ts';
import type { Parking } from './parking.ts';
import type { RedisTimerIndex } from './redis-timers.ts';

export type TickerOptions = {
  /** How often due timers are looked for (the index with Redis, the table without). */
  intervalMs: number;
  /** With Redis: how often the table is swept, and how overdue a timer must be to be swept. */
  sweepIntervalMs: number;
  sweepGraceMs: number;
  /** Timers claimed per tick at most. */
  batchMax: number;
  /** How long a claimed timer is held before another tick may fire it again. */
  leaseMs: number;
};

export const default_ticker_options: TickerOptions = {
  intervalMs: 250, sweepIntervalMs: 10_000, sweepGraceMs: 5_000, batchMax: 500, leaseMs: 30_000,
};

/** The event a timer row carries: we wrote it, so one that is not a timer event is a bug (parked). */
const timerEventSchema = v.variant('type', [
  v.object({ type: v.literal('timer.expire'), at: v.number() }),
  v.object({ type: v.literal('timer.query'), at: v.number(), flowId: v.string() }),
  v.object({ type: v.literal('timer.close_retry'), at: v.number() }),
  v.object({ type: v.literal('timer.refund_query'), at: v.number(), refundId: v.string() }),
]) satisfies v.GenericSchema<unknown, TimerEvent>;

function timerEventOf(timer: TimerRow): TimerEvent {
  const parsed = v.safeParse(timerEventSchema, timer.event);
  if (!parsed.success) throw new AssertionError(`timer ${timer.orderId}/${timer.key} carries no timer event: ${parsed.issues[0].message}`);
  return parsed.output;
}

export class Ticker {
  private readonly loop: PollingLoop;
  private lastSweep = 0;
  /** A re-seed of a lost index under way in this process. */
  private reseeding: Promise<void> | null = null;

  constructor(
    private readonly deps: { engine: Engine; store: Store; clock: Clock; log: Logger; parking: Parking; index?: RedisTimerIndex },
    private readonly options: TickerOptions = default_ticker_options,
  ) {
    this.loop = new PollingLoop('ticker', () => this.tick(), options.intervalMs, deps.log);
  }

  /**
   * Fires the timers due now (one claim of at most batchMax from each source); returns how many
   * fired. An index that fails (Redis down) leaves the table to sweep, every tick and without
   * grace, as without Redis; an index that was lost is seeded again (checked at each sweep).
   */
  async tick(): Promise<number> {
    const now = this.deps.clock.now();
    const { store, index } = this.deps;
    const fromIndex = index ? await this.dueFromIndex(index, now).catch((error: unknown) => this.indexFailed(error)) : null;
    const indexed = fromIndex !== null;
    const sweep = !indexed || now - this.lastSweep >= this.options.sweepIntervalMs;
    if (sweep) this.lastSweep = now;
    if (sweep && index && indexed) await this.reseedIfLost(index);
    const fromTable = sweep ? await store.claimDueTimers(indexed ? now - this.options.sweepGraceMs : now, this.options.leaseMs, this.options.batchMax) : [];
    const due = [...(fromIndex ?? []), ...fromTable];
    const outcomes = await Promise.all(due.map((timer) => this.fire(timer, now)));
    const fired = due.filter((_, i) => outcomes[i] === 'fired');
    // One transaction for the whole tick's bookkeeping, after every dispatch returned.
    const removed = await store.deleteFiredTimers(fired);
    // A timer the order re-armed meanwhile keeps its row, and its index entry came with the commit.
    // A parked timer's row moved to parked_timers: its index entry goes too.
    if (indexed) await index?.remove([...removed, ...due.filter((_, i) => outcomes[i] === 'parked')]);
    return due.length;
  }

  /** The index failing is Redis failing (anything else is a bug, thrown on): this tick goes without it. */
  private indexFailed(error: unknown): null {
    if (!isDependencyFailure(error)) throw error;
    this.deps.log.warn('timer index unavailable; the table is swept instead', { error: String(error) });
    return null;
  }

  /**
   * A flush (or a failover to an empty replica) takes the index's members: until it is seeded
   * again only the sweep — a batch every sweep interval — would find the older timers, an hour
   * behind for a sale day's orders. Seeded in the background, one instance at a time.
   */
  private async reseedIfLost(index: RedisTimerIndex): Promise<void> {
    if (this.reseeding) return;
    // Redis failing here costs this check, not the sweep: asked again at the next one.
    const lost = await index.lost().catch((error: unknown) => {
      if (!isDependencyFailure(error)) throw error;
      this.deps.log.warn('timer index: not known whether it was lost; asked again at the next sweep', { error: String(error) });
      return false;
    });
    if (!lost) return;
    this.deps.log.warn('timer index lost (a flush or a failover); seeding it again from the store');
    this.reseeding = index.reseed(this.deps.store)
      .then((seeded) => { if (seeded !== null) this.deps.log.info('timer index seeded again', { timers: seeded }); })
      .catch((error: unknown) => this.deps.log.warn('timer index re-seed failed; tried again at a later sweep', { error: String(error) }))
      .finally(() => { this.reseeding = null; });
  }

  /**
   * Index members whose rows are due, leased in the table like the sweep's (a sweep may have
   * taken the same row); members whose rows are gone or were re-armed are put right.
   */
  private async dueFromIndex(index: RedisTimerIndex, now: number): Promise<TimerRow[]> {
    const refs = await index.claim(now, this.options.leaseMs, this.options.batchMax);
    const rows = await this.deps.store.loadTimers(refs);
    await index.remove(refs.filter((_, i) => !rows[i]));
    const present = rows.filter((row) => row !== null);
    await index.add(present.filter((row) => row.dueAt > now));
    return this.deps.store.leaseTimers(present.filter((row) => row.dueAt <= now), now, this.options.leaseMs);
  }

  /**
   * Dispatches a timer's event, at the time it really fires: after downtime a timer fires late,
   * and the machine schedules what follows (the next query, the next close attempt) from the
   * event's time — from the old due time, the overdue queries would follow one another at once.
   * A dependency that failed leaves the timer leased: it fires again when the lease runs out.
   * Anything else is a bug (src/failures.ts): the timer is parked, never fired again by itself.
   */
  private async fire(timer: TimerRow, now: number): Promise<'fired' | 'retry' | 'parked'> {
    try {
      const event = timerEventOf(timer);
      await this.deps.engine.dispatch(timer.orderId, { ...event, at: Math.max(event.at, now) });
      return 'fired';
    } catch (error) {
      if (!isDependencyFailure(error)) return (await this.deps.parking.timer(timer, error, 'ticker')) ? 'parked' : 'retry';
      this.deps.log.warn('timer dispatch failed; fires again after its lease', { payment_id: timer.orderId, timer: timer.key, error: String(error) });
      return 'retry';
    }
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.reseeding;
  }
}
