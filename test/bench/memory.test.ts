/**
 * bench/memory.ts: the trend it reads from samples (flat, growing, too few, no heap), and its
 * sampler on this process (heap after forced collections) and on another one (RSS from /proc).
 */
import { expect, test } from 'bun:test';
import { type MemorySample, memoryTrend, procMemoryMb, startMemorySampler, trend_samples_min } from '../../bench/memory.ts';

/** One sample a second for a minute, the heap as `heapAt(second)`. */
const samplesOf = (heapAt: (second: number) => number | null): MemorySample[] =>
  Array.from({ length: 60 }, (_, s) => ({ atMs: s * 1000, rssMb: 200, heapMb: heapAt(s) }));

test('a heap that wobbles around a level is flat; one that keeps rising is growing, at its slope', () => {
  const flat = memoryTrend(samplesOf((s) => 50 + (s % 3 === 0 ? 2 : -1)));
  expect(flat.verdict).toBe('flat');
  expect(Math.abs(flat.heapSlopeMbPerMin!)).toBeLessThan(1);

  const leaking = memoryTrend(samplesOf((s) => 50 + s * 0.5));
  expect(leaking.verdict).toBe('growing');
  expect(leaking.heapSlopeMbPerMin!).toBeCloseTo(30, 5);
  // The first quarter is warm-up: left out.
  expect(leaking.heapFirstMb).toBe(50 + 15 * 0.5);
  expect(leaking.samples).toBe(45);

  expect(memoryTrend(samplesOf((s) => 200 - s * 2)).verdict).toBe('shrinking');
});

test('too few samples make no trend, and samples without a heap say so', () => {
  expect(memoryTrend(samplesOf((s) => s)).verdict).toBe('growing');
  expect(memoryTrend(samplesOf((s) => s).slice(0, trend_samples_min)).verdict).toBe('too_few_samples');
  expect(memoryTrend(samplesOf(() => null)).verdict).toBe('no_heap');
});

test('sampling this process sees its heap grow while it keeps what it allocates', async () => {
  const kept: number[][] = [];
  // Sampled when asked, every fourth step: each sample is a full collection, which in a suite's
  // process (every test file's heap) takes tens of ms — at a 5 ms interval, over the test's timeout.
  const sampler = startMemorySampler({ pid: 'self' });
  for (let i = 0; i < 40; i++) {
    kept.push(Array.from({ length: 250_000 }, (_, j) => j)); // ~2 MB kept each step
    if (i % 4 === 3) await sampler.sample();
  }
  const report = await sampler.stop();
  expect(report.samples.length).toBeGreaterThanOrEqual(2 * trend_samples_min);
  expect(report.trend.verdict).toBe('growing');
  expect(report.trend.heapLastMb! - report.trend.heapFirstMb!).toBeGreaterThan(10);
  expect(report.rssPeakMb).toBeGreaterThanOrEqual(Math.max(...report.samples.map((s) => s.rssMb)));
  expect(kept.length).toBe(40);
});

test('another process is sampled for RSS only; once it is gone, the sampled peak stands', async () => {
  const child = Bun.spawn(['sleep', '30'], { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    expect(procMemoryMb(child.pid, 'VmRSS')).toBeGreaterThan(0);
    const sampler = startMemorySampler({ pid: child.pid, intervalMs: 5 });
    await Bun.sleep(50);
    child.kill();
    await child.exited;
    const report = await sampler.stop();
    expect(report.samples.length).toBeGreaterThan(0);
    expect(report.samples.every((s) => s.heapMb === null)).toBe(true);
    expect(report.trend.verdict).toBe('no_heap');
    expect(report.rssPeakMb).toBe(Math.max(...report.samples.map((s) => s.rssMb)));
  } finally {
    child.kill();
  }
});

test('samples beyond samplesMax thin out the oldest half rather than grow', async () => {
  const sampler = startMemorySampler({ pid: 'self', intervalMs: 1, samplesMax: 8, heapMb: async () => 1 });
  await Bun.sleep(100);
  const report = await sampler.stop();
  expect(report.samples.length).toBeLessThanOrEqual(8);
  expect(report.samples.at(-1)!.atMs).toBeGreaterThan(50);
});

test('without an interval, it samples at its start, when asked, and at its stop', async () => {
  let asked = 0;
  const sampler = startMemorySampler({ pid: 'self', heapMb: async () => ++asked });
  await sampler.sample();
  await sampler.sample();
  const report = await sampler.stop();
  expect(report.samples.map((s) => s.heapMb)).toEqual([1, 2, 3, 4]);
});
