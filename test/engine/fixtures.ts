/** Orders and events for engine tests: real machines, real stores, no mocks. */
import type { PaymentInput } from '../../machines/payment.model.ts';
import { statusOf } from '../../machines/payment.machine.ts';
import type { PaymentEvent } from '../../machines/payment.rules.ts';
import { DurableCommitter, commit_queue_writes_max, commitsInFlightFor } from '../../actors/durable-commit.ts';
import { Engine, type EngineOptions, default_engine_options } from '../../actors/engine.ts';
import type { GroupCommitOptions } from '../../actors/group-commit.ts';
import { systemClock } from '../../src/clock.ts';
import type { NotificationRenderer } from '../../actors/write-set.ts';
import { newId } from '../../src/ids.ts';
import type { Lock } from '../../src/lock/lock.ts';
import { LocalLock } from '../../src/lock/local.ts';
import type { Store } from '../../src/store/store.ts';

export const t0 = Date.UTC(2026, 10, 24, 8, 0, 0);

export const renderForTests: NotificationRenderer = (ctx, snapshot) => ({ id: ctx.id, status: statusOf(snapshot.value) });

/** Group commit as the service runs it on `store` (config defaults), unless a test overrides it. */
export function engineOn(store: Store, lock: Lock = new LocalLock(), options: Partial<EngineOptions> = {}, groupCommit: Partial<GroupCommitOptions> = {}): Engine {
  const defaults: GroupCommitOptions = { batchMax: 64, waitMaxMs: 1, inFlightMax: commitsInFlightFor(store.dialect), queueWritesMax: commit_queue_writes_max };
  const committer = new DurableCommitter(store, systemClock, { ...defaults, ...groupCommit });
  return new Engine({ store, committer, lock, renderNotification: renderForTests }, { ...default_engine_options, ...options });
}

export function orderInput(overrides: Partial<PaymentInput> = {}): PaymentInput {
  const id = overrides.id ?? newId('pay', t0);
  return {
    id, merchantId: 'M100001', merchantOrderNo: `ORD-${id.slice(-10)}`, amount: 10_000, currency: 'CNY',
    subject: 'Hotel booking', expiresAt: t0 + 1_800_000, createdAt: t0, ...overrides,
  };
}

export function payWith(flowId: string, amount = 10_000, at = t0 + 1_000): PaymentEvent {
  return { type: 'pay.start', at, parts: [{ flowId, method: 'alipay_qr', channel: 'alipay_main', amount }] };
}

export function paidReport(flowId: string, amount = 10_000, at = t0 + 2_000): PaymentEvent {
  return { type: 'flow.report', at, flowId, status: 'succeeded', amount, currency: 'CNY', channelTradeNo: `T${flowId}`, source: 'callback' };
}

/** Creates an order and starts paying it with one Alipay flow; returns the ids. */
export async function orderPaying(engine: Engine, overrides: Partial<PaymentInput> = {}): Promise<{ orderId: string; flowId: string }> {
  const input = orderInput(overrides);
  const created = await engine.create(input);
  if (created.outcome !== 'created') throw new Error('fixture: order exists');
  const flowId = newId('flw', t0);
  const paid = await engine.dispatch(input.id, payWith(flowId, input.amount));
  if (paid.outcome !== 'applied') throw new Error(`fixture: pay ${paid.outcome}`);
  return { orderId: input.id, flowId };
}
