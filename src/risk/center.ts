/**
 * The risk center: holds the rules, lists and settings of this instance (reloaded when they
 * change anywhere), decides on each create and pay, and reserves the counters an order needs
 * (a closed order's limit shares come back through RiskReleases, releases.ts).
 *
 * Freshness: with Redis, a change is published and every instance reloads at once (and every
 * 30 s regardless, should a message be lost); without Redis, an instance reloads when its copy
 * is 2 s old, at the next request — API.md's "within 2 s".
 */
import type { PaymentContext, RiskVerdict } from '../../machines/payment.model.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Currency } from '../money.ts';
import type { OrderWrite } from '../store/store.ts';
import { WriteOrderedMap } from '../write-ordered-map.ts';
import type { Counters, RedisNonce } from './counters.ts';
import { type CountingPlans, counterAsks, counterHits, countingPlans } from './counting.ts';
import {
  type Candidate, type Compiled, type Facts, type Hit, type History, type Lists,
  addListEntry, candidateOf, combinedVerdict, compileLists, compileRule, decide, factsOf, statelessHit,
} from './evaluate.ts';
import type { RiskMetrics } from './metrics.ts';
import type { RegionOf } from './region.ts';
import type { RiskRepo } from './repo.ts';
import { type ListEntry, type Rule, type Settings, limit_currency } from './rules.ts';

export const reload_interval_ms = 2_000;
export const reload_interval_with_pubsub_ms = 30_000;
/** Expired counters are swept at most this often (store counters; Redis keys expire by themselves). */
const purge_interval_ms = 60_000;
/**
 * How long a payer's paid history, read for the anomaly rules, is used again where several
 * instances may share the store: a payment this instance hears drops it at once; one another
 * instance heard shows within this (the 2 s API.md gives rule changes). With Redis, every
 * instance hears every payment over the bus and drops that payer's copy at once, so a copy is
 * kept up to history_fresh_with_pubsub_ms, should a message be lost (a reconnect drops them all).
 * A single instance (the SQLite store without Redis, whose counters are in memory) hears every
 * payment itself, so its copy stays exact until then and is read once (`RiskDeps.historyFreshMs`).
 */
export const history_fresh_ms = 2_000;
export const history_fresh_with_pubsub_ms = 30_000;
/** Payers whose history one instance keeps at most; past it the oldest read goes. */
const history_payers_max = 10_000;

/**
 * What the center holds in memory: the enabled rules (split once into those judged from the
 * order alone and the plans of the counters the others count in), the lists compiled for lookup,
 * the settings.
 */
type Loaded = {
  stateless: Compiled[]; counting: CountingPlans; lists: Lists; settings: Settings; needsHistory: boolean; generation: number; loadedAt: number;
};

/** How instances hear of each other's changes and payers' payments (Redis pub/sub), when there is a way. */
export type RiskBus = {
  publish(): Promise<void>; onChange(listener: () => void): void;
  /** `payer`: payerKey's; a listener hears null when messages may have been missed (forget every payer). */
  publishPaid(payer: string): Promise<void>; onPaid(listener: (payer: string | null) => void): void;
  close(): Promise<void>;
};

export type RiskAlert = (alert: { paymentId: string; message: string }) => Promise<void>;

export type RiskDeps = {
  repo: RiskRepo; counters: Counters; clock: Clock; log: Logger; regionOf: RegionOf; metrics: RiskMetrics;
  bus?: RiskBus; alert?: RiskAlert;
  /** How long a payer's history copy is used: history_fresh_ms (history_fresh_with_pubsub_ms with a bus), or Infinity for a single instance. */
  historyFreshMs?: number;
};

