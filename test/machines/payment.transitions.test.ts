/**
 * Every transition of the payment machine as a table: (state reached by a named setup,
 * event) → (state, effects in order, timers armed and disarmed). Then every event in every
 * state where it does not apply: rejected, nothing changes.
 */
import { describe, expect, test } from 'bun:test';
import { autoRefundId, close_retry_gap_ms, default_query_attempts_max } from '../../machines/payment.model.ts';
import type { FlowReport, PaymentEvent } from '../../machines/payment.rules.ts';
import { Order, amount, pay, prepared, refund, refundReport, report, t0 } from './driver.ts';

const A = 'flw_01AAAAAAAAAAAAAAAAAAAAAAAA';
const B = 'flw_01BBBBBBBBBBBBBBBBBBBBBBBB';
const C = 'flw_01CCCCCCCCCCCCCCCCCCCCCCCC';

/** Named ways to reach a state; each returns a fresh order. */
const setups = {
  created: () => new Order(),
  paying: () => {
    const o = new Order();
    o.send(pay(t0 + 1_000, { flowId: A }));
    return o;
  },
  payingCombined: () => {
    const o = new Order();
    o.send(pay(t0 + 1_000, { flowId: B, method: 'balance', amount: 2_000 }, { flowId: A, amount: 8_000 }));
    return o;
  },
  closing: () => {
    const o = setups.paying();
    o.send({ type: 'close.request', at: t0 + 2_000, reason: 'merchant' });
    return o;
  },
  succeeded: () => {
    const o = setups.paying();
    o.send(report(t0 + 3_000, A, 'succeeded'));
    return o;
  },
  refundPending: () => {
    const o = setups.succeeded();
    o.send(refund(t0 + 4_000, 'rfd_R1', 'R1', 3_000));
    return o;
  },
  partiallyRefunded: () => {
    const o = setups.refundPending();
    o.send(refundReport(t0 + 5_000, 'rfd_R1', A, 'succeeded'));
    return o;
  },
  refunded: () => {
    const o = setups.partiallyRefunded();
    o.send(refund(t0 + 6_000, 'rfd_R2', 'R2', 7_000));
    o.send(refundReport(t0 + 7_000, 'rfd_R2', A, 'succeeded'));
    return o;
  },
  closed: () => {
    const o = new Order();
    o.send({ type: 'close.request', at: t0 + 2_000, reason: 'merchant' });
    return o;
  },
  closedAfterPaying: () => {
    const o = setups.closing();
    o.send(report(t0 + 3_000, A, 'closed'));
    return o;
  },
};
type SetupName = keyof typeof setups;

type Row = {
  name: string;
  from: SetupName;
  event: PaymentEvent;
  value: unknown;
  effects: string[];
  armed?: string[];
  disarmed?: string[];
};

