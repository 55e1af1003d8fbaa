/** Each rule kind at its boundaries, as the pure half of the risk center judges it. */
import { describe, expect, test } from 'bun:test';
import { type CounterAsk, type Held, counterAsks, counterHits, countingPlans, refuses } from '../../src/risk/counting.ts';
import {
  type Candidate, type Compiled, combinedVerdict, compileLists, compileRule, counterName, decide, factsOf, heldCounters, statelessHit,
} from '../../src/risk/evaluate.ts';
import { inRange, parseAddress, parseRange } from '../../src/net/ip.ts';
import { regionOf } from '../../src/risk/region.ts';
import { type RuleKind, default_settings, ruleOf } from '../../src/risk/rules.ts';

function rule(kind: RuleKind, params: unknown, action: 'reject' | 'review' = 'reject', score = 0): Compiled {
  const parsed = ruleOf({ code: `r_${kind}`, kind, action, score, status: 'enabled', params, createdAt: 0, updatedAt: 0 });
  if (!parsed.ok) throw new Error(`${parsed.issue.field} ${parsed.issue.message}`);
  return compileRule(parsed.rule);
}

// 2026-12-01T15:59:59.999Z is 23:59:59.999 on 2026-12-01 in China.
const before_china_midnight = Date.parse('2026-12-01T15:59:59.999Z');

const candidate = (over: Partial<Candidate> = {}): Candidate => ({
  orderId: 'pay_1', merchantId: 'M1', amount: 10_000, currency: 'CNY', userId: 'u1', deviceId: 'd1', clientIp: '120.24.78.68',
  at: before_china_midnight, ...over,
});

const noLists = compileLists([]);
const hitOf = (r: Compiled, c: Candidate, lists = noLists, history: { amounts: number[]; regions: string[] } | null = null) =>
  statelessHit(r, factsOf(c, lists, history, regionOf));
/** The counters an order asks under these rules. */
function asksOf(rules: Compiled[], c: Candidate): CounterAsk[] {
  const plans = countingPlans(rules);
  return counterAsks(c.currency === 'CNY' ? plans.cny : plans.other, factsOf(c, noLists, null, regionOf));
}
const limitHeld = (count: number, amount: number): Held => ({ count, amount, spans: [] });
const windowHeld = (...spans: number[]): Held => ({ count: spans[0]!, amount: 0, spans });
const hitCodes = (ask: CounterAsk, held: Held) => counterHits(ask, held).map((h) => h.code);

