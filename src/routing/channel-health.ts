/**
 * The one place where channel calls become health: every call through an observed adapter is
 * recorded here (window + breaker), and routing, the cashier and operators read health from
 * here. Health windows read for routing are kept for health_cache_ms: a decision must not cost
 * a Redis read of every channel's buckets.
 */
import type { Clock } from '../clock.ts';
import { isoTime } from '../clock.ts';
import { assert } from '../failures.ts';
import type { Logger } from '../log.ts';
import type { BreakerRow, BreakerStateName, BreakerTransitionRow, Store } from '../store/store.ts';
import { type CallReport, answerMayTrip, hiddenInCashier } from './breaker.ts';
import type { Admission, Breakers } from './breakers.ts';
import type { HealthWindows } from './health.ts';
import { ReadsInFlight } from './reads-in-flight.ts';
import { type CallOutcome, type ChannelWindow, emptyTotals, health_window_ms, quantileMs, successRate } from './window.ts';

/** How long windows read for routing are reused. */
export const health_cache_ms = 1_000;

export type CallObserver = { call(code: string, outcome: CallOutcome, latencyMs: number): void };

/** API.md's `health` of a channel object. */
export type HealthView = {
  breaker: BreakerStateName; success_rate: number; calls: number; failures: number; p50_ms: number | null; p99_ms: number | null;
  window_s: number; opened_at: string | null; hidden_in_cashier: boolean;
};

export type ChannelState = { breaker: BreakerRow; window: ChannelWindow };

/**
 * One call to a channel as health sees it: which call, how it ended, how long it took, whether it
 * was the half-open probe, and for a failure what the transport or the provider said.
 */
export type ObservedCall = { call: ChannelCall; outcome: CallOutcome; latencyMs: number; probe: boolean; error: string | null };

/** The calls an adapter makes to its channel, as logs name them. */
export type ChannelCall = 'prepay' | 'query' | 'close' | 'refund' | 'refund_query' | 'statement';

/** Rates are shown to 4 places: enough to read, stable in tests. */
const rounded = (x: number) => Math.round(x * 10_000) / 10_000;

export class ChannelHealth {
  private readonly cached = new Map<string, { at: number; window: ChannelWindow }>();
  private readonly reading = new ReadsInFlight();

  constructor(
    private readonly deps: { windows: HealthWindows; breakers: Breakers; store: Store; clock: Clock; log: Logger; observer?: CallObserver },
  ) {}

  get settings() {
    return this.deps.breakers.settings;
  }

  /**
   * Records a call's outcome; a broken Redis or store costs health data, never the call's answer.
   * A failed call is also logged with its cause: the window keeps counts, and an operator (or a
   * bench) asking why a channel was failed over or its breaker opened needs the reason.
   */
  async record(code: string, { call, outcome, latencyMs, probe, error }: ObservedCall): Promise<void> {
    this.deps.observer?.call(code, outcome, latencyMs);
    if (outcome === 'failed') this.deps.log.warn('channel call failed', { channel: code, call, latency_ms: Math.round(latencyMs), error });
    try {
      const at = this.deps.clock.now();
      const seen = this.cached.get(code)?.window;
      const report = await this.added(code, outcome, latencyMs, at, seen === undefined || answerMayTrip(this.settings, seen));
      const moved = await this.deps.breakers.observe(code, report, probe);
      // The freshest word on this channel: routing and the cashier here use it at once (a breaker
      // that closed starts a fresh window).
      if (moved === 'closed') this.cached.set(code, { at, window: { totals: emptyTotals(), consecutiveFailures: 0 } });
      else if (report.window) this.cached.set(code, { at, window: report.window });
    } catch (unrecorded) {
      this.deps.log.error('channel health not recorded', { channel: code, outcome, error: String(unrecorded) });
    }
  }

  /** Adds the call to its window: a failure comes back with the window after it, an answer when it could trip the breaker. */
  private async added(code: string, outcome: CallOutcome, latencyMs: number, at: number, readBackAnswer: boolean): Promise<CallReport> {
    const window = await this.deps.windows.add(code, outcome, latencyMs, at, outcome === 'failed' || readBackAnswer);
    if (outcome === 'answered') return { outcome, window };
    assert(window !== null, `the window of ${code} read back after a failure`);
    return { outcome, window };
  }

  admitPrepay(code: string): Promise<Admission> {
    return this.deps.breakers.admitPrepay(code);
  }

  claimProbe(breaker: BreakerRow): Promise<boolean> {
    return this.deps.breakers.claimProbe(breaker);
  }

  /**
   * Breaker and window of each channel, windows as of at most health_cache_ms ago — or, while
   * another request of this instance already reads a channel's window again, the one before: one
   * read at a time per channel, however many pays find the cache stale at once.
   */
  async states(codes: readonly string[]): Promise<Map<string, ChannelState>> {
    const now = this.deps.clock.now();
    const stale = codes.filter((code) => {
      const hit = this.cached.get(code);
      return !hit || (now - hit.at >= health_cache_ms && !this.reading.has(code));
    });
    if (stale.length > 0) {
      await this.reading.run(stale, async () => {
        for (const [code, window] of await this.deps.windows.read(stale, now)) this.cached.set(code, { at: now, window });
      });
    }
    const breakers = await this.deps.breakers.states(codes);
    return new Map(codes.map((code) => [code, { breaker: breakers.get(code)!, window: this.cached.get(code)!.window }]));
  }

  /** The channel's health as API.md shows it, read fresh. */
  async view(code: string): Promise<HealthView> {
    const now = this.deps.clock.now();
    const window = (await this.deps.windows.read([code], now)).get(code)!;
    const breaker = (await this.deps.breakers.states([code])).get(code)!;
    return viewOf(breaker, window, this.hidden({ breaker, window }));
  }

  hidden(state: ChannelState): boolean {
    return hiddenInCashier(this.settings, state.breaker.state, state.window);
  }

  force(code: string, to: 'open' | 'closed', reason: string): Promise<BreakerRow> {
    // Read again next time (entries are never removed: a concurrent reader relies on finding them).
    const hit = this.cached.get(code);
    if (hit) this.cached.set(code, { at: Number.NEGATIVE_INFINITY, window: hit.window });
    return this.deps.breakers.force(code, to, reason);
  }

  transitions(code: string, limit: number): Promise<BreakerTransitionRow[]> {
    return this.deps.store.listBreakerTransitions(code, limit);
  }
}

export function viewOf(breaker: BreakerRow, window: ChannelWindow, hidden: boolean): HealthView {
  const { totals } = window;
  return {
    breaker: breaker.state, success_rate: rounded(successRate(totals)), calls: totals.calls, failures: totals.failures,
    p50_ms: quantileMs(totals.latency, 0.5), p99_ms: quantileMs(totals.latency, 0.99), window_s: health_window_ms / 1000,
    opened_at: breaker.openedAt === null ? null : isoTime(breaker.openedAt), hidden_in_cashier: hidden,
  };
}
