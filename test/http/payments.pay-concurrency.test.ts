/**
 * Identical pay requests at once open ONE trade at the channel (issue 11, item 3). API.md: a retry
 * means no second charge, and paying again the same way answers the same flow. The sandbox counts
 * the trades paycenter opens, and holds each opening a little so that every request overlaps it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { storeKinds } from '../store/stores.ts';
import { inline_prepay_grace_ms } from '../../actors/write-set.ts';
import { newId } from '../../src/ids.ts';
import { type World, bootWorld, tradeOpenings, worldWithMovedClock } from '../channels/world.ts';

/** Long enough that all requests arrive while the first trade is being opened. */
const provider_hold_ms = 300;

describe.each(storeKinds)('identical pays at once on %s', (kind) => {
  let world: World;
  const openings = tradeOpenings(provider_hold_ms);
  beforeAll(async () => {
    world = await bootWorld(kind, {}, {}, openings.gate);
  }, 60_000);
  afterAll(() => world?.stop());

  test('10 identical creates with method alipay_qr: one order, one precreate, the same QR code for all', async () => {
    const before = openings.count();
    const create = { merchant_order_no: `ORD-SAME-${kind}`, method: 'alipay_qr' };
    const answers = await Promise.all(Array.from({ length: 10 }, () => world.merchant.createPayment(create)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(openings.count() - before).toBe(1);
    const qrCodes = new Set(answers.map((a) => a.body.action?.qr_code));
    expect(qrCodes.size).toBe(1);
    expect([...qrCodes][0]).toStartWith(world.sandboxUrl);
    const stored = await world.merchant.call('GET', `/v1/payments/${answers[0]!.body.id}`);
    expect(stored.body.flows).toHaveLength(1);
  });

  test('5 identical /pay at once: one trade, every answer names the same flow and action', async () => {
    const created = await world.merchant.createPayment();
    const before = openings.count();
    const answers = await Promise.all(Array.from({ length: 5 }, () => world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'wechat_native' })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(openings.count() - before).toBe(1);
    expect(new Set(answers.map((a) => a.body.flows.at(-1).id)).size).toBe(1);
    expect(new Set(answers.map((a) => a.body.action.qr_code)).size).toBe(1);
    const stored = await world.merchant.call('GET', `/v1/payments/${created.body.id}`);
    expect(stored.body.flows.map((f: any) => f.status)).toEqual(['pending']);
  });

  test('another method at once still switches: two trades, the first closed', async () => {
    const created = await world.merchant.createPayment();
    const before = openings.count();
    const [alipay, wechat] = await Promise.all(['alipay_qr', 'wechat_native'].map((method) => world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method })));
    expect(openings.count() - before).toBe(2);
    // Whichever came second replaced the first (409 invalid_state, or 502 when the channel closed
    // the trade before opening it); neither answer claims the channel was down.
    const statuses = [alipay!.status, wechat!.status];
    expect(statuses.every((s) => s === 200 || s === 409 || s === 502), JSON.stringify([alipay!.body, wechat!.body])).toBe(true);
    expect(statuses).toContain(200);
  });
});

describe('a pay that joins a flow whose prepay another runner executes', () => {
  const { world, clock } = worldWithMovedClock();

  /** Pay starts that the order's actor answered with a join (the same snapshot back), from /metrics. */
  async function joinsSoFar(): Promise<number> {
    const text = await (await fetch(`${world.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('paycenter_actor_events_total{') && l.includes('type="pay.start"') && l.includes('outcome="rejected"'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  test('waits for that runner’s answer and shows its action: one trade, not a second one', async () => {
    const { engine, runner } = world.booted.paycenter;
    const created = await world.merchant.createPayment();
    // The request that started this flow died before running its prepay: only the runner will, after its grace.
    const flowId = newId('flw', clock.now());
    const started = await engine.dispatch(created.body.id, {
      type: 'pay.start', at: clock.now(), parts: [{ flowId, method: 'alipay_qr', channel: 'alipay_main', amount: 10_000 }],
    });
    expect(started.outcome).toBe('applied');
    clock.advance(inline_prepay_grace_ms - 1_000);
    const joins = await joinsSoFar();
    const answer = world.merchant.call('POST', `/v1/payments/${created.body.id}/pay`, { method: 'alipay_qr' });
    for (let polls = 0; (await joinsSoFar()) === joins; polls++) {
      if (polls > 200) throw new Error('the pay request never reached the order');
      await Bun.sleep(10);
    }
    // The request waits on the joined flow; the background runner's turn comes.
    clock.advance(1_000);
    expect(await runner.tick()).toBe(1);
    const paid = await answer;
    expect(paid.status).toBe(200);
    expect(paid.body.flows.map((f: any) => f.id)).toEqual([flowId]);
    expect(paid.body.action.qr_code).toStartWith(world.sandboxUrl);
  });
});
