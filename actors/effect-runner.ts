/**
 * The effect runner: executes the channel effects an order's actor committed to its outbox
 * (prepay, query, close, refund, refund query) and operator alerts, and feeds each channel's
 * answer back to the order's actor as an event. Rows are durable and leased: a runner that
 * dies mid-call leaves the row to be claimed again once the lease runs out, and every channel
 * call is idempotent by flow or refund id, so repeating one cannot charge or refund twice.
 * The event is dispatched before the row is marked done (in the next group commit): a crash in
 * between repeats the call, and the actor ignores what no longer applies.
 */
import { type Alerts, alertIdFor } from '../src/alerts/alerts.ts';
import { flagKind } from '../src/alerts/kinds.ts';
import { collectedBy, type PaymentContext } from '../machines/payment.model.ts';
import type { Effect, PaymentEvent } from '../machines/payment.rules.ts';
import { type ChannelAdapter, type ChannelFailure, type TradeQuery, type TradeReport, channelExpiry } from '../src/channels/adapter.ts';
import type { ChannelRegistry } from '../src/channels/registry.ts';
import type { Clock } from '../src/clock.ts';
import type { Logger } from '../src/log.ts';
import { PollingLoop } from '../src/polling-loop.ts';
import { retryDueAt } from '../src/retry-schedule.ts';
import { assert, errorText, isDependencyFailure } from '../src/failures.ts';
import { effectOfRow, readOutboxRow } from '../src/store/outbox.ts';
import type { ClaimedOutboxRow, OutboxResult, OutboxRow, Store } from '../src/store/store.ts';
import { type KindsOf, effectExecutor, kindsOf } from './effect-executors.ts';
import type { DurableCommitter } from './durable-commit.ts';
import type { Engine } from './engine.ts';
import type { Parking } from './parking.ts';

type RunnerKind = KindsOf<'effect runner'>;
export const runnerEffectKinds: readonly RunnerKind[] = kindsOf('effect runner');

type RunnerEffect = Extract<Effect, { type: RunnerKind }>;

const isRunnerEffect = (effect: Effect): effect is RunnerEffect => effectExecutor[effect.type] === 'effect runner';

export type EffectRunnerOptions = {
  /**
   * Per kind, the gaps before each retry of a call the channel did not answer, in ms; their
   * count is the number of retries. Queries retry briefly (the order's own query timer asks
   * again anyway), a prepay only while a payer may still be waiting, money movements longest.
   */
  retryScheduleMs: Record<RunnerKind, number[]>;
  /** ± share of each gap, so that many failed calls do not retry in lockstep. */
  jitterShare: number;
  intervalMs: number;
  batchMax: number;
  /** Longer than any channel call takes, so a live call's row is not claimed twice. */
  leaseMs: number;
};

/** How much of an unexpected error's text is kept on its outbox row. */
const error_text_chars_max = 500;

export const default_effect_runner_options: EffectRunnerOptions = {
  retryScheduleMs: {
    'channel.prepay': [1_000, 5_000, 30_000],
    'channel.query': [1_000, 5_000],
    'channel.close': [1_000, 5_000, 30_000, 120_000, 600_000],
    'channel.refund': [1_000, 5_000, 30_000, 120_000, 600_000, 1_800_000],
    'channel.refund_query': [1_000, 5_000],
    // Neither calls a channel: captures belong to the balance ledger, alerts are logged.
    'channel.capture': [],
    'operator.alert': [],
  },
  jitterShare: 0.2,
  intervalMs: 200,
  batchMax: 64,
  leaseMs: 60_000,
};

/**
 * Where an effect reads its order: `recent` when this process has just committed the event that
 * made the row (a pay request running its prepay), so its own last commit is current; `stored`
 * for a claimed row, which may come from another instance's commit.
 */
type OrderRead = 'recent' | 'stored';

/** What executing one effect came to: an event for the order (or none), or a failure to retry or give up on. */
type Outcome = { event: PaymentEvent | null } | { failure: ChannelFailure };