const rows: Row[] = [
  { name: 'pay in created starts a flow and its query timer', from: 'created', event: pay(t0 + 1_000, { flowId: A }), value: { paying: 'active' }, effects: ['channel.prepay'], armed: [`query:${A}`] },
  { name: 'combined pay prepays both parts, queries only the external one', from: 'created', event: pay(t0 + 1_000, { flowId: B, method: 'balance', amount: 2_000 }, { flowId: A, amount: 8_000 }), value: { paying: 'active' }, effects: ['channel.prepay', 'channel.prepay'], armed: [`query:${A}`] },
  { name: 'paying again supersedes: the earlier flow is closed at its channel', from: 'paying', event: pay(t0 + 2_000, { flowId: B, method: 'wechat_native' }), value: { paying: 'active' }, effects: ['channel.close', 'channel.prepay'], armed: [`query:${B}`] },
  { name: 'prepared records the action', from: 'paying', event: prepared(t0 + 1_500, A), value: { paying: 'active' }, effects: [] },
  { name: 'success settles: notify once, timers disarmed', from: 'paying', event: report(t0 + 3_000, A, 'succeeded'), value: { settled: 'succeeded' }, effects: ['merchant.notify'], disarmed: [`query:${A}`, 'expire', 'close_retry'] },
  { name: 'another amount collected is flagged, never settles, and all of it is refunded', from: 'paying', event: report(t0 + 3_000, A, 'succeeded', amount - 1), value: 'created', effects: ['operator.alert', 'channel.refund', 'operator.alert'], armed: [`refund_query:${autoRefundId(A)}`], disarmed: [`query:${A}`] },
  { name: 'a success of nothing (amount 0) is flagged, and the flow stays pending: there is nothing to give back', from: 'paying', event: report(t0 + 3_000, A, 'succeeded', 0), value: { paying: 'active' }, effects: ['operator.alert'] },
  { name: 'wrong currency is flagged and never settles', from: 'paying', event: report(t0 + 3_000, A, 'succeeded', amount, 'USD'), value: { paying: 'active' }, effects: ['operator.alert'] },
  { name: 'a report for an unknown flow is flagged', from: 'paying', event: report(t0 + 3_000, C, 'succeeded'), value: { paying: 'active' }, effects: ['operator.alert'] },
  { name: 'the last pending flow failing returns the order to created', from: 'paying', event: report(t0 + 3_000, A, 'failed'), value: 'created', effects: [], disarmed: [`query:${A}`] },
  { name: 'the last pending flow closing returns the order to created', from: 'paying', event: report(t0 + 3_000, A, 'closed'), value: 'created', effects: [], disarmed: [`query:${A}`] },
  { name: 'a query timer asks the channel and re-arms', from: 'paying', event: { type: 'timer.query', at: t0 + 6_000, flowId: A }, value: { paying: 'active' }, effects: ['channel.query'], armed: [`query:${A}`] },
  { name: 'merchant close in created closes at once', from: 'created', event: { type: 'close.request', at: t0 + 2_000, reason: 'merchant' }, value: 'closed', effects: ['merchant.notify'], disarmed: ['expire', 'close_retry'] },
  { name: 'timeout in created closes at once', from: 'created', event: { type: 'timer.expire', at: t0 + 1_800_000 }, value: 'closed', effects: ['merchant.notify'], disarmed: ['expire', 'close_retry'] },
  { name: 'merchant close while paying asks the channel first', from: 'paying', event: { type: 'close.request', at: t0 + 2_000, reason: 'merchant' }, value: { paying: 'closing' }, effects: ['channel.query'], armed: ['close_retry'] },
  { name: 'timeout while paying asks the channel first', from: 'paying', event: { type: 'timer.expire', at: t0 + 1_800_000 }, value: { paying: 'closing' }, effects: ['channel.query'], armed: ['close_retry'] },
  { name: 'closing: channel says unpaid → close it there', from: 'closing', event: { ...(report(t0 + 3_000, A, 'pending') as FlowReport), source: 'query' }, value: { paying: 'closing' }, effects: ['channel.close'] },
  { name: 'closing: channel confirms closed → closed, notify', from: 'closing', event: report(t0 + 3_000, A, 'closed'), value: 'closed', effects: ['merchant.notify'], disarmed: [`query:${A}`, 'expire', 'close_retry'] },
  { name: 'closing: channel says paid → succeeded instead', from: 'closing', event: report(t0 + 3_000, A, 'succeeded'), value: { settled: 'succeeded' }, effects: ['merchant.notify'], disarmed: [`query:${A}`, 'expire', 'close_retry'] },
  { name: 'closing: channel says paid another amount → refunded, and the order closes', from: 'closing', event: report(t0 + 3_000, A, 'succeeded', amount + 1), value: 'closed', effects: ['operator.alert', 'channel.refund', 'operator.alert', 'merchant.notify'], armed: [`refund_query:${autoRefundId(A)}`], disarmed: [`query:${A}`, 'expire', 'close_retry'] },
  { name: 'closing: retry timer asks again', from: 'closing', event: { type: 'timer.close_retry', at: t0 + 2_000 + close_retry_gap_ms }, value: { paying: 'closing' }, effects: ['channel.query'], armed: ['close_retry'] },
  { name: 'combined: external success settles and captures the balance part frozen at pay', from: 'payingCombined', event: report(t0 + 3_000, A, 'succeeded', 8_000), value: { settled: 'succeeded' }, effects: ['channel.capture', 'merchant.notify'], disarmed: [`query:${A}`, 'expire', 'close_retry'] },
  { name: 'combined: the external part collecting another amount releases the balance part and is refunded', from: 'payingCombined', event: report(t0 + 3_000, A, 'succeeded', 7_999), value: 'created', effects: ['operator.alert', 'channel.close', 'channel.refund', 'operator.alert'], armed: [`refund_query:${autoRefundId(A)}`], disarmed: [`query:${A}`] },
  { name: 'combined: the external part paid in another currency stays pending for an operator, and the balance part is released', from: 'payingCombined', event: report(t0 + 3_000, A, 'succeeded', 8_000, 'USD'), value: { paying: 'active' }, effects: ['operator.alert', 'channel.close'] },
  { name: 'balance only: frozen and captured in the pay event itself', from: 'created', event: pay(t0 + 1_000, { flowId: B, method: 'balance' }), value: { settled: 'succeeded' }, effects: ['channel.prepay', 'channel.capture', 'merchant.notify'], disarmed: ['expire', 'close_retry'] },
  { name: 'closing keeps a balance part frozen while its external part may still be paid', from: 'payingCombined', event: { type: 'close.request', at: t0 + 2_000, reason: 'merchant' }, value: { paying: 'closing' }, effects: ['channel.query'], armed: ['close_retry'] },
  { name: 'a late success after close is refunded automatically', from: 'closedAfterPaying', event: report(t0 + 9_000, A, 'succeeded'), value: 'closed', effects: ['channel.refund', 'operator.alert'], armed: [`refund_query:${autoRefundId(A)}`], disarmed: [`query:${A}`] },
  { name: 'after settle, a report for a flow the order never had is flagged', from: 'succeeded', event: report(t0 + 9_000, B, 'succeeded'), value: { settled: 'succeeded' }, effects: ['operator.alert'] },
  { name: 'refund request starts the channel refund', from: 'succeeded', event: refund(t0 + 4_000, 'rfd_R1', 'R1', 3_000), value: { settled: 'succeeded' }, effects: ['channel.refund'], armed: ['refund_query:rfd_R1'] },
  { name: 'partial refund succeeded → partially_refunded, notify', from: 'refundPending', event: refundReport(t0 + 5_000, 'rfd_R1', A, 'succeeded'), value: { settled: 'partially_refunded' }, effects: ['merchant.notify'], disarmed: ['refund_query:rfd_R1'] },
  { name: 'refund failed → refund.failed, order unchanged', from: 'refundPending', event: refundReport(t0 + 5_000, 'rfd_R1', A, 'failed'), value: { settled: 'succeeded' }, effects: ['merchant.notify'], disarmed: ['refund_query:rfd_R1'] },
  { name: 'refund query timer asks the channel and re-arms', from: 'refundPending', event: { type: 'timer.refund_query', at: t0 + 9_000, refundId: 'rfd_R1' }, value: { settled: 'succeeded' }, effects: ['channel.refund_query'], armed: ['refund_query:rfd_R1'] },
  { name: 'the rest refunded → refunded', from: 'partiallyRefunded', event: refund(t0 + 6_000, 'rfd_R2', 'R2', 7_000), value: { settled: 'partially_refunded' }, effects: ['channel.refund'], armed: ['refund_query:rfd_R2'] },
];

