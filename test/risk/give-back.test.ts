/**
 * A closed order's limit share comes back even when the counters' dependency fails at the close
 * (API.md: "an order that closes gives its share back"), over real HTTP: counters in Postgres,
 * made to refuse by a trigger, and in Redis, made to refuse by an ACL on the counters' keys. The
 * share is given back once the dependency answers again — by the instance that closed the order,
 * or by another started after it stopped — and only once: the limit still holds.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { ManualClock } from '../../src/clock.ts';
import { release_retry_gaps_ms, release_tries_for_ms, releaseRetried } from '../../src/risk/releases.ts';
import type { Paycenter } from '../../src/wiring.ts';
import { type Service, startRedis } from '../harness/services.ts';
import { type Answer, MerchantClient, adminCall, executeSql, startInstance } from '../http/harness.ts';
import { freshDatabase, onDatabase } from '../store/stores.ts';

/** 12:00 on 2026-12-01 in China: the day's limit holds all through each test. */
const t0 = Date.parse('2026-12-01T04:00:00.000Z');
/** Long enough for a running instance's loops to take up a row that came due (they poll every second at most). */
const taken_up_ms = 10_000;
/** Past any grace an instance leaves itself before another takes up its work. */
const later_ms = 5 * 60_000;

/** A dependency the counters use, made to refuse their writes and then to accept them again. */
type Fault = { env: Record<string, string>; store: 'sqlite' | 'postgres'; on(): Promise<void>; off(): Promise<void>; close(): Promise<void> };

async function postgresRefusesDeletes(databaseUrl: string): Promise<Omit<Fault, 'store'>> {
  await executeSql(databaseUrl, `CREATE FUNCTION refuse_release() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the database refuses'; END $$`);
  return {
    env: {},
    on: () => executeSql(databaseUrl, 'CREATE TRIGGER refuse_release BEFORE DELETE ON risk_counter_entries FOR EACH ROW EXECUTE FUNCTION refuse_release()'),
    off: () => executeSql(databaseUrl, 'DROP TRIGGER refuse_release ON risk_counter_entries'),
    close: async () => undefined,
  };
}

/** Every key but the counters' (`risk:…`, read-only meanwhile) stays writable: locks, nonces and timers go on. */
async function redisRefusesCounters(redis: Service): Promise<Omit<Fault, 'store'>> {
  const admin = new Redis(redis.url, { protocol: 2 } as never);
  return {
    env: { REDIS_URL: redis.url },
    on: async () => void (await admin.call('ACL', 'SETUSER', 'default', 'resetkeys', '~[^r]*', '~r[^i]*', '~ri[^s]*', '~ris[^k]*', '~risk[^:]*', '%R~risk:*')),
    off: async () => void (await admin.call('ACL', 'SETUSER', 'default', 'resetkeys', '~*')),
    close: async () => admin.disconnect(),
  };
}

/** The rows that give a closed order's shares back, as the database holds them. */
const releaseRows = async (databaseUrl: string) =>
  (await onDatabase(databaseUrl, "SELECT status, attempts FROM outbox WHERE kind = 'risk.release'")).map((r) => ({ status: r.status, attempts: Number(r.attempts) }));

/** Waits (for a running instance's loops) until `done` says so, at most taken_up_ms. */
async function until(done: () => Promise<boolean>): Promise<void> {
  for (const started = Date.now(); !(await done()) && Date.now() - started < taken_up_ms;) await Bun.sleep(100);
}

const setups = [
  { name: 'counters in Postgres', store: 'postgres' as const, fault: (databaseUrl: string) => postgresRefusesDeletes(databaseUrl) },
  { name: 'counters in Redis', store: 'sqlite' as const, fault: (_: string, redis: Service) => redisRefusesCounters(redis) },
];

for (const setup of setups) {
  describe(`a closed order's limit share, ${setup.name}`, () => {
    // The Redis a fault may close to the counters, this file's own.
    let redis: Service;
    beforeAll(async () => {
      redis = await startRedis();
    }, 60_000);
    afterAll(() => redis?.stop());

    for (const restart of [false, true]) {
      const how = restart ? 'by another instance after the one that closed it stopped' : 'by the instance that closed it';
      test(`comes back once the counters answer again, ${how}, and only once`, async () => {
        const clock = new ManualClock(t0);
        const database = await freshDatabase(setup.store);
        const fault = await setup.fault(database.url, redis);
        const instances: Paycenter[] = [];
        const start = async () => instances[instances.push(await startInstance(database.url, fault.env, { clock })) - 1]!;
        try {
          let paycenter = await start();
          const merchant = await MerchantClient.create(paycenter.url);
          await adminCall(paycenter.url, 'POST', '/admin/risk/rules', { code: 'one_a_day', kind: 'limit', action: 'reject', params: { subject: 'user', period: 'day', count: 1 } });
          const create = (client: MerchantClient) => client.createPayment({ user_id: `payer-${restart}` }, { timestamp: Math.floor(clock.now() / 1000) });
          const first = await create(merchant);
          expect(first.status).toBe(201);
          expect((await create(merchant)).status).toBe(422);

          await fault.on();
          const closed = await merchant.call('POST', `/v1/payments/${first.body.id}/close`, undefined, { timestamp: Math.floor(clock.now() / 1000) });
          expect(closed.body.status).toBe('closed');
          // While the counters refuse, no order of this payer's is counted in (Postgres: the share is still there; Redis: nothing is written).
          expect((await create(merchant)).status).not.toBe(201);
          if (restart) {
            await paycenter.stop();
            instances.pop();
          } else {
            // The loop takes the row up after the grace, and is refused too: it tries again later.
            clock.advance(later_ms);
            await until(async () => (await releaseRows(database.url))[0]?.attempts === 1);
          }
          await fault.off();
          if (restart) paycenter = await start();
          const client = new MerchantClient(paycenter.url, merchant.merchantId, merchant.secret);

          clock.advance(later_ms);
          let next: Answer | undefined;
          await until(async () => (next = await create(client)).status !== 422);
          expect(next?.status).toBe(201);
          // Given back by the loop: at the first try after a restart, at the second in the instance whose first it refused.
          expect(await releaseRows(database.url)).toEqual([{ status: 'done', attempts: restart ? 1 : 2 }]);
          // The share came back once: the order just created fills the day again.
          expect((await create(client)).status).toBe(422);
        } finally {
          for (const instance of instances) await instance.stop();
          await fault.off().catch(() => undefined);
          await fault.close();
          await database.drop();
        }
      }, 60_000);
    }
  });
}

describe('a refused release is tried again', () => {
  const row = (attempts: number) => ({ id: 'obx_1', orderId: 'pay_1', kind: 'risk.release', payload: {}, createdAt: t0, dueAt: t0, attempts, claim: 1 });
  const middle = () => 0.5;

  test('after growing gaps, the last repeating, until no counter can hold the share any more', () => {
    expect(releaseRetried(row(0), t0, 'down', middle).next).toEqual({ status: 'retry', dueAt: t0 + release_retry_gaps_ms[0]! });
    expect(releaseRetried(row(50), t0, 'down', middle).next).toEqual({ status: 'retry', dueAt: t0 + release_retry_gaps_ms.at(-1)! });
    const late = t0 + release_tries_for_ms - 1_000;
    expect(releaseRetried(row(50), late, 'down', middle)).toEqual({ outboxId: 'obx_1', claim: 1, at: late, error: 'down', next: { status: 'done' } });
  });
});
