/**
 * Routing's Prometheus metrics (API.md "Metrics" of the routing issue): per channel the success
 * rate in the window and the breaker state (read when scraped), a latency histogram of every
 * call, and the failovers pay requests made away from a channel.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BreakerStateName } from '../store/store.ts';
import { type CallOutcome, latency_bounds_ms } from './window.ts';

const breakerLevel = { closed: 0, half_open: 1, open: 2 } as const satisfies Record<BreakerStateName, number>;

export type ChannelReading = { code: string; successRate: number; breaker: BreakerStateName };

export function routingMetrics(registry: Registry, read: () => Promise<ChannelReading[]>) {
  const calls = new Histogram({
    name: 'paycenter_channel_call_duration_seconds', help: 'Calls to channels by outcome (answered or failed)', labelNames: ['channel', 'outcome'],
    buckets: latency_bounds_ms.map((ms) => ms / 1000), registers: [registry],
  });
  const failovers = new Counter({
    name: 'paycenter_channel_failovers_total', help: 'Pay requests that moved on from a channel whose prepay failed', labelNames: ['channel'], registers: [registry],
  });
  let latest: Promise<ChannelReading[]> | null = null;
  // Both gauges are scraped together: one read of the channels serves them.
  const reading = () => (latest ??= read().finally(() => setTimeout(() => (latest = null), 0)));
  new Gauge({
    name: 'paycenter_channel_success_rate', help: 'Share of calls answered in the health window', labelNames: ['channel'], registers: [registry],
    async collect() {
      for (const r of await reading()) this.set({ channel: r.code }, r.successRate);
    },
  });
  new Gauge({
    name: 'paycenter_channel_breaker_state', help: 'Breaker state: 0 closed, 1 half_open, 2 open', labelNames: ['channel'], registers: [registry],
    async collect() {
      for (const r of await reading()) this.set({ channel: r.code }, breakerLevel[r.breaker]);
    },
  });
  return {
    call: (code: string, outcome: CallOutcome, latencyMs: number) => calls.observe({ channel: code, outcome }, latencyMs / 1000),
    failover: (code: string) => failovers.inc({ channel: code }),
  };
}