/** A create or pay the center refused: the rule codes, never scores (API.md). */
export type Refusal = { ok: false; rules: string[] };
/** The create's request nonce, given to be claimed with the reservation, was used before: nothing was reserved. */
export type Replayed = { ok: false; replayed: true };
export type CreateAssessment = Replayed | ((Refusal | {
  ok: true; verdict: RiskVerdict; holds: string[];
  /** Gives back everything reserved, for a create that did not create (a retry, a spent nonce). */
  cancel(): Promise<void>;
}) & {
  /** Whether the nonce given was claimed (with a reservation); a create that reserved nothing claims it itself. */
  nonceClaimed: boolean;
});
export type PayAssessment = Refusal | { ok: true; verdict: RiskVerdict };

export class RiskCenter {
  private loaded: Loaded | null = null;
  private reloading: Promise<Loaded> | null = null;
  private purgedAt = 0;
  private readonly intervalMs: number;
  private readonly historyFreshMs: number;
  private readonly histories = new WriteOrderedMap<string, { readAt: number; paid: PaidRow[] }>();
  /** Moves with every payment recorded here, so a history read that a payment overtook is not kept. */
  private paidEpoch = 0;

  constructor(private readonly deps: RiskDeps) {
    this.intervalMs = deps.bus ? reload_interval_with_pubsub_ms : reload_interval_ms;
    this.historyFreshMs = deps.historyFreshMs ?? (deps.bus ? history_fresh_with_pubsub_ms : history_fresh_ms);
    deps.bus?.onChange(() => void this.refresh().catch((error) => deps.log.error('risk reload failed', { error: String(error) })));
    deps.bus?.onPaid((payer) => this.forgetHistory(payer));
  }

  /** The rules in force here now, reloaded first when this instance's copy is too old. */
  async current(): Promise<Loaded> {
    const now = this.deps.clock.now();
    if (this.loaded && now - this.loaded.loadedAt < this.intervalMs) return this.loaded;
    return this.reload();
  }

  /** Reads everything again (one read at a time; callers meanwhile share it). */
  reload(): Promise<Loaded> {
    this.reloading ??= this.read().finally(() => (this.reloading = null));
    return this.reloading;
  }

  /** A read that starts after a change: one already under way may have read before it. */
  async refresh(): Promise<Loaded> {
    await this.reloading?.catch(() => undefined);
    return this.reload();
  }

  /**
   * After an operator's change here: mark it, bring this instance's copy up to it, and tell the
   * other instances (they reload). When it is the only change since the copy was read (the
   * generation moved to the copy's next, and no read is under way), it joins the copy: a list
   * entry `added` in place, a change of `rules` by reading the rules alone. Anything else reloads
   * everything. Reloading every list for each entry made an import, one request an entry,
   * quadratic; for each rule, switching rules one request each read every list (up to
   * list_entries_max) per rule, and its garbage burdened the requests after it.
   */
  async changed(change?: { added: ListEntry } | 'rules'): Promise<void> {
    const generation = await this.deps.repo.bump();
    const loaded = this.loaded;
    if (change && loaded && !this.reloading && loaded.generation === generation - 1) {
      if (change === 'rules') await (this.reloading = this.withRulesRead(loaded, generation).finally(() => (this.reloading = null)));
      else {
        addListEntry(loaded.lists, change.added);
        this.loaded = { ...loaded, generation };
      }
    } else await this.refresh();
    await this.deps.bus?.publish();
  }

  /** The copy with the rules read again, its lists and settings kept (a read others share, as reload's). */
  private async withRulesRead(loaded: Loaded, generation: number): Promise<Loaded> {
    this.loaded = { ...loaded, ...compiledRules(await this.deps.repo.rules()), generation };
    return this.loaded;
  }

  /** Reads the generation, and everything else only when it moved since this copy was read. */
  private async read(): Promise<Loaded> {
    const at = this.deps.clock.now();
    const generation = await this.deps.repo.generation();
    if (this.loaded?.generation === generation) this.loaded = { ...this.loaded, loadedAt: at };
    else {
      const [rules, entries, settings] = await Promise.all([this.deps.repo.rules(), this.deps.repo.entries(), this.deps.repo.settings()]);
      this.deps.metrics.read();
      this.loaded = { ...compiledRules(rules), lists: compileLists(entries), settings, generation, loadedAt: at };
    }
    if (at - this.purgedAt >= purge_interval_ms) {
      this.purgedAt = at;
      await this.deps.counters.purge(at);
    }
    return this.loaded;
  }

