/**
 * Reconciliation end to end, against the sandbox's statements: a day of real traffic on both
 * providers (payments and refunds), with one difference of every class injected into the files
 * (or, for money paycenter never heard of, into the channel itself) → each found once, nothing
 * else reported, the missing money repaired through the order's actor (the merchant told once),
 * the audit clean; a rerun is identical and repairs nothing twice; the holding pool turns a
 * success the statements never show into a difference after RECON_HOLD_DAYS.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { auditStore } from '../../src/audit/audit.ts';
import { chinaDate } from '../../src/channels/china-time.ts';
import { Reconciliation, default_recon_options } from '../../src/recon/reconciliation.ts';
import { ReconSchedule } from '../../src/recon/schedule.ts';
import { feeRateTenThousandths } from '../../src/routing/strategies.ts';
import { drive, payerDecides } from '../channels/world.ts';
import { adminCall } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';
import { type Day, bootDay, reconcile as reconcileOf, signedNow, statementFaults as faultsOf, waitFor } from './day.ts';

const payments_per_provider = 100;
const refunds_per_provider = 10;

for (const kind of storeKinds) {
  describe(`reconciliation of a sandbox day (${kind})`, () => {
    let day: Day;
    const flows: Record<'alipay' | 'wechatpay', string[]> = { alipay: [], wechatpay: [] };
    const orders = new Map<string, string>();
    let hiddenOrder = '';
    let hiddenFlow = '';
    let date = '';

    const statementFaults = (provider: string, faults: object) => faultsOf(day, provider, faults);
    const payment = async (id: string) => (await day.merchant.call('GET', `/v1/payments/${id}`, undefined, signedNow(day))).body;
    const reconcile = (channel: string, on: string, rerun = false) => reconcileOf(day, channel, on, rerun);

    beforeAll(async () => {
      day = await bootDay(kind);
      date = chinaDate(day.clock.now());
      // No fee here (channels' fee_rate is 0): one fee difference is injected below.
      for (const provider of ['alipay', 'wechatpay']) expect((await statementFaults(provider, { fee_rate: 0 })).status).toBe(200);
      for (const [provider, method] of [['alipay', 'alipay_qr'], ['wechatpay', 'wechat_native']] as const) {
        for (let i = 0; i < payments_per_provider; i++) {
          const created = await day.merchant.createPayment({ method, amount: `${10 + i}.00` }, signedNow(day));
          expect(created.status).toBe(201);
          const flowId = created.body.flows[0].id as string;
          flows[provider].push(flowId);
          orders.set(flowId, created.body.id);
          expect((await payerDecides(created.body.action.qr_code, 'pay')).status).toBe(200);
        }
      }
      // Money paycenter never hears of: every notify lost, every query and close unanswered.
      const hidden = await day.merchant.createPayment({ method: 'alipay_qr', amount: '77.00', expire_seconds: 600 }, signedNow(day));
      [hiddenOrder, hiddenFlow] = [hidden.body.id, hidden.body.flows[0].id];
      expect((await statementFaults('alipay', { fee_rate: 0, hide: [hiddenFlow] })).status).toBe(200);
      expect((await payerDecides(hidden.body.action.qr_code, 'pay')).status).toBe(200);
      for (const provider of ['alipay', 'wechatpay'] as const) {
        for (const flowId of flows[provider]) await waitFor(() => payment(orders.get(flowId)!), (p) => p.status === 'succeeded', `${flowId} to succeed`);
        for (const flowId of flows[provider].slice(0, refunds_per_provider)) {
          const refund = await day.merchant.call('POST', `/v1/payments/${orders.get(flowId)}/refunds`, { refund_no: `R-${flowId}`, amount: '3.00' }, signedNow(day));
          expect(refund.status).toBe(201);
        }
      }
      await drive(day);
      for (const provider of ['alipay', 'wechatpay'] as const) {
        for (const flowId of flows[provider].slice(0, refunds_per_provider)) {
          await waitFor(() => payment(orders.get(flowId)!), (p) => p.status === 'partially_refunded', `${flowId}'s refund`);
        }
      }
      // The hidden order expires: its channel answers nothing, so it cannot close either.
      day.clock.advance(601_000);
      await drive(day);
      expect((await payment(hiddenOrder)).status).toBe('paying');
    }, 120_000);
    afterAll(() => day?.stop());

    test('every injected difference is found once, the lost payment is repaired, nothing else is reported', async () => {
      const [a, w] = [flows.alipay, flows.wechatpay];
      await statementFaults('alipay', { fee_rate: 0, hide: [hiddenFlow], amount_delta_fen: { [a[20]!]: 1 }, fee_delta_fen: { [a[21]!]: 5 }, next_day: [a[22]!] });
      await statementFaults('wechatpay', { fee_rate: 0, omit: [w[30]!], revoke: [w[31]!] });
      day.clock.advance(86_400_000);

      const alipay = await reconcile('alipay_main', date);
      expect(alipay.status).toBe(201);
      expect(alipay.body).toMatchObject({
        channel: 'alipay_main', date, status: 'done',
        counts: { matched: payments_per_provider + refunds_per_provider - 3, missing_local: 1, missing_channel: 0, amount_mismatch: 1, status_mismatch: 0, fee_mismatch: 1, pending: 1 },
      });
      const byKind = (run: any) => Object.fromEntries(run.diffs.map((d: any) => [d.kind, d]));
      const alipayDiffs = byKind(alipay.body);
      expect(alipay.body.diffs).toHaveLength(3);
      expect(alipayDiffs.missing_local).toMatchObject({ flow_id: hiddenFlow, resolution: 'repaired' });
      expect(alipayDiffs.amount_mismatch).toMatchObject({ flow_id: a[20], resolution: 'open' });
      expect(alipayDiffs.fee_mismatch).toMatchObject({ flow_id: a[21], resolution: 'open' });

      const wechat = await reconcile('wechat_main', date);
      expect(wechat.body.counts).toEqual({ matched: payments_per_provider + refunds_per_provider - 2, missing_local: 0, missing_channel: 0, amount_mismatch: 0, status_mismatch: 1, fee_mismatch: 0, pending: 1 });
      expect(wechat.body.diffs.map((d: any) => [d.kind, d.flow_id])).toEqual([['status_mismatch', w[31]]]);

      // The repair went through the order's actor: settled, the merchant told once, and it says where it came from.
      const repaired = await payment(hiddenOrder);
      expect(repaired).toMatchObject({ status: 'succeeded', paid_amount: '77.00' });
      const events: any[] = [];
      for (let after = ''; ;) {
        const page = (await day.merchant.call('GET', `/v1/events?limit=100${after}`, undefined, signedNow(day))).body;
        events.push(...page.data);
        if (!page.has_more) break;
        after = `&after=${page.data.at(-1).id}`;
      }
      expect(events.filter((e) => e.data.id === hiddenOrder).map((e) => e.type)).toEqual(['payment.succeeded']);
      const timeline = JSON.stringify((await adminCall(day.booted.url, 'GET', `/admin/payments/${hiddenOrder}/timeline`)).body);
      expect(timeline).toContain('"source":"recon"');
      // Open differences are operator alerts; the repaired one is not.
      const alerts = (await adminCall(day.booted.url, 'GET', '/admin/alerts?kind=recon_diff&limit=50')).body.data;
      expect(alerts).toHaveLength(3);
      expect((await auditStore(day.booted.paycenter.store, { nowMs: day.clock.now() })).breaches).toEqual([]);
    }, 30_000);

    test('asking again answers the same run (200); a rerun compares again (201), finds the same and repairs nothing twice', async () => {
      const again = await reconcile('alipay_main', date);
      expect(again.status).toBe(200);
      const rerun = await reconcile('alipay_main', date, true);
      expect(rerun.status).toBe(201);
      expect(rerun.body.id).toBe(again.body.id);
      expect(rerun.body.counts).toEqual(again.body.counts);
      expect(rerun.body.diffs.map((d: any) => [d.id, d.kind, d.resolution])).toEqual(again.body.diffs.map((d: any) => [d.id, d.kind, d.resolution]));
      const journal = (await adminCall(day.booted.url, 'GET', `/admin/payments/${hiddenOrder}/timeline`)).body;
      expect(JSON.stringify(journal).split('"source":"recon"').length - 1).toBe(1);
      expect((await adminCall(day.booted.url, 'GET', `/admin/reconciliations?channel=alipay_main&date=${date}`)).body.data).toHaveLength(1);
    }, 30_000);

    test('compared in passes (an index of a few records at a time), a day finds exactly what one pass found', async () => {
      const { store, channels, engine, alerts, log } = day.booted.paycenter;
      const inPasses = new Reconciliation(
        { store, channels, engine, alerts, clock: day.clock, log, feeRateOf: (row) => ({ tenThousandths: feeRateTenThousandths(row.feeRate) }) },
        { ...default_recon_options, holdDays: 2, indexRecordsMax: 7 },
      );
      const diffsOf = (run: any) => run.diffs.map((d: any) => [d.id, d.kind, d.record_key, d.resolution]);
      for (const channel of ['alipay_main', 'wechat_main']) {
        const once = (await reconcile(channel, date)).body;
        const outcome = await inPasses.run({ channel, date, source: 'download', rerun: true });
        expect(outcome.ok && outcome.run.status).toBe('done');
        const passed = (await reconcile(channel, date)).body;
        expect(passed.counts).toEqual(once.counts);
        expect(passed.totals).toEqual(once.totals);
        expect(diffsOf(passed)).toEqual(diffsOf(once));
      }
    }, 30_000);

    test('a line moved to the next day leaves the pool on that day; a success no file shows becomes missing_channel after the hold', async () => {
      const next = chinaDate(day.clock.now());
      day.clock.advance(86_400_000);
      const alipayNext = await reconcile('alipay_main', next);
      expect(alipayNext.body.counts).toMatchObject({ matched: 1, pending: 0, missing_channel: 0 });
      const wechatNext = await reconcile('wechat_main', next);
      expect(wechatNext.body.counts).toMatchObject({ matched: 0, pending: 0, missing_channel: 0 });
      day.clock.advance(86_400_000);
      const third = chinaDate(day.clock.now() - 86_400_000);
      const wechatLater = await reconcile('wechat_main', third);
      expect(wechatLater.body.counts).toMatchObject({ missing_channel: 1 });
      expect(wechatLater.body.diffs.map((d: any) => [d.kind, d.flow_id])).toEqual([['missing_channel', flows.wechatpay[30]]]);
    }, 30_000);

    test('an operator resolves a difference; unknown runs and channels are not found; a bad file fails the run and changes nothing', async () => {
      const run = (await reconcile('alipay_main', date)).body;
      const diff = run.diffs.find((d: any) => d.kind === 'fee_mismatch');
      const resolved = await adminCall(day.booted.url, 'POST', `/admin/reconciliations/${run.id}/diffs/${diff.id}`, { resolution: 'ignored', note: 'agreed with the channel' });
      expect(resolved.body).toMatchObject({ id: diff.id, resolution: 'ignored', note: 'agreed with the channel', resolved_by: 'admin' });
      expect((await adminCall(day.booted.url, 'GET', `/admin/reconciliations/${run.id}`)).body.diffs.find((d: any) => d.id === diff.id).resolution).toBe('ignored');
      expect((await adminCall(day.booted.url, 'GET', '/admin/reconciliations/rcn_nope')).status).toBe(404);
      expect((await reconcile('nope', date)).status).toBe(404);
      expect((await adminCall(day.booted.url, 'POST', '/admin/reconciliations', { channel: 'alipay_main', date: '2026-13-01' })).body.error.field).toBe('date');

      const upload = (body: Uint8Array | string, type: string, on: string) => fetch(`${day.booted.url}/admin/reconciliations/upload?channel=wechat_main&date=${on}&rerun=true`, {
        method: 'POST', headers: { authorization: 'Bearer adm_test_0123456789abcdef', 'content-type': type }, body,
      });
      const broken = await upload('交易时间,foo\n`x,`y\n', 'text/csv', date);
      const failed = (await broken.json()) as any;
      expect(failed).toMatchObject({ status: 'failed' });
      expect(failed.error).toContain('header lacks');
      expect((await upload('x', 'application/pdf', date)).status).toBe(400);
      const tooLarge = await upload(new Uint8Array(64 * 1024 * 1024 + 1), 'text/csv', date);
      expect(tooLarge.status).toBe(400);
    }, 60_000);

    test('the schedule reconciles every channel\'s previous day once from RECON_AT; the audit lists differences left open past the hold', async () => {
      const { paycenter } = day.booted;
      const yesterday = chinaDate(day.clock.now() - 86_400_000);
      const notYet = new ReconSchedule({ recon: paycenter.recon, channels: paycenter.channels, clock: day.clock, log: paycenter.log, atMs: 23 * 3_600_000 + 59 * 60_000 });
      expect(await notYet.tick()).toBe(0);
      // wechat_main's day was reconciled by the test above: only alipay_main's is run now.
      expect(await paycenter.reconSchedule.tick()).toBe(1);
      const runs = (await adminCall(day.booted.url, 'GET', `/admin/reconciliations?date=${yesterday}`)).body.data;
      expect(runs.map((r: any) => [r.channel, r.status]).sort()).toEqual([['alipay_main', 'done'], ['wechat_main', 'done']]);
      expect(await paycenter.reconSchedule.tick()).toBe(0);

      const open = (await auditStore(paycenter.store, { nowMs: day.clock.now() + 3 * 86_400_000 })).breaches.filter((b) => b.rule === 'recon_diff_resolved');
      expect(open.map((b) => b.detail.split(' ')[2]).sort()).toEqual(['amount_mismatch', 'missing_channel', 'status_mismatch']);
    }, 60_000);
  });
}

/**
 * The safety net behind a channel's notify: a channel that takes a payment on an order paycenter
 * already closed (it should refuse; the sandbox takes it when told to force it), with every notify
 * of it lost. A closed order asks its channel nothing, so only the day's statement tells: the
 * reconciliation finds it missing, tells the order's actor, and the money goes back.
 */
