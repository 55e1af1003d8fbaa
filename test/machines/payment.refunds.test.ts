/**
 * Refunds per order are capped, and an order's snapshot does not grow with its refunds (issue 11,
 * item 9): a finished refund stays in the snapshot for the event that finished it, then lives in
 * its row and in the order's RefundsDone totals.
 */
import { describe, expect, test } from 'bun:test';
import { NewerMachineError, UnknownMachineVersionError, restore } from '../../actors/engine.ts';
import { orderRowOf } from '../../actors/write-set.ts';
import { checkRefund, merchantRefundCount, refundableAmount, refundedAmount, refunds_per_order_max } from '../../machines/payment.model.ts';
import { paymentMachine } from '../../machines/payment.machine.ts';
import { Order, pay, prepared, refund, refundReport, report, t0 } from './driver.ts';

const A = 'flw_01AAAAAAAAAAAAAAAAAAAAAAAA';
const B = 'flw_01BBBBBBBBBBBBBBBBBBBBBBBB';
const total = 100_000;

function settled(): Order {
  const order = new Order({ amount: total });
  order.send(pay(t0 + 1_000, { flowId: A, amount: total }));
  order.send(report(t0 + 2_000, A, 'succeeded', total));
  return order;
}

/** Requests refund i as the service would (having seen every refund row) and has the channel answer it. */
function refundOnce(order: Order, i: number, amount: number, outcome: 'succeeded' | 'failed' = 'succeeded'): void {
  const at = t0 + 10_000 + i * 10;
  const step = order.send(refund(at, `rfd_${i}`, `R${i}`, amount, merchantRefundCount(order.ctx)));
  if (!step.accepted) throw new Error(`refund ${i} was not accepted`);
  order.send(refundReport(at + 1, `rfd_${i}`, A, outcome));
}

const snapshotBytes = (order: Order): number => JSON.stringify(paymentMachine.getPersistedSnapshot(order.snapshot)).length;

