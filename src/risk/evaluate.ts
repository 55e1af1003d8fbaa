/**
 * The pure half of a risk decision: which rules an order hits, from the rules, the lists and the
 * payer's history, and the facts and counter names the counting rules share. Limits and
 * velocities are planned and judged by counter in counting.ts; counting itself (check and
 * reserve in one atomic step) is the counters' job.
 */
import type { PaymentContext, RiskVerdict } from '../../machines/payment.model.ts';
import { chinaDate, chinaDayStart } from '../channels/china-time.ts';
import { parseAmount } from '../money.ts';
import type { Currency } from '../money.ts';
import { type Address, type Range, parseAddress, parseRange } from '../net/ip.ts';
import type { RegionOf } from './region.ts';
import { type ListEntry, type ListSubject, type Rule, type Settings, limit_currency, list_subjects } from './rules.ts';

/** The order as risk sees it. */
export type Candidate = {
  orderId: string; merchantId: string; amount: number; currency: Currency;
  userId: string | null; deviceId: string | null; clientIp: string | null; at: number;
};

export const candidateOf = (ctx: PaymentContext, at: number): Candidate => ({
  orderId: ctx.id, merchantId: ctx.merchantId, amount: ctx.amount, currency: ctx.currency,
  userId: ctx.details.userId, deviceId: ctx.details.deviceId, clientIp: ctx.details.clientIp, at,
});

/** A rule that hit and the values it saw (recorded on the order's timeline). */
export type Hit = { code: string; kind: Rule['kind']; action: Rule['action']; score: number; saw: Record<string, unknown> };

/** Earlier paid orders of the candidate's payer, newest first: amounts in the candidate's currency, and regions. */
export type History = { amounts: number[]; regions: string[] };

/**
 * The lists as risk looks them up: exact values by subject, and CIDR ranges indexed by prefix
 * length — one map per length in use, from network address to entry — so an address is looked
 * up once per length (a handful), not compared with every range. Longest prefix first: the most
 * specific entry is the one named.
 */
export type Lists = { exact: Map<ListSubject, Map<string, string>>; ranges: RangeIndex };
type RangeIndex = Array<{ family: 4 | 6; hostBits: bigint; networks: Map<bigint, string> }>;

export function compileLists(entries: ListEntry[]): Lists {
  const lists: Lists = { exact: new Map(), ranges: [] };
  for (const entry of entries) addListEntry(lists, entry);
  return lists;
}

/**
 * Takes one more entry into compiled lists. Entries come in id order: a later entry with the same
 * value names that value, while of two identical ranges the first stays named, as they always were.
 */
export function addListEntry(lists: Lists, entry: ListEntry): void {
  const range = entry.subject === 'ip' && entry.value.includes('/') ? parseRange(entry.value) : null;
  if (!range) {
    const value = entry.subject === 'ip' ? normalizedIp(entry.value) : entry.value;
    lists.exact.set(entry.subject, (lists.exact.get(entry.subject) ?? new Map()).set(value, entry.id));
    return;
  }
  const hostBits = hostBitsOf(range);
  let length = lists.ranges.find((r) => r.family === range.family && r.hostBits === hostBits);
  if (!length) {
    length = { family: range.family, hostBits, networks: new Map() };
    lists.ranges.push(length);
    lists.ranges.sort((a, b) => (a.family - b.family) || Number(a.hostBits - b.hostBits));
  }
  if (!length.networks.has(range.first)) length.networks.set(range.first, entry.id);
}

/** How many low bits a CIDR range leaves to its hosts (first and last differ exactly there). */
function hostBitsOf(range: Range): bigint {
  let bits = 0n;
  while ((range.first ^ range.last) >> bits !== 0n) bits += 1n;
  return bits;
}

/** One spelling per address (`::FFFF:1.2.3.4` and `1.2.3.4` are the same payer). */
const addressKey = (address: Address): string => `${address.family}:${address.bits}`;

function normalizedIp(text: string): string {
  const address = parseAddress(text);
  return address ? addressKey(address) : text;
}

