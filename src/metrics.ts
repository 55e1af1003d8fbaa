/** Prometheus metrics (GET /metrics), one registry per process. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineObserver } from '../actors/engine.ts';
import { type AlertKind, alertKinds } from './alerts/kinds.ts';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(gauges: {
  outboxBacklog: () => Promise<number>; mailboxBacklog: () => number; commitQueue: () => number; openAlerts: () => Promise<Record<string, number>>;
}) {
  const registry = new Registry();
  const requests = new Counter({ name: 'paycenter_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'paycenter_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
  });
  const events = new Counter({ name: 'paycenter_actor_events_total', help: 'Events delivered to order actors by type and outcome', labelNames: ['type', 'outcome'], registers: [registry] });
  const lockWait = new Histogram({
    name: 'paycenter_lock_wait_seconds', help: 'Time to take an order lock', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry],
  });
  new Gauge({
    name: 'paycenter_outbox_backlog', help: 'Outbox rows waiting to be executed', registers: [registry],
    async collect() {
      this.set(await gauges.outboxBacklog());
    },
  });
  new Gauge({
    name: 'paycenter_mailbox_backlog', help: 'Events queued or running in this process’s order mailboxes', registers: [registry],
    collect() {
      this.set(gauges.mailboxBacklog());
    },
  });
  // A transaction's time from the process handing it to the store to the store's answer: on SQLite
  // the writer thread's queue, the statements, the fsync and any WAL checkpoint that commit ran.
  const commitTime = new Histogram({
    name: 'paycenter_store_commit_seconds', help: 'Time a group-committed store transaction took to commit',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
  });
  const committedItems = new Counter({ name: 'paycenter_store_committed_items_total', help: 'Writes and records committed in group-committed transactions', registers: [registry] });
  new Gauge({
    name: 'paycenter_commit_queue_items', help: 'Writes and records waiting for a store transaction in this process', registers: [registry],
    collect() {
      this.set(gauges.commitQueue());
    },
  });
  const callbacksRefused = new Counter({
    name: 'paycenter_callbacks_refused_total', help: 'Channel callbacks refused, by reason (unknown_channel, *_rate_limited, too_large, nul_byte, not_verified)',
    labelNames: ['reason'], registers: [registry],
  });
  const alertsRaised = new Counter({ name: 'paycenter_alerts_raised_total', help: 'Operator alerts raised by this process, by kind', labelNames: ['kind'], registers: [registry] });
  new Gauge({
    name: 'paycenter_alerts_open', help: 'Operator alerts not yet acknowledged, by kind', labelNames: ['kind'], registers: [registry],
    async collect() {
      const open = await gauges.openAlerts();
      for (const kind of alertKinds) this.set({ kind }, open[kind] ?? 0);
    },
  });
  const connectionResets = new Counter({
    name: 'paycenter_channel_connection_resets_total', help: 'Channel calls sent again because their connection was reset before the answer was read, by channel',
    labelNames: ['channel'], registers: [registry],
  });
  const notificationsFailed = new Counter({ name: 'paycenter_notifications_failed_total', help: 'Merchant notifications that ran out of tries', registers: [registry] });
  const parked = new Counter({
    name: 'paycenter_rows_parked_total', help: 'Outbox rows and timers parked after a bug (never retried by themselves; GET /admin/parked)',
    labelNames: ['source', 'kind'], registers: [registry],
  });
  const engineObserver: EngineObserver = {
    event: (type, outcome) => events.inc({ type, outcome }),
    lockWait: (ms) => lockWait.observe(ms / 1000),
  };
  return {
    registry,
    engineObserver,
    notificationFailed: () => notificationsFailed.inc(),
    rowParked: (source: 'outbox' | 'timer', kind: string) => parked.inc({ source, kind }),
    callbackRefused: (reason: string) => callbacksRefused.inc({ reason }),
    channelConnectionReset: (channel: string) => connectionResets.inc({ channel }),
    committed(items: number, ms: number) {
      committedItems.inc(items);
      commitTime.observe(ms / 1000);
    },
    alertRaised: (kind: AlertKind) => alertsRaised.inc({ kind }),
    request(method: string, route: string, status: number, seconds: number) {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
  };
}
