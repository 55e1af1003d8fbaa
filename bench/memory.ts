/**
 * Memory over a bench run: RSS (this process's, or another's by pid from /proc/PID/status) and
 * the JS heap after a forced full collection, sampled at an interval; then whether the heap
 * trends. A heap that only grows while the load is steady is a leak; RSS alone cannot say, since
 * the allocator keeps freed pages and the collector runs when it likes.
 *
 *   const sampler = startMemorySampler({ pid: 'self', intervalMs: 1_000 });
 *   … the run (and `await sampler.sample()` at points of its own, if it likes) …
 *   const report = await sampler.stop();
 *   console.log(describeMemory(report));   // report.trend.verdict: 'flat' | 'growing' | …
 *
 * For another process, RSS comes from /proc; its heap only if `heapMb` asks it (say, over an
 * endpoint of its own). Forcing a collection stops this process's event loop for a few
 * milliseconds per sample (the report says how long in all), so sample seconds apart.
 */
import { heapStats } from 'bun:jsc';
import { readFileSync } from 'node:fs';

export type MemorySample = { atMs: number; rssMb: number; heapMb: number | null };

export type MemorySamplerOptions = {
  /** Whose memory: this process, or another one's pid. */
  pid: 'self' | number;
  /** Sample this often; without it, only when the caller asks (`sample`), at points of its choosing. */
  intervalMs?: number;
  /** Samples kept at most: beyond it every other one is dropped and the interval doubles. */
  samplesMax?: number;
  /** The heap after a forced collection, in MB; by default this process's, none for another pid. */
  heapMb?: () => Promise<number | null>;
};

export type MemoryTrend = {
  /** Samples the trend is computed over: those after the warm-up. */
  samples: number;
  seconds: number;
  heapFirstMb: number | null;
  heapLastMb: number | null;
  /** Least-squares slope of the heap after collection, MB per minute. */
  heapSlopeMbPerMin: number | null;
  rssSlopeMbPerMin: number;
  verdict: 'flat' | 'growing' | 'shrinking' | 'too_few_samples' | 'no_heap';
};

export type MemoryReport = {
  samples: MemorySample[];
  /** The process's peak RSS over its whole life (the kernel's VmHWM), or the sampled peak once it is gone. */
  rssPeakMb: number;
  /** Time this process spent in the forced collections of its own samples. */
  gcMs: number;
  trend: MemoryTrend;
};

export type MemorySampler = {
  /** One sample now (besides the interval's). */
  sample(): Promise<void>;
  /** Stops sampling; takes a last sample and reports. */
  stop(): Promise<MemoryReport>;
};

/** Samples kept by default: an hour at one a second before thinning. */
export const memory_samples_max = 3_600;
/** The first part of a run is warm-up (caches and pools filling): left out of the trend. */
export const trend_warmup_fraction = 0.25;
/** Fewer samples than this after the warm-up make no trend. */
export const trend_samples_min = 5;
/**
 * The heap counts as flat when its fitted change over the measured span stays within this share
 * of its mean, or within the absolute floor (a small heap wobbles by a few MB on its own).
 */
export const heap_drift_flat_fraction_max = 0.1;
export const heap_drift_flat_mb_max = 4;

const mb = (bytes: number) => bytes / 2 ** 20;

/** VmRSS or VmHWM of a process, in MB; null once the process is gone. */
export function procMemoryMb(pid: 'self' | number, field: 'VmRSS' | 'VmHWM'): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  return kb === undefined ? null : Number(kb) / 1024;
}