const subjectValue = (c: Candidate, subject: ListSubject): string | null =>
  subject === 'user' ? c.userId : subject === 'device' ? c.deviceId : subject === 'ip' ? c.clientIp : c.merchantId;

function listed(lists: Lists, subject: ListSubject, value: string): string | null {
  if (subject !== 'ip') return lists.exact.get(subject)?.get(value) ?? null;
  const address: Address | null = parseAddress(value);
  const exact = lists.exact.get('ip')?.get(address ? addressKey(address) : value);
  if (exact || !address) return exact ?? null;
  for (const { family, hostBits, networks } of lists.ranges) {
    if (family !== address.family) continue;
    const entry = networks.get((address.bits >> hostBits) << hostBits);
    if (entry) return entry;
  }
  return null;
}

/** A limit's amount in minor units of CNY (validated when the rule was written). */
export function limitAmount(text: string | undefined): number | null {
  if (text === undefined) return null;
  const parsed = parseAmount(text, limit_currency);
  if (!parsed.ok) throw new Error(`assertion failed: a stored limit amount ${text} does not parse`);
  return parsed.minor;
}

/** A window's period part: a window is one counter whatever the day. */
export const window_period = 'w';

/**
 * A rule with what it needs worked out once, when the rules are loaded (not on every order): its
 * amount parsed, and for a rule that counts, the start of its counter's name and the hold an
 * order records for that counter (see `heldCounters`).
 *
 * A limit's counter belongs to a subject and a period, not to the rule: every limit on a payer's
 * China-time day reads one count and sum of that payer's orders of the day, each judging it
 * against its own maximum, so an order joins one counter per subject and period however many
 * limits name them (the bench's 20 limits: 6 counters, 2 of them merchant-wide instead of 7).
 * Windows are shared the same way: one counter per subject holds its orders by time, as far back
 * as the longest window asks, and each velocity rule counts those within its own span (the
 * bench's 20 velocities: 3 counters instead of 20).
 */
export type Compiled = { rule: Rule; amountMax: number | null; bucketPrefix: string | null; hold: string | null };
export function compileRule(rule: Rule): Compiled {
  const amountMax = rule.kind === 'limit' ? limitAmount(rule.params.amount) : null;
  if (rule.kind === 'velocity') {
    const bucketPrefix = `w|${rule.params.subject}|`;
    return { rule, amountMax, bucketPrefix, hold: `${bucketPrefix}${window_period}` };
  }
  if (rule.kind === 'limit' && rule.params.period !== 'single') {
    const bucketPrefix = `l|${rule.params.subject}|`;
    return { rule, amountMax, bucketPrefix, hold: `${bucketPrefix}${rule.params.period}` };
  }
  return { rule, amountMax, bucketPrefix: null, hold: null };
}

/**
 * What the rules ask about one order, each worked out at most once however many rules ask: the
 * list entry of each subject, the region of its address, the China-time periods it falls in.
 */
export type Facts = {
  candidate: Candidate;
  history: History | null;
  listed(subject: ListSubject): string | null;
  /** `merchant|subject value` as it ends a counter's name (before its period), or null without that value. */
  counterKey(subject: ListSubject): string | null;
  region(): string | null;
  period(period: 'day' | 'month'): Period;
};

/** A subject's part of a counter's name: `merchant|value`, the value URI-encoded (so it holds no `|`). */
function subjectKey(c: Candidate, subject: ListSubject): string | null {
  const value = subjectValue(c, subject);
  return value === null ? null : `${c.merchantId}|${encodeURIComponent(value)}`;
}