/** A channel's word on a trade as the event its order takes (the callback route uses it too). */
export const tradeEvent = (trade: TradeReport, at: number, source: 'query' | 'callback'): PaymentEvent => ({
  type: 'flow.report', at, flowId: trade.flowId, source, status: trade.status,
  ...(trade.amount === null ? {} : { amount: trade.amount }),
  ...(trade.currency === null ? {} : { currency: trade.currency }),
  channelTradeNo: trade.channelTradeNo,
});

/** The flow is still pending and of the order's latest attempt. */
function prepayWanted(ctx: PaymentContext, flowId: string): boolean {
  const flow = ctx.flows.find((f) => f.id === flowId);
  return flow !== undefined && flow.status === 'pending' && !flow.prepared && ctx.flows.at(-1)?.attemptId === flow.attemptId;
}

export class EffectRunner {
  private readonly loop: PollingLoop;

  constructor(
    private readonly deps: {
      store: Store; committer: DurableCommitter; engine: Engine; channels: ChannelRegistry; alerts: Alerts; clock: Clock; log: Logger; parking: Parking; random?: () => number;
    },
    private readonly options: EffectRunnerOptions = default_effect_runner_options,
  ) {
    this.loop = new PollingLoop('effect runner', () => this.tick(), options.intervalMs, deps.log);
  }

  /** Executes every effect due now (one claim of at most batchMax); returns how many were tried. */
  async tick(): Promise<number> {
    const rows = await this.deps.store.claimOutbox(runnerEffectKinds, this.deps.clock.now(), this.options.leaseMs, this.options.batchMax);
    await Promise.all(rows.map((row) => this.execute(row, 'stored')));
    return rows.length;
  }

  /**
   * Executes these just-committed rows now, in the caller's request (a prepay the payer waits
   * for). A row another runner already holds (or finished) is left to it: the map has only the
   * rows this call executed, so the caller knows whose outcome is already in the order.
   */
  async runNow(rows: OutboxRow[]): Promise<Map<string, ChannelFailure | null>> {
    const now = this.deps.clock.now();
    const claimed = (await Promise.all(rows.map((row) => this.deps.store.claimOutboxRow(row.id, now, this.options.leaseMs)))).filter((row) => row !== null);
    const outcomes = await Promise.all(claimed.map((row) => this.execute(row, 'recent')));
    // Per row run here, the channel's failure (null when it answered, or the row was parked): failover reads it.
    return new Map(claimed.map((row, i) => {
      const outcome = outcomes[i]!;
      return [row.id, outcome !== null && 'failure' in outcome ? outcome.failure : null];
    }));
  }

  /**
   * Asks a flow's channel about it once, now, and hands the answer to the order (the cashier's
   * "check now"). A channel that does not answer changes nothing: the order's own query timer
   * keeps asking.
   */
  async queryNow(orderId: string, flowId: string, channel: string): Promise<void> {
    const outcome = await this.perform(orderId, { type: 'channel.query', params: { flowId, channel } }, null, 'stored');
    if ('event' in outcome && outcome.event) await this.deps.engine.dispatch(orderId, outcome.event);
  }

  /**
   * Executes one claimed row and feeds the answer to its order; returns what it came to (null:
   * parked). A dependency that fails (the store, Redis) is retried like a channel that did not
   * answer; anything else thrown is a bug (src/failures.ts) and parks the row: retrying would
   * only repeat it.
   */
  private async execute(row: ClaimedOutboxRow, read: OrderRead): Promise<Outcome | null> {
    let outcome: Outcome;
    try {
      const effect = effectOfRow(readOutboxRow(row));
      assert(isRunnerEffect(effect), `outbox row ${row.id} of kind ${row.kind} reached the effect runner`);
      outcome = await this.perform(row.orderId, effect, row.id, read);
      if ('event' in outcome && outcome.event) await this.deps.engine.dispatch(row.orderId, outcome.event);
    } catch (error) {
      if (!isDependencyFailure(error)) {
        await this.deps.parking.outboxRow(row, error, 'effect runner');
        return null;
      }
      outcome = { failure: { ok: false, code: 'unavailable', retryable: true, message: errorText(error, error_text_chars_max) } };
    }
    await this.deps.committer.finishOutbox(this.resultOf(row, outcome));
    return outcome;
  }

