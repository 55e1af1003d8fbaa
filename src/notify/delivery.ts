/**
 * Merchant notifications (API.md "Notifications to merchants"): each merchant event written by
 * an order's actor is POSTed, signed with Paycenter-Signature, until a 2xx within 10 s;
 * otherwise again after 1 s, 5 s, 30 s, 2 min, 10 min, 30 min (±20 % jitter), then it is marked
 * failed and logged as an error. Every attempt is recorded. Rows are durable outbox rows, so a
 * restart resumes where it stopped; an event may be delivered more than once and merchants
 * de-duplicate by its id.
 */
import type { Engine } from '../../actors/engine.ts';
import type { Clock } from '../clock.ts';
import { readAtMost } from '../bounded-body.ts';
import { notificationSignature } from '../http/signature.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../log.ts';
import { PollingLoop } from '../polling-loop.ts';
import { type OutboundPolicy, connectRefusal } from '../net/outbound.ts';
import { retryDueAt } from '../retry-schedule.ts';
import type { MerchantDirectory } from '../merchants/directory.ts';
import type { ClaimedOutboxRow, NotificationResult, Store } from '../store/store.ts';

export type DeliveryOptions = {
  /** Gaps before each retry, in ms; their count is the number of retries. */
  retryScheduleMs: number[];
  /** ± share of each gap, so that many failed deliveries do not retry in lockstep. */
  jitterShare: number;
  requestTimeoutMs: number;
  intervalMs: number;
  batchMax: number;
  leaseMs: number;
};

export const default_delivery_options: DeliveryOptions = {
  retryScheduleMs: [1_000, 5_000, 30_000, 120_000, 600_000, 1_800_000],
  jitterShare: 0.2,
  requestTimeoutMs: 10_000,
  intervalMs: 250,
  batchMax: 100,
  leaseMs: 60_000,
};

type Attempt = NotificationResult['attempt'];

/** A merchant's answer counts by its status alone; at most this much of its body is read. */
const merchant_response_bytes_max = 64 * 1024;

/** What happens after an attempt: done, another try after the scheduled gap, or no tries left. */
export function nextStep(delivered: boolean, attemptsBefore: number, at: number, options: DeliveryOptions, random: () => number): NotificationResult['next'] {
  if (delivered) return { status: 'delivered' };
  const dueAt = retryDueAt(options.retryScheduleMs, attemptsBefore, at, options.jitterShare, random);
  return dueAt === null ? { status: 'failed' } : { status: 'retry', dueAt };
}

export class NotificationDelivery {
  private readonly loop: PollingLoop;

  constructor(
    private readonly deps: {
      store: Store; engine: Engine; merchants: MerchantDirectory; clock: Clock; log: Logger;
      random?: () => number;
      /** Told of each notification that ran out of tries (a metric and an operator alert). */
      onFailed?: (failed: { eventId: string; paymentId: string; merchantId: string; error: string | null }) => void;
      /** Where notifications may go (src/net/outbound.ts); checked again at each attempt, after DNS. */
      outbound: OutboundPolicy;
    },
    private readonly options: DeliveryOptions = default_delivery_options,
  ) {
    this.loop = new PollingLoop('notification delivery', () => this.tick(), options.intervalMs, deps.log);
  }

  /** Delivers every notification due now (one claim of at most batchMax); returns how many were tried. */
  async tick(): Promise<number> {
    const rows = await this.deps.store.claimOutbox(['merchant.notify'], this.deps.clock.now(), this.options.leaseMs, this.options.batchMax);
    await Promise.all(rows.map((row) => this.deliver(row)));
    return rows.length;
  }

  private async deliver(row: ClaimedOutboxRow): Promise<void> {
    const { eventId } = row.payload as { eventId: string };
    const event = await this.deps.store.loadMerchantEvent(eventId);
    const order = await this.deps.engine.load(row.orderId);
    if (!event || !order) throw new Error(`assertion failed: outbox ${row.id} names a missing event or order`);
    const merchant = await this.deps.merchants.find(event.merchantId);
    const url = order.context.details.notifyUrl ?? merchant?.notifyUrl ?? null;
    const at = this.deps.clock.now();
    const attempt = url && merchant
      ? await this.post(url, merchant.secret.reveal(), { id: event.id, type: event.type, created_at: new Date(event.createdAt).toISOString(), data: event.data }, at)
      : { id: newId('att', at), at, httpStatus: null, error: 'no notify_url for this payment or merchant', durationMs: 0 };
    const delivered = attempt.httpStatus !== null && attempt.httpStatus >= 200 && attempt.httpStatus < 300;
    const next = nextStep(delivered, row.attempts, at, this.options, this.deps.random ?? Math.random);
    await this.deps.store.recordNotification({ outboxId: row.id, eventId, attempt, next });
    if (next.status === 'failed') {
      this.deps.onFailed?.({ eventId, paymentId: row.orderId, merchantId: event.merchantId, error: attempt.error });
      this.deps.log.error('merchant notification failed for good', { event_id: eventId, payment_id: row.orderId, merchant_id: event.merchantId, attempts: row.attempts + 1, error: attempt.error });
    }
  }

  private async post(url: string, secret: string, body: object, at: number): Promise<Attempt> {
    const raw = JSON.stringify(body);
    const started = performance.now();
    const base = { id: newId('att', at), at };
    const refused = await connectRefusal(url, this.deps.outbound);
    if (refused) return { ...base, httpStatus: null, error: `notify_url ${refused}`, durationMs: 0 };
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'Paycenter-Signature': notificationSignature(secret, Math.floor(at / 1000), raw) },
        body: raw,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
        redirect: 'manual',
      });
      // Read (up to the limit) so the connection can be reused; an endless answer is cut off.
      await readAtMost(response.body, merchant_response_bytes_max);
      const ok = response.status >= 200 && response.status < 300;
      return { ...base, httpStatus: response.status, error: ok ? null : `HTTP ${response.status}`, durationMs: Math.round(performance.now() - started) };
    } catch (error) {
      return { ...base, httpStatus: null, error: String((error as Error).message ?? error).slice(0, 500), durationMs: Math.round(performance.now() - started) };
    }
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