export function factsOf(c: Candidate, lists: Lists, history: History | null, regionOf: RegionOf): Facts {
  const entries = new Map<ListSubject, string | null>();
  const keys = new Map<ListSubject, string | null>();
  let region: string | null | undefined;
  return {
    candidate: c,
    history,
    listed(subject) {
      if (!entries.has(subject)) {
        const value = subjectValue(c, subject);
        entries.set(subject, value === null ? null : listed(lists, subject, value));
      }
      return entries.get(subject)!;
    },
    counterKey(subject) {
      if (!keys.has(subject)) keys.set(subject, subjectKey(c, subject));
      return keys.get(subject)!;
    },
    region() {
      if (region === undefined) region = c.clientIp === null ? null : regionOf(c.clientIp);
      return region;
    },
    period: (period) => periodOf(period, c.at),
  };
}

export const hitOf = (rule: Rule, saw: Record<string, unknown>): Hit => ({ code: rule.code, kind: rule.kind, action: rule.action, score: rule.score, saw });

/** The hit of one rule that needs no counter, or null (also for rules that count: see counting.ts). */
export function statelessHit({ rule, amountMax }: Compiled, facts: Facts): Hit | null {
  const c = facts.candidate;
  const history = facts.history;
  switch (rule.kind) {
    case 'blacklist': {
      for (const subject of rule.params.subjects) {
        const entry = facts.listed(subject);
        if (entry) return hitOf(rule, { subject, value: subjectValue(c, subject), entry });
      }
      return null;
    }
    case 'limit': {
      if (rule.params.period !== 'single' || c.currency !== limit_currency) return null;
      return amountMax !== null && c.amount > amountMax ? hitOf(rule, { amount: c.amount, limit: amountMax }) : null;
    }
    case 'amount_anomaly': {
      const amounts = history?.amounts ?? [];
      if (amounts.length < rule.params.min_history) return null;
      const sum = amounts.reduce((a, b) => a + b, 0);
      // amount > factor × average, without dividing.
      return c.amount * amounts.length > rule.params.factor * sum
        ? hitOf(rule, { amount: c.amount, average: Math.round(sum / amounts.length), history: amounts.length }) : null;
    }
    case 'location_anomaly': {
      const regions = history?.regions ?? [];
      if (regions.length < rule.params.min_history) return null;
      const region = facts.region();
      if (region === null || regions.includes(region)) return null;
      return hitOf(rule, { region, known: [...new Set(regions)].slice(0, 10) });
    }
    case 'velocity':
      return null;
  }
}

/**
 * A counter by its parts: `prefix`, its kind and subject (`l|user|` a limit's, `w|device|` a
 * window's), compiled with the rules; `key`, the order's subject
 * (`merchant|value`); `period`, its China-time day or month (a window's is `w`). Where a name is
 * needed — a Redis key, a Postgres row, a hit's `saw` — it is the three joined (`counterName`);
 * the memory counters look the parts up one after the other and build no name.
 */
export type CounterRef = { prefix: string; key: string; period: string };
export const counterName = (ref: CounterRef): string => `${ref.prefix}${ref.key}|${ref.period}`;
/** A limit's counter (an order's share returns when it closes), not a window's. */
export const isLimitCounter = (ref: CounterRef): boolean => ref.prefix.startsWith('l|');
export const day_ms = 86_400_000;
/** When the China-time month holding `at` began, or the one `monthsOn` months later. */
export function chinaMonthStart(at: number, monthsOn = 0): number {
  const [year, month] = chinaDate(at).split('-').map(Number) as [number, number];
  // UTC midnight of the 1st is 08:00 of the 1st in China: its China day is the month's first.
  return chinaDayStart(Date.UTC(year, month - 1 + monthsOn, 1));
}

/** A China-time day or month: its key in a counter's name, and when it ends. Shared by every order in it, so never changed. */
type Period = Readonly<{ key: string; endsAt: number }>;
/** The China-time day and month of the latest order asked about: orders arrive in time order, so nearly all fall in them. */
let latestPeriods: { dayStart: number; day: Period; month: Period } | null = null;

function periodOf(period: 'day' | 'month', at: number): Period {
  const dayStart = chinaDayStart(at);
  if (latestPeriods?.dayStart !== dayStart) {
    const date = chinaDate(at);
    latestPeriods = { dayStart, day: { key: date, endsAt: dayStart + day_ms }, month: { key: date.slice(0, 7), endsAt: chinaMonthStart(at, 1) } };
  }
  return latestPeriods[period];
}