  /**
   * A new order: every enabled rule, counters reserved in one atomic step. `nonce` (counters in
   * Redis only): the request's nonce, claimed in that step when there is one.
   */
  assessCreate(c: Candidate): Promise<Exclude<CreateAssessment, Replayed>>;
  assessCreate(c: Candidate, nonce?: RedisNonce): Promise<CreateAssessment>;
  async assessCreate(c: Candidate, nonce?: RedisNonce): Promise<CreateAssessment> {
    const started = performance.now();
    const loaded = await this.current();
    const facts = await this.factsOf(loaded, c);
    const hits = statelessHits(loaded, facts);
    const first = decide(hits, loaded.settings);
    if (first.decision === 'reject') return { ...this.refuse('create', first.rules, hits, started), nonceClaimed: false };

    // Each counter the order joins, asked once however many rules count in it.
    const asks = counterAsks(c.currency === limit_currency ? loaded.counting.cny : loaded.counting.other, facts);
    const reservation = asks.length === 0 ? { allowed: true, held: [] } : await this.deps.counters.reserve(c.orderId, c.at, asks, nonce);
    if (reservation === 'replayed') return { ok: false, replayed: true };
    const nonceClaimed = nonce !== undefined && asks.length > 0;
    const counted = asks.flatMap((ask, i) => counterHits(ask, reservation.held[i]!));
    if (!reservation.allowed) return { ...this.refuse('create', counted.filter((h) => h.action === 'reject').map((h) => h.code), [...hits, ...counted], started), nonceClaimed };

    const all = [...hits, ...counted];
    const decision = decide(all, loaded.settings);
    const cancel = () => this.deps.counters.release(c.orderId, asks);
    if (decision.decision === 'reject') {
      await cancel();
      return { ...this.refuse('create', decision.rules, all, started), nonceClaimed };
    }
    const verdict: RiskVerdict = { decision: decision.decision, score: decision.score, rules: decision.rules, hits: all };
    this.deps.metrics.decided(verdict.decision, 'create', all, (performance.now() - started) / 1000);
    return { ok: true, verdict, holds: asks.map((ask) => ask.plan.hold), cancel, nonceClaimed };
  }

  /**
   * A pay of an existing order: the rules that need no counter, again, with what is known now
   * (the order already holds its share of every limit and velocity since its create). The
   * verdict it answers is the order's, the create's findings kept (combinedVerdict): the pay's
   * event carries it onto the order, which shows the latest it was given.
   */
  async assessPay(ctx: PaymentContext, at: number): Promise<PayAssessment> {
    const started = performance.now();
    const loaded = await this.current();
    const hits = statelessHits(loaded, await this.factsOf(loaded, candidateOf(ctx, at)));
    const decision = decide(hits, loaded.settings);
    if (decision.decision === 'reject') return this.refuse('pay', decision.rules, hits, started);
    this.deps.metrics.decided(decision.decision, 'pay', hits, (performance.now() - started) / 1000);
    const own: RiskVerdict = { decision: decision.decision, score: decision.score, rules: decision.rules, hits };
    return { ok: true, verdict: combinedVerdict(ctx.risk, own, loaded.settings) };
  }

  /** An order flagged for review raises one operator alert (a pay that flags it again does not). */
  async flagged(paymentId: string, verdict: RiskVerdict, before: RiskVerdict | undefined): Promise<void> {
    if (verdict.decision !== 'review' || before?.decision === 'review') return;
    const message = `payment ${paymentId} needs a risk review: score ${verdict.score}, rules ${verdict.rules.join(', ')}`;
    this.deps.log.warn('risk review', { payment_id: paymentId, score: verdict.score, rules: verdict.rules });
    await this.deps.alert?.({ paymentId, message });
  }

