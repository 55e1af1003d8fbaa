/**
 * The counting half of a risk decision, judged by counter rather than by rule. The limits and
 * velocities of a rule set share a handful of counters (a subject's China-time day or month, a
 * subject's window: compileRule), so what all the rules on one counter ask of it is worked out
 * once per rule set (`countingPlans`): the tightest maxima of the rules that refuse, which the
 * counters refuse by, and of all its rules, below which none could hit. An order then asks each
 * of its counters once (`counterAsks`), whatever the number of rules, and a counter's rules are
 * looked at one by one only when what it held could make one of them hit (`counterHits`) — for
 * the bench's 40 counting rules, 9 questions and, nearly always, no rule looked at.
 */
import { type CounterRef, type Compiled, type Facts, type Hit, counterName, day_ms, hitOf, window_period } from './evaluate.ts';
import { type ListSubject, type Rule, limit_currency } from './rules.ts';
import { assert } from '../failures.ts';

/**
 * A span of a window that its rules count: the tightest maximum of the rules on it that refuse
 * (null: none refuses) and of all of them (`need`: while the count stays within it, none hits).
 */
export type SpanPlan = Readonly<{ spanMs: number; countMax: number | null; need: number }>;

/** One rule judging its counter: its maxima as they apply to the order's currency, and a window's span it counts (`spans[span]`). */
type Judge = Readonly<{ rule: Rule; countMax: number | null; amountMax: number | null; span: number }>;

/**
 * A counter the enabled rules count in and what they ask of it together. A limit (`period` day
 * or month): the tightest maxima of its refusing rules (`countMax`, `amountMax`) and of all its
 * rules (`needCount`, `needAmount`). A window (`period` null): each span its rules count, the
 * longest first — the window keeps that much.
 */
export type CounterPlan = Readonly<{
  prefix: string; subject: ListSubject; hold: string; period: 'day' | 'month' | null;
  countMax: number | null; amountMax: number | null; needCount: number | null; needAmount: number | null;
  spans: readonly SpanPlan[]; judges: readonly Judge[];
}>;

/**
 * The plans for an order in CNY, and for one in another currency: a limit's amount counts CNY
 * alone, so there its amount maxima do not apply, and a limit of an amount alone not at all.
 */
export type CountingPlans = Readonly<{ cny: readonly CounterPlan[]; other: readonly CounterPlan[] }>;

export function countingPlans(counting: readonly Compiled[]): CountingPlans {
  return { cny: plansOf(counting, true), other: plansOf(counting, false) };
}

type Maxima = { countMax: number | null; amountMax: number | null; spanMs: number };

function plansOf(counting: readonly Compiled[], cny: boolean): CounterPlan[] {
  const byHold = new Map<string, { compiled: Compiled; judged: Array<{ rule: Rule } & Maxima> }>();
  for (const compiled of counting) {
    const maxima = maximaOf(compiled, cny);
    if (maxima === null || compiled.hold === null) continue;
    const counter = byHold.get(compiled.hold) ?? { compiled, judged: [] };
    counter.judged.push({ rule: compiled.rule, ...maxima });
    byHold.set(compiled.hold, counter);
  }
  return [...byHold.values()].map(({ compiled, judged }) => planOf(compiled, judged));
}

/** A counting rule's maxima for an order in CNY or not; null when it then asks nothing of its counter. */
function maximaOf({ rule, amountMax }: Compiled, cny: boolean): Maxima | null {
  if (rule.kind === 'velocity') return { countMax: rule.params.count, amountMax: null, spanMs: rule.params.window_s * 1000 };
  if (rule.kind !== 'limit') return null;
  const countMax = rule.params.count ?? null;
  const amount = cny ? amountMax : null;
  return countMax === null && amount === null ? null : { countMax, amountMax: amount, spanMs: 0 };
}