  /** Fenced by the row's claim: a late result of a claim whose lease ran out changes nothing. */
  private resultOf(row: ClaimedOutboxRow, outcome: Outcome): OutboxResult {
    const at = this.deps.clock.now();
    const base = { outboxId: row.id, claim: row.claim, at };
    if ('event' in outcome) return { ...base, error: null, next: { status: 'done' } };
    const { failure } = outcome;
    const schedule = failure.retryable ? (this.options.retryScheduleMs[row.kind as RunnerKind] ?? []) : [];
    const dueAt = retryDueAt(schedule, row.attempts, at, this.options.jitterShare, this.deps.random ?? Math.random);
    const log = { payment_id: row.orderId, kind: row.kind, attempts: row.attempts + 1, error: failure.message };
    if (dueAt === null) {
      // The order's own timers (active query, close retry, refund query) keep asking the channel.
      this.deps.log.warn('effect gave up', log);
      return { ...base, error: failure.message, next: { status: 'failed' } };
    }
    this.deps.log.info('effect will retry', log);
    return { ...base, error: failure.message, next: { status: 'retry', dueAt } };
  }

  /** `rowId`: the outbox row being executed (an alert's id derives from it, so a re-run raises it once). */
  private async perform(orderId: string, effect: RunnerEffect, rowId: string | null, read: OrderRead): Promise<Outcome> {
    const now = () => this.deps.clock.now();
    if (effect.type === 'operator.alert') {
      const { reason, flowId, detail } = effect.params;
      this.deps.log.warn('operator alert', { payment_id: orderId, reason, flow_id: flowId, detail });
      const message = flowId === null ? detail : `${detail} (flow ${flowId})`;
      await this.deps.alerts.raise({ id: rowId === null ? undefined : alertIdFor(rowId), kind: flagKind(reason), message, paymentId: orderId });
      return { event: null };
    }
    const channel = await this.deps.channels.get(effect.params.channel);
    if (!channel) return { failure: { ok: false, code: 'flow_not_supported', retryable: false, message: `no adapter for channel ${effect.params.channel}` } };
    const { adapter } = channel;
    switch (effect.type) {
      case 'channel.prepay': {
        const ctx = await this.contextOf(orderId, read);
        const p = effect.params;
        // A retry of a prepay whose flow ended or was replaced (failover, another method) would
        // open a trade nobody pays, or one the order is closing.
        if (!prepayWanted(ctx, p.flowId)) return { event: null };
        const result = await adapter.prepay({
          flowId: p.flowId, method: p.method, amount: p.amount, currency: ctx.currency, subject: p.subject, merchantOrderNo: ctx.merchantOrderNo,
          expiresAt: channelExpiry(p.expiresAt, now()), returnUrl: ctx.details.returnUrl, clientIp: ctx.details.clientIp,
          payerId: ctx.details.userId, now: now(),
        });
        if (result.ok) return { event: { type: 'flow.prepared', at: now(), flowId: p.flowId, action: result.action } };
        // A refusal ends the flow (the order goes back to created); no answer is asked again.
        if (!result.retryable) {
          this.deps.log.warn('channel refused a prepay', { payment_id: orderId, flow_id: p.flowId, code: result.code, error: result.message });
          return { event: { type: 'flow.report', at: now(), flowId: p.flowId, status: 'failed', source: 'prepay' } };
        }
        return { failure: result };
      }
      case 'channel.query': {
        const result = await adapter.query(await this.tradeQuery(orderId, effect.params.flowId));
        if (!result.ok) return { failure: result };
        // No trade at the channel: the payer has not opened it; while closing, the order then closes it.
        if (result.trade === null) return { event: { type: 'flow.report', at: now(), flowId: effect.params.flowId, status: 'pending', source: 'query' } };
        return { event: tradeEvent(result.trade, now(), 'query') };
      }
      case 'channel.close': {
        const result = await adapter.close(effect.params.flowId, now());
        if (!result.ok) return { failure: result };
        if (result.outcome === 'closed') return { event: { type: 'flow.report', at: now(), flowId: effect.params.flowId, status: 'closed', source: 'close' } };
        // Paid before the close arrived: what the channel says about the payment is what counts.
        const query = await adapter.query(await this.tradeQuery(orderId, effect.params.flowId));
        if (!query.ok) return { failure: query };
        return { event: query.trade ? tradeEvent(query.trade, now(), 'query') : null };
      }
      case 'channel.refund':
        return this.refundAtChannel(orderId, adapter, effect.params);
      case 'channel.refund_query': {
        const { refundId, flowId } = effect.params;
        const result = await adapter.refundQuery(refundId, flowId, now());
        if (!result.ok) return { failure: result };
        // The channel never got the refund call (it gave up, or was lost): make it again — by
        // refund id, so a call that did arrive meanwhile is not repeated.
        if (result.report === null) {
          const refund = (await this.contextOf(orderId, read)).refunds.find((r) => r.id === refundId);
          const part = refund?.parts.find((p) => p.flowId === flowId);
          if (!part) throw new Error(`assertion failed: refund query of a refund part ${refundId}/${flowId} the order does not have`);
          return this.refundAtChannel(orderId, adapter, { refundId, flowId, amount: part.amount });
        }
        return { event: { type: 'refund.report', at: now(), refundId, flowId, status: result.report.status } };
      }
      case 'channel.capture':
        // Captures take frozen balance; no external channel has anything to capture.
        return { failure: { ok: false, code: 'flow_not_supported', retryable: false, message: `${channel.row.provider} has no capture` } };
    }
  }