  /**
   * Hears every committed write of an order (engine.onCommitted): a success enters the payer's
   * history (`payment.succeeded` is emitted once per order, and recording it is idempotent by
   * order). A close's limit shares are given back by RiskReleases, from a row of the close's commit.
   */
  async committed(write: OrderWrite): Promise<void> {
    if (!write.merchantEvents.some((e) => e.type === 'payment.succeeded')) return;
    // Our own write, just produced by the engine from a validated machine state.
    const ctx = (write.order.snapshot as { context: PaymentContext }).context;
    if (ctx.details.userId) {
      await this.deps.repo.recordPaid({
        orderId: ctx.id, merchantId: ctx.merchantId, userId: ctx.details.userId, amount: ctx.amount, currency: ctx.currency,
        region: ctx.details.clientIp === null ? null : this.deps.regionOf(ctx.details.clientIp), paidAt: write.order.updatedAt,
      });
      // After the write: a read under way meanwhile is not kept (the epoch moved), a later one sees it.
      const payer = payerKey(ctx.merchantId, ctx.details.userId);
      this.forgetHistory(payer);
      await this.deps.bus?.publishPaid(payer);
    }
  }

  /** Drops a payer's history copy (null: every payer's); a read under way is not kept either. */
  private forgetHistory(payer: string | null): void {
    this.paidEpoch += 1;
    if (payer === null) this.histories.clear();
    else this.histories.delete(payer);
  }

  private async factsOf(loaded: Loaded, c: Candidate): Promise<Facts> {
    const history = loaded.needsHistory && c.userId ? await this.history(c.merchantId, c.userId, c.currency) : null;
    return factsOf(c, loaded.lists, history, this.deps.regionOf);
  }

  private async history(merchantId: string, userId: string, currency: Currency): Promise<History> {
    const paid = await this.paidOf(merchantId, userId);
    return {
      amounts: paid.filter((p) => p.currency === currency).map((p) => p.amount),
      regions: paid.map((p) => p.region).filter((r): r is string => r !== null),
    };
  }

  /** A payer's latest paid orders, read again when the copy here is historyFreshMs old. */
  private async paidOf(merchantId: string, userId: string): Promise<PaidRow[]> {
    const key = payerKey(merchantId, userId);
    const now = this.deps.clock.now();
    const cached = this.histories.get(key);
    if (cached && now - cached.readAt < this.historyFreshMs) return cached.paid;
    const epoch = this.paidEpoch;
    const paid = await this.deps.repo.history(merchantId, userId);
    if (epoch === this.paidEpoch) {
      this.histories.set(key, { readAt: now, paid });
      if (this.histories.size > history_payers_max) this.histories.deleteOldest();
    }
    return paid;
  }

  private refuse(stage: 'create' | 'pay', rules: string[], hits: Hit[], started: number): Refusal {
    this.deps.metrics.decided('reject', stage, hits, (performance.now() - started) / 1000);
    return { ok: false, rules };
  }
}

type PaidRow = Awaited<ReturnType<RiskRepo['history']>>[number];
const payerKey = (merchantId: string, userId: string): string => `${merchantId}|${userId}`;

/** The enabled rules, compiled and split into those judged from the order alone and the plans of those that count. */
function compiledRules(rules: Rule[]): Pick<Loaded, 'stateless' | 'counting' | 'needsHistory'> {
  const enabled = rules.filter((r) => r.status === 'enabled');
  const compiled = enabled.map(compileRule);
  return {
    stateless: compiled.filter((r) => r.bucketPrefix === null), counting: countingPlans(compiled.filter((r) => r.bucketPrefix !== null)),
    needsHistory: enabled.some((r) => r.kind === 'amount_anomaly' || r.kind === 'location_anomaly'),
  };
}

function statelessHits(loaded: Loaded, facts: Facts): Hit[] {
  const hits: Hit[] = [];
  for (const r of loaded.stateless) {
    const hit = statelessHit(r, facts);
    if (hit) hits.push(hit);
  }
  return hits;
}

