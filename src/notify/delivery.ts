/**
 * Merchant notifications (API.md "Notifications to merchants"): each merchant event written by
 * an order's actor is POSTed, signed with Paycenter-Signature, until a 2xx within 10 s;
 * otherwise again after 1 s, 5 s, 30 s, 2 min, 10 min, 30 min (±20 % jitter), then it is marked
 * failed and logged as an error. Every attempt is recorded. Rows are durable outbox rows, so a
 * restart resumes where it stopped; an event may be delivered more than once and merchants
 * de-duplicate by its id. An event with nowhere to go (no notify_url on its order or merchant)
 * is finished at once as `unsent`: no tries, no alert; it stays listed at GET /v1/events.
 *
 * One merchant's slow endpoint must not delay another's notifications, so every row is
 * delivered on its own (a poll starts deliveries and does not wait for them), within two caps:
 * deliveries in flight in total, and to one merchant. A merchant whose endpoint keeps timing
 * out (or cannot be reached) is backed off: its rows are put off, without counting an attempt,
 * for a pause that doubles while it stays unreachable — the slowdown is its own, no one else's.
 * Rows claimed for a merchant at its cap wait in this process, in order, and start as its
 * deliveries finish: putting them off in the store instead (a second each time) scattered a sale
 * day's backlog, each row waiting whole seconds behind rows that came after it.
 */
import type { DurableCommitter } from '../../actors/durable-commit.ts';
import type { Engine } from '../../actors/engine.ts';
import { kindsOf } from '../../actors/effect-executors.ts';
import type { Parking } from '../../actors/parking.ts';
import type { Clock } from '../clock.ts';
import { readAtMost } from '../bounded-body.ts';
import { assert, isDependencyFailure } from '../failures.ts';
import { notificationSignature } from '../http/signature.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../log.ts';
import { PollingLoop } from '../polling-loop.ts';
import { type OutboundPolicy, connectRefusal } from '../net/outbound.ts';
import { retryDueAt } from '../retry-schedule.ts';
import type { MerchantDirectory } from '../merchants/directory.ts';
import { readOutboxRow } from '../store/outbox.ts';
import type { ClaimedOutboxRow, MerchantEventRow, NotificationResult, Store } from '../store/store.ts';

export type DeliveryOptions = {
  /** Gaps before each retry, in ms; their count is the number of retries. */
  retryScheduleMs: number[];
  /** ± share of each gap, so that many failed deliveries do not retry in lockstep. */
  jitterShare: number;
  requestTimeoutMs: number;
  intervalMs: number;
  /** Rows claimed per poll at most (fewer when the in-flight cap leaves less room). */
  batchMax: number;
  leaseMs: number;
  /** Deliveries in flight at once, all merchants together. */
  inFlightMax: number;
  /** Deliveries in flight at once to one merchant. */
  merchantInFlightMax: number;
  /** Deliveries in a row that timed out or could not connect before a merchant is backed off. */
  merchantTimeoutsBeforeBackoff: number;
  /** A backed-off merchant's first pause, doubled per further timeout, up to the max. */
  merchantBackoffMs: number;
  merchantBackoffMaxMs: number;
  /**
   * Rows of a merchant at its in-flight cap that wait here, claimed, for one of its deliveries to
   * finish; further rows are put off in the store for merchantBusyDeferMs. Few enough to start
   * well within leaseMs even at a slow endpoint's pace (a backed-off merchant's go back to the store).
   */
  merchantWaitingMax: number;
  /** How long a row of a merchant at its in-flight cap, with its waiting line full, is put off before it is looked at again. */
  merchantBusyDeferMs: number;
};

export const default_delivery_options: DeliveryOptions = {
  retryScheduleMs: [1_000, 5_000, 30_000, 120_000, 600_000, 1_800_000],
  jitterShare: 0.2,
  requestTimeoutMs: 10_000,
  intervalMs: 250,
  batchMax: 100,
  leaseMs: 60_000,
  // A sale day's one big merchant takes ~1,000 events/s at tens of ms each under load: tens in
  // flight (Little's law). A black-hole merchant holds at most its quarter of the total.
  inFlightMax: 256,
  merchantInFlightMax: 64,
  merchantTimeoutsBeforeBackoff: 3,
  merchantBackoffMs: 5_000,
  merchantBackoffMaxMs: 300_000,
  merchantWaitingMax: 128,
  merchantBusyDeferMs: 1_000,
};

