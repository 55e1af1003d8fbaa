/**
 * The Redis ZSET index in front of the timer rows (the rows stay the truth): score = due time,
 * member = order id + key. A claim moves due members' scores forward by a lease in one Lua
 * script, so concurrent tickers never take the same member at once, and a ticker that dies
 * mid-way leaves them to come due again. Members are compared with their rows before firing,
 * and the index is re-seeded from the rows at start, so FLUSHALL or a Redis restart loses nothing.
 */
import type Redis from 'ioredis';
import { inRedis } from '../src/failures.ts';
import type { Logger } from '../src/log.ts';
import type { OrderWrite, Store, TimerRef, TimerRow } from '../src/store/store.ts';

/** Timer rows read per page when seeding. */
const seed_page_timers = 1_000;

// Plain ZRANGEBYSCORE (no WITHSCORES) returns a flat array of strings under RESP2 and RESP3 alike.
const claimScript = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
`;

const memberOf = (t: TimerRef) => `${t.orderId}\u0000${t.key}`;
function refOf(member: string): TimerRef {
  const [orderId, key] = member.split('\u0000');
  return { orderId: orderId!, key: key! };
}

/** How long one instance holds the right to re-seed a lost index: longer than seeding takes. */
const reseed_lease_ms = 120_000;

export class RedisTimerIndex {
  /** Set once the index holds every timer row: gone, the index was lost (a flush, a failover to an empty replica). */
  private readonly seededKey: string;
  private readonly reseedingKey: string;

  constructor(private readonly redis: Redis, private readonly zsetKey = 'paycenter:timers') {
    this.seededKey = `${zsetKey}:seeded`;
    this.reseedingKey = `${zsetKey}:reseeding`;
  }

  async add(timers: TimerRow[]): Promise<void> {
    if (timers.length === 0) return;
    await inRedis('timer index: ZADD', this.redis.zadd(this.zsetKey, ...timers.flatMap((t) => [t.dueAt, memberOf(t)])));
  }

  async remove(refs: TimerRef[]): Promise<void> {
    if (refs.length === 0) return;
    await inRedis('timer index: ZREM', this.redis.zrem(this.zsetKey, ...refs.map(memberOf)));
  }

  /**
   * Follows a committed order write: its armed timers are added, its disarmed ones removed (a
   * write names a timer once, so the two never touch one member). Both are sent before this
   * returns to the event loop: one round trip, and the next write's changes to the same timers
   * are sent after them — had the removal waited for the addition's answer, a later write that
   * re-arms a timer this one disarmed could be overtaken and lose it from the index. A failure is
   * logged, not thrown — the ticker's table sweep fires what the index missed.
   */
  async follow(write: OrderWrite, log: Logger): Promise<void> {
    try {
      await Promise.all([this.add(write.timersArmed), this.remove(write.timersDisarmed.map((key) => ({ orderId: write.order.id, key })))]);
    } catch (error) {
      log.warn('timer index update failed; the sweep will fire these timers', { payment_id: write.order.id, error: String(error) });
    }
  }

  /** Takes up to `limit` due members, pushing their scores to `nowMs + leaseMs`. */
  async claim(nowMs: number, leaseMs: number, limit: number): Promise<TimerRef[]> {
    const members = (await inRedis('timer index: claim', this.redis.eval(claimScript, 1, this.zsetKey, nowMs, nowMs + leaseMs, limit))) as string[];
    return members.map(refOf);
  }

  /** Adds every timer row (at its due time), then marks the index whole; returns how many. */
  async seed(store: Store): Promise<number> {
    let after: TimerRef | null = null;
    let seeded = 0;
    for (;;) {
      const page = await store.scanTimers(after, seed_page_timers);
      if (page.length === 0) break;
      await this.add(page);
      seeded += page.length;
      after = page.at(-1)!;
    }
    await inRedis('timer index: marking it seeded', this.redis.set(this.seededKey, '1'));
    return seeded;
  }

  /** Whether the index lost its members since it was seeded (its mark is gone with them). */
  async lost(): Promise<boolean> {
    return (await inRedis('timer index: checking its mark', this.redis.exists(this.seededKey))) === 0;
  }

  /**
   * Seeds a lost index again, unless another instance is at it (one at a time across instances);
   * null when this one did not.
   */
  async reseed(store: Store): Promise<number | null> {
    const mine = await inRedis('timer index: taking the re-seed', this.redis.set(this.reseedingKey, '1', 'PX', reseed_lease_ms, 'NX'));
    if (mine !== 'OK') return null;
    try {
      return await this.seed(store);
    } finally {
      await inRedis('timer index: ending the re-seed', this.redis.del(this.reseedingKey));
    }
  }
}
