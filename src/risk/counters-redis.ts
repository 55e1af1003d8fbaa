/**
 * The counters in Redis, shared by every instance: one Lua script checks every counter an
 * order needs and reserves it in all of them, atomically. A limit is a hash (order → amount,
 * plus `#n` and `#a`, its count and sum, kept beside the members so a check reads two fields);
 * a window is a sorted set of orders scored by time, each of its rules counting those of its own
 * span. Keys expire when their period is over, counted from the caller's clock (a relative TTL),
 * so Redis's own clock does not matter.
 */
import type Redis from 'ioredis';
import { type CounterCheck, type CounterRef, counterName, joinedCounters } from './evaluate.ts';
import { type Counters, type Reservation, blockedBy } from './counters.ts';

const key_prefix = 'risk:';

/** A window holding at most this many orders is read whole, once per reservation; a fuller one is counted per rule. */
const window_read_max = 32;

// KEYS: the order's counters, once each (limits on one subject and period share one, and windows
// on one subject). ARGV: order, at, then the counters as one argument, "amount span_ms ttl_ms"
// per key, comma-separated (a window's span_ms: the longest of its rules'), then the rules'
// checks as one argument, "key_index count_max amount_max enforce span_ms" per check,
// comma-separated (a max of -1: none; enforce 1|0). Four arguments, not one per counter and per
// check: encoding each argument was most of a call's cost in paycenter's own CPU (ioredis
// measures and writes every one); splitting the two strings costs Redis less (docs/benchmarks.md,
// "100 risk rules, session 8", takes a call's time apart).
// A key's kind is in its name: `risk:w|…` a window (sorted set), the others limits (hashes).
//
// Each call from Lua into Redis costs about as much as the work it asks for, so the script makes
// few: a limit is read with the order's own field (one HMGET says whether it is a member) and
// written with one HSET; a window holding at most window_read_max orders (a payer's) is read once,
// its times counted here for each rule's span, and only a crowded one (an address many payers
// share) is counted by Redis for each rule. A limit's expiry is its period's end, the same for
// every member: set with its first. A window's moves with its latest member.
const reserve_script = `
local order, at = ARGV[1], tonumber(ARGV[2])
local window, window_read_max = ${key_prefix.length + 1}, ${window_read_max}
local specs = {}
local i = 0
for amount, span, ttl in string.gmatch(ARGV[3], '([^ ,]+) ([^ ,]+) ([^ ,]+)') do
  i = i + 1
  local key = KEYS[i]
  local spec = { w = string.sub(key, window, window) == 'w', amount = amount, ttl = ttl, n = 0, sum = 0 }
  if spec.w then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', at - tonumber(span))
    local oldest = redis.call('ZRANGE', key, 0, window_read_max, 'WITHSCORES')
    if #oldest <= 2 * window_read_max then
      spec.times = {}
      for j = 2, #oldest, 2 do spec.times[j / 2] = tonumber(oldest[j]) end
    end
  else
    local fields = redis.call('HMGET', key, '#n', '#a', order)
    spec.n, spec.sum, spec.member = tonumber(fields[1] or '0'), tonumber(fields[2] or '0'), fields[3]
  end
  specs[i] = spec
end
local seen, blocked = {}, false
for k, cmax, amax, enforce, span in string.gmatch(ARGV[4], '([^ ,]+) ([^ ,]+) ([^ ,]+) ([^ ,]+) ([^ ,]+)') do
  local spec = specs[tonumber(k)]
  local n = spec.n
  if spec.w then
    local since = at - tonumber(span)
    if spec.times then
      n = 0
      for j = #spec.times, 1, -1 do
        if spec.times[j] <= since then break end
        n = n + 1
      end
    else
      n = redis.call('ZCOUNT', KEYS[tonumber(k)], '(' .. since, '+inf')
    end
  end
  seen[#seen + 1] = n
  seen[#seen + 1] = spec.sum
  cmax, amax = tonumber(cmax), tonumber(amax)
  if enforce == '1' and ((cmax >= 0 and n + 1 > cmax) or (amax >= 0 and spec.sum + tonumber(spec.amount) > amax)) then blocked = true end
end
if blocked then return seen end
for i, key in ipairs(KEYS) do
  local spec = specs[i]
  if spec.w then
    redis.call('ZADD', key, at, order)
    redis.call('PEXPIRE', key, spec.ttl)
  elseif not spec.member then
    redis.call('HSET', key, order, spec.amount, '#n', spec.n + 1, '#a', spec.sum + tonumber(spec.amount))
    if spec.n == 0 then redis.call('PEXPIRE', key, spec.ttl) end
  end
end
return seen
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

type Scripted = Redis & {
  riskReserve(keys: number, ...args: Array<string | number>): Promise<number[]>;
  riskRelease(keys: number, ...args: string[]): Promise<number>;
};

export class RedisCounters implements Counters {
  private readonly redis: Scripted;

  constructor(redis: Redis) {
    redis.defineCommand('riskReserve', { lua: reserve_script });
    redis.defineCommand('riskRelease', { lua: release_script });
    this.redis = redis as Scripted;
  }

  async reserve(orderId: string, at: number, checks: CounterCheck[], joined = joinedCounters(checks)): Promise<Reservation> {
    if (checks.length === 0) return { allowed: true, seen: [] };
    const { counters, of } = joined;
    const counterArg = counters.map((c) => `${c.amount} ${c.spanMs} ${Math.max(1, c.expiresAt - at)}`).join(',');
    const checkArg = checks.map((c, i) => `${of[i]! + 1} ${c.countMax ?? -1} ${c.amountMax ?? -1} ${c.enforce ? 1 : 0} ${c.spanMs}`).join(',');
    const flat = await this.redis.riskReserve(counters.length, ...counters.map((c) => key_prefix + counterName(c)), orderId, at, counterArg, checkArg);
    const seen = checks.map((_, i) => ({ count: Number(flat[2 * i]), amount: Number(flat[2 * i + 1]) }));
    // The script decided; the same judgement here says which way, without a second protocol.
    return { allowed: !blockedBy(checks, seen), seen };
  }

  async release(orderId: string, counters: CounterRef[]): Promise<void> {
    if (counters.length === 0) return;
    await this.redis.riskRelease(counters.length, ...counters.map((c) => key_prefix + counterName(c)), orderId);
  }

  async purge(): Promise<void> {
    // Keys expire by themselves; windows drop their old members at each check.
  }
}