describe('blacklist', () => {
  const entries = [
    { id: 'rsk_u', subject: 'user' as const, value: 'bad-user', reason: null, createdAt: 0 },
    { id: 'rsk_d', subject: 'device' as const, value: 'bad-device', reason: null, createdAt: 0 },
    { id: 'rsk_m', subject: 'merchant' as const, value: 'M666', reason: null, createdAt: 0 },
    { id: 'rsk_ip', subject: 'ip' as const, value: '203.0.113.7', reason: null, createdAt: 0 },
    { id: 'rsk_v4', subject: 'ip' as const, value: '10.1.0.0/16', reason: null, createdAt: 0 },
    { id: 'rsk_v6', subject: 'ip' as const, value: '2001:db8:abcd::/48', reason: null, createdAt: 0 },
  ];
  const lists = compileLists(entries);
  const all = rule('blacklist', { subjects: ['user', 'device', 'ip', 'merchant'] });

  test('each subject hits when listed and names the entry', () => {
    expect(hitOf(all, candidate({ userId: 'bad-user' }), lists)?.saw).toEqual({ subject: 'user', value: 'bad-user', entry: 'rsk_u' });
    expect(hitOf(all, candidate({ deviceId: 'bad-device' }), lists)?.saw.entry).toBe('rsk_d');
    expect(hitOf(all, candidate({ merchantId: 'M666' }), lists)?.saw.entry).toBe('rsk_m');
    expect(hitOf(all, candidate({ clientIp: '203.0.113.7' }), lists)?.saw.entry).toBe('rsk_ip');
    expect(hitOf(all, candidate(), lists)).toBeNull();
  });

  test('a rule only looks at its own subjects', () => {
    expect(hitOf(rule('blacklist', { subjects: ['device'] }), candidate({ userId: 'bad-user' }), lists)).toBeNull();
  });

  test('IPv4 CIDR: the first and last address hit, the ones just outside do not', () => {
    for (const ip of ['10.1.0.0', '10.1.255.255', '::ffff:10.1.2.3']) expect(hitOf(all, candidate({ clientIp: ip }), lists)?.saw.entry).toBe('rsk_v4');
    for (const ip of ['10.0.255.255', '10.2.0.0']) expect(hitOf(all, candidate({ clientIp: ip }), lists)).toBeNull();
  });

  test('IPv6 CIDR: the first and last address hit, the ones just outside do not', () => {
    for (const ip of ['2001:db8:abcd::', '2001:db8:abcd:ffff:ffff:ffff:ffff:ffff', '2001:DB8:ABCD:1::1']) {
      expect(hitOf(all, candidate({ clientIp: ip }), lists)?.saw.entry).toBe('rsk_v6');
    }
    for (const ip of ['2001:db8:abcc:ffff:ffff:ffff:ffff:ffff', '2001:db8:abce::']) expect(hitOf(all, candidate({ clientIp: ip }), lists)).toBeNull();
  });

  test('nested ranges: an address names the most specific range holding it, whatever the order of the entries', () => {
    const nested = compileLists([
      { id: 'rsk_a', subject: 'ip', value: '10.0.0.0/8', reason: null, createdAt: 0 },
      { id: 'rsk_b', subject: 'ip', value: '10.1.2.0/24', reason: null, createdAt: 0 },
      { id: 'rsk_c', subject: 'ip', value: '10.1.0.0/16', reason: null, createdAt: 0 },
      { id: 'rsk_d', subject: 'ip', value: '2001:db8::/32', reason: null, createdAt: 0 },
    ]);
    const entryOf = (ip: string) => hitOf(all, candidate({ clientIp: ip }), nested)?.saw.entry;
    expect(entryOf('10.1.2.255')).toBe('rsk_b');
    expect(entryOf('10.1.3.0')).toBe('rsk_c');
    expect(entryOf('10.255.255.255')).toBe('rsk_a');
    expect(entryOf('11.0.0.0')).toBeUndefined();
    expect(entryOf('2001:db8:ffff::1')).toBe('rsk_d');
    expect(entryOf('::ffff:10.1.2.3')).toBe('rsk_b');
  });

  test('an exact IP entry matches every spelling of the address; text that is no address matches nothing', () => {
    expect(hitOf(all, candidate({ clientIp: '::ffff:203.0.113.7' }), lists)?.saw.entry).toBe('rsk_ip');
    expect(hitOf(all, candidate({ clientIp: 'not-an-ip' }), lists)).toBeNull();
  });
});

describe('ip ranges', () => {
  test('prefixes at the edges: /0 holds everything of its family, /32 and /128 one address; bad text is refused', () => {
    expect(inRange(parseAddress('255.255.255.255')!, parseRange('0.0.0.0/0')!)).toBe(true);
    expect(inRange(parseAddress('::1')!, parseRange('0.0.0.0/0')!)).toBe(false);
    expect(parseRange('1.2.3.4/32')).toEqual({ family: 4, first: 0x01020304n, last: 0x01020304n });
    expect(parseRange('::1/128')).toEqual({ family: 6, first: 1n, last: 1n });
    for (const bad of ['1.2.3.4/33', '::/129', '1.2.3/8', '1.2.3.4/', '1.2.3.4/8/8', 'x']) expect(parseRange(bad)).toBeNull();
  });
});