describe('refunds per order', () => {
  test(`the ${refunds_per_order_max + 1}st merchant refund is refused; failed ones count too`, () => {
    const order = settled();
    for (let i = 0; i < refunds_per_order_max; i++) refundOnce(order, i, 1, i % 5 === 0 ? 'failed' : 'succeeded');
    expect(merchantRefundCount(order.ctx)).toBe(refunds_per_order_max);
    const over = refund(t0 + 99_000, 'rfd_over', 'R-over', 1, refunds_per_order_max);
    if (over.type !== 'refund.request') throw new Error('refund builds refund.request');
    expect(checkRefund(order.ctx, over)).toEqual({ ok: false, error: 'too_many_refunds' });
    expect(order.send(over).accepted).toBe(false);
    // Money is unaffected by folding: 40 succeeded refunds of 1, 10 failed.
    expect(refundedAmount(order.ctx)).toBe(40);
    expect(refundableAmount(order.ctx)).toBe(total - 40);
    expect(order.status).toBe('partially_refunded');
  });

  test('the snapshot with the 50th refund pending is the size it was with the 2nd', () => {
    const order = settled();
    refundOnce(order, 0, 1);
    // Each request folds the refund the previous event finished: one pending refund in the snapshot.
    order.send(refund(t0 + 20_000, 'rfd_1', 'R1', 1, 1));
    const withSecond = snapshotBytes(order);
    order.send(refundReport(t0 + 20_001, 'rfd_1', A, 'succeeded'));
    for (let i = 2; i < refunds_per_order_max - 1; i++) refundOnce(order, i, 1);
    order.send(refund(t0 + 90_000, 'rfd_49', 'R49', 1, refunds_per_order_max - 1));
    expect(order.ctx.refunds.map((r) => r.id)).toEqual(['rfd_49']);
    // Only the digits of ids and totals may grow.
    expect(snapshotBytes(order)).toBeLessThanOrEqual(withSecond + 16);
  });

  test('a refund stays in the snapshot for the event that finished it, for its row and its notification', () => {
    const order = settled();
    order.send(refund(t0 + 3_000, 'rfd_1', 'R1', 500, 0));
    const step = order.send(refundReport(t0 + 3_001, 'rfd_1', A, 'succeeded'));
    expect(step.effects.map((e) => e.type)).toEqual(['merchant.notify']);
    expect(order.ctx.refunds.map((r) => [r.id, r.status])).toEqual([['rfd_1', 'succeeded']]);
    order.send(refund(t0 + 4_000, 'rfd_2', 'R2', 300, 1));
    expect(order.ctx.refunds.map((r) => r.id)).toEqual(['rfd_2']);
    expect(order.ctx.refundsDone).toEqual({ merchantCount: 1, merchantRefunded: 500, refundedByFlow: { [A]: 500 }, automaticRefunded: 0 });
    expect(refundedAmount(order.ctx)).toBe(500);
  });

  test('once refunds left the snapshot, a request that did not see every one is stale (the sender looks at the rows again)', () => {
    const order = settled();
    refundOnce(order, 0, 100);
    refundOnce(order, 1, 100);
    // Refund 0 is folded; refund 1 finished with the last event and is still here.
    const blind = refund(t0 + 50_000, 'rfd_x', 'R0', 100, 1);
    if (blind.type !== 'refund.request') throw new Error('refund builds refund.request');
    expect(checkRefund(order.ctx, blind)).toEqual({ ok: false, error: 'stale' });
    expect(order.send(blind).accepted).toBe(false);
    expect(order.send(refund(t0 + 50_001, 'rfd_y', 'R9', 100, 2)).accepted).toBe(true);
  });

  test('a combined payment refunds each flow at most what it collected, folded refunds included', () => {
    const order = new Order({ amount: total });
    order.send(pay(t0 + 1_000, { flowId: B, method: 'balance', amount: 30_000 }, { flowId: A, amount: 70_000 }));
    order.send(report(t0 + 2_000, A, 'succeeded', 70_000));
    order.send(prepared(t0 + 2_500, B));
    expect(order.status).toBe('succeeded');
    order.send(refund(t0 + 3_000, 'rfd_1', 'R1', 60_000, 0));
    order.send(refundReport(t0 + 3_001, 'rfd_1', A, 'succeeded'));
    // Folded with this event: A has 10_000 left, so 20_000 of this one comes from the balance part.
    order.send(refund(t0 + 4_000, 'rfd_2', 'R2', 30_000, 1));
    expect(order.ctx.refunds[0]!.parts).toEqual([
      { flowId: A, amount: 10_000, status: 'pending' },
      { flowId: B, amount: 20_000, status: 'pending' },
    ]);
  });
});

describe('snapshots of machine v1', () => {
  /** A v1 row: what v1 stored had no refundsDone, every refund in `refunds`. */
  function v1Row(order: Order) {
    const row = orderRowOf(order.snapshot, 3);
    const persisted = paymentMachine.getPersistedSnapshot(order.snapshot) as unknown as { context: Record<string, unknown> };
    const { refundsDone: _, ...context } = persisted.context;
    return { ...row, machineVersion: 1, snapshot: { ...persisted, context } };
  }

  test('load, keep their finished refunds until the next event folds them, and keep the money', () => {
    const order = settled();
    refundOnce(order, 0, 700);
    const restored = restore(v1Row(order));
    expect(restored.context.refundsDone.merchantCount).toBe(0);
    expect(restored.context.refunds.map((r) => r.id)).toEqual(['rfd_0']);
    expect(refundedAmount(restored.context)).toBe(700);
  });

  test('a version this code does not know is refused loudly', () => {
    const order = settled();
    expect(() => restore({ ...v1Row(order), machineVersion: 99 })).toThrow(NewerMachineError);
    expect(() => restore({ ...v1Row(order), machineVersion: 0 })).toThrow(UnknownMachineVersionError);
  });
});
