/**
 * The ticker: fires due timers as events to their orders' actors. Timers are rows in the store
 * (the truth); a tick claims due ones with a lease, dispatches each, and removes a timer only
 * after its dispatch returned — unless the order re-armed it meanwhile. A crash between the
 * two re-fires the timer after its lease; the machine ignores events that no longer apply, so
 * a double fire changes nothing.
 *
 * This is the store-polling ticker; the Redis ZSET index (issue 5) will sit in front of the
 * same claim/dispatch/delete steps.
 */
import type { PaymentEvent } from '../machines/payment.rules.ts';
import type { Clock } from '../src/clock.ts';
import type { Logger } from '../src/log.ts';
import { PollingLoop } from '../src/polling-loop.ts';
import type { Store, TimerRow } from '../src/store/store.ts';
import type { Engine } from './engine.ts';

export type TickerOptions = {
  /** How often the store is polled for due timers. */
  intervalMs: number;
  /** Timers claimed per tick at most. */
  batchMax: number;
  /** How long a claimed timer is held before another tick may fire it again. */
  leaseMs: number;
};

export const default_ticker_options: TickerOptions = { intervalMs: 250, batchMax: 500, leaseMs: 30_000 };

export class Ticker {
  private readonly loop: PollingLoop;

  constructor(
    private readonly deps: { engine: Engine; store: Store; clock: Clock; log: Logger },
    private readonly options: TickerOptions = default_ticker_options,
  ) {
    this.loop = new PollingLoop('ticker', () => this.tick(), options.intervalMs, deps.log);
  }

  /** Fires every timer due now (one claim of at most batchMax); returns how many fired. */
  async tick(): Promise<number> {
    const due = await this.deps.store.claimDueTimers(this.deps.clock.now(), this.options.leaseMs, this.options.batchMax);
    await Promise.all(due.map((timer) => this.fire(timer)));
    return due.length;
  }

  private async fire(timer: TimerRow): Promise<void> {
    try {
      await this.deps.engine.dispatch(timer.orderId, timer.event as PaymentEvent);
      await this.deps.store.deleteFiredTimer(timer);
    } catch (error) {
      // The lease runs out and the timer fires again; the error is for operators.
      this.deps.log.error('timer dispatch failed', { payment_id: timer.orderId, timer: timer.key, error: String(error) });
    }
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