  /**
   * Sends a refund part to its channel — only while the order still waits for that part. A refund
   * reaches the channel by two rows (its own call, retried, and the refund query's re-send when the
   * channel has none); once one of them ended the part (a refusal: the merchant was told
   * `refund.failed`, and the amount is refundable again), a later retry of the other must not pay
   * it out after all. The order is read from the store, not this process's last commit, for that.
   */
  private async refundAtChannel(
    orderId: string, adapter: ChannelAdapter, { refundId, flowId, amount }: { refundId: string; flowId: string; amount: number },
  ): Promise<Outcome> {
    const ctx = await this.contextOf(orderId, 'stored');
    const flow = ctx.flows.find((f) => f.id === flowId);
    if (!flow) throw new Error(`assertion failed: refund of a flow ${flowId} the order does not have`);
    const refund = ctx.refunds.find((r) => r.id === refundId);
    const part = refund?.parts.find((p) => p.flowId === flowId);
    if (refund?.status !== 'pending' || part?.status !== 'pending') return { event: null };
    const now = this.deps.clock.now();
    const result = await adapter.refund({
      refundId, flowId, method: flow.method, amount, flowAmount: collectedBy(flow), currency: ctx.currency, reason: refund.reason, now,
    });
    if (!result.ok) return { failure: result };
    return { event: { type: 'refund.report', at: this.deps.clock.now(), refundId, flowId, status: result.report.status } };
  }

  /**
   * A query of a flow's trade: the payer can pay it until the order's deadline at the latest (the
   * channel's own deadline was set at or before it). A deadline never changes, so this process's
   * recent read of the order is as good as the store's.
   */
  private async tradeQuery(orderId: string, flowId: string): Promise<TradeQuery> {
    const ctx = await this.contextOf(orderId, 'recent');
    return { flowId, payableUntil: ctx.expiresAt, now: this.deps.clock.now() };
  }

  private async contextOf(orderId: string, read: OrderRead): Promise<PaymentContext> {
    const order = await (read === 'recent' ? this.deps.engine.peek(orderId) : this.deps.engine.load(orderId));
    if (!order) throw new Error(`assertion failed: outbox row of a missing order ${orderId}`);
    return order.context;
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