function planOf({ rule, bucketPrefix, hold }: Compiled, judged: Array<{ rule: Rule } & Maxima>): CounterPlan {
  if (bucketPrefix === null || hold === null || (rule.kind !== 'limit' && rule.kind !== 'velocity')) {
    throw new Error(`assertion failed: rule ${rule.code} counts in no counter`);
  }
  const refusing = judged.filter((j) => j.rule.action === 'reject');
  const common = { prefix: bucketPrefix, subject: rule.params.subject, hold };
  if (rule.kind === 'limit') {
    if (rule.params.period === 'single') throw new Error(`assertion failed: single limit ${rule.code} counts in no counter`);
    return {
      ...common, period: rule.params.period, spans: [],
      countMax: tightest(refusing.map((j) => j.countMax)), amountMax: tightest(refusing.map((j) => j.amountMax)),
      needCount: tightest(judged.map((j) => j.countMax)), needAmount: tightest(judged.map((j) => j.amountMax)),
      judges: judged.map(({ rule, countMax, amountMax }) => ({ rule, countMax, amountMax, span: 0 })),
    };
  }
  const spansMs = [...new Set(judged.map((j) => j.spanMs))].sort((a, b) => b - a);
  const spans = spansMs.map((spanMs) => {
    const on = judged.filter((j) => j.spanMs === spanMs);
    const need = tightest(on.map((j) => j.countMax));
    assert(need !== null, `a velocity rule of ${hold} has no count`);
    return { spanMs, countMax: tightest(on.filter((j) => j.rule.action === 'reject').map((j) => j.countMax)), need };
  });
  return {
    ...common, period: null, spans, countMax: null, amountMax: null, needCount: null, needAmount: null,
    judges: judged.map(({ rule, countMax, spanMs }) => ({ rule, countMax, amountMax: null, span: spansMs.indexOf(spanMs) })),
  };
}

/** The smallest of some maxima (null: no maximum). */
function tightest(maxima: Array<number | null>): number | null {
  let least: number | null = null;
  for (const max of maxima) if (max !== null && (least === null || max < least)) least = max;
  return least;
}

/** What one order asks of one counter: its plan for the order's subject (`key`) and period, what the order adds, and until when it is kept. */
export type CounterAsk = CounterRef & { plan: CounterPlan; amount: number; expiresAt: number };

/** The counters an order asks, one a plan whose subject it names. */
export function counterAsks(plans: readonly CounterPlan[], facts: Facts): CounterAsk[] {
  const c = facts.candidate;
  const amount = c.currency === limit_currency ? c.amount : 0;
  const asks: CounterAsk[] = [];
  for (const plan of plans) {
    const key = facts.counterKey(plan.subject);
    if (key === null) continue;
    if (plan.period === null) {
      asks.push({ prefix: plan.prefix, key, period: window_period, plan, amount: 0, expiresAt: c.at + plan.spans[0]!.spanMs });
    } else {
      const period = facts.period(plan.period);
      // Kept a day past its period's end.
      asks.push({ prefix: plan.prefix, key, period: period.key, plan, amount, expiresAt: period.endsAt + day_ms });
    }
  }
  return asks;
}

/**
 * What a counter held before this order: a limit's count and sum; a window's count within each
 * of its plan's spans (`spans[k]`; `count` is the longest's, `amount` 0). A shorter span on which
 * no rule could hit even with the whole window in it (`spanCounted` false) may read the window's
 * count: only a rule that hits shows what it saw, and its span was counted exactly.
 */
export type Held = { count: number; amount: number; spans: number[] };

/** Whether a window's shorter span must be counted: with all `size` orders of its window in it, a rule on it could hit. */
export const spanCounted = (span: SpanPlan, size: number): boolean => size + 1 > span.need;

/** Whether `held` plus this order passes a maximum (null: none). */
const passes = (max: number | null, held: number, adding: number): boolean => max !== null && held + adding > max;

/** Whether no counter refuses the order (`held[i]` is what `asks[i]`'s counter held). */
export const allowedBy = (asks: readonly CounterAsk[], held: readonly Held[]): boolean => !asks.some((ask, i) => refuses(ask, held[i]!));

/** Whether the counter refuses the order: it would pass a refusing rule's maximum. */
export function refuses(ask: CounterAsk, held: Held): boolean {
  const { plan } = ask;
  if (plan.period !== null) return passes(plan.countMax, held.count, 1) || passes(plan.amountMax, held.amount, ask.amount);
  return plan.spans.some((span, k) => passes(span.countMax, held.spans[k]!, 1));
}

/** The counter's rules that hit, with what each saw; none is looked at when what it held can make none hit. */
export function counterHits(ask: CounterAsk, held: Held): Hit[] {
  const { plan } = ask;
  const could = plan.period !== null
    ? passes(plan.needCount, held.count, 1) || passes(plan.needAmount, held.amount, ask.amount)
    : plan.spans.some((span, k) => passes(span.need, held.spans[k]!, 1));
  if (!could) return [];
  const hits: Hit[] = [];
  for (const { rule, countMax, amountMax, span } of plan.judges) {
    const count = plan.period !== null ? held.count : held.spans[span]!;
    if (passes(countMax, count, 1) || passes(amountMax, held.amount, ask.amount)) {
      hits.push(hitOf(rule, { count, amount: held.amount, count_max: countMax, amount_max: amountMax, bucket: counterName(ask) }));
    }
  }
  return hits;
}