export function startMemorySampler(options: MemorySamplerOptions): MemorySampler {
  const samplesMax = options.samplesMax ?? memory_samples_max;
  const started = performance.now();
  let samples: MemorySample[] = [];
  let stride = 1;
  let ticks = 0;
  let gcMs = 0;
  let sampling: Promise<void> = Promise.resolve();

  const ownHeapMb = async () => {
    const before = performance.now();
    Bun.gc(true);
    gcMs += performance.now() - before;
    return mb(heapStats().heapSize);
  };
  const heapMb = options.heapMb ?? (options.pid === 'self' ? ownHeapMb : async () => null);

  const sample = async () => {
    const rssMb = procMemoryMb(options.pid, 'VmRSS');
    if (rssMb === null) return;
    const heap = await heapMb();
    samples.push({ atMs: performance.now() - started, rssMb, heapMb: heap });
    if (samples.length >= samplesMax) {
      samples = samples.filter((_, i) => i % 2 === 0);
      stride *= 2;
    }
  };
  const tick = () => {
    if (ticks++ % stride === 0) sampling = sampling.then(sample);
  };
  tick();
  const timer = options.intervalMs === undefined ? undefined : setInterval(tick, options.intervalMs);

  return {
    sample() {
      sampling = sampling.then(sample);
      return sampling;
    },
    async stop() {
      clearInterval(timer);
      await sampling;
      await sample();
      // The kernel updates VmHWM lazily, so a sample may have seen a little more.
      const rssPeakMb = Math.max(procMemoryMb(options.pid, 'VmHWM') ?? 0, ...samples.map((s) => s.rssMb));
      return { samples, rssPeakMb, gcMs, trend: memoryTrend(samples) };
    },
  };
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  const covariance = points.reduce((s, p) => s + (p.x - meanX) * (p.y - meanY), 0);
  const variance = points.reduce((s, p) => s + (p.x - meanX) ** 2, 0);
  return variance === 0 ? 0 : covariance / variance;
}

/** The heap's and RSS's trend over the samples after the warm-up. */
export function memoryTrend(all: MemorySample[]): MemoryTrend {
  const measured = all.slice(Math.floor(all.length * trend_warmup_fraction));
  const seconds = measured.length > 1 ? (measured.at(-1)!.atMs - measured[0]!.atMs) / 1000 : 0;
  const perMinute = (points: { x: number; y: number }[]) => slope(points) * 60_000;
  const rssSlopeMbPerMin = measured.length > 1 ? perMinute(measured.map((s) => ({ x: s.atMs, y: s.rssMb }))) : 0;
  const heaps = measured.flatMap((s) => (s.heapMb === null ? [] : [{ x: s.atMs, y: s.heapMb }]));
  const base = { samples: measured.length, seconds, rssSlopeMbPerMin };
  if (heaps.length === 0) return { ...base, heapFirstMb: null, heapLastMb: null, heapSlopeMbPerMin: null, verdict: 'no_heap' };
  const heapSlopeMbPerMin = heaps.length > 1 ? perMinute(heaps) : 0;
  const heapFirstMb = heaps[0]!.y;
  const heapLastMb = heaps.at(-1)!.y;
  if (heaps.length < trend_samples_min) return { ...base, heapFirstMb, heapLastMb, heapSlopeMbPerMin, verdict: 'too_few_samples' };
  const meanHeapMb = heaps.reduce((s, p) => s + p.y, 0) / heaps.length;
  const driftMb = (heapSlopeMbPerMin * seconds) / 60;
  const flatWithinMb = Math.max(heap_drift_flat_fraction_max * meanHeapMb, heap_drift_flat_mb_max);
  const verdict = Math.abs(driftMb) <= flatWithinMb ? 'flat' : driftMb > 0 ? 'growing' : 'shrinking';
  return { ...base, heapFirstMb, heapLastMb, heapSlopeMbPerMin, verdict };
}

/** One line for a bench's output. */
export function describeMemory(report: MemoryReport): string {
  const t = report.trend;
  const heap = t.heapFirstMb === null
    ? 'heap not sampled'
    : `heap after GC ${t.heapFirstMb.toFixed(1)} → ${t.heapLastMb!.toFixed(1)} MB (${t.heapSlopeMbPerMin!.toFixed(2)} MB/min: ${t.verdict})`;
  return `${heap}; RSS ${t.rssSlopeMbPerMin.toFixed(1)} MB/min, peak ${report.rssPeakMb.toFixed(0)} MB; ` +
    `${t.samples} samples over ${t.seconds.toFixed(0)} s after the warm-up; forced GC ${report.gcMs.toFixed(0)} ms in all`;
}