/**
 * The counters an order holds, from the holds it recorded at create (`riskHolds`) and the order
 * itself: a hold is its counter's prefix and period kind (`l|user|day`, `w|ip|w`), and the order
 * gives the subject's value and, from its creation time, the day or month — the very parts its
 * reservation used. Holds written before counters were shared name their rule: whole names
 * (`l|code|subject|merchant|value|period`) and windows' short holds (`w|code|ip|w`). They are read
 * as their subject's counter, so a restart of a single instance seeds them where they now count.
 */
export function heldCounters(order: Candidate, holds: readonly string[]): CounterRef[] {
  return holds.map((hold) => {
    const parts = hold.split('|');
    // An order is a member, so releasing it from a counter it was never counted in (Redis,
    // Postgres: it was, under its rule's name) changes nothing.
    if (parts.length === 6) return { prefix: `${parts[0]}|${parts[2]}|`, key: `${parts[3]}|${parts[4]}`, period: parts[5]! };
    const ruleNamed = parts.length === 4 && parts[0] === 'w';
    const [kind, named, period] = ruleNamed ? [parts[0], parts[2], parts[3]] : parts;
    const subject = list_subjects.find((s) => s === named);
    // A hold is recorded only for a counter reserved, so the order names its subject.
    const key = subject === undefined ? null : subjectKey(order, subject);
    const prefix = `${kind}|${subject}|`;
    if (key !== null && (parts.length === 3 || ruleNamed)) {
      if (kind === 'w' && period === window_period) return { prefix, key, period };
      if (kind === 'l' && (period === 'day' || period === 'month')) return { prefix, key, period: periodOf(period, order.at).key };
    }
    throw new Error(`assertion failed: order ${order.orderId} holds ${hold}, which names no counter of it`);
  });
}

/** The counters an order was counted in at its create (its reservation ran at its creation time). */
export const countersHeldBy = (ctx: PaymentContext): CounterRef[] => heldCounters(candidateOf(ctx, ctx.createdAt), ctx.riskHolds ?? []);

export type Decision = { decision: 'allow' | 'review' | 'reject'; score: number; rules: string[] };

/** Reject rules refuse at once; review rules add their scores, judged against the settings. */
export function decide(hits: Hit[], settings: Settings): Decision {
  const rejecting = hits.filter((h) => h.action === 'reject').map((h) => h.code);
  const score = hits.filter((h) => h.action === 'review').reduce((sum, h) => sum + h.score, 0);
  const codes = hits.map((h) => h.code);
  if (rejecting.length > 0) return { decision: 'reject', score, rules: rejecting };
  if (score >= settings.rejectAt) return { decision: 'reject', score, rules: codes };
  return { decision: score >= settings.reviewAt ? 'review' : 'allow', score, rules: codes };
}

/**
 * The order's verdict once a pay was judged. A pay judges again only the rules that need no
 * counter (the order keeps its counters' shares from its create), so what the create or an
 * earlier pay found stays: each rule's latest hit, the scores of the review rules among them
 * added up, `review` when either verdict was or the sum reaches review_at. Whether the pay is
 * refused is its own decision (decide), made before this.
 */
export function combinedVerdict(before: RiskVerdict | undefined, pay: RiskVerdict, settings: Settings): RiskVerdict {
  if (!before) return pay;
  const byCode = new Map(before.hits.map((hit) => [hit.code, hit]));
  for (const hit of pay.hits) byCode.set(hit.code, hit);
  const hits = [...byCode.values()];
  const score = hits.filter((hit) => hit.action === 'review').reduce((sum, hit) => sum + hit.score, 0);
  const review = before.decision === 'review' || pay.decision === 'review' || score >= settings.reviewAt;
  return { decision: review ? 'review' : 'allow', score, rules: hits.map((hit) => hit.code), hits };
}