const notifyKinds = kindsOf('notification delivery');

type Attempt = NotificationResult['attempt'];

/** A merchant's answer counts by its status alone; at most this much of its body is read. */
const merchant_response_bytes_max = 64 * 1024;
/** How much of a failed try's error text an attempt row keeps. */
const attempt_error_chars_max = 500;

/** What happens after an attempt: done, another try after the scheduled gap, or no tries left. */
export function nextStep(delivered: boolean, attemptsBefore: number, at: number, options: DeliveryOptions, random: () => number): NotificationResult['next'] {
  if (delivered) return { status: 'delivered' };
  const dueAt = retryDueAt(options.retryScheduleMs, attemptsBefore, at, options.jitterShare, random);
  return dueAt === null ? { status: 'failed' } : { status: 'retry', dueAt };
}

type Claimed = { row: ClaimedOutboxRow; event: MerchantEventRow };

/**
 * What this process knows of one merchant's endpoint: deliveries in flight, rows waiting for them,
 * timeouts in a row, back-off, and how many pauses it has been given (a delivery notes the count
 * it started under).
 */
type MerchantLane = { inFlight: number; waiting: Claimed[]; timeouts: number; backedOffUntil: number; pauses: number };

/** A claimed row's fate in one poll: delivered now, in line behind its merchant's deliveries, put off until `dueAt`, or parked (a bug). */
type Placement = { start: MerchantEventRow } | { wait: MerchantEventRow } | { deferUntil: number } | { parked: true };

