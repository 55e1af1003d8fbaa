/**
 * How a merchant's payments pick among the routable channels (API.md "Routing"): pure functions
 * from candidates and a random source to an order of preference — the first is tried, the rest
 * are the failover order. The random source is injected so that a seeded run replays exactly.
 */
import { successRate } from './window.ts';

export const routingStrategies = ['smart', 'weighted', 'lowest_fee'] as const;
export type RoutingStrategy = (typeof routingStrategies)[number];

/** A routable channel as the strategies see it. */
export type Candidate = { code: string; weight: number; feeRate: string; calls: number; failures: number };

/**
 * smart: the share of decisions sent to a channel not ranked first, so that a channel whose
 * window looks bad (or is empty after recovery) is still tried now and then and noticed.
 */
export const explore_share = 0.05;

/** Digits a fee rate may have after the point ("0.0060" is 0.6 %): ten-thousandths, as providers quote them. */
export const fee_rate_decimals_max = 4;
const feeRatePattern = new RegExp(`^(0(\\.\\d{1,${fee_rate_decimals_max}})?|1(\\.0{1,${fee_rate_decimals_max}})?)$`);
export const isFeeRate = (text: string): boolean => feeRatePattern.test(text);

/** A fee rate as an integer count of ten-thousandths, for exact comparison (and reconciliation's fee check). */
export function feeRateTenThousandths(text: string): number {
  if (!isFeeRate(text)) throw new Error(`assertion failed: fee rate ${text} was not validated`);
  const [whole, fraction = ''] = text.split('.');
  return Number(whole) * 10 ** fee_rate_decimals_max + Number(fraction.padEnd(fee_rate_decimals_max, '0'));
}

export type Ranking = { order: string[]; explored: boolean; scores: Map<string, number> };

const byCode = (a: Candidate, b: Candidate) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);

/** Success rate in the window (1 without calls: nothing says the channel is unwell) times weight. */
export const smartScore = (c: Candidate): number => successRate(c) * c.weight;

export function rank(strategy: RoutingStrategy, candidates: readonly Candidate[], random: () => number): Ranking {
  switch (strategy) {
    case 'smart': return rankSmart(candidates, random);
    case 'weighted': return rankWeighted(candidates, random);
    case 'lowest_fee': return rankLowestFee(candidates);
  }
}

function rankSmart(candidates: readonly Candidate[], random: () => number): Ranking {
  const scored = candidates.map((c) => ({ c, score: smartScore(c) }));
  scored.sort((a, b) => b.score - a.score || b.c.weight - a.c.weight || byCode(a.c, b.c));
  const order = scored.map((s) => s.c.code);
  const scores = new Map(scored.map((s) => [s.c.code, s.score]));
  // A channel of weight 0 is a standby (failover only): exploring sends it no traffic either.
  const explorable = scored.slice(1).filter((s) => s.c.weight > 0).map((s) => s.c.code);
  const explored = explorable.length > 0 && random() < explore_share;
  if (explored) {
    const pick = explorable[Math.floor(random() * explorable.length)]!;
    order.unshift(...order.splice(order.indexOf(pick), 1));
  }
  return { order, explored, scores };
}

/** One channel at random in proportion to weight first; the others by weight. */
function rankWeighted(candidates: readonly Candidate[], random: () => number): Ranking {
  const order = [...candidates].sort((a, b) => b.weight - a.weight || byCode(a, b));
  const total = order.reduce((sum, c) => sum + c.weight, 0);
  let point = random() * total;
  const first = total === 0 ? 0 : Math.max(0, order.findIndex((c) => (point -= c.weight) < 0));
  const ranked = order.map((c) => c.code);
  ranked.unshift(...ranked.splice(first, 1));
  return { order: ranked, explored: false, scores: new Map(candidates.map((c) => [c.code, c.weight])) };
}

function rankLowestFee(candidates: readonly Candidate[]): Ranking {
  const order = [...candidates].sort((a, b) => feeRateTenThousandths(a.feeRate) - feeRateTenThousandths(b.feeRate) || b.weight - a.weight || byCode(a, b));
  return { order: order.map((c) => c.code), explored: false, scores: new Map(candidates.map((c) => [c.code, feeRateTenThousandths(c.feeRate)])) };
}