describe('limit', () => {
  test('single: the limit itself passes, one fen over hits', () => {
    const single = rule('limit', { subject: 'user', period: 'single', amount: '100.00' });
    expect(hitOf(single, candidate({ amount: 10_000 }))).toBeNull();
    expect(hitOf(single, candidate({ amount: 10_001 }))?.saw).toEqual({ amount: 10_001, limit: 10_000 });
  });

  test('a counter hits once the payment would take the subject past the count or the amount', () => {
    const [day] = asksOf([rule('limit', { subject: 'user', period: 'day', amount: '500.00', count: 3 })], candidate({ amount: 10_000 }));
    expect(counterHits(day!, limitHeld(2, 40_000))).toEqual([]);
    expect(refuses(day!, limitHeld(2, 40_000))).toBe(false);
    expect(counterHits(day!, limitHeld(3, 0)).map((h) => h.saw)).toEqual([{ count: 3, amount: 0, count_max: 3, amount_max: 50_000, bucket: 'l|user|M1|u1|2026-12-01' }]);
    expect(refuses(day!, limitHeld(3, 0))).toBe(true);
    expect(hitCodes(day!, limitHeld(0, 40_001))).toEqual(['r_limit']);
    expect(refuses(day!, limitHeld(0, 40_001))).toBe(true);
  });

  test('the day rolls over at midnight China time, the month at the first of the month China time', () => {
    const day = [rule('limit', { subject: 'user', period: 'day', count: 10 })];
    const month = [rule('limit', { subject: 'merchant', period: 'month', count: 10 })];
    const last = candidate();
    const next = candidate({ at: before_china_midnight + 1 });
    expect(asksOf(day, last)[0]!.period).toBe('2026-12-01');
    expect(asksOf(day, next)[0]!.period).toBe('2026-12-02');
    const endOfNovember = Date.parse('2026-11-30T15:59:59.999Z');
    expect(asksOf(month, candidate({ at: endOfNovember }))[0]!.period).toBe('2026-11');
    expect(asksOf(month, candidate({ at: endOfNovember + 1 }))[0]!.period).toBe('2026-12');
    // Kept a day past the period's end, then forgotten.
    expect(asksOf(month, candidate({ at: endOfNovember }))[0]!.expiresAt).toBe(endOfNovember + 1 + 86_400_000);
  });

  test('a subject the order does not name is not counted; amounts only count CNY orders', () => {
    const device = [rule('limit', { subject: 'device', period: 'day', amount: '1.00' })];
    expect(asksOf(device, candidate({ deviceId: null }))).toEqual([]);
    expect(asksOf(device, candidate({ currency: 'USD' }))).toEqual([]);
    const both = [rule('limit', { subject: 'device', period: 'day', amount: '1.00', count: 2 })];
    const [usd] = asksOf(both, candidate({ currency: 'USD', amount: 50_000 }));
    expect(usd).toMatchObject({ amount: 0, plan: { countMax: 2, amountMax: null } });
    expect(refuses(usd!, limitHeld(1, 0))).toBe(false);
    expect(refuses(usd!, limitHeld(2, 0))).toBe(true);
  });

  test('limits on one counter are judged together: refusing by the tightest refusing maxima, looked at by every rule\'s, in any order', () => {
    const rules = [
      compileRule({ ...rule('limit', { subject: 'user', period: 'day', count: 5 }).rule, code: 'loose' }),
      compileRule({ ...rule('limit', { subject: 'user', period: 'day', amount: '10.00' }).rule, code: 'by_amount' }),
      compileRule({ ...rule('limit', { subject: 'user', period: 'day', count: 1 }, 'review', 10).rule, code: 'review' }),
      compileRule({ ...rule('limit', { subject: 'user', period: 'day', count: 3, amount: '20.00' }).rule, code: 'tight' }),
    ];
    const orders = [rules, [...rules].reverse()].map((set) => asksOf(set, candidate({ amount: 500 })));
    for (const asks of orders) {
      expect(asks).toHaveLength(1);
      expect(asks[0]!.plan).toMatchObject({ countMax: 3, amountMax: 1_000, needCount: 1, needAmount: 1_000 });
    }
    const [ask] = orders[0]!;
    expect(hitCodes(ask!, limitHeld(0, 0))).toEqual([]);
    expect(hitCodes(ask!, limitHeld(1, 500))).toEqual(['review']);
    expect(refuses(ask!, limitHeld(1, 500))).toBe(false);
    expect(hitCodes(ask!, limitHeld(2, 501))).toEqual(['by_amount', 'review']);
    expect(refuses(ask!, limitHeld(2, 501))).toBe(true);
    expect(hitCodes(ask!, limitHeld(3, 0))).toEqual(['review', 'tight']);
  });
});

describe('velocity', () => {
  test('a window reserves per subject, and the order is new past count', () => {
    const v = [rule('velocity', { subject: 'ip', count: 2, window_s: 60 })];
    const [window] = asksOf(v, candidate());
    expect(window).toMatchObject({ period: 'w', amount: 0, expiresAt: before_china_midnight + 60_000, plan: { spans: [{ spanMs: 60_000, countMax: 2, need: 2 }] } });
    expect(hitCodes(window!, windowHeld(1))).toEqual([]);
    expect(hitCodes(window!, windowHeld(2))).toEqual(['r_velocity']);
    expect(refuses(window!, windowHeld(2))).toBe(true);
    expect(asksOf(v, candidate({ clientIp: null }))).toEqual([]);
  });

  test('windows on one subject share a counter: its spans longest first, each rule judged by its own span', () => {
    const velocity = (code: string, count: number, window_s: number, action: 'reject' | 'review' = 'reject') =>
      compileRule({ ...rule('velocity', { subject: 'user', count, window_s }, action, 10).rule, code });
    const [ask] = asksOf([velocity('minute', 2, 60, 'review'), velocity('hour', 10, 3_600), velocity('tight_minute', 5, 60)], candidate());
    expect(ask!.plan.spans).toEqual([{ spanMs: 3_600_000, countMax: 10, need: 10 }, { spanMs: 60_000, countMax: 5, need: 2 }]);
    expect(ask!.expiresAt).toBe(before_china_midnight + 3_600_000);
    expect(hitCodes(ask!, windowHeld(9, 1))).toEqual([]);
    expect(hitCodes(ask!, windowHeld(9, 2))).toEqual(['minute']);
    expect(refuses(ask!, windowHeld(9, 2))).toBe(false);
    expect(hitCodes(ask!, windowHeld(10, 5))).toEqual(['minute', 'hour', 'tight_minute']);
    expect(refuses(ask!, windowHeld(9, 5))).toBe(true);
  });
});

