/**
 * Property: over random sequences of channel answers (answered, 5xx, refusal), amounts and moves
 * of the clock, a channel whose shared breaker is open never receives a prepay — half-open probes
 * aside, one at a time — and routing never offers a channel past its limits. The real router,
 * breakers (held in a real SQLite store) and observed adapters run; only the providers are
 * played by scripted adapters. fast-check prints the seed; ROUTING_PROPERTY_SEED replays it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { type ChannelResult, channelFailure } from '../../src/channels/adapter.ts';
import { ChannelRegistry } from '../../src/channels/registry.ts';
import { ManualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { seal } from '../../src/secrets.ts';
import { default_breaker_settings } from '../../src/routing/breaker.ts';
import { StoreBoard } from '../../src/routing/breaker-board.ts';
import { Breakers } from '../../src/routing/breakers.ts';
import { ChannelHealth } from '../../src/routing/channel-health.ts';
import { DailyVolumes } from '../../src/routing/daily-volume.ts';
import { LocalHealth } from '../../src/routing/health.ts';
import { ObservedAdapter } from '../../src/routing/observed-adapter.ts';
import { Router } from '../../src/routing/router.ts';
import type { BreakerRow, ChannelRow, Store } from '../../src/store/store.ts';
import { t0, unique } from '../store/fixtures.ts';
import { PrepayOnlyProvider } from './instant-provider.ts';
import { type FreshStore, type StoreKind, freshStore, storeKinds } from '../store/stores.ts';

type Answer = 'answered' | '5xx' | 'refused';
const secretKey = new Uint8Array(32).fill(3);
const seed = Number(process.env.ROUTING_PROPERTY_SEED ?? Date.now() % 2_147_483_647);
console.log(`routing.properties.test.ts seed ${seed} (ROUTING_PROPERTY_SEED=${seed} replays it)`);

/** Plays one provider: answers each prepay as scripted and writes down the shared breaker's state at that moment. */
class ScriptedProvider extends PrepayOnlyProvider {
  readonly provider = 'alipay';
  answer: Answer = 'answered';
  readonly received: Array<{ breaker: BreakerRow }> = [];
  constructor(private readonly code: string, private readonly store: Store, private readonly clock: ManualClock) {
    super();
  }
  async prepay(): Promise<ChannelResult<{ action: { type: 'qr_code'; qrCode: string }; channelTradeNo: null }>> {
    const [breaker] = await this.store.loadBreakers([this.code]);
    this.received.push({ breaker: breaker! });
    if (this.answer === '5xx') return channelFailure('unavailable', 'HTTP 503');
    if (this.answer === 'refused') return channelFailure('rejected', 'ACQ.TRADE_HAS_CLOSE');
    return { ok: true, action: { type: 'qr_code', qrCode: 'https://qr.example' }, channelTradeNo: null };
  }
}

/** Property runs per store: Postgres round trips cost more. */
const runs: Record<StoreKind, number> = { sqlite: 40, postgres: 10 };

const channelSpec = fc.record({
  weight: fc.integer({ min: 0, max: 100 }),
  singleLimit: fc.option(fc.integer({ min: 1_000, max: 20_000 }), { nil: null }),
  dailyLimit: fc.option(fc.integer({ min: 1_000, max: 20_000 }), { nil: null }),
  enabled: fc.boolean(),
  /** Steps from the start during which the channel answers only 5xx: its breaker opens, then it recovers. */
  downSteps: fc.integer({ min: 0, max: 30 }),
});
const step = fc.record({
  amount: fc.integer({ min: 1, max: 25_000 }),
  answers: fc.array(fc.constantFrom<Answer>('answered', '5xx', '5xx', 'refused'), { minLength: 4, maxLength: 4 }),
  advanceMs: fc.constantFrom(0, 0, 500, 5_000, default_breaker_settings.openMs),
  strategy: fc.constantFrom('smart' as const, 'weighted' as const, 'lowest_fee' as const),
});

describe.each(storeKinds)('routing properties (breakers in %s)', (kind) => {
  let fresh: FreshStore;
  beforeAll(async () => {
    fresh = await freshStore(kind);
  }, 30_000);
  afterAll(() => fresh?.dispose());

  test('an open breaker never receives a prepay (probes aside); routing never offers a channel past its limits', async () => {
    await fc.assert(fc.asyncProperty(fc.array(channelSpec, { minLength: 2, maxLength: 4 }), fc.array(step, { minLength: 20, maxLength: 80 }), fc.nat(), async (specs, steps, randomSeed) => {
      const clock = new ManualClock(t0);
      const { store } = fresh;
      const log = createLogger('error');
      const windows = new LocalHealth();
      const breakers = new Breakers({ board: new StoreBoard(store), store, health: windows, clock, log }, default_breaker_settings);
      const health = new ChannelHealth({ windows, breakers, store, clock, log });
      const method = `m_${unique()}`;
      const rows: ChannelRow[] = specs.map((spec, i) => ({
        code: `p_${unique()}_${i}`, provider: 'alipay', methods: [method], currencies: ['CNY'], weight: spec.weight,
        singleLimit: spec.singleLimit, dailyLimit: spec.dailyLimit, status: spec.enabled ? 'enabled' : 'disabled',
        configEnc: seal(secretKey, '{}'), feeRate: `0.00${i}`, createdAt: t0, updatedAt: t0,
      }));
      for (const row of rows) await store.insertChannel(row);
      const providers = new Map(rows.map((row) => [row.code, new ScriptedProvider(row.code, store, clock)]));
      const adapters = new Map(rows.map((row) => [row.code, new ObservedAdapter(providers.get(row.code)!, row.code, health)]));
      let r = randomSeed;
      const random = () => ((r = (r * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
      const router = new Router({ channels: new ChannelRegistry({ store, secretKey, clock, publicUrl: 'http://127.0.0.1' }), volumes: new DailyVolumes({ store, clock }), health, random });

      for (const [n, s] of steps.entries()) {
        clock.advance(s.advanceMs);
        rows.forEach((row, i) => (providers.get(row.code)!.answer = n < specs[i]!.downSteps ? '5xx' : s.answers[i]!));
        const decision = await router.decide({ method, currency: 'CNY', amount: s.amount }, s.strategy);
        for (const code of decision.order) {
          const row = rows.find((c) => c.code === code)!;
          expect(row.status).toBe('enabled');
          if (row.singleLimit !== null) expect(s.amount).toBeLessThanOrEqual(row.singleLimit);
          if (row.dailyLimit !== null) expect(s.amount).toBeLessThanOrEqual(row.dailyLimit);
        }
        // The pay request's failover: down the order until one answers, as the payments service does.
        for (const code of decision.order) {
          const result = await adapters.get(code)!.prepay({
            flowId: `flw_${unique()}`, method, amount: s.amount, currency: 'CNY', subject: 's', expiresAt: clock.now() + 60_000,
            returnUrl: null, clientIp: null, payerId: null, now: clock.now(),
          });
          if (result.ok) break;
        }
      }
      for (const provider of providers.values()) {
        for (const { breaker } of provider.received) expect(breaker.state).not.toBe('open');
      }
    }), { seed, numRuns: runs[kind] });
  }, 300_000);
});