describe('payment machine transitions', () => {
  test.each(rows.map((r) => [r.name, r] as const))('%s', (_, row) => {
    const order = setups[row.from]();
    const step = order.send(row.event);
    expect(step.accepted).toBe(true);
    expect(order.value).toEqual(row.value);
    expect(step.effects.map((e) => e.type as string)).toEqual(row.effects);
    expect(step.armed.sort()).toEqual((row.armed ?? []).sort());
    expect(step.disarmed.sort()).toEqual((row.disarmed ?? []).sort());
  });

  test('creation arms the expiry at expires_at', () => {
    const order = new Order();
    expect([...order.timers]).toEqual([['expire', t0 + 1_800_000]]);
    expect(order.status).toBe('created');
  });

  test('settling notifies payment.succeeded exactly once, whatever repeats', () => {
    const order = setups.paying();
    for (let i = 0; i < 5; i++) order.send(report(t0 + 3_000 + i, A, 'succeeded'));
    order.send({ type: 'timer.expire', at: t0 + 1_800_000 });
    expect(order.notifications('payment.succeeded')).toBe(1);
    expect(order.ctx.paidAt).toBe(t0 + 3_000);
  });

  test('combined payment settles when the external part succeeds, and captures the balance part', () => {
    const order = setups.payingCombined();
    expect(order.ctx.flows.find((f) => f.id === B)?.prepared).toBe(true);
    order.send(report(t0 + 3_000, A, 'succeeded', 8_000));
    expect(order.status).toBe('succeeded');
    expect(order.ctx.flows.map((f) => f.status)).toEqual(['succeeded', 'succeeded']);
  });

  test('combined payment whose external part fails releases the balance part in the same event', () => {
    const order = setups.payingCombined();
    const step = order.send(report(t0 + 3_000, A, 'failed'));
    expect(step.effects).toEqual([{ type: 'channel.close', params: { flowId: B, channel: 'balance' } }]);
    expect(order.ctx.flows.find((f) => f.id === B)?.status).toBe('closed');
    expect(order.status).toBe('created');
  });

  test('a balance part released by a replaced attempt cannot settle: the late external success is refunded', () => {
    const order = setups.payingCombined();
    order.send(pay(t0 + 2_000, { flowId: C, method: 'wechat_native' }));
    expect(order.ctx.flows.find((f) => f.id === B)?.status).toBe('closed');
    const late = order.send(report(t0 + 3_000, A, 'succeeded', 8_000));
    expect(late.effects.map((e) => e.type)).toEqual(['channel.refund', 'operator.alert']);
    expect(order.status).toBe('paying');
  });

  test('an automatic refund that starts while the order is open runs to its end there', () => {
    const order = setups.payingCombined();
    order.send(report(t0 + 3_000, A, 'failed'));
    expect(order.status).toBe('created');
    const late = order.send(report(t0 + 4_000, A, 'succeeded', 8_000));
    expect(late.effects.map((e) => e.type)).toEqual(['channel.refund', 'operator.alert']);
    expect(order.send({ type: 'timer.refund_query', at: t0 + 9_000, refundId: autoRefundId(A) }).accepted).toBe(true);
    order.send(refundReport(t0 + 9_500, autoRefundId(A), A, 'succeeded'));
    expect(order.ctx.flows.find((f) => f.id === A)?.status).toBe('refunded');
    expect(order.status).toBe('created');
  });

  test('a refund over a combined payment takes the external part first, then the balance part at once', () => {
    const order = setups.payingCombined();
    order.send(report(t0 + 3_000, A, 'succeeded', 8_000));
    order.send(refund(t0 + 4_000, 'rfd_R1', 'R1', amount));
    const external = order.send(refundReport(t0 + 5_000, 'rfd_R1', A, 'succeeded'));
    expect(external.effects.map((e) => e.type)).toEqual(['channel.refund', 'merchant.notify']);
    expect(external.effects[0]?.params).toMatchObject({ flowId: B, channel: 'balance', amount: 2_000 });
    expect(order.status).toBe('refunded');
    expect(order.notifications('refund.succeeded')).toBe(1);
  });

  test('an automatic refund is keyed by its flow, whatever repeats the success', () => {
    const order = setups.closedAfterPaying();
    order.send(report(t0 + 9_000, A, 'succeeded'));
    order.send(report(t0 + 9_001, A, 'succeeded'));
    expect(order.ctx.refunds.map((r) => r.id)).toEqual([autoRefundId(A)]);
    order.send(refundReport(t0 + 9_500, autoRefundId(A), A, 'succeeded'));
    expect(order.ctx.flows[0]?.status).toBe('refunded');
    expect(order.status).toBe('closed');
    expect(order.notifications('refund.succeeded')).toBe(0);
  });

  test('a paid twice order refunds the second channel, and tells an operator', () => {
    const order = setups.paying();
    order.send(pay(t0 + 2_000, { flowId: B, method: 'wechat_native' }));
    order.send(report(t0 + 3_000, A, 'succeeded'));
    const second = order.send(report(t0 + 3_100, B, 'succeeded'));
    expect(order.status).toBe('succeeded');
    expect(second.effects.map((e) => e.type)).toEqual(['channel.refund', 'operator.alert']);
    expect(order.ctx.refunds).toMatchObject([{ id: autoRefundId(B), automatic: true, amount }]);
    expect(order.ctx.flags).toMatchObject([{ flowId: B, reason: 'auto_refund' }]);
  });

  test("each refund stuck past its queries is flagged, the flow's earlier flags notwithstanding", () => {
    const order = new Order({ querySchedule: [5_000], queryAttemptsMax: 2 });
    order.send(pay(t0 + 1_000, { flowId: A }));
    order.send(report(t0 + 2_000, A, 'succeeded'));
    const alerts: string[] = [];
    for (const [id, at] of [['rfd_R1', t0 + 10_000], ['rfd_R2', t0 + 100_000]] as const) {
      order.send(refund(at, id, id, 100));
      for (let i = 0; i < 2; i++) {
        const step = order.send({ type: 'timer.refund_query', at: at + (i + 1) * 5_000, refundId: id });
        alerts.push(...step.effects.filter((e) => e.type === 'operator.alert').map((e) => (e.params as { detail: string }).detail));
      }
    }
    expect(alerts).toEqual(['refund rfd_R1 not final after 2 queries; still asking', 'refund rfd_R2 not final after 2 queries; still asking']);
  });

  test('queries follow the schedule and flag once the attempts run out', () => {
    const order = new Order({ querySchedule: [5_000, 10_000], queryAttemptsMax: 3 });
    order.send(pay(t0 + 1_000, { flowId: A }));
    expect(order.timers.get(`query:${A}`)).toBe(t0 + 6_000);
    const dues = [];
    let at = t0 + 6_000;
    for (let i = 0; i < 4; i++) {
      const step = order.send({ type: 'timer.query', at, flowId: A });
      at = order.timers.get(`query:${A}`)!;
      dues.push(at);
      if (i === 2) expect(step.effects.map((e) => e.type)).toEqual(['channel.query', 'operator.alert']);
    }
    expect(dues).toEqual([t0 + 16_000, t0 + 26_000, t0 + 36_000, t0 + 46_000]);
    expect(order.ctx.flags.map((f) => f.reason)).toEqual(['query_exhausted']);
    expect(default_query_attempts_max).toBeGreaterThan(3);
  });
});