describe('amount_anomaly', () => {
  const anomaly = rule('amount_anomaly', { factor: 5, min_history: 3 }, 'review', 60);
  const history = { amounts: [1_000, 2_000, 3_000], regions: [] };

  test('exactly factor × the average passes, one fen more hits', () => {
    expect(hitOf(anomaly, candidate({ amount: 10_000 }), noLists, history)).toBeNull();
    expect(hitOf(anomaly, candidate({ amount: 10_001 }), noLists, history)?.saw).toEqual({ amount: 10_001, average: 2_000, history: 3 });
  });

  test('with fewer paid orders than min_history it says nothing', () => {
    expect(hitOf(anomaly, candidate({ amount: 1_000_000 }), noLists, { amounts: [1_000, 2_000], regions: [] })).toBeNull();
  });
});

describe('location_anomaly', () => {
  const anomaly = rule('location_anomaly', { min_history: 2 }, 'review', 30);
  const shenzhen = '120.24.78.68';
  const beijing = '61.135.169.121';

  test('a region none of the payer’s paid orders came from hits; a known one does not', () => {
    const guangdong = regionOf(shenzhen)!;
    expect(guangdong).toBe('中国/广东省');
    const history = { amounts: [], regions: [guangdong, guangdong] };
    expect(hitOf(anomaly, candidate({ clientIp: shenzhen }), noLists, history)).toBeNull();
    expect(hitOf(anomaly, candidate({ clientIp: beijing }), noLists, history)?.saw).toEqual({ region: regionOf(beijing), known: [guangdong] });
  });

  test('too little history, a private address, or no address says nothing', () => {
    expect(hitOf(anomaly, candidate({ clientIp: beijing }), noLists, { amounts: [], regions: ['中国/广东省'] })).toBeNull();
    const history = { amounts: [], regions: ['中国/广东省', '中国/广东省'] };
    expect(hitOf(anomaly, candidate({ clientIp: '10.0.0.1' }), noLists, history)).toBeNull();
    expect(hitOf(anomaly, candidate({ clientIp: null }), noLists, history)).toBeNull();
  });
});

describe('decide', () => {
  const settings = { reviewAt: 50, rejectAt: 80 };
  const hit = (code: string, action: 'reject' | 'review', score: number) => ({ code, kind: 'limit' as const, action, score, saw: {} });

  test('a reject rule refuses naming only the rejecting rules; review scores add up against the thresholds', () => {
    expect(decide([hit('a', 'review', 10), hit('b', 'reject', 0)], settings)).toEqual({ decision: 'reject', score: 10, rules: ['b'] });
    expect(decide([hit('a', 'review', 49)], settings)).toEqual({ decision: 'allow', score: 49, rules: ['a'] });
    expect(decide([hit('a', 'review', 30), hit('b', 'review', 20)], settings)).toEqual({ decision: 'review', score: 50, rules: ['a', 'b'] });
    expect(decide([hit('a', 'review', 79)], settings).decision).toBe('review');
    expect(decide([hit('a', 'review', 80)], settings)).toEqual({ decision: 'reject', score: 80, rules: ['a'] });
    expect(decide([], settings)).toEqual({ decision: 'allow', score: 0, rules: [] });
  });
});

