/**
 * The ticker with a Redis timer index that cannot be reached: the tick goes on without it — the
 * table is swept (every tick, without grace, as without Redis) and due timers fire. A failing
 * index used to throw the tick away before its sweep, so no timer fired while the index's Redis
 * was down, even where the orders' locks were elsewhere. Real store, real (unreachable) Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { Parking } from '../../actors/parking.ts';
import { RedisTimerIndex } from '../../actors/redis-timers.ts';
import { Ticker } from '../../actors/ticker.ts';
import { ManualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { freePort } from '../harness/services.ts';
import { type FreshStore, freshStore } from '../store/stores.ts';
import { engineOn, orderInput, t0 } from './fixtures.ts';

describe('the ticker, its index unreachable (sqlite)', () => {
  let fresh: FreshStore;
  let unreachable: Redis;
  beforeAll(async () => {
    fresh = await freshStore('sqlite');
    unreachable = new Redis({ host: '127.0.0.1', port: await freePort(), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  });
  afterAll(async () => {
    unreachable.disconnect();
    await fresh?.dispose();
  });

  test('sweeps the table instead, and a due order closes', async () => {
    const clock = new ManualClock(t0);
    const log = createLogger('error');
    const engine = engineOn(fresh.store);
    const input = orderInput();
    expect((await engine.create(input)).outcome).toBe('created');
    const ticker = new Ticker({ engine, store: fresh.store, clock, log, parking: new Parking({ store: fresh.store, clock, log }), index: new RedisTimerIndex(unreachable) });
    clock.advance(input.expiresAt - t0 + 1);
    expect(await ticker.tick()).toBe(1);
    expect((await engine.load(input.id))!.row.status).toBe('closed');
  });
});
