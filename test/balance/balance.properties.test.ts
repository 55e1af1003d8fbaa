/**
 * Random concurrent sequences per payer — credits, debits, balance-only, combined and channel
 * pays on 1–5 orders, the payer paying, failing or paying late at the sandbox, closes, timeouts
 * and refunds — then quiescence (the clock moved past every deadline, timers and effects
 * driven). After it: the audit (ledger invariants included) is clean, every order is final,
 * nothing is frozen, and what the payer spent equals what the orders kept from the balance.
 * SQLite in one process; Postgres with Redlock in two instances sharing the database.
 * The seed is printed; PROPERTY_SEED=… replays a run.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { balanceMethod } from '../../machines/payment.model.ts';
import { auditStore } from '../../src/audit/audit.ts';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { type Paycenter, startPaycenter } from '../../src/wiring.ts';
import { type World, bootWorld, payerDecides } from '../channels/world.ts';
import { MerchantClient, admin_token, secret_key } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';

const seed = Number(process.env.PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`balance properties: PROPERTY_SEED=${seed}`);

/** Runs per store: each boots nothing new, but pays real HTTP round trips through the sandbox. */
const runs_per_store = 6;
const order_expire_s = 600;
/** Quiescence: clock steps past every deadline, close retry and query gap. */
const quiesce_steps = 12;
const quiesce_step_ms = 10 * 60_000;

const yuan = (fen: number) => (fen / 100).toFixed(2);

type Command =
  | { kind: 'credit' | 'debit'; amount: number }
  | { kind: 'pay'; order: number; how: 'balance' | 'combined' | 'channel'; share: number }
  | { kind: 'payer'; order: number; outcome: 'pay' | 'fail' }
  | { kind: 'close'; order: number }
  | { kind: 'refund'; order: number; amount: number }
  | { kind: 'tick'; ms: number };

