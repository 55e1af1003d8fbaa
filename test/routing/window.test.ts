/**
 * The health window: calls land in 10 s buckets, the window is the last 300 s of them, a bucket
 * that slides out stops counting, and the rates and latency quantiles read right at the edges.
 */
import { describe, expect, test } from 'bun:test';
import { LocalHealth } from '../../src/routing/health.ts';
import {
  bucketStart, emptyTotals, health_bucket_ms, health_window_ms, latencyBin, latency_bounds_ms, quantileMs, successRate, windowStarts,
} from '../../src/routing/window.ts';

const t0 = 1_764_547_200_000; // a bucket boundary

describe('the health window', () => {
  test('buckets: a call at the last millisecond of a bucket is in it, the next millisecond starts the next one', () => {
    expect(bucketStart(t0)).toBe(t0);
    expect(bucketStart(t0 + health_bucket_ms - 1)).toBe(t0);
    expect(bucketStart(t0 + health_bucket_ms)).toBe(t0 + health_bucket_ms);
    const starts = windowStarts(t0);
    expect(starts).toHaveLength(health_window_ms / health_bucket_ms);
    expect(starts.at(-1)).toBe(t0);
    expect(starts[0]).toBe(t0 - health_window_ms + health_bucket_ms);
  });

  test('a bucket counts until the window has slid a whole window past its start, then rotates out', async () => {
    const health = new LocalHealth();
    await health.add('c', 'failed', 5, t0, true);
    await health.add('c', 'answered', 5, t0 + 1, true);
    const at = async (when: number) => (await health.read(['c'], when)).get('c')!.totals;
    expect(await at(t0 + health_window_ms - 1)).toMatchObject({ calls: 2, failures: 1 });
    expect(await at(t0 + health_window_ms)).toMatchObject({ calls: 0, failures: 0 });
    // A new call after the rotation starts from an empty window.
    const window = await health.add('c', 'failed', 5, t0 + health_window_ms + 1, true);
    expect(window.totals).toMatchObject({ calls: 1, failures: 1 });
  });

  test('failures in a row count up and an answer resets them', async () => {
    const health = new LocalHealth();
    for (let i = 1; i <= 3; i++) expect((await health.add('c', 'failed', 5, t0 + i, true)).consecutiveFailures).toBe(i);
    await health.add('c', 'answered', 5, t0 + 4, true);
    expect((await health.read(['c'], t0 + 4)).get('c')!.consecutiveFailures).toBe(0);
    expect((await health.add('c', 'failed', 5, t0 + 4, true)).consecutiveFailures).toBe(1);
    await health.reset('c', t0 + 5);
    expect((await health.read(['c'], t0 + 5)).get('c')).toEqual({ totals: emptyTotals(), consecutiveFailures: 0 });
  });

  test('success rate: 1 without calls, exact at the edges', () => {
    expect(successRate({ calls: 0, failures: 0 })).toBe(1);
    expect(successRate({ calls: 10, failures: 10 })).toBe(0);
    expect(successRate({ calls: 10, failures: 2 })).toBe(0.8);
  });

  test('latency: bins by upper bound, the slowest bin above the last bound; quantiles read the bins', () => {
    expect(latencyBin(0)).toBe(0);
    expect(latencyBin(10)).toBe(0);
    expect(latencyBin(10.5)).toBe(1);
    expect(latencyBin(latency_bounds_ms.at(-1)! + 1)).toBe(latency_bounds_ms.length);
    const totals = emptyTotals();
    expect(quantileMs(totals.latency, 0.5)).toBeNull();
    totals.latency[latencyBin(80)] = 98;
    totals.latency[latencyBin(900)] = 2;
    expect(quantileMs(totals.latency, 0.5)).toBe(100);
    expect(quantileMs(totals.latency, 0.98)).toBe(100);
    expect(quantileMs(totals.latency, 0.99)).toBe(1_000);
  });
});
