/**
 * Today's order figures for the console's home, counted at most once per home_stats_fresh_ms in
 * this instance and shared by every open tab and the JSON route. Counting scans the day's orders
 * (a flows probe each), and bun:sqlite runs it on the thread that writes payments: each tab's
 * refresh counting on its own stalled every payment that long, once per tab.
 */
import type { Clock } from '../clock.ts';
import { firstIdAt } from '../ids.ts';
import type { OrderStats, Store } from '../store/store.ts';

/** How long a day's figures are served before they are counted again (the page refreshes as often). */
export const home_stats_fresh_ms = 10_000;
/** Days whose figures are kept: today's only, a new China day replaces them. */
export const home_stats_days_max = 1;

export class HomeStats {
  private readonly days = new Map<number, { countedAt: number; stats: Promise<OrderStats[]> }>();

  constructor(private readonly deps: { store: Store; clock: Clock }) {}

  /** The figures of the China day starting at `dayStart`; requests while they are counted share that count. */
  of(dayStart: number): Promise<OrderStats[]> {
    const now = this.deps.clock.now();
    const kept = this.days.get(dayStart);
    // A clock set back is no reason to serve old figures until it catches up.
    if (kept && now >= kept.countedAt && now - kept.countedAt < home_stats_fresh_ms) return kept.stats;
    const stats = this.deps.store.orderStatsSince(firstIdAt('pay', dayStart));
    this.days.delete(dayStart);
    this.days.set(dayStart, { countedAt: now, stats });
    for (const day of this.days.keys()) {
      if (this.days.size <= home_stats_days_max) break;
      this.days.delete(day);
    }
    // A count that failed is not served again: the next request counts anew.
    stats.catch(() => {
      if (this.days.get(dayStart)?.stats === stats) this.days.delete(dayStart);
    });
    return stats;
  }
}
