/**
 * The daily schedule after the service was down across RECON_AT for days: each channel's missed
 * days are reconciled, oldest first, once, back to recon_catch_up_days_max days and never before
 * the channel existed; a day already run is not run again.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chinaDate } from '../../src/channels/china-time.ts';
import { recon_catch_up_days_max } from '../../src/recon/schedule.ts';
import { adminCall } from '../http/harness.ts';
import { storeKinds } from '../store/stores.ts';
import { type Day, bootDay, day_ms, reconcile } from './day.ts';

for (const kind of storeKinds) {
  describe(`the schedule after days down (${kind})`, () => {
    let day: Day;
    beforeAll(async () => {
      day = await bootDay(kind);
    }, 30_000);
    afterAll(() => day?.stop());

    const runsOf = async (date: string) => (await adminCall(day.booted.url, 'GET', `/admin/reconciliations?date=${date}`)).body.data.map((r: any) => [r.channel, r.status, r.id]).sort();
    const daysBack = (from: number, count: number) => Array.from({ length: count }, (_, i) => chinaDate(from - (count - i) * day_ms));

    test('four days down: the four days since the channels were created are each run once; a day run by hand is not run again', async () => {
      const created = day.clock.now();
      // An operator reconciled the channels' first day by hand while the schedule was down.
      day.clock.advance(day_ms);
      const byHand = (await reconcile(day, 'alipay_main', chinaDate(created))).body;
      day.clock.advance(3 * day_ms);
      const { reconSchedule } = day.booted.paycenter;
      expect(await reconSchedule.tick()).toBe(7);
      for (const date of daysBack(day.clock.now(), 4)) expect((await runsOf(date)).map(([c, s]: string[]) => [c, s])).toEqual([['alipay_main', 'done'], ['wechat_main', 'done']]);
      expect((await runsOf(chinaDate(created))).find(([c]: string[]) => c === 'alipay_main')[2]).toBe(byHand.id);
      expect((await runsOf(chinaDate(created - day_ms)))).toEqual([]);
      expect(await reconSchedule.tick()).toBe(0);
    }, 30_000);

    test(`down for longer than ${recon_catch_up_days_max} days: the last ${recon_catch_up_days_max} are run, the older left to an operator`, async () => {
      const before = day.clock.now();
      day.clock.advance(20 * day_ms);
      const { reconSchedule } = day.booted.paycenter;
      expect(await reconSchedule.tick()).toBe(2 * recon_catch_up_days_max);
      for (const date of daysBack(day.clock.now(), recon_catch_up_days_max)) expect(await runsOf(date)).toHaveLength(2);
      expect(await runsOf(chinaDate(day.clock.now() - (recon_catch_up_days_max + 1) * day_ms))).toEqual([]);
      expect(await runsOf(chinaDate(before))).toEqual([]);
      expect(await reconSchedule.tick()).toBe(0);
    }, 60_000);
  });
}