/** Events that must be rejected in each state: same snapshot back, no actions. */
const rejected: Array<[SetupName, string, PaymentEvent]> = [
  ['created', 'refund.request', refund(t0 + 4_000, 'rfd_X', 'RX', 100)],
  ['created', 'refund.report', refundReport(t0 + 4_000, 'rfd_X', A, 'succeeded')],
  ['created', 'timer.query', { type: 'timer.query', at: t0 + 5_000, flowId: A }],
  ['created', 'timer.close_retry', { type: 'timer.close_retry', at: t0 + 5_000 }],
  ['created', 'flow.prepared', prepared(t0 + 5_000, A)],
  ['created', 'pay.start with parts that do not add up', pay(t0 + 1_000, { flowId: A, amount: amount - 1 })],
  ['created', 'pay.start with two external parts', pay(t0 + 1_000, { flowId: A, amount: 5_000 }, { flowId: B, amount: 5_000 })],
  ['created', 'pay.start at its expiry, before its timer ran', pay(t0 + 1_800_000, { flowId: A })],
  ['paying', 'pay.start with another method after its expiry', pay(t0 + 1_800_001, { flowId: B, method: 'wechat_native' })],
  ['paying', 'refund.request', refund(t0 + 4_000, 'rfd_X', 'RX', 100)],
  ['paying', 'duplicate flow id', pay(t0 + 2_000, { flowId: A })],
  ['paying', 'report pending while open', report(t0 + 3_000, A, 'pending')],
  ['closing', 'pay.start', pay(t0 + 2_500, { flowId: B })],
  ['closing', 'close.request again', { type: 'close.request', at: t0 + 2_500, reason: 'merchant' }],
  ['closing', 'timer.expire', { type: 'timer.expire', at: t0 + 1_800_000 }],
  ['succeeded', 'pay.start', pay(t0 + 4_000, { flowId: B })],
  ['succeeded', 'close.request', { type: 'close.request', at: t0 + 4_000, reason: 'merchant' }],
  ['succeeded', 'timer.expire', { type: 'timer.expire', at: t0 + 1_800_000 }],
  ['succeeded', 'duplicate success', report(t0 + 4_000, A, 'succeeded')],
  ['succeeded', 'refund beyond what was paid', refund(t0 + 4_000, 'rfd_X', 'RX', amount + 1)],
  ['succeeded', 'refund.report for an unknown refund', refundReport(t0 + 4_000, 'rfd_X', A, 'succeeded')],
  ['succeeded', 'timer.query for a settled flow', { type: 'timer.query', at: t0 + 5_000, flowId: A }],
  ['refundPending', 'same refund_no again', refund(t0 + 4_500, 'rfd_R9', 'R1', 3_000)],
  ['refundPending', 'refund report for another flow', refundReport(t0 + 4_500, 'rfd_R1', B, 'succeeded')],
  ['refundPending', 'refund report pending', refundReport(t0 + 4_500, 'rfd_R1', A, 'pending')],
  ['partiallyRefunded', 'refund beyond what remains', refund(t0 + 6_000, 'rfd_R3', 'R3', 7_001)],
  ['refunded', 'refund.request', refund(t0 + 8_000, 'rfd_R4', 'R4', 1)],
  ['refunded', 'close.request', { type: 'close.request', at: t0 + 8_000, reason: 'merchant' }],
  ['closed', 'pay.start', pay(t0 + 3_000, { flowId: B })],
  ['closed', 'close.request', { type: 'close.request', at: t0 + 3_000, reason: 'merchant' }],
  ['closed', 'refund.request', refund(t0 + 3_000, 'rfd_X', 'RX', 100)],
  ['closed', 'timer.expire', { type: 'timer.expire', at: t0 + 1_800_000 }],
  ['closed', 'timer.close_retry', { type: 'timer.close_retry', at: t0 + 1_800_000 }],
  ['closedAfterPaying', 'failed report of a closed flow', report(t0 + 4_000, A, 'failed')],
];

describe('events that do not apply are rejected and change nothing', () => {
  test.each(rejected)('%s: %s', (from, _, event) => {
    const order = setups[from]();
    const before = order.snapshot;
    const step = order.send(event);
    expect(step.accepted).toBe(false);
    expect(order.snapshot).toBe(before);
    expect(step.effects).toEqual([]);
  });
});
