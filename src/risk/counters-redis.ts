/**
 * The counters in Redis, shared by every instance: one Lua script checks every counter an
 * order needs and reserves it in all of them, atomically. A limit is a hash (order → amount,
 * plus `#n` and `#a`, its count and sum, kept beside the members so a check reads two fields);
 * a window is a sorted set of orders scored by time, each of its rules counting those of its own
 * span. Keys expire when their period is over, counted from the caller's clock (a relative TTL),
 * so Redis's own clock does not matter.
 */
import type Redis from 'ioredis';
import { type CounterAsk, type CounterPlan, type Held, allowedBy } from './counting.ts';
import { type CounterRef, counterName } from './evaluate.ts';
import type { Counters, RedisNonce, Reservation } from './counters.ts';
import { inRedis } from '../failures.ts';

const key_prefix = 'risk:';

/** A window holding at most this many orders is read whole when a span must be counted; a fuller one is counted by Redis, span by span. */
const window_read_max = 32;

// KEYS: the order's counters, once each (limits on one subject and period share one, and windows
// on one subject), and last, for a create whose request nonce rides along (RedisNonce), the
// nonce's key. ARGV: order, at, then two comma-separated lists, each one argument: per counter,
// "amount ttl_ms span_ms count_max amax_or_need" (a limit: span_ms 0, its refusing rules'
// tightest maxima, count and amount; a window: span_ms its longest span, to which it is trimmed,
// count_max the tightest refusing maximum on that span, then its `need`: the tightest maximum of
// every rule on its shorter spans; -1 for none), then per shorter span of a window, "key_index
// span_ms count_max need" (the same two, for the rules counting that span); then, with a nonce,
// how long it is kept (ms). What a counter's rules ask of it together is worked out once per rule
// set (src/risk/counting.ts); the caller judges each rule from what the script saw. Few
// arguments, not one per counter and rule: encoding each argument was most of a call's cost in
// paycenter's own CPU (ioredis measures and writes every one); splitting the strings costs Redis
// less (docs/benchmarks.md, "100 risk rules", sessions 8 to 10, take a call's time apart). The answer is `replayed` when the nonce was
// used before (nothing is reserved then), else one string of numbers: per counter its count and
// amount (a window's: its orders within its longest span, and 0), then, for each window that was
// counted (below), a count per shorter span, in the order asked. A key's kind is in its name:
// `risk:w|…` a window (sorted set), the others limits (hashes).
//
// Each call from Lua into Redis costs about as much as the work it asks for, so the script makes
// few: a limit is read with the order's own field (one HMGET says whether it is a member) and
// written with one HSET. A window is trimmed to its longest span and its size read. That size
// bounds every shorter span's count, so a window on whose shorter spans no rule could hit even
// with the whole window in each (the usual case: a payer's few orders against rules that allow
// more) is not counted at all: the caller knows, from the size and `need`, that its rules saw that
// bound, and only a rule that hits shows what it saw. In a window that is counted, a span that
// could hit is counted from the window's times, read once, when it holds at most window_read_max
// orders (a payer's), and by Redis (ZCOUNT) when it is crowded (an address many payers share).
// A limit's expiry is its period's end, the same for every member: set with its first. A window's
// moves with its latest member.
const reserve_script = `
local order, at = ARGV[1], tonumber(ARGV[2])
-- A create's request nonce, when given (the last key, kept ARGV[5] ms), is claimed first: a used one reserves nothing.
if ARGV[5] and not redis.call('SET', KEYS[#KEYS], '1', 'PX', ARGV[5], 'NX') then return 'replayed' end
local window, window_read_max = ${key_prefix.length + 1}, ${window_read_max}
local specs, seen, blocked, counting = {}, {}, false, false
local i = 0
for amount, ttl, span, cmax, amax_or_need in string.gmatch(ARGV[3], '([^ ,]+) ([^ ,]+) ([^ ,]+) ([^ ,]+) ([^ ,]+)') do
  i = i + 1
  local key = KEYS[i]
  local spec = { w = string.sub(key, window, window) == 'w', amount = tonumber(amount), ttl = ttl, trim = tonumber(span), n = 0, sum = 0 }
  cmax, amax_or_need = tonumber(cmax), tonumber(amax_or_need)
  if spec.w then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', at - spec.trim)
    spec.n = redis.call('ZCARD', key)
    if cmax >= 0 and spec.n + 1 > cmax then blocked = true end
    spec.counted = amax_or_need >= 0 and spec.n + 1 > amax_or_need
    counting = counting or spec.counted
  else
    local fields = redis.call('HMGET', key, '#n', '#a', order)
    spec.n, spec.sum, spec.member = tonumber(fields[1] or '0'), tonumber(fields[2] or '0'), fields[3]
    if (cmax >= 0 and spec.n + 1 > cmax) or (amax_or_need >= 0 and spec.sum + spec.amount > amax_or_need) then blocked = true end
  end
  specs[i] = spec
  seen[#seen + 1] = spec.n
  seen[#seen + 1] = spec.sum
end
-- A window's orders after since: from its times, read once, when it holds few; else counted by Redis.
local function count_after(spec, key, since)
  if spec.n > window_read_max then return redis.call('ZCOUNT', key, '(' .. since, '+inf') end
  if not spec.times then
    spec.times = {}
    local members = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    for j = 2, #members, 2 do spec.times[j / 2] = tonumber(members[j]) end
  end
  local n = 0
  for j = #spec.times, 1, -1 do
    if spec.times[j] <= since then break end
    n = n + 1
  end
  return n
end
if counting then
  for k, span, cmax, need in string.gmatch(ARGV[4], '([^ ,]+) ([^ ,]+) ([^ ,]+) ([^ ,]+)') do
    local spec = specs[tonumber(k)]
    if spec.counted then
      local n = spec.n
      if n + 1 > tonumber(need) then n = count_after(spec, KEYS[tonumber(k)], at - tonumber(span)) end
      seen[#seen + 1] = n
      cmax = tonumber(cmax)
      if cmax >= 0 and n + 1 > cmax then blocked = true end
    end
  end
end
if blocked then return table.concat(seen, ' ') end
for i, spec in ipairs(specs) do
  local key = KEYS[i]
  if spec.w then
    redis.call('ZADD', key, at, order)
    redis.call('PEXPIRE', key, spec.ttl)
  elseif not spec.member then
    redis.call('HSET', key, order, spec.amount, '#n', spec.n + 1, '#a', spec.sum + spec.amount)
    if spec.n == 0 then redis.call('PEXPIRE', key, spec.ttl) end
  end
end
return table.concat(seen, ' ')
`;

