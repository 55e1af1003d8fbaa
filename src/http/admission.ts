/**
 * Admission control (issue #19, "a burst"): on a sale day's tenfold burst, requests beyond what
 * this process can carry are answered at once — `503 unavailable` with `Retry-After`, which
 * API.md makes safe to retry with the same request — instead of queueing memory and latency
 * without bound. A shed request has touched nothing: it is refused before authentication, so
 * it used no nonce, no rate-limit token and wrote no row.
 *
 * Requests are classed by what they are for, each class with its own in-flight bound (a gate,
 * admission-gate.ts) and a short wait queue. Separate budgets are the point: merchant writes,
 * the bulk of a burst and the cheapest to retry (nothing has happened yet), saturate their own
 * budget and are shed first, while channel callbacks — which complete payments whose money has
 * already moved — and payers at the cashier keep theirs. Health and metrics are never shed: a
 * busy instance must not look dead to its load balancer or its monitoring.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { Counter, Gauge, type Registry } from 'prom-client';
import { pluginOf } from '../channels/plugins.ts';
import { isOverload } from '../failures.ts';
import { type Entry, Gate } from './admission-gate.ts';
import { ApiError } from './errors.ts';
import { providerRefusal } from './routes/callbacks.ts';

export const admission_classes = ['merchant_write', 'merchant_read', 'callback', 'cashier', 'admin'] as const;
export type AdmissionClass = (typeof admission_classes)[number];

export type AdmissionSettings = {
  /** Requests of each class in flight in this process at once. */
  inFlightMax: Record<AdmissionClass, number>;
  /** Requests of each class waiting for a place beyond that, at most. */
  queueMax: number;
  /** How long a waiting request waits for a place before it is shed. */
  queueWaitMs: number;
};

/** Why a request was refused: the door's verdict, or a queue behind the door (the store's commit queue, a mailbox) being full. */
type Rejection = Exclude<Entry, 'admitted'> | 'overload';
const rejections: readonly Rejection[] = ['queue_full', 'wait_expired', 'overload'];

/** What a shed request is told: try again in this many seconds. */
export const shed_retry_after_s = 1;

/** What each class is, in a refusal's words. */
const described = {
  merchant_write: 'merchant writes', merchant_read: 'merchant reads', callback: 'channel callbacks', cashier: 'the cashier', admin: 'operator requests',
} as const satisfies Record<AdmissionClass, string>;

/** Paths answered whatever the load. */
const never_shed = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A request's class from its method and path, or null for one never shed. Under /channels are
 * the pages provider plug-ins serve, UnionPay's refund notify among them: they go with the
 * callbacks. Everything outside the API's prefixes (documents, icons, unknown paths) goes with
 * the operators' requests, away from payments.
 */
export function admissionClassOf(method: string, path: string): AdmissionClass | null {
  if (never_shed.has(path)) return null;
  switch (path.split('/', 2)[1]) {
    case 'v1': return method === 'GET' || method === 'HEAD' ? 'merchant_read' : 'merchant_write';
    case 'callbacks':
    case 'channels': return 'callback';
    case 'cashier': return 'cashier';
    default: return 'admin';
  }
}

/**
 * The refusal of a shed request. A channel is answered in its provider's own "not taken, retry"
 * shape (the provider is named by the path's second segment), never with the merchant API's error
 * body; everyone else gets API.md's `unavailable`, through the app's one error mapper.
 */
function shed(c: Context, requestClass: AdmissionClass): Response {
  const message = `paycenter is at capacity for ${described[requestClass]}; retry the same request in ${shed_retry_after_s} s`;
  const retryAfter = { 'Retry-After': String(shed_retry_after_s) };
  if (requestClass !== 'callback') throw new ApiError('unavailable', message, null, retryAfter);
  const refusal = providerRefusal(pluginOf(c.req.path.split('/', 3)[2] ?? ''), 503, message);
  refusal.headers.set('Retry-After', retryAfter['Retry-After']);
  return refusal;
}

/** The Prometheus side: refusals by class and reason, and each gate's occupancy when scraped. */
function admissionMetrics(registry: Registry, gates: Record<AdmissionClass, Gate>) {
  const rejected = new Counter({
    name: 'paycenter_admission_rejected_total',
    help: 'Requests shed by admission control, by class and reason (queue_full, wait_expired; overload: a queue behind admission was full, the commit queue or a mailbox)',
    labelNames: ['class', 'reason'], registers: [registry],
  });
  for (const requestClass of admission_classes) for (const reason of rejections) rejected.inc({ class: requestClass, reason }, 0);
  new Gauge({
    name: 'paycenter_admission_in_flight', help: 'Requests admitted and not yet answered, by class', labelNames: ['class'], registers: [registry],
    collect() {
      for (const requestClass of admission_classes) this.set({ class: requestClass }, gates[requestClass].inFlight);
    },
  });
  new Gauge({
    name: 'paycenter_admission_waiting', help: 'Requests waiting for admission, by class', labelNames: ['class'], registers: [registry],
    collect() {
      for (const requestClass of admission_classes) this.set({ class: requestClass }, gates[requestClass].queued);
    },
  });
  return (requestClass: AdmissionClass, reason: Rejection) => rejected.inc({ class: requestClass, reason });
}

/** The middleware: one gate per class for this process. Mounted before everything that does work. */
export function admission(settings: AdmissionSettings, registry: Registry): MiddlewareHandler {
  const gates = Object.fromEntries(admission_classes.map((requestClass) => [
    requestClass, new Gate({ inFlightMax: settings.inFlightMax[requestClass], queueMax: settings.queueMax, waitMs: settings.queueWaitMs }),
  ])) as Record<AdmissionClass, Gate>;
  const rejected = admissionMetrics(registry, gates);
  return async (c, next) => {
    const requestClass = admissionClassOf(c.req.method, c.req.path);
    if (requestClass === null) return next();
    const gate = gates[requestClass];
    const entry = await gate.enter();
    if (entry !== 'admitted') {
      rejected(requestClass, entry);
      return shed(c, requestClass);
    }
    try {
      await next();
    } finally {
      gate.leave();
    }
    // Admitted, but a queue behind the door was full (the commit queue, a mailbox): answered `unavailable` by the error mapper, counted here.
    if (isOverload(c.error)) rejected(requestClass, 'overload');
  };
}
