/** Percentiles for the benches' latency figures. */

/** The value at fraction `p` (0.99 for p99) of values already sorted ascending; 0 for none. */
export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
