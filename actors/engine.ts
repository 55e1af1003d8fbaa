/**
 * The order engine: one actor per payment order. `create(input)` commits its first state;
 * `dispatch(orderId, event)`:
 *   1. queues behind earlier events for the same order in this process (mailbox);
 *   2. takes the order's lock (Redlock with Redis, in-process otherwise);
 *   3. loads the snapshot and its row version, restores the actor;
 *   4. computes the transition and its effects (pure);
 *   5. commits, grouped with other orders' events, the snapshot only if the version is still
 *      the one read, with its journal row, outbox rows and timer rows;
 *   6. releases the lock and hands the outbox rows on.
 * Nothing leaves the process before step 5 commits.
 */
import * as v from 'valibot';
import type { AnyMachineSnapshot } from 'xstate';
import { type PaymentContext, type PaymentInput, assertMoneyInvariants } from '../machines/payment.model.ts';
import { paymentMachine, paymentMachineVersion, paymentTransitions, statusOf } from '../machines/payment.machine.ts';
import { upgradeSnapshot } from '../machines/payment.versions.ts';
import type { PaymentEvent } from '../machines/payment.rules.ts';
import { DependencyError } from '../src/failures.ts';
import type { Lock } from '../src/lock/lock.ts';
import type { FlowRow, NonceClaim, OrderRow, OrderWrite, OutboxRow, Store } from '../src/store/store.ts';
import type { DurableCommitter } from './durable-commit.ts';
import { Mailboxes } from './mailbox.ts';
import { RecentlyCommitted } from './recent.ts';
import { type EngineWrite, type NotificationRenderer, writeSetOf } from './write-set.ts';

export type EngineOptions = {
  lockTtlMs: number;
  mailboxDepthMax: number;
  /** Re-runs of one event after losing a version race, before giving up loudly. */
  versionRetriesMax: number;
  /**
   * Orders whose last committed state this process keeps, to skip the load on their next event.
   * Each costs about 1.8 KB of heap (a new order's state measured with bun:jsc's heapStats), so
   * 50,000 hold about 90 MB; closed orders are not kept, nor new ones that no event follows at
   * once (see `create` and `committed`).
   */
  recentOrdersMax: number;
  /**
   * ...and for at most this long after their last commit: an order's events come within seconds
   * of each other (create, pay, the channel's notify), so a steady flow holds rate × this many
   * orders, and memory stops growing after it instead of filling up to the count's bound.
   */
  recentOrderTtlMs: number;
  /**
   * Flows this process committed whose order and channel it keeps (a callback for one skips the
   * store's read of it). About 150 bytes each, so 50,000 hold about 7.5 MB.
   */
  recentFlowsMax: number;
  /**
   * ...and for at most this long after their last write: as long as their orders stay, since a
   * callback later than that reads its order from the store anyway.
   */
  recentFlowTtlMs: number;
};

export const default_engine_options: EngineOptions = {
  lockTtlMs: 5_000, mailboxDepthMax: 10_000, versionRetriesMax: 10, recentOrdersMax: 50_000, recentOrderTtlMs: 60_000,
  recentFlowsMax: 50_000, recentFlowTtlMs: 60_000,
};

/** An order as the engine last committed it. */
export type OrderState = {
  row: OrderRow;
  snapshot: AnyMachineSnapshot;
  context: PaymentContext;
};

export type DispatchResult =
  | { outcome: 'applied'; order: OrderState; outbox: OutboxRow[] }
  /** The machine cannot take this event in the order's current state; nothing changed. */
  | { outcome: 'rejected'; order: OrderState }
  /** The machine took the event but its commit refused it (a balance freeze the payer cannot cover); nothing changed. */
  | { outcome: 'refused'; error: 'insufficient_balance'; order: OrderState }
  | { outcome: 'not_found' };

export type CreateResult =
  | { outcome: 'created'; order: OrderState; outbox: OutboxRow[] }
  /** The id or (merchant, merchant_order_no) exists already: here is the existing order. */
  | { outcome: 'exists'; order: OrderState }
  /** The request's nonce was used before: nothing was written. */
  | { outcome: 'replayed' };

/** A stored snapshot written by a machine version this code does not know: refuse, never reinterpret. */
export class UnknownMachineVersionError extends Error {
  constructor(orderId: string, version: number) {
    super(`order ${orderId} was written by payment machine v${version}; this code runs v${paymentMachineVersion}`);
    this.name = 'UnknownMachineVersionError';
  }
}

/**
 * A snapshot a newer machine wrote: not this instance's to read, and no bug either — an instance
 * running that machine takes the work. Retried (its timers and rows come back when their leases
 * run out), never parked: parked, they would wait for an operator after the rollback was over.
 */
