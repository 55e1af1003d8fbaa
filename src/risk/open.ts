/**
 * Builds the risk center for a running paycenter. Counters: in Redis when configured (shared by
 * every instance); else in Postgres; else (SQLite, one instance) in memory, seeded from the orders.
 */
import type Redis from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import { redisRiskBus } from './bus.ts';
import { type RiskAlert, RiskCenter } from './center.ts';
import { type Counters, PostgresCounters } from './counters.ts';
import { MemoryCounters } from './counters-memory.ts';
import { RedisCounters } from './counters-redis.ts';
import { riskMetrics } from './metrics.ts';
import { regionOf } from './region.ts';
import { RiskRepo, openRiskDatabase } from './repo.ts';

/** `counters`: the ones the center reserves in, which a closed order's shares go back to (releases.ts). */
export type Risk = { center: RiskCenter; repo: RiskRepo; counters: Counters; close(): Promise<void> };

export async function openRisk(options: {
  databaseUrl: string; store: Store; redis: Redis | undefined; clock: Clock; log: Logger; registry: Registry; alert?: RiskAlert;
}): Promise<Risk> {
  const database = await openRiskDatabase(options.databaseUrl);
  // The counters' script on a connection of its own: auto-pipelined with everything else, every
  // create's per-order lock, nonce and timers waited behind the pipeline that carried it.
  const countersRedis = options.redis?.duplicate();
  // Counters in memory mean one instance (SQLite without Redis): it hears every payment itself.
  const single = !countersRedis && !database.counters;
  const counters: Counters = countersRedis
    ? new RedisCounters(countersRedis)
    : database.counters ? new PostgresCounters(database.counters) : await seededMemoryCounters(options.store, options.clock, options.log, options.registry);
  const bus = options.redis ? redisRiskBus(options.redis) : undefined;
  const repo = new RiskRepo(database.sql);
  const center = new RiskCenter({
    repo, counters, bus, clock: options.clock, log: options.log, regionOf, metrics: riskMetrics(options.registry), alert: options.alert,
    ...(single ? { historyFreshMs: Number.POSITIVE_INFINITY } : {}),
  });
  // The rules are read at the first evaluation, not here: a start does not wait for them.
  return {
    center, repo, counters,
    async close() {
      await bus?.close();
      await database.sql.close();
      await database.counters?.close();
      countersRedis?.disconnect();
    },
  };
}

async function seededMemoryCounters(store: Store, clock: Clock, log: Logger, registry: Registry): Promise<MemoryCounters> {
  const counters = new MemoryCounters();
  log.info('risk counters seeded from the orders', { orders: await counters.seedFromOrders(store, clock.now()) });
  new Gauge({
    name: 'paycenter_risk_counted_orders', registers: [registry],
    help: "Orders this instance's risk counters hold in memory (SQLite without Redis): one record an order, until its period or window is over",
    collect() {
      this.set(counters.countedOrders);
    },
  });
  return counters;
}
