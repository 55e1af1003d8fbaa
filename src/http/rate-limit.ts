/**
 * Per-merchant token buckets: `capacity` requests at once, refilled at `perSecond`. Shared
 * through Redis (one Lua script, atomic) when configured, kept in this process otherwise.
 */
import type Redis from 'ioredis';
import * as v from 'valibot';

export type RateLimitOptions = { perSecond: number; capacity: number };
export type RateDecision = { ok: true } | { ok: false; retryAfterS: number };

export interface RateLimiter {
  take(merchantId: string, nowMs: number): Promise<RateDecision>;
}

/** Buckets kept in one process before the idle ones are dropped. */
const local_buckets_max = 100_000;

function refill(tokens: number, lastMs: number, nowMs: number, o: RateLimitOptions): number {
  return Math.min(o.capacity, tokens + (Math.max(0, nowMs - lastMs) * o.perSecond) / 1000);
}

const waitFor = (tokens: number, o: RateLimitOptions): number => Math.max(1, Math.ceil((1 - tokens) / o.perSecond));

export class LocalRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly options: RateLimitOptions) {}

  async take(merchantId: string, nowMs: number): Promise<RateDecision> {
    const bucket = this.buckets.get(merchantId) ?? { tokens: this.options.capacity, at: nowMs };
    const tokens = refill(bucket.tokens, bucket.at, nowMs, this.options);
    if (this.buckets.size >= local_buckets_max && !this.buckets.has(merchantId)) this.buckets.clear();
    if (tokens < 1) {
      this.buckets.set(merchantId, { tokens, at: nowMs });
      return { ok: false, retryAfterS: waitFor(tokens, this.options) };
    }
    this.buckets.set(merchantId, { tokens: tokens - 1, at: nowMs });
    return { ok: true };
  }
}

/** KEYS[1] bucket; ARGV now_ms, per_second, capacity. Returns {taken (1) or not (0), the tokens left in thousandths}. */
const takeScript = `
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local now = tonumber(ARGV[1]); local rate = tonumber(ARGV[2]); local cap = tonumber(ARGV[3])
local tokens = tonumber(b[1]) or cap
local at = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - at) * rate / 1000)
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate * 1000) + 1000)
return {ok, math.floor(tokens * 1000)}
`;

type Scripted = Redis & { rateLimitTake(keys: number, ...args: Array<string | number>): Promise<unknown> };

/** What takeScript answers, parsed: whether a token was taken, and the tokens left in thousandths. */
const take_reply = v.tuple([v.picklist([0, 1]), v.pipe(v.number(), v.integer(), v.minValue(0))]);

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Scripted;

  constructor(redis: Redis, private readonly options: RateLimitOptions) {
    // Sent by digest (EVALSHA) once the connection has loaded it: every signed request takes a token.
    redis.defineCommand('rateLimitTake', { lua: takeScript });
    this.redis = redis as Scripted;
  }

  async take(merchantId: string, nowMs: number): Promise<RateDecision> {
    const [taken, tokensMillis] = v.parse(take_reply, await this.redis.rateLimitTake(1, `ratelimit:${merchantId}`, nowMs, this.options.perSecond, this.options.capacity));
    if (taken === 1) return { ok: true };
    return { ok: false, retryAfterS: waitFor(tokensMillis / 1000, this.options) };
  }
}
