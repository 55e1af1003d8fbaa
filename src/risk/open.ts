/** Builds the risk center for a running paycenter: counters in Redis when configured, else in the store. */
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { redisChangeBus } from './bus.ts';
import { type RiskAlert, RiskCenter } from './center.ts';
import { type Counters, PostgresCounters, SqliteCounters } from './counters.ts';
import { RedisCounters } from './counters-redis.ts';
import { riskMetrics } from './metrics.ts';
import { regionOf } from './region.ts';
import { RiskRepo, openRiskDatabase } from './repo.ts';

export type Risk = { center: RiskCenter; repo: RiskRepo; close(): Promise<void> };

export async function openRisk(options: {
  databaseUrl: string; redis: Redis | undefined; clock: Clock; log: Logger; registry: Registry; alert?: RiskAlert;
}): Promise<Risk> {
  const database = await openRiskDatabase(options.databaseUrl);
  const counters: Counters = options.redis
    ? new RedisCounters(options.redis)
    : database.sqlite ? new SqliteCounters(database.sqlite) : new PostgresCounters(database.postgres!);
  const bus = options.redis ? redisChangeBus(options.redis) : undefined;
  const repo = new RiskRepo(database.sql);
  const center = new RiskCenter({
    repo, counters, bus, clock: options.clock, log: options.log, regionOf, metrics: riskMetrics(options.registry), alert: options.alert,
  });
  await center.reload();
  return {
    center, repo,
    async close() {
      await bus?.close();
      await database.sql.close();
    },
  };
}