export class NotificationDelivery {
  private readonly loop: PollingLoop;
  private readonly lanes = new Map<string, MerchantLane>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    private readonly deps: {
      store: Store; committer: DurableCommitter; engine: Engine; merchants: MerchantDirectory; clock: Clock; log: Logger; parking: Parking;
      random?: () => number;
      /**
       * Told of each notification that ran out of tries (a metric and an operator alert), with its
       * last attempt: a notification redelivered that runs out again is told again.
       */
      onFailed?: (failed: { eventId: string; attemptId: string; paymentId: string; merchantId: string; error: string | null }) => void;
      /** Where notifications may go (src/net/outbound.ts); checked again at each attempt, after DNS. */
      outbound: OutboundPolicy;
    },
    private readonly options: DeliveryOptions = default_delivery_options,
  ) {
    // The loop only starts deliveries: a slow endpoint holds its own delivery, never the next poll.
    this.loop = new PollingLoop('notification delivery', () => this.startDue(), options.intervalMs, deps.log);
  }

  /** Delivers every notification due now that the caps allow, and waits for those deliveries; returns how many were tried. */
  async tick(): Promise<number> {
    const started = await this.startDue();
    await Promise.all(started);
    return started.length;
  }

  /** Claims the rows due now (as many as the in-flight cap has room for) and starts delivering each; returns the deliveries started. */
  private async startDue(): Promise<Promise<void>[]> {
    const room = Math.min(this.options.batchMax, this.options.inFlightMax - this.inFlight.size);
    if (room <= 0) return [];
    const rows = await this.deps.store.claimOutbox(notifyKinds, this.deps.clock.now(), this.options.leaseMs, room);
    const events = await this.eventsNamedBy(rows);
    const started: Promise<void>[] = [];
    const deferred = new Map<number, string[]>();
    for (const row of rows) {
      const placement = await this.place(row, events);
      if ('start' in placement) started.push(this.track(row, placement.start));
      else if ('wait' in placement) this.laneOf(placement.wait.merchantId).waiting.push({ row, event: placement.wait });
      else if ('deferUntil' in placement) deferred.set(placement.deferUntil, [...(deferred.get(placement.deferUntil) ?? []), row.id]);
    }
    for (const [dueAt, ids] of deferred) await this.deps.store.deferOutbox(ids, dueAt);
    return started;
  }

  /**
   * The events a poll's rows name, in one read: one read a row made a saturated store's poll take
   * seconds, each waiting for a pooled connection. A row whose payload cannot be read names none
   * here and is parked by `place`.
   */
  private async eventsNamedBy(rows: ClaimedOutboxRow[]): Promise<Map<string, MerchantEventRow>> {
    const ids = rows.flatMap((row) => {
      try {
        const { payload } = readOutboxRow(row);
        return 'eventId' in payload ? [payload.eventId] : [];
      } catch {
        return [];
      }
    });
    return new Map((await this.deps.store.loadMerchantEvents(ids)).map((event) => [event.id, event]));
  }

  /** Whether a claimed row is delivered now or put off for its merchant's sake; a row that names no event is a bug. */
  private async place(row: ClaimedOutboxRow, events: Map<string, MerchantEventRow>): Promise<Placement> {
    let event: MerchantEventRow | undefined;
    try {
      const { payload } = readOutboxRow(row);
      assert('eventId' in payload, `notification row ${row.id} names no event`);
      event = events.get(payload.eventId);
      assert(event !== undefined, `notification row ${row.id} names a missing event ${payload.eventId}`);
    } catch (error) {
      if (isDependencyFailure(error)) throw error;
      await this.deps.parking.outboxRow(row, error, 'notification delivery');
      return { parked: true };
    }
    const now = this.deps.clock.now();
    const lane = this.laneOf(event.merchantId);
    if (lane.backedOffUntil > now) return { deferUntil: lane.backedOffUntil };
    if (lane.inFlight < this.options.merchantInFlightMax) return { start: event };
    if (lane.waiting.length < this.options.merchantWaitingMax) return { wait: event };
    return { deferUntil: now + this.options.merchantBusyDeferMs };
  }

  private laneOf(merchantId: string): MerchantLane {
    let lane = this.lanes.get(merchantId);
    if (!lane) this.lanes.set(merchantId, (lane = { inFlight: 0, waiting: [], timeouts: 0, backedOffUntil: 0, pauses: 0 }));
    return lane;
  }

  /**
   * One of a merchant's deliveries finished: its next waiting row starts, unless the merchant is
   * backed off now, in which case every waiting row goes back to the store until then (and while
   * delivery stops, stop() puts them back).
   */
  private nextInLane(merchantId: string, lane: MerchantLane): void {
    if (lane.waiting.length === 0 || this.stopping) return;
    if (lane.backedOffUntil > this.deps.clock.now()) {
      const ids = lane.waiting.splice(0).map((w) => w.row.id);
      // Should this fail, the rows' leases run out and they are claimed again.
      void this.deps.store.deferOutbox(ids, lane.backedOffUntil).catch((error: unknown) => this.deps.log.warn('waiting notifications not put back', { merchant_id: merchantId, error: String(error) }));
      return;
    }
    const next = lane.waiting.shift()!;
    void this.track(next.row, next.event);
  }

  /** Runs one delivery in its merchant's lane; a failure is handled here, so the poll never waits on it. */
  private track(row: ClaimedOutboxRow, event: MerchantEventRow): Promise<void> {
    const lane = this.laneOf(event.merchantId);
    lane.inFlight += 1;
    const delivery = this.deliver(row, event, lane)
      .catch(async (error: unknown) => {
        // A dependency (the store): the row's lease runs out and it is tried again. Anything else is a bug.
        if (isDependencyFailure(error)) this.deps.log.warn('notification delivery interrupted', { payment_id: row.orderId, error: String(error) });
        else await this.deps.parking.outboxRow(row, error, 'notification delivery');
      })
      .catch((error: unknown) => this.deps.log.error('notification could not be parked', { payment_id: row.orderId, error: String(error) }))
      .finally(() => {
        lane.inFlight -= 1;
        this.inFlight.delete(delivery);
        this.nextInLane(event.merchantId, lane);
        if (lane.inFlight === 0 && lane.waiting.length === 0 && lane.timeouts === 0) this.lanes.delete(event.merchantId);
      });
    this.inFlight.add(delivery);
    return delivery;
  }

  private async deliver(row: ClaimedOutboxRow, event: MerchantEventRow, lane: MerchantLane): Promise<void> {
    // Only the order's notify URL is read, which no event changes.
    const order = await this.deps.engine.peek(row.orderId);
    assert(order !== null, `outbox ${row.id} names a missing order`);
    const merchant = await this.deps.merchants.find(event.merchantId);
    assert(merchant !== null, `event ${event.id} names a missing merchant ${event.merchantId}`);
    const url = order.context.details.notifyUrl ?? merchant.notifyUrl;
    const at = this.deps.clock.now();
    if (url === null) {
      // Nowhere to send it: such a merchant reads its events at GET /v1/events (and asks for one
      // again once it has a URL). Tries would change nothing, and an alert for every event of a
      // merchant that polls would bury the ones that matter. The reason is logged as its attempt.
      const attempt = { id: newId('att', at), at, httpStatus: null, error: 'no notify_url for this payment or merchant', durationMs: 0 };
      await this.deps.committer.recordNotification({ outboxId: row.id, claim: row.claim, eventId: event.id, attempt, next: { status: 'unsent' } });
      return;
    }
    const pausesBefore = lane.pauses;
    const attempt = await this.post(url, merchant.secret.reveal(), { id: event.id, type: event.type, created_at: new Date(event.createdAt).toISOString(), data: event.data }, at);
    const delivered = attempt.httpStatus !== null && attempt.httpStatus >= 200 && attempt.httpStatus < 300;
    this.heard(lane, event.merchantId, attempt.httpStatus !== null, pausesBefore);
    const next = nextStep(delivered, row.attempts, at, this.options, this.deps.random ?? Math.random);
    // A result whose claim was overtaken (a redelivery asked meanwhile) is logged and changes nothing: no alert either.
    const written = await this.deps.committer.recordNotification({ outboxId: row.id, claim: row.claim, eventId: event.id, attempt, next });
    if (written && next.status === 'failed') {
      this.deps.onFailed?.({ eventId: event.id, attemptId: attempt.id, paymentId: row.orderId, merchantId: event.merchantId, error: attempt.error });
      this.deps.log.error('merchant notification failed for good', { event_id: event.id, payment_id: row.orderId, merchant_id: event.merchantId, attempts: row.attempts + 1, error: attempt.error });
    }
  }

  /**
   * Any HTTP answer shows the endpoint is alive and ends a back-off; a timeout or a refused
   * connection counts, and enough of them in a row pause the merchant, longer each time. A
   * delivery started before the latest pause began tells nothing that pause did not already
   * answer: the deliveries in flight together when an endpoint goes dark all time out, and
   * counting each would double the pause once per delivery (up to its cap at once) instead of
   * once per pause.
   */
  private heard(lane: MerchantLane, merchantId: string, answered: boolean, pausesBefore: number): void {
    if (answered) {
      lane.timeouts = 0;
      lane.backedOffUntil = 0;
      return;
    }
    if (pausesBefore < lane.pauses) return;
    lane.timeouts += 1;
    const over = lane.timeouts - this.options.merchantTimeoutsBeforeBackoff;
    if (over < 0) return;
    const pause = Math.min(this.options.merchantBackoffMaxMs, this.options.merchantBackoffMs * 2 ** Math.min(over, 30));
    lane.pauses += 1;
    lane.backedOffUntil = this.deps.clock.now() + pause;
    this.deps.log.warn('merchant endpoint backed off', { merchant_id: merchantId, timeouts_in_a_row: lane.timeouts, pause_ms: pause });
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
      // Read (up to the limit) so the connection can be reused; an endless answer is cut off, and
      // one still coming when the time is up changes nothing: the status was the answer.
      await readAtMost(response.body, merchant_response_bytes_max).catch(() => undefined);
      const ok = response.status >= 200 && response.status < 300;
      return { ...base, httpStatus: response.status, error: ok ? null : `HTTP ${response.status}`, durationMs: Math.round(performance.now() - started) };
    } catch (error) {
      return { ...base, httpStatus: null, error: String((error as Error).message ?? error).slice(0, attempt_error_chars_max), durationMs: Math.round(performance.now() - started) };
    }
  }

  start(): void {
    this.loop.start();
  }

  /** An order just committed a merchant event: deliver it now rather than at the next poll. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops polling, then waits for the deliveries in flight (each bounded by requestTimeoutMs); rows still waiting go back to the store. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop.stop();
    await Promise.all(this.inFlight);
    const waiting = [...this.lanes.values()].flatMap((lane) => lane.waiting.splice(0));
    await this.deps.store.deferOutbox(waiting.map((w) => w.row.id), this.deps.clock.now());
  }
}
