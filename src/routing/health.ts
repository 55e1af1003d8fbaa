/**
 * Where channel health windows live: in this process without Redis, in Redis otherwise so that
 * every instance adds to and reads the same window. Recording a call is one round trip, which
 * answers the window after it when asked to (`readBack`): always for a failure, for an answer only
 * when it could trip the breaker (breaker.ts, answerMayTrip) — summing the window's 30 buckets for
 * every answer was a fifth of Redis's work a payment.
 */
import type Redis from 'ioredis';
import * as v from 'valibot';
import { inRedis } from '../failures.ts';
import {
  type Bucket, type CallOutcome, type ChannelWindow,
  addCall, bucketStart, emptyTotals, health_bucket_ms, health_window_ms, latencyBin, latency_bounds_ms, totalsOf, windowStarts,
} from './window.ts';

export interface HealthWindows {
  /** Adds one call at `at`; answers the window after it (which its breaker is judged on) when `readBack`, else null. */
  add(code: string, outcome: CallOutcome, latencyMs: number, at: number, readBack: boolean): Promise<ChannelWindow | null>;
  read(codes: readonly string[], at: number): Promise<Map<string, ChannelWindow>>;
  /** Forgets a channel's window (a breaker that closes starts afresh). */
  reset(code: string, at: number): Promise<void>;
  /**
   * Another instance closed the channel's breaker, which reset the window it shares: a window of
   * this process's own starts afresh as well (its old failures would re-open the breaker at once).
   */
  closedElsewhere(code: string, at: number): Promise<void>;
}

/** One process's windows. */
export class LocalHealth implements HealthWindows {
  private readonly channels = new Map<string, { buckets: Bucket[]; consecutiveFailures: number }>();

  /** A process's own window costs nothing to read: it is answered whether asked or not. */
  async add(code: string, outcome: CallOutcome, latencyMs: number, at: number, _readBack: boolean): Promise<ChannelWindow> {
    const channel = this.channels.get(code) ?? { buckets: [], consecutiveFailures: 0 };
    this.channels.set(code, channel);
    const start = bucketStart(at);
    let bucket = channel.buckets.find((b) => b.start === start);
    if (!bucket) {
      bucket = { start, ...emptyTotals() };
      channel.buckets = channel.buckets.filter((b) => b.start > start - health_window_ms).concat(bucket);
    }
    addCall(bucket, outcome, latencyMs);
    channel.consecutiveFailures = outcome === 'failed' ? channel.consecutiveFailures + 1 : 0;
    return { totals: totalsOf(channel.buckets, at), consecutiveFailures: channel.consecutiveFailures };
  }

  async read(codes: readonly string[], at: number): Promise<Map<string, ChannelWindow>> {
    return new Map(codes.map((code) => {
      const channel = this.channels.get(code);
      return [code, { totals: channel ? totalsOf(channel.buckets, at) : emptyTotals(), consecutiveFailures: channel?.consecutiveFailures ?? 0 }];
    }));
  }

  async reset(code: string, _at: number): Promise<void> {
    this.channels.delete(code);
  }

  closedElsewhere(code: string, at: number): Promise<void> {
    return this.reset(code, at);
  }
}

const latencyFields = [...latency_bounds_ms.map((_, i) => `l${i}`), `l${latency_bounds_ms.length}`];
/** A bucket outlives the window it can be read in by one bucket's span. */
const bucket_ttl_ms = health_window_ms + health_bucket_ms;

/**
 * KEYS: the failures-in-a-row counter, the current bucket, and — to read the window back — its
 * other buckets. ARGV: the latency field, the time to live, '1' for a failed call. Counts the call
 * in the current bucket and answers { failures in a row, calls, failures } of the buckets given.
 */
const addScript = `
redis.call('HINCRBY', KEYS[2], 'c', 1)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local row = 0
if ARGV[3] == '1' then
  redis.call('HINCRBY', KEYS[2], 'f', 1)
  row = redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], 0, 'PX', ARGV[2])
end
local calls, failures = 0, 0
for i = 2, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'c', 'f')
  calls = calls + (tonumber(v[1]) or 0)
  failures = failures + (tonumber(v[2]) or 0)
end
return { row, calls, failures }`;

/** The bucket fields readScript sums, in the order it answers them. */
const sumFields = ['c', 'f', ...latencyFields];

