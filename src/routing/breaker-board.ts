/**
 * Where the breakers live, shared by every instance: Redis when configured, the store otherwise.
 * Moves are compare-and-set on a version, so two instances that see the same failures open a
 * breaker once; the half-open probe gate is a `SET NX PX` (a conditional update in the store),
 * so one probe at a time goes through across all instances. An answered probe that does not yet
 * close the breaker is a half_open → half_open move: the same compare-and-set counts it, so
 * answers seen by different instances add up exactly. Transitions are recorded in the store
 * either way: operators read them there.
 */
import type Redis from 'ioredis';
import * as v from 'valibot';
import { DependencyError, inRedis } from '../failures.ts';
import { closedBreaker } from '../store/rows.ts';
import type { BreakerRow, BreakerStateName, BreakerTransitionRow, Store } from '../store/store.ts';

export interface BreakerBoard {
  read(codes: readonly string[], now: number): Promise<Map<string, BreakerRow>>;
  /** Writes `row` if the breaker is still at `row.version - 1`, and records the transition; false when another instance moved first. */
  swap(row: BreakerRow, transition: BreakerTransitionRow): Promise<boolean>;
  /** Takes the half-open probe gate for `ttlMs` if nobody holds it. */
  claimProbe(code: string, now: number, ttlMs: number): Promise<boolean>;
  /**
   * The half_open → half_open moves (answered probes) of the half-open period `row` is in, counted
   * up to `max`. Read before a compare-and-set on `row.version`: when that wins, nothing moved since.
   */
  probesPassed(row: BreakerRow, max: number): Promise<number>;
}

const isProbeMove = (t: BreakerTransitionRow) => t.from === 'half_open' && t.to === 'half_open';

export class StoreBoard implements BreakerBoard {
  constructor(private readonly store: Store) {}

  async read(codes: readonly string[]): Promise<Map<string, BreakerRow>> {
    return new Map((await this.store.loadBreakers(codes)).map((row) => [row.code, row]));
  }

  swap(row: BreakerRow, transition: BreakerTransitionRow): Promise<boolean> {
    return this.store.swapBreaker(row, transition);
  }

  claimProbe(code: string, now: number, ttlMs: number): Promise<boolean> {
    return this.store.claimBreakerProbe(code, now, now + ttlMs);
  }

  /**
   * From the transitions, written in the same transaction as each move: newest first, this
   * period's probe moves are at or after `since` (its open → half_open; an earlier period ended
   * at least BREAKER_OPEN_S before).
   */
  async probesPassed(row: BreakerRow, max: number): Promise<number> {
    const recent = await this.store.listBreakerTransitions(row.code, max + 1);
    return Math.min(max, recent.filter((t) => t.at >= row.since && isProbeMove(t)).length);
  }
}

/**
 * KEYS: the breaker's hash, its probe gate. ARGV: the version expected, then the new fields.
 * `probes` counts half_open → half_open moves (answered probes) and starts at 0 with every other move.
 */
const swapScript = `
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return 0 end
local probes = 0
if ARGV[2] == 'half_open' and redis.call('HGET', KEYS[1], 'state') == 'half_open' then
  probes = tonumber(redis.call('HGET', KEYS[1], 'probes') or '0') + 1
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'forced', ARGV[3], 'opened_at', ARGV[4], 'since', ARGV[5], 'version', ARGV[6], 'probes', probes)
redis.call('DEL', KEYS[2])
return 1`;

/** A breaker hash as HGETALL answers it (empty for a breaker never moved). */
const breaker_hash = v.record(v.string(), v.string());

const states: readonly BreakerStateName[] = ['closed', 'open', 'half_open'];

function integerField(value: string | undefined, name: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isSafeInteger(n)) throw new Error(`assertion failed: breaker field ${name} reads ${String(value)}`);
  return n;
}

/** A breaker hash as written by swapScript; an absent one is a closed breaker at version 0. */
function breakerOfHash(code: string, hash: Record<string, string>): BreakerRow {
  if (hash.version === undefined) return closedBreaker(code);
  const state = states.find((s) => s === hash.state);
  if (!state) throw new Error(`assertion failed: breaker ${code} has state ${String(hash.state)}`);
  return {
    code, state, forced: hash.forced === '1', openedAt: hash.opened_at === '' ? null : integerField(hash.opened_at, 'opened_at'),
    since: integerField(hash.since, 'since'), version: integerField(hash.version, 'version'), probeUntil: 0,
  };
}

export class RedisBoard implements BreakerBoard {
  /** `prefix` scopes the keys to one paycenter's database (see routing_scope). */
  constructor(private readonly redis: Redis, private readonly store: Store, private readonly prefix: string) {}

  private key = (code: string) => `${this.prefix}:${code}`;
  private gate = (code: string) => `${this.prefix}:${code}:probe`;

  async read(codes: readonly string[]): Promise<Map<string, BreakerRow>> {
    const pipeline = this.redis.pipeline();
    for (const code of codes) pipeline.hgetall(this.key(code));
    const replies = (await inRedis('breakers: reading', pipeline.exec())) ?? [];
    return new Map(codes.map((code, i) => {
      const [error, hash] = replies[i] ?? [new Error('no reply')];
      if (error) throw new DependencyError('redis', `breakers: reading ${code} failed: ${error.message}`, { cause: error });
      return [code, breakerOfHash(code, v.parse(breaker_hash, hash ?? {}))];
    }));
  }

  async swap(row: BreakerRow, transition: BreakerTransitionRow): Promise<boolean> {
    const won = await inRedis('breakers: moving', this.redis.eval(
      swapScript, 2, this.key(row.code), this.gate(row.code),
      String(row.version - 1), row.state, row.forced ? '1' : '0', row.openedAt === null ? '' : String(row.openedAt), String(row.since), String(row.version),
    ));
    if (won !== 1) return false;
    await this.store.insertBreakerTransition(transition);
    return true;
  }

  async claimProbe(code: string, _now: number, ttlMs: number): Promise<boolean> {
    return (await inRedis('breakers: taking the probe gate', this.redis.set(this.gate(code), '1', 'PX', ttlMs, 'NX'))) === 'OK';
  }

  async probesPassed(row: BreakerRow, max: number): Promise<number> {
    const probes = await inRedis('breakers: counting probes', this.redis.hget(this.key(row.code), 'probes'));
    return Math.min(max, probes === null ? 0 : integerField(probes, 'probes'));
  }
}
