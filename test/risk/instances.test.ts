/**
 * Risk across instances. Three paycenter processes share one Postgres and one Redis: 50
 * concurrent creates by one payer, spread over all three, against a daily limit of 10 payments
 * (and of 1000.00) let exactly 10 through once every instance has read the rule; closing 3 lets
 * exactly 3 more. A rule changed on one instance applies on another as soon as Redis tells it
 * (pub/sub), and after the 2 s reload without Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { ManualClock } from '../../src/clock.ts';
import { reload_interval_ms } from '../../src/risk/center.ts';
import type { Paycenter } from '../../src/wiring.ts';
import { type Answer, MerchantClient, admin_token, adminCall, secret_key, startInstance } from '../http/harness.ts';
import { freshDatabase } from '../store/stores.ts';

const processes_total = 3;
/** How long the test waits at most for another process (pub/sub delivery, an asynchronous release). */
const other_process_wait_ms = 2_000;

async function eventually(check: () => Promise<boolean>, waitMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > waitMs) throw new Error(`not within ${waitMs} ms`);
    await Bun.sleep(20);
  }
  return performance.now() - started;
}

describe('three processes on Postgres + Redis', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let children: Array<ReturnType<typeof Bun.spawn>> = [];
  let urls: string[] = [];
  let merchants: MerchantClient[] = [];
  let redis: Redis;

  beforeAll(async () => {
    database = await freshDatabase('postgres');
    redis = new Redis(process.env.TEST_REDIS_URL!, { protocol: 2 } as never);
    // The first instance migrates alone; the others start on the migrated database together.
    const spawn = () => Bun.spawn(['bun', `${import.meta.dir}/instance-worker.ts`], {
      env: { ...process.env, RISK_DATABASE_URL: database.url, RISK_REDIS_URL: process.env.TEST_REDIS_URL!, RISK_ADMIN_TOKEN: admin_token, RISK_SECRET_KEY: secret_key },
      stdin: 'pipe', stdout: 'pipe', stderr: 'inherit',
    });
    const urlOf = async (child: ReturnType<typeof spawn>) => {
      const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('\n')) {
        const { value, done } = await reader.read();
        if (done) throw new Error('an instance exited before it started');
        text += new TextDecoder().decode(value);
      }
      return (JSON.parse(text.split('\n')[0]!) as { url: string }).url;
    };
    children = [spawn()];
    urls = [await urlOf(children[0]!)];
    const more = Array.from({ length: processes_total - 1 }, spawn);
    children.push(...more);
    urls.push(...(await Promise.all(more.map(urlOf))));
    const first = await MerchantClient.create(urls[0]!);
    merchants = urls.map((url) => new MerchantClient(url, first.merchantId, first.secret));
  }, 60_000);

  afterAll(async () => {
    for (const child of children) (child.stdin as import('bun').FileSink).end();
    await Promise.all(children.map((child) => child.exited));
    redis?.disconnect();
    await database?.drop();
  }, 60_000);

  /** Each process's whole reads of the risk rules after a change (`paycenter_risk_rule_reads_total`). */
  const ruleReads = (): Promise<number[]> =>
    Promise.all(urls.map(async (url) => Number(/^paycenter_risk_rule_reads_total (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0)));

  /**
   * Creates a rule on one process and waits until the others have read it: they reload when
   * Redis tells them (API.md: a change applies everywhere within 2 s), and a burst sent the
   * moment the answer arrives could otherwise meet a process still reading.
   */
  async function createRuleEverywhere(on: number, rule: Record<string, unknown>): Promise<void> {
    const before = await ruleReads();
    expect((await adminCall(urls[on]!, 'POST', '/admin/risk/rules', rule)).status).toBe(201);
    await eventually(async () => (await ruleReads()).every((reads, i) => i === on || reads > before[i]!), other_process_wait_ms);
  }

  /** 50 creates at once, round-robin over the three processes. */
  const burst = (fields: Record<string, unknown>): Promise<Answer[]> =>
    Promise.all(Array.from({ length: 50 }, (_, i) => merchants[i % processes_total]!.createPayment(fields)));

  /** A payer's limits share one counter per period (`risk:l|user|merchant|user id|day`). */
  async function exactlyTenThenThree(fields: { user_id: string; amount?: string }) {
    const created = (await burst(fields)).filter((a) => a.status === 201);
    expect(created).toHaveLength(10);
    for (const [i, order] of created.slice(0, 3).entries()) {
      expect((await merchants[i]!.call('POST', `/v1/payments/${order.body.id}/close`)).body.status).toBe('closed');
    }
    // Each close returns its share from the process that closed it, right after its commit.
    const [bucket] = await redis.keys(`risk:l|user|*|${fields.user_id}|*`);
    await eventually(async () => (await redis.hget(bucket!, '#n')) === '7', other_process_wait_ms);
    expect((await burst(fields)).filter((a) => a.status === 201)).toHaveLength(3);
  }

  test('a daily count limit of 10: exactly 10 of 50, then exactly 3 more after 3 closes', async () => {
    await createRuleEverywhere(0, { code: 'count10', kind: 'limit', action: 'reject', params: { subject: 'user', period: 'day', count: 10 } });
    await exactlyTenThenThree({ user_id: 'mp-count' });
  }, 60_000);

  test('a daily amount limit of 1000.00 with 100.00 payments: the same', async () => {
    await createRuleEverywhere(1, { code: 'amount1000', kind: 'limit', action: 'reject', params: { subject: 'user', period: 'day', amount: '1000.00' } });
    await exactlyTenThenThree({ user_id: 'mp-amount', amount: '100.00' });
  }, 60_000);

  test('a list entry added on one instance refuses on the others within 2 s (Redis pub/sub)', async () => {
    await adminCall(urls[0]!, 'POST', '/admin/risk/rules', { code: 'bl', kind: 'blacklist', action: 'reject', params: { subjects: ['device'] } });
    expect((await merchants[2]!.createPayment({ device_id: 'mp-dev' })).status).toBe(201);
    await adminCall(urls[0]!, 'POST', '/admin/risk/lists', { subject: 'device', value: 'mp-dev' });
    const took = await eventually(async () => (await merchants[2]!.createPayment({ device_id: 'mp-dev' })).status === 422, other_process_wait_ms);
    expect(took).toBeLessThan(2_000);
  }, 30_000);
});

describe('two instances on Postgres without Redis', () => {
  const clock = new ManualClock(Date.now());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let a: Paycenter;
  let b: Paycenter;

  beforeAll(async () => {
    database = await freshDatabase('postgres');
    a = await startInstance(database.url, {}, { clock, manualTicker: true });
    b = await startInstance(database.url, {}, { clock, manualTicker: true });
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.drop();
  }, 60_000);

  test(`a rule created on one instance applies on the other once its copy is ${reload_interval_ms} ms old, not before`, async () => {
    const onA = await MerchantClient.create(a.url);
    const onB = new MerchantClient(b.url, onA.merchantId, onA.secret);
    const create = () => onB.createPayment({ user_id: 'u-poll' }, { timestamp: Math.floor(clock.now() / 1000) });
    expect((await create()).status).toBe(201);
    await adminCall(a.url, 'POST', '/admin/risk/rules', { code: 'single1', kind: 'limit', action: 'reject', params: { subject: 'user', period: 'single', amount: '1.00' } });
    expect((await onA.createPayment({ user_id: 'u-poll' }, { timestamp: Math.floor(clock.now() / 1000) })).status).toBe(422);
    clock.advance(reload_interval_ms - 1);
    expect((await create()).status).toBe(201);
    clock.advance(1);
    expect((await create()).status).toBe(422);
  });
});