const orderIndex = fc.nat({ max: 4 });
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constantFrom('credit' as const, 'debit' as const), amount: fc.integer({ min: 1, max: 10_000 }) }),
  fc.record({ kind: fc.constant('pay' as const), order: orderIndex, how: fc.constantFrom('balance' as const, 'combined' as const, 'channel' as const), share: fc.double({ min: 0.05, max: 0.95, noNaN: true }) }),
  fc.record({ kind: fc.constant('payer' as const), order: orderIndex, outcome: fc.constantFrom('pay' as const, 'fail' as const) }),
  fc.record({ kind: fc.constant('close' as const), order: orderIndex }),
  fc.record({ kind: fc.constant('refund' as const), order: orderIndex, amount: fc.integer({ min: 1, max: 10_000 }) }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1_000, max: 700_000 }) }),
);
const scenario = fc.record({
  funds: fc.integer({ min: 0, max: 30_000 }),
  amounts: fc.array(fc.integer({ min: 100, max: 10_000 }), { minLength: 1, maxLength: 5 }),
  /** Groups of commands sent at once. */
  groups: fc.array(fc.array(command, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
});

describe.each(storeKinds)('payer balances under random concurrent use on %s', (kind) => {
  const clock = new ManualClock(Date.now());
  let world: World;
  let second: Paycenter | null = null;
  let merchants: MerchantClient[];
  beforeAll(async () => {
    const env: Record<string, string> = kind === 'postgres' ? { REDIS_URL: process.env.TEST_REDIS_URL! } : {};
    world = await bootWorld(kind, { clock, manualTicker: true }, env, undefined, () => clock.now());
    const first = await MerchantClient.create(world.url, { methods: ['alipay_qr', 'wechat_native', 'balance'] });
    merchants = [first];
    if (kind === 'postgres') {
      second = await startPaycenter(loadConfig({
        PORT: '0', HOST: '127.0.0.1', DATABASE_URL: world.booted.databaseUrl, ADMIN_TOKEN: admin_token, SECRET_KEY: secret_key, OUTBOUND_ALLOW_PRIVATE: '1', ...env,
      }, 'production'), { clock, manualTicker: true, log: createLogger('error') });
      merchants.push(new MerchantClient(second.url, first.merchantId, first.secret));
    }
  }, 60_000);
  afterAll(async () => {
    await second?.stop();
    await world.stop();
  });

  const call = (i: number, method: string, path: string, body?: object) =>
    merchants[i % merchants.length]!.call(method, path, body, { timestamp: Math.floor(clock.now() / 1000) });

  /** Fires due timers and runs due effects on every instance until nothing is left; notifies travel meanwhile. */
  async function drive(): Promise<void> {
    const instances = [world.booted.paycenter, ...(second ? [second] : [])];
    for (let round = 0; round < 20; round++) {
      let work = 0;
      for (const p of instances) work += (await p.ticker.tick()) + (await p.runner.tick());
      if (work === 0) return;
    }
  }

  test('the ledger invariants hold, nothing stays frozen, and the payer spent what the orders kept', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ funds, amounts, groups }) => {
        const user = `p${randomBytes(5).toString('hex')}`;
        let moved = 0;
        if (funds > 0) moved += (await call(0, 'POST', `/v1/balances/${user}/credits`, { credit_no: 'OPEN', amount: yuan(funds) })).status === 201 ? funds : 0;
        const orders: string[] = [];
        for (const amount of amounts) {
          const created = await call(orders.length, 'POST', '/v1/payments', { merchant_order_no: `O${randomBytes(6).toString('hex')}`, amount: yuan(amount), subject: 's', user_id: user, expire_seconds: order_expire_s });
          expect(created.status).toBe(201);
          orders.push(created.body.id);
        }
        const qr = new Map<string, string>();
        let n = 0;
        const run = async (cmd: Command, lane: number): Promise<void> => {
          const id = 'order' in cmd ? orders[cmd.order % orders.length]! : '';
          const amount = 'order' in cmd ? amounts[cmd.order % amounts.length]! : 0;
          switch (cmd.kind) {
            case 'credit':
            case 'debit': {
              const answer = await call(lane, 'POST', `/v1/balances/${user}/${cmd.kind}s`, { [`${cmd.kind}_no`]: `N${n++}`, amount: yuan(cmd.amount) });
              expect([201, 422]).toContain(answer.status);
              if (answer.status === 201) moved += cmd.kind === 'credit' ? cmd.amount : -cmd.amount;
              return;
            }
            case 'pay': {
              const balancePart = Math.min(amount - 1, Math.max(1, Math.round(amount * cmd.share)));
              const body = cmd.how === 'balance' ? { method: balanceMethod }
                : cmd.how === 'channel' || amount < 2 ? { method: 'wechat_native' }
                : { parts: [{ method: balanceMethod, amount: yuan(balancePart) }, { method: 'wechat_native', amount: yuan(amount - balancePart) }] };
              const answer = await call(lane, 'POST', `/v1/payments/${id}/pay`, body);
              expect([200, 409, 422, 503]).toContain(answer.status);
              if (answer.status === 200 && answer.body.action?.qr_code) qr.set(id, answer.body.action.qr_code);
              return;
            }
            case 'payer': {
              const page = qr.get(id);
              if (page) await payerDecides(page, cmd.outcome);
              return;
            }
            case 'close':
              expect([200, 409]).toContain((await call(lane, 'POST', `/v1/payments/${id}/close`)).status);
              return;
            case 'refund': {
              const answer = await call(lane, 'POST', `/v1/payments/${id}/refunds`, { refund_no: `R${n++}`, amount: yuan(Math.min(cmd.amount, amount)) });
              expect([200, 201, 409, 422]).toContain(answer.status);
              return;
            }
            case 'tick':
              return;
          }
        };
        for (const group of groups) {
          await Promise.all(group.map((cmd, lane) => run(cmd, lane)));
          const tick = group.find((c) => c.kind === 'tick');
          if (tick?.kind === 'tick') clock.advance(tick.ms);
          await drive();
        }
        for (let step = 0; step < quiesce_steps; step++) {
          clock.advance(quiesce_step_ms);
          await drive();
          // The sandbox's notifies travel over real HTTP: let them land before the next step.
          await Bun.sleep(20);
        }

        const audit = await auditStore(world.booted.paycenter.store, { nowMs: clock.now() });
        expect(audit.breaches).toEqual([]);
        const account = (await call(0, 'GET', `/v1/balances/${user}`)).body;
        expect(account.frozen).toBe('0.00');
        let kept = 0;
        for (const id of orders) {
          const order = await world.booted.paycenter.engine.load(id);
          expect(['succeeded', 'partially_refunded', 'refunded', 'closed']).toContain(order!.row.status);
          const balanceFlows = new Set(order!.context.flows.filter((f) => f.method === balanceMethod && f.status === 'succeeded').map((f) => f.id));
          const captured = order!.context.flows.filter((f) => balanceFlows.has(f.id)).reduce((s, f) => s + f.amount, 0);
          // Finished refunds leave the snapshot as the next event starts: their money per flow is in refundsDone.
          const folded = [...balanceFlows].reduce((s, flowId) => s + (order!.context.refundsDone.refundedByFlow[flowId] ?? 0), 0);
          const returned = folded + order!.context.refunds.flatMap((r) => r.parts).filter((p) => balanceFlows.has(p.flowId) && p.status === 'succeeded').reduce((s, p) => s + p.amount, 0);
          kept += captured - returned;
        }
        expect(yuan(moved - kept)).toBe(account.available);
      }),
      { numRuns: runs_per_store, seed, endOnFailure: true },
    );
  }, 600_000);
});
