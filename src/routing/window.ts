/**
 * A channel's health over a sliding window: calls and failures in fixed buckets of time, with a
 * latency histogram per bucket. Buckets (not a list of calls) keep the window the same small size
 * at any call rate and let several instances add into one shared window (Redis hashes) without
 * coordinating. Pure: the time is passed in.
 */

/** API.md `window_s`: how far back health looks. */
export const health_window_ms = 300_000;
/** One bucket's span; the window is the current bucket and the ones before it. */
export const health_bucket_ms = 10_000;
export const health_buckets = health_window_ms / health_bucket_ms;

/** Upper bounds of the latency bins, in ms; a last bin holds everything slower. */
export const latency_bounds_ms = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000] as const;

/**
 * answered: the provider answered, even with a business refusal ("trade not found");
 * failed: a timeout, a refused connection, a 5xx or an answer that could not be read.
 */
export type CallOutcome = 'answered' | 'failed';

export type WindowTotals = { calls: number; failures: number; latency: number[] };
export type Bucket = WindowTotals & { start: number };

/** What the breaker decides from: the window's counts and how many calls failed in a row. */
export type ChannelWindow = { totals: WindowTotals; consecutiveFailures: number };

export const emptyTotals = (): WindowTotals => ({ calls: 0, failures: 0, latency: latency_bounds_ms.map(() => 0).concat(0) });

export const bucketStart = (at: number): number => at - (at % health_bucket_ms);

/** The starts of the buckets inside the window at `at`, oldest first. */
export function windowStarts(at: number): number[] {
  const current = bucketStart(at);
  return Array.from({ length: health_buckets }, (_, i) => current - (health_buckets - 1 - i) * health_bucket_ms);
}

export const inWindow = (start: number, at: number): boolean => start > bucketStart(at) - health_window_ms;

export function latencyBin(latencyMs: number): number {
  const bin = latency_bounds_ms.findIndex((bound) => latencyMs <= bound);
  return bin === -1 ? latency_bounds_ms.length : bin;
}

export function addCall(totals: WindowTotals, outcome: CallOutcome, latencyMs: number): void {
  totals.calls += 1;
  if (outcome === 'failed') totals.failures += 1;
  totals.latency[latencyBin(latencyMs)]! += 1;
}

/** The sum of the buckets still inside the window at `at`. */
export function totalsOf(buckets: Iterable<Bucket>, at: number): WindowTotals {
  const sum = emptyTotals();
  for (const bucket of buckets) {
    if (!inWindow(bucket.start, at)) continue;
    sum.calls += bucket.calls;
    sum.failures += bucket.failures;
    bucket.latency.forEach((n, i) => (sum.latency[i]! += n));
  }
  return sum;
}

/** The upper bound of the bin holding quantile `q` (the slowest bin reports its lower bound); null without calls. */
export function quantileMs(latency: readonly number[], q: number): number | null {
  const count = latency.reduce((a, b) => a + b, 0);
  if (count === 0) return null;
  const rank = Math.ceil(q * count);
  let seen = 0;
  for (let bin = 0; bin < latency.length; bin++) {
    seen += latency[bin]!;
    if (seen >= rank) return latency_bounds_ms[Math.min(bin, latency_bounds_ms.length - 1)]!;
  }
  throw new Error('assertion failed: a quantile rank beyond the count');
}

/** The share of calls answered; 1 without calls (nothing says the channel is unwell). */
export const successRate = (totals: Pick<WindowTotals, 'calls' | 'failures'>): number =>
  totals.calls === 0 ? 1 : (totals.calls - totals.failures) / totals.calls;