for (const kind of storeKinds) {
  test(`a payment a channel took on a closed order, every notify of it lost, is refunded by the reconciliation (${kind})`, async () => {
    const day = await bootDay(kind);
    try {
      const payment = async (id: string) => (await day.merchant.call('GET', `/v1/payments/${id}`, undefined, signedNow(day))).body;
      const created = await day.merchant.createPayment({ method: 'alipay_qr', amount: '41.00' }, signedNow(day));
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      expect((await day.merchant.call('POST', `/v1/payments/${id}/close`, {}, signedNow(day))).status).toBe(200);
      await drive(day);
      await waitFor(() => payment(id), (p) => p.status === 'closed', 'the close');
      const faults = await fetch(`${day.sandboxUrl}/faults/alipay/${day.accounts.alipay}`, {
        method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drop_notify_rate: 1 }),
      });
      expect(faults.status).toBe(200);
      expect((await payerDecides(created.body.action.qr_code, 'pay', { force: true })).status).toBe(200);
      await drive(day);
      expect((await payment(id)).flows.map((f: any) => f.status)).toEqual(['closed']);

      const date = chinaDate(day.clock.now());
      day.clock.advance(86_400_000);
      const run = await adminCall(day.booted.url, 'POST', '/admin/reconciliations', { channel: 'alipay_main', date });
      expect(run.body).toMatchObject({ status: 'done', counts: { missing_local: 1 } });
      expect(run.body.diffs.map((d: any) => [d.kind, d.flow_id, d.resolution])).toEqual([['missing_local', created.body.flows[0].id, 'repaired']]);
      await drive(day);
      const refunded = await waitFor(() => payment(id), (p) => p.flows[0].status === 'refunded', 'the refund of the late payment');
      expect(refunded).toMatchObject({ status: 'closed', close_reason: 'merchant' });
    } finally {
      await day.stop();
    }
  }, 60_000);
}
