/**
 * Property: whatever channels, timers and merchants do, in whatever order, the order's money
 * stays right. fast-check generates sequences of pay / prepared / reports (success, duplicate,
 * wrong amount or currency, late, failed, closed, pending) / timeouts / queries / closes /
 * refunds / refund results; every step is checked against the invariants below.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import {
  autoRefundAmount,
  autoRefundId,
  awaitingSettlementAmount,
  collectedAmount,
  close_retry_gap_ms,
  isExternal,
  merchantRefundCount,
  paidAmount,
  pendingFlows,
  prepay_join_window_ms,
  refundClaimedAmount,
  refundedAmount,
} from '../../machines/payment.model.ts';
import { paymentMachine } from '../../machines/payment.machine.ts';
import type { PaymentEvent } from '../../machines/payment.rules.ts';
import { Order, amount, pay, prepared, refund, refundReport, report, t0 } from './driver.ts';

const methods = ['alipay_qr', 'wechat_native', 'balance'] as const;

/** A command picks its targets (flows, refunds) from the order as it is when the command runs. */
const command = fc.oneof(
  fc.record({ kind: fc.constant('pay' as const), method: fc.constantFrom(...methods), balanceShare: fc.option(fc.integer({ min: 1, max: amount - 1 })) }),
  fc.record({ kind: fc.constant('prepared' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('report' as const),
    pick: fc.nat(),
    status: fc.constantFrom('succeeded', 'succeeded', 'succeeded', 'failed', 'closed', 'pending'),
    wrong: fc.constantFrom('none', 'none', 'none', 'amount', 'currency'),
  }),
  fc.record({ kind: fc.constant('expire' as const) }),
  fc.record({ kind: fc.constant('close' as const) }),
  fc.record({ kind: fc.constant('closeRetry' as const) }),
  fc.record({ kind: fc.constant('queryTimer' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('refund' as const), amount: fc.integer({ min: 1, max: amount + 500 }), refundNo: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('refundReport' as const), pick: fc.nat(), status: fc.constantFrom('succeeded', 'succeeded', 'failed', 'pending'), otherFlow: fc.boolean() }),
  fc.record({ kind: fc.constant('refundQuery' as const), pick: fc.nat() }),
);
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

/** Rounds of asking the channels at the end of a scenario: each ends one more layer (a close, then its refund). */
const drain_rounds = 4;

const scenario = fc.array(fc.tuple(command, fc.integer({ min: 1, max: 400_000 })), { minLength: 1, maxLength: 40 });

function pickOf<T>(items: T[], pick: number): T | undefined {
  return items.length === 0 ? undefined : items[pick % items.length];
}

/** Turns a command into an event for the order as it is now; ids are fresh per step. */
function eventFor(order: Order, cmd: Command, at: number, step: number): PaymentEvent {
  const flowId = (n: number) => `flw_${String(step).padStart(4, '0')}${n}${'X'.repeat(21)}`;
  const flows = order.ctx.flows;
  const refunds = order.ctx.refunds;
  switch (cmd.kind) {
    case 'pay':
      if (cmd.method === 'balance') return pay(at, { flowId: flowId(0), method: 'balance' });
      if (cmd.balanceShare === null) return pay(at, { flowId: flowId(0), method: cmd.method });
      return pay(at, { flowId: flowId(0), method: 'balance', amount: cmd.balanceShare }, { flowId: flowId(1), method: cmd.method, amount: amount - cmd.balanceShare });
    case 'prepared':
      return prepared(at, pickOf(flows, cmd.pick)?.id ?? flowId(9));
    case 'report': {
      const flow = pickOf(flows, cmd.pick);
      const paid = (flow?.amount ?? amount) - (cmd.wrong === 'amount' ? 1 : 0);
      return report(at, flow?.id ?? flowId(9), cmd.status, paid, cmd.wrong === 'currency' ? 'USD' : 'CNY');
    }
    case 'expire':
      return { type: 'timer.expire', at };
    case 'close':
      return { type: 'close.request', at, reason: 'merchant' };
    case 'closeRetry':
      return { type: 'timer.close_retry', at };
    case 'queryTimer':
      return { type: 'timer.query', at, flowId: pickOf(flows, cmd.pick)?.id ?? flowId(9) };
    case 'refund':
      return refund(at, `rfd_${step}`, `R${cmd.refundNo}`, cmd.amount, merchantRefundCount(order.ctx));
    case 'refundReport': {
      const target = pickOf(refunds, cmd.pick);
      const part = target?.parts.find((p) => p.status !== 'succeeded');
      const flow = cmd.otherFlow ? pickOf(flows, cmd.pick)?.id : part?.flowId;
      return refundReport(at, target?.id ?? 'rfd_none', flow ?? flowId(9), cmd.status);
    }
    case 'refundQuery':
      return { type: 'timer.refund_query', at, refundId: pickOf(refunds, cmd.pick)?.id ?? 'rfd_none' };
  }
}

function checkInvariants(order: Order, wasClosed: boolean): void {
  const ctx = order.ctx;
  const paid = paidAmount(ctx);
  // Every success beyond what settles the order is matched by an automatic refund; only an
  // open order may hold money that waits for its attempt to complete.
  const awaiting = awaitingSettlementAmount(ctx);
  expect(collectedAmount(ctx) - autoRefundAmount(ctx) - awaiting).toBe(paid);
  if (order.status !== 'created' && order.status !== 'paying') expect(awaiting).toBe(0);
  expect(refundClaimedAmount(ctx)).toBeLessThanOrEqual(paid);
  expect(refundedAmount(ctx)).toBeLessThanOrEqual(paid);
  expect(order.notifications('payment.succeeded')).toBeLessThanOrEqual(1);
  expect(order.notifications('payment.succeeded')).toBe(ctx.settledAttemptId === null ? 0 : 1);
  if (wasClosed) expect(ctx.settledAttemptId).toBeNull();
  // A success of another amount never settles its order, and all of what it collected goes back.
  for (const flow of ctx.flows.filter((f) => f.collected !== undefined)) {
    expect(flow.attemptId).not.toBe(ctx.settledAttemptId);
    if (flow.status !== 'refunded') expect(ctx.refunds.find((r) => r.id === autoRefundId(flow.id))?.amount).toBe(flow.collected!);
  }
  switch (order.status) {
    case 'closed':
      expect(paid).toBe(0);
      expect(order.notifications('payment.closed')).toBe(1);
      break;
    case 'succeeded':
      expect([paid, refundedAmount(ctx)]).toEqual([amount, 0]);
      break;
    case 'refunded':
      expect(refundedAmount(ctx)).toBe(paid);
      break;
    case 'partially_refunded':
      expect(refundedAmount(ctx)).toBeGreaterThan(0);
      expect(refundedAmount(ctx)).toBeLessThan(paid);
      break;
    case 'created':
    case 'paying':
      expect(paid).toBe(0);
      break;
  }
  // Nothing waits forever: the order's deadline, the close retry, every pending query.
  const value = JSON.stringify(order.value);
  if (value === '"created"' || value === '{"paying":"active"}') expect(order.timers.has('expire')).toBe(true);
  if (value === '{"paying":"closing"}') expect(order.timers.has('close_retry')).toBe(true);
  for (const flow of ctx.flows) {
    if (flow.status === 'pending' && isExternal(flow)) expect(order.timers.has(`query:${flow.id}`)).toBe(true);
  }
  for (const r of ctx.refunds) {
    if (r.status === 'pending') expect(order.timers.has(`refund_query:${r.id}`)).toBe(true);
  }
  // A persisted snapshot restores to the same state.
  const persisted = paymentMachine.getPersistedSnapshot(order.snapshot) as unknown as { value: never; context: typeof ctx };
  const restored = paymentMachine.resolveState({ value: persisted.value, context: persisted.context });
  expect(restored.value).toEqual(order.snapshot.value);
  expect(restored.context).toEqual(ctx);
}

describe('payment machine money invariants', () => {
  test('hold after every step of any sequence of events', () => {
    fc.assert(
      fc.property(scenario, (steps) => {
        const order = new Order();
        let at = t0;
        let wasClosed = false;
        steps.forEach(([cmd, gap], i) => {
          at += gap;
          // Transitions are pure: the state they started from is never changed.
          const previous = order.ctx;
          const previousJson = JSON.stringify(previous);
          order.send(eventFor(order, cmd, at, i));
          expect(JSON.stringify(previous)).toBe(previousJson);
          wasClosed ||= order.status === 'closed';
          checkInvariants(order, wasClosed);
        });
      }),
      { numRuns: 400 },
    );
  });

  test('every order ends once its channels keep their word: nothing but money of another currency stays open', () => {
    fc.assert(
      fc.property(scenario, (steps) => {
        const order = new Order();
        let at = t0;
        // The channel's last word on each flow: what it says again whenever it is asked.
        const said = new Map<string, PaymentEvent & { type: 'flow.report' }>();
        steps.forEach(([cmd, gap], i) => {
          at += gap;
          const event = eventFor(order, cmd, at, i);
          order.send(event);
          if (event.type === 'flow.report') said.set(event.flowId, event);
        });
        const strandedAbroad = (flowId: string) => said.get(flowId)?.status === 'succeeded' && said.get(flowId)?.currency !== 'CNY';
        for (let round = 0; round < drain_rounds; round++) {
          at += close_retry_gap_ms;
          order.send({ type: 'timer.expire', at });
          order.send({ type: 'timer.close_retry', at });
          for (const flow of pendingFlows(order.ctx).filter(isExternal)) {
            const word = said.get(flow.id);
            order.send(word?.status === 'succeeded' ? { ...word, at } : report(at, flow.id, 'closed'));
          }
          for (const pending of order.ctx.refunds.filter((r) => r.status === 'pending')) {
            order.send(refundReport(at, pending.id, pending.parts.find((p) => p.status !== 'succeeded')!.flowId, 'succeeded'));
          }
        }
        checkInvariants(order, order.status === 'closed');
        if (order.ctx.flows.some((f) => f.status === 'pending' && strandedAbroad(f.id))) return;
        expect(pendingFlows(order.ctx)).toEqual([]);
        expect(order.ctx.refunds.filter((r) => r.status === 'pending')).toEqual([]);
        expect(['closed', 'succeeded', 'partially_refunded', 'refunded']).toContain(order.status);
        expect([...order.timers.keys()]).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  test('a payer who pays through every channel is charged once, the rest refunded', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('alipay_qr', 'wechat_native'), { minLength: 2, maxLength: 6 }), (channels) => {
        const order = new Order();
        let at = t0;
        const ids = channels.map((method, i) => {
          const flowId = `flw_${String(i).padStart(26, '0')}`;
          // Past the join window an unanswered flow is superseded, not joined: every pay opens a trade.
          order.send(pay((at += prepay_join_window_ms), { flowId, method }));
          return flowId;
        });
        for (const flowId of ids) order.send(report((at += 1_000), flowId, 'succeeded'));
        expect(order.status).toBe('succeeded');
        expect(collectedAmount(order.ctx)).toBe(amount * channels.length);
        expect(autoRefundAmount(order.ctx)).toBe(amount * (channels.length - 1));
        expect(order.notifications('payment.succeeded')).toBe(1);
      }),
      { numRuns: 100 },
    );
  });
});
