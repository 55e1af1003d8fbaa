/**
 * A bug is parked, not retried (src/failures.ts): a row whose work throws anything but a
 * dependency failure leaves its queue — the effect runner's and the delivery's outbox rows get
 * status parked, a timer moves to parked_timers — is listed for operators with its error,
 * counted in /metrics, and runs again only when an operator queues it. A dependency that fails
 * is retried as before. Broken rows are planted in the real database, behind paycenter's back.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { Parking } from '../../actors/parking.ts';
import { Ticker, default_ticker_options } from '../../actors/ticker.ts';
import { auditStore } from '../../src/audit/audit.ts';
import { ManualClock } from '../../src/clock.ts';
import { AssertionError, DependencyError } from '../../src/failures.ts';
import { RedlockLock } from '../../src/lock/redlock.ts';
import { createLogger } from '../../src/log.ts';
import { freePort } from '../harness/services.ts';
import { type Booted, MerchantClient, adminCall, bootPaycenter, executeSql } from '../http/harness.ts';
import { orderRow, writeOf } from '../store/fixtures.ts';
import { openStore } from '../../src/store/open.ts';
import { freshDatabase, storeKinds } from '../store/stores.ts';
import { engineOn } from './fixtures.ts';

const log = createLogger('error');

for (const kind of storeKinds) {
  describe(`parking on ${kind}`, () => {
    // Requests are signed with real time: the clock only moves forward within the ±300 s window.
    const clock = new ManualClock(Date.now());
    let booted: Booted;
    let merchant: MerchantClient;
    beforeAll(async () => {
      booted = await bootPaycenter(kind, {}, { clock, manualTicker: true, random: () => 0.5 });
      merchant = await MerchantClient.create(booted.url, { notify_url: 'http://127.0.0.1:9/notify' });
    });
    afterAll(async () => {
      await booted?.stop();
    });

    const parked = async () => (await adminCall(booted.url, 'GET', '/admin/parked')).body.data as Array<Record<string, any>>;
    const metrics = async () => (await fetch(`${booted.url}/metrics`)).text();

    test('a bug in the effect runner parks its row: not retried, listed with its error, counted; an operator queues it again', async () => {
      const payment = (await merchant.createPayment()).body.id as string;
      const at = clock.now();
      await booted.paycenter.engine.dispatch(payment, { type: 'pay.start', at, parts: [{ flowId: `flw_${payment.slice(4)}`, method: 'alipay_qr', channel: 'no_such_channel', amount: 10_000 }] });
      const [prepay] = (await booted.paycenter.store.listOutbox(payment)).filter((r) => r.kind === 'channel.prepay');
      await executeSql(booted.databaseUrl, `UPDATE outbox SET payload = '{"flowId":42}' WHERE id = '${prepay!.id}'`);

      clock.advance(15_001);
      expect(await booted.paycenter.runner.tick()).toBe(1);
      for (const gap of [1_500, 6_000, 31_000]) {
        clock.advance(gap);
        expect(await booted.paycenter.runner.tick()).toBe(0);
      }
      const listed = (await parked()).find((p) => p.ref === prepay!.id);
      expect(listed).toMatchObject({ source: 'outbox', payment_id: payment, kind: 'channel.prepay', retry: `/admin/parked/outbox/${prepay!.id}/retry` });
      expect(listed!.error).toContain('AssertionError: assertion failed: outbox row');
      expect(await metrics()).toContain('paycenter_rows_parked_total{source="outbox",kind="channel.prepay"} 1');
      const alerts = (await adminCall(booted.url, 'GET', `/admin/alerts?kind=parked&payment_id=${payment}`)).body.data;
      expect(alerts).toHaveLength(1);
      expect(alerts[0].message).toContain(`effect runner parked outbox row ${prepay!.id} (channel.prepay): AssertionError`);

      // The cause fixed (here: the row repaired), the operator queues it; it runs once more.
      await executeSql(booted.databaseUrl, `UPDATE outbox SET payload = '${JSON.stringify(prepay!.payload)}' WHERE id = '${prepay!.id}'`);
      expect((await adminCall(booted.url, 'POST', `/admin/parked/outbox/${prepay!.id}/retry`)).status).toBe(202);
      expect((await adminCall(booted.url, 'POST', `/admin/parked/outbox/${prepay!.id}/retry`)).status).toBe(404);
      expect(await booted.paycenter.runner.tick()).toBe(1);
      expect((await parked()).some((p) => p.ref === prepay!.id)).toBe(false);
    });

    test('a bug firing a timer parks the timer: it leaves the timers table and fires again only when re-armed by hand', async () => {
      const payment = (await merchant.createPayment()).body.id as string;
      await executeSql(booted.databaseUrl, `UPDATE timers SET due_at = 1, event = '{"type":"timer.expire"}' WHERE order_id = '${payment}'`);
      expect(await booted.paycenter.ticker.tick()).toBeGreaterThanOrEqual(1);
      expect(await booted.paycenter.store.listTimers(payment)).toEqual([]);
      const listed = (await parked()).find((p) => p.payment_id === payment);
      expect(listed).toMatchObject({ source: 'timer', ref: 'expire', kind: 'timer', retry: `/admin/parked/timers/${payment}/expire/retry` });
      expect(listed!.error).toContain('carries no timer event');
      expect(await metrics()).toContain('paycenter_rows_parked_total{source="timer",kind="timer"} 1');
      clock.advance(default_ticker_options.leaseMs + 1);
      await booted.paycenter.ticker.tick();
      expect((await booted.paycenter.store.listTimers(payment)).length).toBe(0);

      await executeSql(booted.databaseUrl, `UPDATE parked_timers SET event = '{"type":"timer.expire","at":1}' WHERE order_id = '${payment}'`);
      expect((await adminCall(booted.url, 'POST', `/admin/parked/timers/${payment}/expire/retry`)).status).toBe(202);
      expect((await booted.paycenter.store.listTimers(payment)).map((t) => t.key)).toEqual(['expire']);
      expect((await parked()).some((p) => p.payment_id === payment)).toBe(false);
    });

    test('a bug in the notification delivery parks the row instead of failing the poll', async () => {
      const payment = (await merchant.createPayment()).body.id as string;
      await merchant.call('POST', `/v1/payments/${payment}/close`);
      const [notify] = (await booted.paycenter.store.listOutbox(payment)).filter((r) => r.kind === 'merchant.notify');
      await executeSql(booted.databaseUrl, `UPDATE outbox SET payload = '{"event":"payment.closed","refundId":null,"eventId":"evt_missing"}' WHERE id = '${notify!.id}'`);
      expect(await booted.paycenter.delivery.tick()).toBe(0);
      clock.advance(120_000);
      expect(await booted.paycenter.delivery.tick()).toBe(0);
      const listed = (await parked()).find((p) => p.ref === notify!.id);
      expect(listed).toMatchObject({ source: 'outbox', kind: 'merchant.notify' });
      expect(listed!.error).toContain('names a missing event evt_missing');
      // Parked work is undone work: the money audit names it.
      const { breaches } = await auditStore(booted.paycenter.store, { nowMs: clock.now() });
      expect(breaches).toContainEqual({ orderId: payment, rule: 'nothing_parked', detail: expect.stringContaining(`outbox ${notify!.id} (merchant.notify) parked`) });
    });

    test('a dependency that fails is retried, not parked: the timer stays armed, leased for another try', async () => {
      const payment = (await merchant.createPayment()).body.id as string;
      await executeSql(booted.databaseUrl, `UPDATE timers SET due_at = 1 WHERE order_id = '${payment}'`);
      // Redis that is not there: the order's lock cannot be taken.
      const redis = new Redis({ host: '127.0.0.1', port: await freePort(), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      const engine = engineOn(booted.paycenter.store, new RedlockLock([redis], { acquireAttemptsMax: 2, retryDelayMs: 5 }));
      const store = booted.paycenter.store;
      const ticker = new Ticker({ engine, store, clock, log, parking: new Parking({ store, clock, log }) });
      await ticker.tick();
      expect((await store.listTimers(payment)).map((t) => t.key)).toEqual(['expire']);
      expect((await parked()).some((p) => p.payment_id === payment)).toBe(false);
      redis.disconnect();
    });
  });

  describe(`the store's failures are typed on ${kind}`, () => {
    test('a driver error is a DependencyError; an assertion the adapter checks stays a bug', async () => {
      const database = await freshDatabase(kind);
      const store = await openStore(database.url);
      await store.migrate();
      const row = orderRow(1);
      // Two writes of one order in one batch break what the adapters assert before writing.
      await expect(store.commit([writeOf(row), writeOf(row)])).rejects.toBeInstanceOf(AssertionError);
      await store.close();
      await expect(store.loadOrder('pay_x')).rejects.toBeInstanceOf(DependencyError);
      await database.drop();
    });
  });
}