export class NewerMachineError extends DependencyError {
  constructor(readonly orderId: string, readonly version: number) {
    super('newer_instance', `order ${orderId} was written by payment machine v${version}; this instance runs v${paymentMachineVersion}, an instance running v${version} takes it`);
    this.name = 'NewerMachineError';
  }
}

/** What the engine reports for metrics. */
export type EngineObserver = {
  event(type: string, outcome: DispatchResult['outcome'] | CreateResult['outcome']): void;
  lockWait(ms: number): void;
};

export type EngineDeps = {
  store: Store;
  /** Where write sets go: grouped with other orders' (and requests' nonces) into durable transactions. */
  committer: DurableCommitter;
  lock: Lock;
  observer?: EngineObserver;
  renderNotification: NotificationRenderer;
  /** Hears of every committed write, once it is durable (the timer index follows the timer rows). */
  onCommitted?: (write: OrderWrite) => void;
};

export class Engine {
  private readonly mailboxes: Mailboxes;
  private readonly recent: RecentlyCommitted<OrderState>;
  private readonly flows: RecentlyCommitted<FlowOwner>;

  constructor(private readonly deps: EngineDeps, private readonly options: EngineOptions = default_engine_options) {
    this.mailboxes = new Mailboxes(options.mailboxDepthMax);
    this.recent = new RecentlyCommitted(options.recentOrdersMax, options.recentOrderTtlMs);
    this.flows = new RecentlyCommitted(options.recentFlowsMax, options.recentFlowTtlMs);
  }

  get commitStats(): { batches: number; writes: number } {
    return this.deps.committer.stats;
  }

  /** Orders held in the recent-orders cache (at most `recentOrdersMax`), for the benches' memory figures. */
  get recentOrders(): number {
    return this.recent.size;
  }

  /** Events waiting in mailboxes or running. */
  get backlog(): number {
    return this.mailboxes.size;
  }

  /**
   * Creates an order's actor; idempotent by id and by (merchant, merchant_order_no). A request
   * nonce given here is claimed in the same transaction as the order.
   *
   * The new order is kept among the recent orders only when `eventFollows`: the caller sends it an
   * event at once (a create that pays). Otherwise it waits for its payer, minutes or for ever, and
   * keeping it for the minute after its commit cost a fifth of a create's CPU at sale-day rates
   * (the collector's, docs/benchmarks.md "bench floor") to spare one read of a pay that comes later.
   *
   * In the order's mailbox (one write per order in a batch) but without its lock: the lock orders
   * the events of an order that exists, and this one exists for nobody until its commit (its id
   * is new, handed out only in the answer). Two creates of one id, or of one merchant order, on
   * two instances are settled by the store's unique keys, as the version check settles events:
   * the loser reads the winner's order. With Redis, the lock was two round trips per create that
   * serialized nothing.
   */
  async create(input: PaymentInput, { nonce, eventFollows = false }: { nonce?: NonceClaim; eventFollows?: boolean } = {}): Promise<CreateResult> {
    const result = await this.mailboxes.run(input.id, async (): Promise<CreateResult> => {
      const [snapshot, actions] = paymentTransitions.initial(input);
      const record = { before: null, after: snapshot, actions, event: { type: 'payment.create' as const, risk: input.risk }, at: input.createdAt, expectedVersion: 0 };
      const write = { ...writeSetOf(record, this.deps.renderNotification), nonce };
      const outcome = await this.deps.committer.write(write);
      if (outcome === 'committed') return this.committed(write, snapshot, 'created', eventFollows);
      if (outcome === 'nonce_used') return { outcome: 'replayed' };
      const existing =
        (await this.deps.store.loadOrder(input.id)) ??
        (await this.deps.store.findOrderByMerchantOrderNo(input.merchantId, input.merchantOrderNo));
      if (!existing) throw new Error(`assertion failed: create of ${input.id} conflicted with no order`);
      return { outcome: 'exists', order: restore(existing) };
    });
    this.deps.observer?.event('payment.create', result.outcome);
    return result;
  }

  /** Delivers one event to the order's actor (see the file comment for the steps). */
  async dispatch(orderId: string, event: PaymentEvent): Promise<DispatchResult> {
    const result = await this.mailboxes.run(orderId, () => this.locked(orderId, () => this.step(orderId, event)));
    this.deps.observer?.event(event.type, result.outcome);
    return result;
  }

  /** The order as last committed, restored (never through a channel). */
  async load(orderId: string): Promise<OrderState | null> {
    const row = await this.deps.store.loadOrder(orderId);
    return row ? restore(row) : null;
  }

  /**
   * The order as this process last committed it, when that was recent, or else as stored. With
   * several instances it may be behind another instance's commit: for what no event changes (an
   * order's merchant, amount, notify URL), for the outcome of an event this process has just
   * dispatched, and for pre-checks that the actor makes again when the event runs.
   */
  async peek(orderId: string): Promise<OrderState | null> {
    return this.recent.get(orderId) ?? this.load(orderId);
  }

