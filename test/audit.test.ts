/** The money audit finds nothing in a store paycenter wrote, and names each breach planted in one. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { Database } from 'bun:sqlite';
import { join } from 'node:path';
import { auditStore } from '../src/audit/audit.ts';
import { storeKinds } from './store/stores.ts';
import { type Booted, MerchantClient, bootPaycenter, settleThroughActor } from './http/harness.ts';

async function execute(databaseUrl: string, statement: string): Promise<void> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length));
    db.exec(statement);
    db.close();
    return;
  }
  const sql = new SQL({ url: databaseUrl, max: 1 });
  await sql.unsafe(statement);
  await sql.close();
}

for (const kind of storeKinds) {
  describe(`audit on ${kind}`, () => {
    let booted: Booted;
    let merchant: MerchantClient;
    beforeAll(async () => {
      booted = await bootPaycenter(kind);
      merchant = await MerchantClient.create(booted.url);
    });
    afterAll(async () => {
      await booted?.stop();
    });

    test('orders in every state audit clean; planted breaches are named with their order ids', async () => {
      const created = (await merchant.createPayment()).body.id;
      const closed = (await merchant.createPayment()).body.id;
      await merchant.call('POST', `/v1/payments/${closed}/close`);
      const settled = (await merchant.createPayment()).body.id;
      await settleThroughActor(booted.paycenter, settled);
      await merchant.call('POST', `/v1/payments/${settled}/refunds`, { refund_no: 'R1', amount: '10.00' });
      expect(await auditStore(booted.paycenter.store)).toEqual({ orders: 3, breaches: [] });

      await execute(booted.databaseUrl, `DELETE FROM timers WHERE order_id = '${created}'`);
      await execute(booted.databaseUrl, `UPDATE merchant_events SET type = 'payment.succeeded' WHERE order_id = '${closed}'`);
      await execute(booted.databaseUrl, `UPDATE orders SET paid_amount = 1 WHERE id = '${settled}'`);
      const { breaches } = await auditStore(booted.paycenter.store);
      expect(breaches.map((b) => [b.orderId, b.rule]).sort()).toEqual(
        [[created, 'deadline_armed'], [closed, 'one_payment_succeeded'], [settled, 'columns_match_snapshot']].sort(),
      );

      const cli = Bun.spawn(['bun', join(import.meta.dir, '..', 'scripts', 'audit.ts')], { env: { ...process.env, DATABASE_URL: booted.databaseUrl }, stdout: 'pipe' });
      const out = await new Response(cli.stdout).text();
      expect(await cli.exited).toBe(1);
      expect(out).toContain(`BREACH ${created} deadline_armed`);
      expect(out).toContain('audited 3 orders: 3 breaches');
    });
  });
}
