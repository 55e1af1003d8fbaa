/**
 * Two instances' breakers on one shared board (the store, SQLite and Postgres, or Redis): the
 * half-open gate lets one probe through at a time across both, answered probes counted by either
 * instance add up to BREAKER_HALF_OPEN_PROBES and close the breaker, a failed probe re-opens it and
 * the next half-open period counts from zero. The clock is moved by hand.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { ManualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { default_breaker_settings as settings } from '../../src/routing/breaker.ts';
import { type BreakerBoard, RedisBoard, StoreBoard } from '../../src/routing/breaker-board.ts';
import { Breakers, breaker_cache_ms } from '../../src/routing/breakers.ts';
import { LocalHealth } from '../../src/routing/health.ts';
import { emptyTotals } from '../../src/routing/window.ts';
import { t0, unique } from '../store/fixtures.ts';
import { type FreshStore, freshStore } from '../store/stores.ts';

const boards = ['sqlite', 'postgres', 'redis'] as const;
const failing = { outcome: 'failed', window: { totals: { ...emptyTotals(), calls: settings.consecutive, failures: settings.consecutive }, consecutiveFailures: settings.consecutive } } as const;
const answering = { outcome: 'answered', window: { totals: { ...emptyTotals(), calls: 1, failures: 0 }, consecutiveFailures: 0 } } as const;

describe.each(boards)('breakers shared by two instances (board in %s)', (kind) => {
  let fresh: FreshStore;
  let redis: Redis | null = null;
  let board: () => BreakerBoard;
  const clock = new ManualClock(t0);

  beforeAll(async () => {
    fresh = await freshStore(kind === 'postgres' ? 'postgres' : 'sqlite');
    if (kind === 'redis') redis = new Redis(process.env.TEST_REDIS_URL!);
    const prefix = `paycenter:${unique()}:breaker`;
    board = () => (redis ? new RedisBoard(redis, fresh.store, prefix) : new StoreBoard(fresh.store));
  }, 30_000);
  afterAll(async () => {
    redis?.disconnect();
    await fresh?.dispose();
  });

  /** Two instances: each its own caches and tickets, the board shared. */
  const instances = () => [0, 1].map(() => new Breakers({ board: board(), store: fresh.store, health: new LocalHealth(), clock, log: createLogger('error') }, settings));

  async function openedBy(a: Breakers, code: string): Promise<void> {
    expect(await a.observe(code, failing)).toBe('open');
    clock.advance(settings.openMs);
  }

  test('one probe at a time across both; answered probes counted by either add up and close it', async () => {
    const code = `c_${unique()}`;
    const [a, b] = instances() as [Breakers, Breakers];
    await openedBy(a, code);
    // Probe 1 through a, 2 through b, 3 through a: each time the other is refused while it is in flight.
    for (const [n, [prober, other]] of ([[a, b], [b, a], [a, b]] as const).entries()) {
      expect(await prober.admitPrepay(code)).toBe('probe');
      expect(await other.admitPrepay(code)).toBe('refused');
      clock.advance(100);
      expect(await prober.observe(code, answering, true)).toBe(n + 1 < settings.halfOpenProbes ? 'half_open' : 'closed');
    }
    clock.advance(breaker_cache_ms);
    for (const instance of [a, b]) expect((await instance.states([code])).get(code)!.state).toBe('closed');
    expect(await b.admitPrepay(code)).toBe('admitted');
    const transitions = await fresh.store.listBreakerTransitions(code, 10);
    expect(transitions.map((t) => [t.from, t.to, t.reason])).toEqual([
      ['half_open', 'closed', '3 half-open probes answered in a row'],
      ['half_open', 'half_open', 'half-open probe 2 of 3 answered'],
      ['half_open', 'half_open', 'half-open probe 1 of 3 answered'],
      ['open', 'half_open', `open for ${settings.openMs / 1000} s: letting a probe through`],
      ['closed', 'open', `${settings.consecutive} calls failed in a row`],
    ]);
  });

  test("a close another instance made starts this instance's own window afresh: its old failures do not re-open it", async () => {
    const code = `c_${unique()}`;
    const ownWindow = new LocalHealth();
    const a = new Breakers({ board: board(), store: fresh.store, health: new LocalHealth(), clock, log: createLogger('error') }, settings);
    const b = new Breakers({ board: board(), store: fresh.store, health: ownWindow, clock, log: createLogger('error') }, settings);
    for (let i = 1; i < settings.consecutive; i++) await ownWindow.add(code, 'failed', 5, clock.now(), true);
    expect((await b.states([code])).get(code)!.state).toBe('closed');
    await openedBy(a, code);
    for (let probe = 0; probe < settings.halfOpenProbes; probe++) {
      expect(await a.admitPrepay(code)).toBe('probe');
      await a.observe(code, answering, true);
    }
    clock.advance(breaker_cache_ms);
    expect((await b.states([code])).get(code)!.state).toBe('closed');
    expect((await ownWindow.read([code], clock.now())).get(code)!).toMatchObject({ totals: { calls: 0, failures: 0 }, consecutiveFailures: 0 });
    const failure = { outcome: 'failed', window: await ownWindow.add(code, 'failed', 5, clock.now(), true) } as const;
    expect(await b.observe(code, failure)).toBeNull();
  });

  test('a failed probe re-opens it, and the next half-open period counts its probes from zero', async () => {
    const code = `c_${unique()}`;
    const [a, b] = instances() as [Breakers, Breakers];
    await openedBy(a, code);
    expect(await a.admitPrepay(code)).toBe('probe');
    expect(await a.observe(code, answering, true)).toBe('half_open');
    expect(await b.admitPrepay(code)).toBe('probe');
    expect(await b.observe(code, failing, true)).toBe('open');
    // a sees the move within breaker_cache_ms (every instance within 2 s, API.md).
    clock.advance(breaker_cache_ms);
    expect(await a.admitPrepay(code)).toBe('refused');
    clock.advance(settings.openMs);
    expect(await a.admitPrepay(code)).toBe('probe');
    expect(await a.observe(code, answering, true)).toBe('half_open');
    const [latest, failed] = await fresh.store.listBreakerTransitions(code, 3);
    expect(latest!.reason).toBe('half-open probe 1 of 3 answered');
    expect(failed).toMatchObject({ from: 'open', to: 'half_open' });
  });

  test('a probe routed by an instance whose cache is a counted probe behind still goes out, its cache refreshed or not', async () => {
    const code = `c_${unique()}`;
    const [a, b] = instances() as [Breakers, Breakers];
    await openedBy(a, code);
    const seenByB = (await b.states([code])).get(code)!;
    expect(seenByB.state).toBe('half_open');
    expect(await a.admitPrepay(code)).toBe('probe');
    expect(await a.observe(code, answering, true)).toBe('half_open');
    // b routes with the breaker as its cache has it; its cache expires before the prepay is admitted.
    expect(await b.claimProbe(seenByB)).toBe(true);
    clock.advance(breaker_cache_ms);
    expect(await b.admitPrepay(code)).toBe('probe');
    expect(await a.admitPrepay(code)).toBe('refused');
  });

  test('answers seen by both instances at once are both counted; answers of calls that were not the probe are not', async () => {
    const code = `c_${unique()}`;
    const [a, b] = instances() as [Breakers, Breakers];
    await openedBy(a, code);
    expect(await a.admitPrepay(code)).toBe('probe');
    // A query answered while half-open proves nothing the gate let through.
    expect(await b.observe(code, answering)).toBeNull();
    // Two probes in flight at once happen only when a gate outlived its holder; both still count.
    const moved = await Promise.all([a.observe(code, answering, true), b.observe(code, answering, true)]);
    expect(moved).toEqual(['half_open', 'half_open']);
    expect(await b.admitPrepay(code)).toBe('probe');
    expect(await b.observe(code, answering, true)).toBe('closed');
  });
});