// ARGV: order. Keys starting with the window prefix are sorted sets, the others limit hashes.
const release_script = `
for _, key in ipairs(KEYS) do
  if string.sub(key, ${key_prefix.length + 1}, ${key_prefix.length + 1}) == 'w' then
    redis.call('ZREM', key, ARGV[1])
  else
    local amount = redis.call('HGET', key, ARGV[1])
    if amount then
      redis.call('HDEL', key, ARGV[1])
      redis.call('HINCRBY', key, '#n', -1)
      -- Not -tonumber(amount): Lua writes minus zero as -0, which HINCRBY refuses.
      redis.call('HINCRBY', key, '#a', 0 - tonumber(amount))
    end
  end
end
return 1
`;

/**
 * What the script is asked for one reservation (see reserve_script): the counters' keys, and per
 * counter the tightest maxima its plan worked out (a window's `need` over its shorter spans, and
 * its shorter spans one by one).
 */
function askedOf(at: number, asks: CounterAsk[]) {
  const spanArgs: string[] = [];
  const counterArgs = asks.map((ask, k) => {
    const { plan } = ask;
    const ttl = Math.max(1, ask.expiresAt - at);
    if (plan.period !== null) return `${ask.amount} ${ttl} 0 ${wired(plan.countMax)} ${wired(plan.amountMax)}`;
    for (const [j, span] of plan.spans.entries()) if (j > 0) spanArgs.push(`${k + 1} ${span.spanMs} ${wired(span.countMax)} ${span.need}`);
    return `0 ${ttl} ${plan.spans[0]!.spanMs} ${wired(plan.spans[0]!.countMax)} ${shorterNeed(plan)}`;
  });
  return { keys: asks.map((ask) => key_prefix + counterName(ask)), counterArg: counterArgs.join(','), spanArg: spanArgs.join(',') };
}

/** What each counter held, from the answer: a window's shorter spans where the script counted them, else its size. */
function heldOf(asks: CounterAsk[], answer: number[]): Held[] {
  let next = 2 * asks.length;
  return asks.map((ask, k) => {
    const count = answer[2 * k]!;
    const { plan } = ask;
    if (plan.period !== null) return { count, amount: answer[2 * k + 1]!, spans: [] };
    const counted = count + 1 > shorterNeed(plan);
    return { count, amount: 0, spans: plan.spans.map((_, j) => (j > 0 && counted ? answer[next++]! : count)) };
  });
}

/** The tightest `need` of a window's shorter spans: the script counts them only when its size could pass it (-1: no shorter span). */
function shorterNeed(plan: CounterPlan): number {
  let need = -1;
  for (const [j, span] of plan.spans.entries()) if (j > 0 && (need < 0 || span.need < need)) need = span.need;
  return need;
}

/** A maximum as the script reads it (-1: none). */
const wired = (max: number | null): number => max ?? -1;

type Scripted = Redis & {
  riskReserve(keys: number, ...args: Array<string | number>): Promise<string>;
  riskRelease(keys: number, ...args: string[]): Promise<number>;
};

export class RedisCounters implements Counters {
  private readonly redis: Scripted;

  constructor(redis: Redis) {
    redis.defineCommand('riskReserve', { lua: reserve_script });
    redis.defineCommand('riskRelease', { lua: release_script });
    this.redis = redis as Scripted;
  }

  reserve(orderId: string, at: number, asks: CounterAsk[]): Promise<Reservation>;
  reserve(orderId: string, at: number, asks: CounterAsk[], nonce?: RedisNonce): Promise<Reservation | 'replayed'>;
  async reserve(orderId: string, at: number, asks: CounterAsk[], nonce?: RedisNonce): Promise<Reservation | 'replayed'> {
    if (asks.length === 0) return { allowed: true, held: [] };
    const { keys, counterArg, spanArg } = askedOf(at, asks);
    const answer = nonce
      ? await this.redis.riskReserve(keys.length + 1, ...keys, nonce.key, orderId, at, counterArg, spanArg, nonce.ttlMs)
      : await this.redis.riskReserve(keys.length, ...keys, orderId, at, counterArg, spanArg);
    if (answer === 'replayed') return answer;
    const held = heldOf(asks, answer.split(' ').map(Number));
    // The script decided; the same judgement here says which way, without a second protocol.
    return { allowed: allowedBy(asks, held), held };
  }

  /** Redis's failures are typed (src/failures.ts): a closed order's release is tried again (releases.ts), not parked as a bug. */
  async release(orderId: string, counters: CounterRef[]): Promise<void> {
    if (counters.length === 0) return;
    await inRedis(`risk counters: release of ${orderId}`, this.redis.riskRelease(counters.length, ...counters.map((c) => key_prefix + counterName(c)), orderId));
  }

  async purge(): Promise<void> {
    // Keys expire by themselves; windows drop their old members at each check.
  }
}
