/**
 * Reruns respect what later days decided about the holding pool. A success its day's statement
 * lacks is held; a later day's statement that shows it clears the hold, and a day past the hold
 * makes it a missing_channel difference. Rerunning the hold's own day must bring neither back
 * (a false difference, or the same difference twice, days later), and rerunning the day that made
 * the difference must keep it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chinaDate } from '../../src/channels/china-time.ts';
import { storeKinds } from '../store/stores.ts';
import { payerDecides } from '../channels/world.ts';
import { type Day, bootDay, day_ms, reconcile, signedNow, statementFaults, waitFor } from './day.ts';

for (const kind of storeKinds) {
  describe(`reruns and the holding pool (${kind})`, () => {
    let day: Day;
    const flows: string[] = [];
    let paidOn = '';
    beforeAll(async () => {
      day = await bootDay(kind);
      paidOn = chinaDate(day.clock.now());
      for (const amount of ['21.00', '22.00']) {
        const created = await day.merchant.createPayment({ method: 'wechat_native', amount }, signedNow(day));
        flows.push(created.body.flows[0].id);
        expect((await payerDecides(created.body.action.qr_code, 'pay')).status).toBe(200);
        const payment = async () => (await day.merchant.call('GET', `/v1/payments/${created.body.id}`, undefined, signedNow(day))).body;
        await waitFor(payment, (p) => p.status === 'succeeded', 'the payment');
      }
      // The first payment shows on the next day's statement; the second on none.
      expect((await statementFaults(day, 'wechatpay', { fee_rate: 0, next_day: [flows[0]], omit: [flows[1]] })).status).toBe(200);
    }, 30_000);
    afterAll(() => day?.stop());

    test('a rerun of the hold\'s day brings back neither hold; a rerun of the day that made the difference keeps it', async () => {
      const dayAfter = (n: number) => chinaDate(Date.parse(`${paidOn}T12:00:00+08:00`) + n * day_ms);
      const counts = async (date: string, rerun = false) => {
        const run = (await reconcile(day, 'wechat_main', date, rerun)).body;
        expect(run.status).toBe('done');
        return run;
      };
      day.clock.advance(day_ms);
      expect((await counts(paidOn)).counts).toMatchObject({ matched: 0, pending: 2, missing_channel: 0 });
      day.clock.advance(day_ms);
      expect((await counts(dayAfter(1))).counts).toMatchObject({ matched: 1, pending: 0, missing_channel: 0 });
      day.clock.advance(day_ms);
      const promoting = await counts(dayAfter(2));
      const missing = promoting.diffs.map((d: any) => [d.id, d.kind, d.flow_id]);
      expect(missing).toEqual([[expect.any(String), 'missing_channel', flows[1]]]);

      const promotingAgain = await counts(dayAfter(2), true);
      expect(promotingAgain.counts).toEqual(promoting.counts);
      expect(promotingAgain.diffs.map((d: any) => [d.id, d.kind, d.flow_id])).toEqual(missing);

      await counts(paidOn, true);
      day.clock.advance(day_ms);
      const later = await counts(dayAfter(3));
      expect(later.counts).toMatchObject({ missing_channel: 0, pending: 0 });
      expect(later.diffs).toEqual([]);
    }, 30_000);
  });
}
