/**
 * Routing strategies: smart ranks by success rate × weight and explores a small share of the
 * time; weighted follows the weights; lowest_fee the fee rate, ties by weight. The random source
 * is seeded (the seed is printed) so a run replays.
 */
import { describe, expect, test } from 'bun:test';
import { seededRandom as seeded } from '../../src/sandbox/crypto.ts';
import { type Candidate, explore_share, feeRateTenThousandths, isFeeRate, rank } from '../../src/routing/strategies.ts';

const seed = Number(process.env.ROUTING_SEED ?? Date.now() % 1_000_000);
console.log(`strategies.test.ts seed ${seed} (ROUTING_SEED=${seed} replays it)`);

const channel = (code: string, weight: number, calls = 0, failures = 0, feeRate = '0'): Candidate => ({ code, weight, feeRate, calls, failures });

describe('routing strategies', () => {
  test('smart: success rate × weight decides; an unwell heavy channel ranks below a healthy light one', () => {
    const candidates = [channel('heavy', 100, 100, 60), channel('light', 50, 100, 0), channel('fresh', 30)];
    const ranking = rank('smart', candidates, () => 0.99);
    expect(ranking.order).toEqual(['light', 'heavy', 'fresh']);
    expect(ranking.explored).toBe(false);
  });

  test(`smart explores ${explore_share * 100} % of decisions (±2 %) over 10,000 seeded decisions, spread over the others`, () => {
    const random = seeded(seed);
    const candidates = [channel('a', 100, 50, 0), channel('b', 80, 50, 0), channel('c', 60, 50, 0)];
    const firsts = new Map<string, number>();
    const decisions = 10_000;
    for (let i = 0; i < decisions; i++) {
      const first = rank('smart', candidates, random).order[0]!;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    const explored = (decisions - (firsts.get('a') ?? 0)) / decisions;
    expect(Math.abs(explored - explore_share)).toBeLessThanOrEqual(0.02);
    expect(firsts.get('b')).toBeGreaterThan(0);
    expect(firsts.get('c')).toBeGreaterThan(0);
  });

  test('smart never explores a standby (weight 0): it stays last, for failover', () => {
    const candidates = [channel('a', 100, 50, 0), channel('standby', 0, 0, 0)];
    for (const r of [0, 0.01, 0.04]) {
      const ranking = rank('smart', candidates, () => r);
      expect([ranking.order, ranking.explored]).toEqual([['a', 'standby'], false]);
    }
  });

  test('smart with one candidate never explores', () => {
    expect(rank('smart', [channel('only', 1)], () => 0).order).toEqual(['only']);
  });

  test('weighted: the first pick follows the weights (seeded, ±2 %); the rest follow by weight', () => {
    const random = seeded(seed + 1);
    const candidates = [channel('a', 75), channel('b', 25), channel('zero', 0)];
    let a = 0;
    for (let i = 0; i < 10_000; i++) {
      const { order } = rank('weighted', candidates, random);
      if (order[0] === 'a') a++;
      expect(order[0]).not.toBe('zero');
      expect(order).toHaveLength(3);
    }
    expect(Math.abs(a / 10_000 - 0.75)).toBeLessThanOrEqual(0.02);
  });

  test('lowest_fee: the lowest fee rate first, ties by weight, then by code', () => {
    const candidates = [channel('x', 10, 0, 0, '0.006'), channel('y', 10, 0, 0, '0.0038'), channel('z', 90, 0, 0, '0.0038'), channel('w', 90, 0, 0, '0.0038')];
    expect(rank('lowest_fee', candidates, () => 0).order).toEqual(['w', 'z', 'y', 'x']);
  });

  test('fee rates: decimals 0 to 1 with at most 4 places, compared exactly', () => {
    expect(['0', '0.0060', '1', '1.0000', '0.0001'].every(isFeeRate)).toBe(true);
    expect(['', '.5', '1.1', '0.00001', '-0.1', '2', '0,5', ' 0.1'].some(isFeeRate)).toBe(false);
    expect(feeRateTenThousandths('0.0060')).toBe(60);
    expect(feeRateTenThousandths('0.006')).toBe(60);
    expect(feeRateTenThousandths('1')).toBe(10_000);
  });
});