  /** A flow's order and channel if this process wrote the flow lately; these never change, so never stale. */
  recentFlow(flowId: string): FlowOwner | undefined {
    return this.flows.get(flowId);
  }

  private async locked<T>(orderId: string, work: () => Promise<T>): Promise<T> {
    const asked = performance.now();
    const handle = await this.deps.lock.acquire(`order:${orderId}`, this.options.lockTtlMs);
    this.deps.observer?.lockWait(performance.now() - asked);
    try {
      return await work();
    } finally {
      await handle.release();
    }
  }

  /**
   * Steps 3–5. The state may come from this process's recent commits instead of a load: if
   * another process moved the order on meanwhile, the commit's version check refuses the write
   * and the event re-runs on a fresh load; a rejection is only trusted against a fresh load.
   */
  private async step(orderId: string, event: PaymentEvent): Promise<DispatchResult> {
    let current = this.recent.get(orderId) ?? null;
    for (let attempt = 0; attempt <= this.options.versionRetriesMax; attempt++) {
      const fromRecent = current !== null;
      current ??= await this.load(orderId);
      if (!current) return { outcome: 'not_found' };
      const [next, actions] = paymentTransitions.next(current.snapshot, event);
      if (next === current.snapshot) {
        if (!fromRecent) return { outcome: 'rejected', order: current };
        const fresh = await this.load(orderId);
        if (fresh?.row.version === current.row.version) return { outcome: 'rejected', order: current };
        // Another process moved the order on: this process's copy is stale for every reader (peek).
        this.recent.delete(orderId);
        current = fresh;
        continue;
      }
      const record = { before: current.snapshot, after: next, actions, event, at: event.at, expectedVersion: current.row.version };
      const write = writeSetOf(record, this.deps.renderNotification);
      const outcome = await this.deps.committer.write(write);
      if (outcome === 'committed') return this.committed(write, next, 'applied', true);
      if (outcome === 'insufficient_balance') return { outcome: 'refused', error: outcome, order: current };
      // Another process committed first (our lock had expired, or our state was stale): run the event on the fresh state.
      this.recent.delete(orderId);
      current = null;
    }
    throw new Error(`order ${orderId}: lost ${this.options.versionRetriesMax + 1} version races in a row`);
  }

  /** `keep`: whether an event is expected soon, so that the order is worth keeping among the recent ones. */
  private committed<K extends 'applied' | 'created'>(write: EngineWrite, snapshot: AnyMachineSnapshot, outcome: K, keep: boolean) {
    const order = { row: write.order, snapshot, context: snapshot.context as PaymentContext };
    // A closed order takes nothing but late money, rarely and late: keeping it would spend the
    // cache on orders that are done (a drain of expiry timers would fill it with them).
    if (write.order.status === 'closed') this.recent.delete(write.order.id);
    else if (keep) this.recent.set(write.order.id, order);
    for (const flow of write.flows) this.flows.set(flow.id, { orderId: flow.orderId, channel: flow.channel });
    this.deps.onCommitted?.(write);
    return { outcome, order, outbox: write.outbox };
  }
}

/** Which order a flow belongs to and which channel carries it: fixed when the flow is made. */
export type FlowOwner = Pick<FlowRow, 'orderId' | 'channel'>;

/** The stored snapshot column's envelope; the machine's own resolveState checks the state value. */
const stored_snapshot = v.looseObject({ value: v.unknown(), context: v.record(v.string(), v.unknown()) });

/** Restores an order's actor state from its row; resolveState throws at once on a state the machine lacks. */
export function restore(row: OrderRow): OrderState {
  const { snapshot, context } = resolveSnapshot(row);
  if (statusOf(snapshot.value) !== row.status) throw new Error(`assertion failed: order ${row.id} status column disagrees with its snapshot`);
  return { row, snapshot, context };
}

/**
 * The row's snapshot as this machine reads it, with its money invariants checked: all of
 * `restore` but the comparison with the row's columns, which the audit reports on its own.
 */
export function resolveSnapshot(row: OrderRow): Omit<OrderState, 'row'> {
  const stored = v.parse(stored_snapshot, row.snapshot);
  const persisted = upgradeSnapshot(row.machineVersion, stored);
  if (!persisted) throw row.machineVersion > paymentMachineVersion ? new NewerMachineError(row.id, row.machineVersion) : new UnknownMachineVersionError(row.id, row.machineVersion);
  const snapshot = paymentMachine.resolveState({ value: persisted.value as never, context: persisted.context as PaymentContext });
  const context = snapshot.context as PaymentContext;
  assertMoneyInvariants(context);
  return { snapshot, context };
}
