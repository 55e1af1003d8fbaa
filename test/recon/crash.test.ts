/**
 * A process that dies in the middle of a run, after it told an order's actor what the statement
 * showed and before it wrote the run's results (played by the database refusing to finish the run,
 * as the write that never came): the run that takes the day over when the lease ends keeps the
 * difference the first one found, as repaired, and repairs nothing twice.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chinaDate } from '../../src/channels/china-time.ts';
import { default_recon_options } from '../../src/recon/reconciliation.ts';
import { drive, payerDecides } from '../channels/world.ts';
import { adminCall, executeSql } from '../http/harness.ts';
import { type StoreKind, storeKinds } from '../store/stores.ts';
import { type Day, bootDay, day_ms, reconcile, signedNow, statementFaults } from './day.ts';

/** Makes the database refuse every write that ends a run (done or failed), and takes that back. */
const dying: Record<StoreKind, { die: string[]; revive: string[] }> = {
  sqlite: {
    die: ["CREATE TRIGGER recon_dies BEFORE UPDATE OF status ON recon_runs WHEN NEW.status <> 'running' BEGIN SELECT RAISE(ABORT, 'the process died'); END"],
    revive: ['DROP TRIGGER recon_dies'],
  },
  postgres: {
    die: [
      "CREATE FUNCTION recon_dies() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the process died'; END $$",
      "CREATE TRIGGER recon_dies BEFORE UPDATE OF status ON recon_runs FOR EACH ROW WHEN (NEW.status <> 'running') EXECUTE FUNCTION recon_dies()",
    ],
    revive: ['DROP TRIGGER recon_dies ON recon_runs', 'DROP FUNCTION recon_dies()'],
  },
};

for (const kind of storeKinds) {
  describe(`a run whose process dies after its repairs (${kind})`, () => {
    let day: Day;
    beforeAll(async () => {
      day = await bootDay(kind);
    }, 30_000);
    afterAll(() => day?.stop());

    test('the run that takes the day over keeps the missing_local difference, repaired, and the order was told once', async () => {
      const date = chinaDate(day.clock.now());
      // Money paycenter never hears of: every notify lost, every query unanswered; only the statement shows it.
      const hidden = await day.merchant.createPayment({ method: 'alipay_qr', amount: '77.00' }, signedNow(day));
      const flowId = hidden.body.flows[0].id as string;
      expect((await statementFaults(day, 'alipay', { fee_rate: 0, hide: [flowId] })).status).toBe(200);
      expect((await payerDecides(hidden.body.action.qr_code, 'pay')).status).toBe(200);
      day.clock.advance(day_ms);

      for (const statement of dying[kind].die) await executeSql(day.booted.databaseUrl, statement);
      const died = await reconcile(day, 'alipay_main', date);
      expect(died.status).toBeGreaterThanOrEqual(500);
      for (const statement of dying[kind].revive) await executeSql(day.booted.databaseUrl, statement);

      day.clock.advance(default_recon_options.leaseMs + 1);
      const takenOver = await reconcile(day, 'alipay_main', date);
      expect(takenOver.body).toMatchObject({ status: 'done', counts: { missing_local: 1, matched: 0 } });
      expect(takenOver.body.diffs.map((d: any) => [d.kind, d.flow_id, d.resolution])).toEqual([['missing_local', flowId, 'repaired']]);
      const rerun = await reconcile(day, 'alipay_main', date, true);
      expect(rerun.body.diffs.map((d: any) => [d.id, d.resolution])).toEqual(takenOver.body.diffs.map((d: any) => [d.id, d.resolution]));

      await drive(day);
      const payment = (await day.merchant.call('GET', `/v1/payments/${hidden.body.id}`, undefined, signedNow(day))).body;
      expect(payment).toMatchObject({ status: 'succeeded', paid_amount: '77.00' });
      const timeline = JSON.stringify((await adminCall(day.booted.url, 'GET', `/admin/payments/${hidden.body.id}/timeline`)).body);
      expect(timeline.split('"source":"recon"').length - 1).toBe(1);
    }, 30_000);
  });
}