describe('rule params', () => {
  test('each kind refuses params that do not fit it, naming the field', () => {
    const bad = (kind: RuleKind, params: unknown) => {
      const parsed = ruleOf({ code: 'x', kind, action: 'reject', score: 0, status: 'enabled', params, createdAt: 0, updatedAt: 0 });
      return parsed.ok ? null : parsed.issue.field;
    };
    expect(bad('limit', { subject: 'user', period: 'day' })).toBe('params');
    expect(bad('limit', { subject: 'user', period: 'day', amount: '10' })).toBe('params.amount');
    expect(bad('velocity', { subject: 'merchant', count: 1, window_s: 60 })).toBe('params.subject');
    expect(bad('blacklist', { subjects: [] })).toBe('params.subjects');
    expect(bad('amount_anomaly', { factor: 5 })).toBe('params.min_history');
    expect(bad('location_anomaly', { min_history: 3, extra: 1 })).toBe('params.extra');
    expect(bad('limit', { subject: 'user', period: 'month', count: 10 })).toBeNull();
  });
});

describe('holds', () => {
  const counting = [
    rule('limit', { subject: 'user', period: 'day', count: 3 }),
    compileRule({ ...rule('limit', { subject: 'merchant', period: 'month', amount: '1.00' }).rule, code: 'r_month' }),
    rule('velocity', { subject: 'ip', count: 2, window_s: 60 }),
  ];

  test('an order\'s holds name the very counters its reservation used, read back from the order alone', () => {
    // An address and a user that URI encoding changes, at the last millisecond of a China-time day.
    const order = candidate({ userId: 'ü|1', clientIp: '2001:db8::1' });
    const asks = asksOf(counting, order);
    expect(asks.map((a) => a.plan.hold)).toEqual(['l|user|day', 'l|merchant|month', 'w|ip|w']);
    const held = heldCounters(order, asks.map((a) => a.plan.hold));
    expect(held.map(counterName)).toEqual(asks.map(counterName));
    expect(held.map(counterName)).toEqual(['l|user|M1|%C3%BC%7C1|2026-12-01', 'l|merchant|M1|M1|2026-12', 'w|ip|M1|2001%3Adb8%3A%3A1|w']);
  });

  test('holds written before counters were shared are read as their subject\'s counter; a hold naming no counter of the order is refused', () => {
    const order = candidate();
    const before = ['l|r_limit|user|M1|u1|2026-12-01', 'w|r_velocity|ip|M1|120.24.78.68|w', 'w|r_velocity|ip|w'];
    expect(heldCounters(order, before).map(counterName)).toEqual(['l|user|M1|u1|2026-12-01', 'w|ip|M1|120.24.78.68|w', 'w|ip|M1|120.24.78.68|w']);
    expect(() => heldCounters(candidate({ deviceId: null }), ['l|device|day'])).toThrow('names no counter');
    expect(() => heldCounters(order, ['l|user|week'])).toThrow('names no counter');
    expect(() => heldCounters(order, ['l|r|user|day'])).toThrow('names no counter');
    expect(() => heldCounters(order, ['w|user|day'])).toThrow('names no counter');
    expect(() => heldCounters(order, ['l|r|user|w|day'])).toThrow('names no counter');
  });
});

describe('the verdict a pay leaves on the order', () => {
  const hit = (code: string, score: number, saw: Record<string, unknown> = {}) => ({ code, kind: 'limit', action: 'review' as const, score, saw });
  const verdict = (decision: 'allow' | 'review', ...hits: ReturnType<typeof hit>[]) =>
    ({ decision, score: hits.reduce((sum, h) => sum + h.score, 0), rules: hits.map((h) => h.code), hits });

  test("keeps the create's findings: the stronger decision, each rule's latest hit, the review scores summed", () => {
    const created = verdict('review', hit('counted', 60, { count: 1 }), hit('single', 5, { amount: 1 }));
    expect(combinedVerdict(created, verdict('allow'), default_settings)).toEqual(created);
    expect(combinedVerdict(created, verdict('allow', hit('single', 5, { amount: 2 }), hit('listed', 10)), default_settings))
      .toEqual(verdict('review', hit('counted', 60, { count: 1 }), hit('single', 5, { amount: 2 }), hit('listed', 10)));
    expect(combinedVerdict(undefined, verdict('allow', hit('listed', 10)), default_settings)).toEqual(verdict('allow', hit('listed', 10)));
  });

  test('flags the order for review when the scores found at create and at pay reach review_at together', () => {
    expect(combinedVerdict(verdict('allow', hit('counted', 30)), verdict('allow', hit('listed', 20)), default_settings).decision).toBe('review');
    expect(combinedVerdict(verdict('allow', hit('counted', 30)), verdict('allow', hit('listed', 19)), default_settings).decision).toBe('allow');
  });
});
