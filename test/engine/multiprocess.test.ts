/**
 * Three engine processes share one Postgres and one Redis. 500 orders each get the same
 * success callback 20 times, spread over all processes at once, plus a racing timeout.
 * Every order must end succeeded, with exactly one payment.succeeded, a gap-free journal,
 * and no lock left behind.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineOn, orderPaying } from './fixtures.ts';
import { freshStore } from '../store/stores.ts';

const orders_total = 500;
const callbacks_per_order = 20;
const processes_total = 3;

let fresh: Awaited<ReturnType<typeof freshStore>>;
beforeAll(async () => {
  fresh = await freshStore('postgres');
});
afterAll(async () => {
  await fresh?.dispose();
});

test('500 orders × 20 duplicate callbacks + a timeout across 3 processes settle exactly once each', async () => {
  const engine = engineOn(fresh.store);
  const orders = await Promise.all(Array.from({ length: orders_total }, () => orderPaying(engine)));
  mkdirSync('.test-tmp', { recursive: true });
  const dir = mkdtempSync(join('.test-tmp', 'race-'));
  const ordersFile = join(dir, 'orders.json');
  writeFileSync(ordersFile, JSON.stringify(orders));

  const children = Array.from({ length: processes_total }, (_, worker) =>
    Bun.spawn(['bun', join(import.meta.dir, 'race-worker.ts')], {
      env: {
        ...process.env, RACE_ORDERS_FILE: ordersFile, RACE_WORKER: String(worker), RACE_WORKERS: String(processes_total),
        RACE_CALLBACKS_PER_ORDER: String(callbacks_per_order), RACE_DATABASE_URL: fresh.url, RACE_REDIS_URL: process.env.TEST_REDIS_URL!,
      },
      stdout: 'pipe',
      stderr: 'inherit',
    }),
  );
  const reports = await Promise.all(children.map(async (child) => {
    const out = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    return JSON.parse(out.trim().split('\n').at(-1)!) as { applied: number; rejected: number; errors: string[] };
  }));
  for (const report of reports) expect(report.errors).toEqual([]);
  const applied = reports.reduce((sum, r) => sum + r.applied, 0);
  // Per order: the success applies once; the timeout applies only when it came first.
  expect(applied).toBeGreaterThanOrEqual(orders_total);
  expect(applied).toBeLessThanOrEqual(orders_total * 2);

  for (const { orderId } of orders) {
    const row = await fresh.store.loadOrder(orderId);
    expect(row?.status).toBe('succeeded');
    const journal = await fresh.store.listJournal(orderId);
    expect(journal.map((j) => j.seq)).toEqual(Array.from({ length: row!.version }, (_, i) => i + 1));
    const succeeded = (await fresh.store.listMerchantEvents(orderId)).filter((e) => e.type === 'payment.succeeded');
    expect(succeeded).toHaveLength(1);
  }
  const redis = new Redis(process.env.TEST_REDIS_URL!);
  expect(await redis.keys('lock:*')).toEqual([]);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
}, 240_000);
