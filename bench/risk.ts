/**
 * bun run bench risk — one create's risk evaluation with 100 enabled rules of mixed kinds
 * (bench/risk-rules.ts), called in-process one after the other: `local` is a single instance
 * on SQLite (counters in memory, seeded from the orders), `redis` keeps them in a Redis server
 * started here, `postgres` in a Postgres started here (no Redis: the store's counters). Each
 * evaluation checks 40 counting rules (20 limits, 20 velocity windows) in 9 counters (limits on one
 * subject and period share one, windows on one subject too) and reads the payer's history once.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.ts';
import { newId } from '../src/ids.ts';
import { createLogger } from '../src/log.ts';
import { openRisk } from '../src/risk/open.ts';
import { ruleOf } from '../src/risk/rules.ts';
import { list_subjects } from '../src/risk/rules.ts';
import { openStore } from '../src/store/open.ts';
import { startPostgres, startRedis } from '../test/harness/services.ts';
import { runConfigurations } from './configurations.ts';
import { benchListEntries, benchPayer, benchRules } from './risk-rules.ts';

const evaluations = Number(process.env.BENCH_RISK_EVALS ?? 20_000);
const warmup = 1_000;
const repo = join(import.meta.dir, '..');

async function benchMode(mode: 'local' | 'redis' | 'postgres', databaseUrl: string, redisUrl: string | null): Promise<string> {
  const store = await openStore(databaseUrl);
  await store.migrate();
  const redis = redisUrl ? new Redis(redisUrl, { protocol: 2 } as never) : undefined;
  const risk = await openRisk({ databaseUrl, store, redis, clock: systemClock, log: createLogger('error'), registry: new Registry() });
  const now = Date.now();
  for (const spec of benchRules()) {
    const parsed = ruleOf({ ...spec, kind: spec.kind as never, status: 'enabled', createdAt: now, updatedAt: now });
    if (!parsed.ok) throw new Error(`bench rule ${spec.code}: ${parsed.issue.field} ${parsed.issue.message}`);
    await risk.repo.insertRule(parsed.rule);
  }
  for (const entry of benchListEntries()) {
    const subject = list_subjects.find((s) => s === entry.subject)!;
    await risk.repo.insertEntry({ id: newId('rsk', now), subject, value: entry.value, reason: null, createdAt: now });
  }
  await risk.center.reload();

  const latenciesUs: number[] = [];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < warmup + evaluations; i++) {
    const payer = benchPayer(i);
    const t = performance.now();
    const assessed = await risk.center.assessCreate({
      orderId: newId('pay'), merchantId: 'M1', amount: 10_000, currency: 'CNY',
      userId: payer.user_id, deviceId: payer.device_id, clientIp: payer.client_ip, at: Date.now(),
    });
    if (!assessed.ok) throw new Error(`bench evaluation refused by ${assessed.rules.join(', ')}`);
    if (i >= warmup) latenciesUs.push((performance.now() - t) * 1000);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // This process's CPU per evaluation (not Redis's or Postgres's): steadier than a rate on a shared machine.
  const cpuUs = (cpu.user + cpu.system) / (warmup + evaluations);
  latenciesUs.sort((a, b) => a - b);
  const p50 = latenciesUs[Math.floor(latenciesUs.length * 0.5)]!;
  const p99 = latenciesUs[Math.floor(latenciesUs.length * 0.99)]!;
  const perSecond = (warmup + evaluations) / seconds;
  console.log(`${mode}: ${perSecond.toFixed(0)} evaluations/s, p50 ${p50.toFixed(0)} µs, p99 ${p99.toFixed(0)} µs, this process's CPU ${cpuUs.toFixed(0)} µs each (100 rules, 9 counters each)`);
  await risk.close();
  redis?.disconnect();
  await store.close();
  return `RESULT risk mode=${mode} evals_per_s=${perSecond.toFixed(0)} p99_us=${p99.toFixed(0)}`;
}

async function withService<T>(start: () => Promise<{ url: string; stop: () => Promise<void> }>, run: (url: string) => Promise<T>): Promise<T> {
  const service = await start();
  try {
    return await run(service.url);
  } finally {
    await service.stop();
  }
}

const dir = join(repo, '.test-tmp', `bench-risk-${process.pid}`);
mkdirSync(dir, { recursive: true });
let code: number;
try {
  code = await runConfigurations('risk', [
    { name: 'mode=local', needs: [], run: () => benchMode('local', `sqlite:${join(dir, 'local.db')}`, null) },
    { name: 'mode=redis', needs: ['redis-server'], run: () => withService(startRedis, (url) => benchMode('redis', `sqlite:${join(dir, 'redis.db')}`, url)) },
    { name: 'mode=postgres', needs: ['postgres'], run: () => withService(startPostgres, (url) => benchMode('postgres', url, null)) },
  ]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
