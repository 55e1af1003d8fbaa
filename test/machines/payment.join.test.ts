/**
 * Paying the same way again while the attempt waits for the payer joins it (issue 11, item 3):
 * the order's actor decides, so identical pay requests at once open one trade at the channel,
 * and each of them is answered by that one flow. Pure machine, no engine.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { decidePayStart, prepay_join_window_ms } from '../../machines/payment.model.ts';
import type { PaymentEvent } from '../../machines/payment.rules.ts';
import { Order, pay, prepared, report, t0 } from './driver.ts';

const A = 'flw_01AAAAAAAAAAAAAAAAAAAAAAAA';
const B = 'flw_01BBBBBBBBBBBBBBBBBBBBBBBB';

const payingWith = (method = 'alipay_qr'): Order => {
  const order = new Order();
  order.send(pay(t0 + 1_000, { flowId: A, method }));
  return order;
};

const retriedCreate = (event: PaymentEvent): PaymentEvent => ({ ...event, rejoinOnly: true }) as PaymentEvent;

type Case = { name: string; setup: () => Order; event: PaymentEvent; decision: 'start' | 'join' | 'refused'; prepays: number };

const cases: Case[] = [
  { name: 'the same method while its prepay is under way joins it', setup: payingWith, event: pay(t0 + 1_100, { flowId: B }), decision: 'join', prepays: 0 },
  {
    name: 'the same method once prepared joins it, however late',
    setup: () => { const o = payingWith(); o.send(prepared(t0 + 1_200, A)); return o; },
    event: pay(t0 + 1_000 + 10 * prepay_join_window_ms, { flowId: B }), decision: 'join', prepays: 0,
  },
  {
    name: 'the same method past the join window, never answered: a new attempt, the old one closed',
    setup: payingWith, event: pay(t0 + 1_000 + prepay_join_window_ms, { flowId: B }), decision: 'start', prepays: 1,
  },
  { name: 'another method starts a new attempt', setup: payingWith, event: pay(t0 + 1_100, { flowId: B, method: 'wechat_native' }), decision: 'start', prepays: 1 },
  { name: 'another amount split is another attempt', setup: payingWith, event: pay(t0 + 1_100, { flowId: B, method: 'balance', amount: 1 }, { flowId: 'flw_01C', amount: 9_999 }), decision: 'start', prepays: 2 },
  {
    name: 'after the flow failed, the same method starts again',
    setup: () => { const o = payingWith(); o.send(report(t0 + 1_200, A, 'failed')); return o; },
    event: pay(t0 + 1_300, { flowId: B }), decision: 'start', prepays: 1,
  },
  { name: 'a retried create joins the flow it started', setup: payingWith, event: retriedCreate(pay(t0 + 1_100, { flowId: B })), decision: 'join', prepays: 0 },
  {
    name: 'a retried create never switches away from the method the payer chose since',
    setup: () => { const o = payingWith('wechat_native'); return o; },
    event: retriedCreate(pay(t0 + 1_100, { flowId: B })), decision: 'refused', prepays: 0,
  },
  {
    name: 'nothing is joined while the order closes',
    setup: () => { const o = payingWith(); o.send({ type: 'close.request', at: t0 + 1_100, reason: 'merchant' }); return o; },
    event: pay(t0 + 1_200, { flowId: B }), decision: 'start', prepays: 0,
  },
];

describe('a pay that repeats the waiting attempt', () => {
  test('a repeated combined pay is answered by its external part, whose action the payer is shown, whichever part comes first', () => {
    const order = new Order();
    order.send(pay(t0 + 1_000, { flowId: 'flw_01BALANCEAAAAAAAAAAAAAAAA', method: 'balance', amount: 1 }, { flowId: A, amount: 9_999 }));
    for (const parts of [
      [{ flowId: 'flw_01BALANCEBBBBBBBBBBBBBBBB', method: 'balance', amount: 1 }, { flowId: B, amount: 9_999 }],
      [{ flowId: B, amount: 9_999 }, { flowId: 'flw_01BALANCEBBBBBBBBBBBBBBBB', method: 'balance', amount: 1 }],
    ]) {
      const event = pay(t0 + 1_100, ...parts);
      if (event.type !== 'pay.start') throw new Error('pay() makes pay.start');
      expect(decidePayStart(order.ctx, event)).toMatchObject({ kind: 'join', flow: { id: A } });
    }
  });

  test.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const order = c.setup();
    if (c.event.type !== 'pay.start') throw new Error('cases send pay.start');
    const decision = decidePayStart(order.ctx, c.event);
    expect(decision.kind).toBe(c.decision);
    if (decision.kind === 'join') expect(decision.flow.id).toBe(A);
    const flowsBefore = order.ctx.flows.length;
    const step = order.send(c.event);
    // A join or a refusal is the same snapshot back: the engine answers it without writing.
    expect(step.accepted).toBe(c.prepays > 0);
    expect(step.effects.filter((e) => e.type === 'channel.prepay')).toHaveLength(c.prepays);
    expect(order.ctx.flows.length - flowsBefore).toBe(c.prepays);
  });
});

describe('identical pay requests at once', () => {
  /**
   * However many identical pays reach the actor, in whatever order with the first flow's prepay
   * answer among them, while the attempt still waits: one flow, one prepay, one trade — and the
   * decision for every one of them names that flow.
   */
  test('open exactly one trade, and every one of them is answered by that flow', () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    console.log(`fast-check seed ${seed}`);
    const identical = fc.record({
      requests: fc.integer({ min: 2, max: 12 }),
      gapsMs: fc.array(fc.integer({ min: 0, max: Math.floor(prepay_join_window_ms / 12) - 1 }), { minLength: 12, maxLength: 12 }),
      preparedAfter: fc.option(fc.integer({ min: 0, max: 11 })),
      method: fc.constantFrom('alipay_qr', 'wechat_native', 'alipay_page'),
    });
    fc.assert(
      fc.property(identical, ({ requests, gapsMs, preparedAfter, method }) => {
        const order = new Order();
        let at = t0;
        const answered = new Set<string>();
        for (let i = 0; i < requests; i++) {
          at += gapsMs[i]!;
          const event = pay(at, { flowId: `flw_${String(i).padStart(26, '0')}`, method });
          if (event.type !== 'pay.start') throw new Error('pay builds pay.start');
          const decision = decidePayStart(order.ctx, event);
          order.send(event);
          // What the service reads off the state after the event: the flow that answers this request.
          answered.add(decision.kind === 'join' ? decision.flow.id : event.parts[0]!.flowId);
          if (preparedAfter === i) order.send(prepared(at, order.ctx.flows[0]!.id));
        }
        expect(order.effects.filter((e) => e.type === 'channel.prepay')).toHaveLength(1);
        expect(order.effects.filter((e) => e.type === 'channel.close')).toHaveLength(0);
        expect(order.ctx.flows).toHaveLength(1);
        expect([...answered]).toEqual([order.ctx.flows[0]!.id]);
      }),
      { numRuns: 300, seed },
    );
  });
});