/**
 * KEYS: per channel, its failures-in-a-row counter then its window's buckets. ARGV: the buckets
 * per channel, then the fields to sum. Answers per channel { failures in a row, sums of the fields }.
 */
const readScript = `
local per = tonumber(ARGV[1])
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local out = {}
for base = 1, #KEYS, per + 1 do
  local sums = { tonumber(redis.call('GET', KEYS[base]) or '0') }
  for i = 1, #fields do sums[i + 1] = 0 end
  for b = base + 1, base + per do
    local values = redis.call('HMGET', KEYS[b], unpack(fields))
    for i = 1, #fields do sums[i + 1] = sums[i + 1] + (tonumber(values[i]) or 0) end
  end
  out[#out + 1] = sums
end
return out`;

const count = (value: unknown): number => {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`assertion failed: a health counter reads ${String(value)}`);
  return n;
};

type Scripted = Redis & {
  healthAdd(keys: number, ...args: string[]): Promise<unknown>;
  healthRead(keys: number, ...args: string[]): Promise<unknown>;
};

/** Windows shared by every instance through Redis hashes, one a channel and bucket. */
export class RedisHealth implements HealthWindows {
  private readonly redis: Scripted;

  /** `prefix` scopes the keys to one paycenter's database (see routing_scope). */
  constructor(redis: Redis, private readonly prefix: string) {
    // Sent by digest (EVALSHA) once the connection has loaded them: every channel call runs one.
    redis.defineCommand('healthAdd', { lua: addScript });
    redis.defineCommand('healthRead', { lua: readScript });
    this.redis = redis as Scripted;
  }

  private bucketKey = (code: string, start: number) => `${this.prefix}:${code}:${start}`;
  private rowKey = (code: string) => `${this.prefix}:${code}:row`;

  async add(code: string, outcome: CallOutcome, latencyMs: number, at: number, readBack: boolean): Promise<ChannelWindow | null> {
    const current = bucketStart(at);
    const earlier = readBack ? windowStarts(at).filter((start) => start !== current).map((start) => this.bucketKey(code, start)) : [];
    const keys = [this.rowKey(code), this.bucketKey(code, current), ...earlier];
    const failed = outcome === 'failed' ? '1' : '0';
    const answer = await inRedis('health: recording a call', this.redis.healthAdd(keys.length, ...keys, latencyFields[latencyBin(latencyMs)]!, String(bucket_ttl_ms), failed));
    if (!Array.isArray(answer) || answer.length !== 3) throw new Error(`assertion failed: the health script answered ${String(answer)}`);
    if (!readBack) return null;
    const totals = emptyTotals();
    totals.calls = count(answer[1]);
    totals.failures = count(answer[2]);
    return { totals, consecutiveFailures: count(answer[0]) };
  }

  /**
   * One script sums every channel's buckets in Redis and answers a few numbers a channel: reading
   * 50 channels' 30 buckets as hashes cost the client tens of ms of CPU (bench routing).
   */
  async read(codes: readonly string[], at: number): Promise<Map<string, ChannelWindow>> {
    if (codes.length === 0) return new Map();
    const starts = windowStarts(at);
    const keys = codes.flatMap((code) => [this.rowKey(code), ...starts.map((start) => this.bucketKey(code, start))]);
    const answer = v.parse(window_sums, await inRedis('health: reading windows', this.redis.healthRead(keys.length, ...keys, String(starts.length), ...sumFields)));
    if (answer.length !== codes.length) throw new Error(`assertion failed: the window script answered ${answer.length} windows for ${codes.length} channels`);
    return new Map(codes.map((code, i) => {
      const [row, calls, failures, ...latency] = answer[i]!.map(count);
      if (latency.length !== latencyFields.length) throw new Error(`assertion failed: the window script answered ${latency.length} latency bins`);
      return [code, { totals: { calls: calls!, failures: failures!, latency }, consecutiveFailures: row! }];
    }));
  }

  async reset(code: string, at: number): Promise<void> {
    await inRedis('health: forgetting a window', this.redis.del(this.rowKey(code), ...windowStarts(at).map((start) => this.bucketKey(code, start))));
  }

  /** The instance that closed it reset the shared window; resetting again would drop calls made since. */
  async closedElsewhere(_code: string, _at: number): Promise<void> {}
}

/** What readScript answers: a channel's failures in a row, calls, failures and latency bins. */
const window_sums = v.array(v.array(v.number()));
