/**
 * The payer's paid history the anomaly rules read, as one instance keeps it: a payment this
 * instance hears counts at the next create. Where instances may share the store (Postgres), one
 * recorded elsewhere shows within history_fresh_ms, by the injected clock; with Redis, a payment
 * one instance hears drops the payer's copy on every other at once, and one never announced shows
 * within history_fresh_with_pubsub_ms; a single SQLite instance, which hears every payment itself,
 * reads a payer's history once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Registry } from 'prom-client';
import { ManualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import Redis from 'ioredis';
import { history_fresh_ms, history_fresh_with_pubsub_ms } from '../../src/risk/center.ts';
import { type Risk, openRisk } from '../../src/risk/open.ts';
import { ruleOf } from '../../src/risk/rules.ts';
import type { OrderWrite } from '../../src/store/store.ts';
import { type FreshStore, freshStore } from '../store/stores.ts';

const t0 = Date.parse('2026-12-01T04:00:00.000Z');

/** The anomaly rule every test here looks for: an amount over twice the payer's average, after one paid order. */
const largeRule = () => {
  const parsed = ruleOf({
    code: 'large', kind: 'amount_anomaly', action: 'review', score: 10, status: 'enabled', params: { factor: 2, min_history: 1 }, createdAt: t0, updatedAt: t0,
  });
  if (!parsed.ok) throw new Error(parsed.issue.message);
  return parsed.rule;
};

/** Whether a create of 100.00 by this payer hits the anomaly rule (its history: 10.00 payments). */
async function looksLarge(risk: Risk, clock: ManualClock, orderId: string, userId: string): Promise<boolean> {
  const assessed = await risk.center.assessCreate({ orderId, merchantId: 'M1', amount: 10_000, currency: 'CNY', userId, deviceId: null, clientIp: null, at: clock.now() });
  if (!assessed.ok) throw new Error('refused');
  await assessed.cancel();
  return assessed.verdict.rules.includes('large');
}

/** What the engine hands the risk center when an order of this payer succeeds (only the fields it reads). */
function succeeded(clock: ManualClock, orderId: string, userId: string): OrderWrite {
  const context = { id: orderId, merchantId: 'M1', amount: 1_000, currency: 'CNY', details: { userId, clientIp: null }, riskHolds: [] };
  // Test data shaped like the engine's write; the center reads the events, the context and updatedAt.
  return { merchantEvents: [{ type: 'payment.succeeded' }], order: { snapshot: { context }, updatedAt: clock.now() } } as unknown as OrderWrite;
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`history on ${kind}`, () => {
    const clock = new ManualClock(t0);
    let fresh: FreshStore;
    let risk: Risk;
    let serial = 0;

    beforeAll(async () => {
      fresh = await freshStore(kind);
      risk = await openRisk({ databaseUrl: fresh.url, store: fresh.store, redis: undefined, clock, log: createLogger('error'), registry: new Registry() });
      await risk.repo.insertRule(largeRule());
      await risk.center.changed();
    }, 60_000);

    afterAll(async () => {
      await risk?.close();
      await fresh?.dispose();
    });

    const large = (userId: string) => looksLarge(risk, clock, `pay_${serial++}`, userId);

    /** A payment written to the history table by someone else than this instance. */
    const recordedElsewhere = (orderId: string, userId: string) =>
      risk.repo.recordPaid({ orderId, merchantId: 'M1', userId, amount: 1_000, currency: 'CNY', region: null, paidAt: clock.now() });

    test('a payment heard here counts at the next create, even right after a read', async () => {
      expect(await large('u1')).toBe(false);
      await risk.center.committed(succeeded(clock, 'pay_paid_1', 'u1'));
      expect(await large('u1')).toBe(true);
    });

    if (kind === 'postgres') {
      test('a payment recorded by another instance shows within history_fresh_ms, not before', async () => {
        expect(await large('u2')).toBe(false);
        await recordedElsewhere('pay_paid_2', 'u2');
        clock.advance(history_fresh_ms - 1);
        expect(await large('u2')).toBe(false);
        clock.advance(1);
        expect(await large('u2')).toBe(true);
      });
    } else {
      test('a single instance reads a payer\'s history once: only a payment it hears changes its copy', async () => {
        expect(await large('u2')).toBe(false);
        // No other instance writes here; a row slipped in behind its back shows that the copy is not read again.
        await recordedElsewhere('pay_paid_2', 'u2');
        clock.advance(60 * history_fresh_ms);
        expect(await large('u2')).toBe(false);
        await risk.center.committed(succeeded(clock, 'pay_paid_3', 'u2'));
        expect(await large('u2')).toBe(true);
      });
    }
  });
}

describe('history with Redis: every instance hears every payment', () => {
  const clock = new ManualClock(t0);
  let fresh: FreshStore;
  const redises: Redis[] = [];
  const instances: Risk[] = [];

  beforeAll(async () => {
    fresh = await freshStore('postgres');
    for (let i = 0; i < 2; i++) {
      const redis = new Redis(process.env.TEST_REDIS_URL!);
      redises.push(redis);
      instances.push(await openRisk({ databaseUrl: fresh.url, store: fresh.store, redis, clock, log: createLogger('error'), registry: new Registry() }));
    }
    await instances[0]!.repo.insertRule(largeRule());
    for (const risk of instances) await risk.center.changed();
  }, 60_000);

  afterAll(async () => {
    for (const risk of instances) await risk.close();
    for (const redis of redises) redis.disconnect();
    await fresh?.dispose();
  });

  test('a payment one instance hears drops the payer\'s copy on the other at once; one never announced shows within history_fresh_with_pubsub_ms', async () => {
    const [here, there] = instances as [Risk, Risk];
    const userId = `u-${t0}-bus`;
    expect(await looksLarge(there, clock, 'pay_bus_0', userId)).toBe(false);
    await here.center.committed(succeeded(clock, 'pay_bus_1', userId));
    // Pub/sub is another process's delivery: wait for it (no clock moves), a bounded while.
    const deadline = Date.now() + 5_000;
    let seen = false;
    for (let i = 1; !seen && Date.now() < deadline; i++) {
      seen = await looksLarge(there, clock, `pay_bus_w${i}`, userId);
      if (!seen) await Bun.sleep(20);
    }
    expect(seen).toBe(true);

    const quiet = `u-${t0}-quiet`;
    expect(await looksLarge(there, clock, 'pay_quiet_0', quiet)).toBe(false);
    await there.repo.recordPaid({ orderId: 'pay_quiet_1', merchantId: 'M1', userId: quiet, amount: 1_000, currency: 'CNY', region: null, paidAt: clock.now() });
    clock.advance(history_fresh_with_pubsub_ms - 1);
    expect(await looksLarge(there, clock, 'pay_quiet_2', quiet)).toBe(false);
    clock.advance(1);
    expect(await looksLarge(there, clock, 'pay_quiet_3', quiet)).toBe(true);
  });
});
