/**
 * One engine process of the multi-process race test. It reads the orders to hit from
 * RACE_ORDERS_FILE and sends each order its share of the same success callback (and, on
 * worker 0, a racing timeout), all at once, then prints one JSON line of counts.
 */
import Redis from 'ioredis';
import type { PaymentEvent } from '../../machines/payment.rules.ts';
import { RedlockLock } from '../../src/lock/redlock.ts';
import { openStore } from '../../src/store/open.ts';
import { engineOn, paidReport, t0 } from './fixtures.ts';

/** Dispatches in flight at once in this process. */
const worker_concurrency_max = 256;

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const orders: Array<{ orderId: string; flowId: string }> = await Bun.file(env('RACE_ORDERS_FILE')).json();
const worker = Number(env('RACE_WORKER'));
const workers = Number(env('RACE_WORKERS'));
const callbacksPerOrder = Number(env('RACE_CALLBACKS_PER_ORDER'));

const store = await openStore(env('RACE_DATABASE_URL'));
const redis = new Redis(env('RACE_REDIS_URL'), { protocol: 2 } as never);
const engine = engineOn(store, new RedlockLock([redis]));

const events: Array<{ orderId: string; event: PaymentEvent }> = [];
for (const { orderId, flowId } of orders) {
  for (let i = worker; i < callbacksPerOrder; i += workers) events.push({ orderId, event: paidReport(flowId, 10_000, t0 + 2_000 + i) });
  if (worker === 0) events.push({ orderId, event: { type: 'timer.expire', at: t0 + 1_800_000 } });
}
// Interleave orders so every order is contended by every process at the same time.
events.sort(() => Math.random() - 0.5);

const counts = { applied: 0, rejected: 0, refused: 0, not_found: 0, errors: [] as string[] };
let next = 0;
async function lane(): Promise<void> {
  while (next < events.length) {
    const { orderId, event } = events[next++]!;
    try {
      const result = await engine.dispatch(orderId, event);
      counts[result.outcome] += 1;
    } catch (error) {
      counts.errors.push(String(error));
    }
  }
}
await Promise.all(Array.from({ length: worker_concurrency_max }, lane));
console.log(JSON.stringify(counts));
await store.close();
await redis.quit();
