/** The money audit finds nothing in a store paycenter wrote, and names each breach planted in one. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paymentMachineVersion } from '../machines/payment.machine.ts';
import { auditStore } from '../src/audit/audit.ts';
import { openStore } from '../src/store/open.ts';
import { freshDatabase, postgresServerUrl, storeKinds } from './store/stores.ts';
import { type Booted, MerchantClient, bootPaycenter, executeSql, settleThroughActor } from './http/harness.ts';

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
      expect(await auditStore(booted.paycenter.store, { nowMs: Date.now() })).toEqual({ orders: 3, breaches: [] });

      await executeSql(booted.databaseUrl, `DELETE FROM timers WHERE order_id = '${created}'`);
      await executeSql(booted.databaseUrl, `UPDATE merchant_events SET type = 'payment.succeeded' WHERE order_id = '${closed}'`);
      await executeSql(booted.databaseUrl, `UPDATE orders SET paid_amount = 1 WHERE id = '${settled}'`);
      const { breaches } = await auditStore(booted.paycenter.store, { nowMs: Date.now() });
      expect(breaches.map((b) => [b.orderId, b.rule]).sort()).toEqual(
        [[created, 'deadline_armed'], [closed, 'one_payment_succeeded'], [settled, 'columns_match_snapshot']].sort(),
      );

      const cli = Bun.spawn(['bun', join(import.meta.dir, '..', 'scripts', 'audit.ts')], { env: { ...process.env, DATABASE_URL: booted.databaseUrl }, stdout: 'pipe' });
      const out = await new Response(cli.stdout).text();
      expect(await cli.exited).toBe(1);
      expect(out).toContain(`BREACH ${created} deadline_armed`);
      expect(out).toContain('audited 3 orders: 3 breaches');
    });

    test('an order the engine cannot restore is a breach of its own, and the audit goes on to the rest', async () => {
      const relabelled = (await merchant.createPayment()).body.id;
      const unknownVersion = (await merchant.createPayment()).body.id;
      const noSuchState = (await merchant.createPayment()).body.id;
      const unarmed = (await merchant.createPayment()).body.id;
      await executeSql(booted.databaseUrl, `UPDATE orders SET status = 'closed' WHERE id = '${relabelled}'`);
      await executeSql(booted.databaseUrl, `UPDATE orders SET machine_version = 0 WHERE id = '${unknownVersion}'`);
      await executeSql(booted.databaseUrl, `UPDATE orders SET snapshot = '{"value":"nowhere","context":{}}' WHERE id = '${noSuchState}'`);
      await executeSql(booted.databaseUrl, `DELETE FROM timers WHERE order_id = '${unarmed}'`);
      const ours = [relabelled, unknownVersion, noSuchState, unarmed];
      const { breaches } = await auditStore(booted.paycenter.store, { nowMs: Date.now() });
      expect(breaches.filter((b) => ours.includes(b.orderId)).map((b) => [b.orderId, b.rule]).sort()).toEqual(
        [[relabelled, 'columns_match_snapshot'], [unknownVersion, 'snapshot_restores'], [noSuchState, 'snapshot_restores'], [unarmed, 'deadline_armed']].sort(),
      );
      expect(breaches.find((b) => b.orderId === relabelled)!.detail).toBe('status column says closed, the snapshot created');

      const { code, out } = await auditCli(booted.databaseUrl);
      expect(code).toBe(1);
      expect(out).toContain(`BREACH ${unknownVersion} snapshot_restores: `);
      expect(out).toMatch(/audited \d+ orders: \d+ breaches/);
    });

    test('an order a newer payment machine wrote refuses the run with one line: the newer code audits it', async () => {
      const newer = (await merchant.createPayment()).body.id;
      await executeSql(booted.databaseUrl, `UPDATE orders SET machine_version = 99 WHERE id = '${newer}'`);
      const { code, out } = await auditCli(booted.databaseUrl);
      expect(code).toBe(2);
      expect(out.trim()).toBe(`audit refused (newer_machine): order ${newer} was written by payment machine v99; this code knows up to v${paymentMachineVersion}: audit with the newer paycenter`);
      await executeSql(booted.databaseUrl, `UPDATE orders SET machine_version = ${paymentMachineVersion} WHERE id = '${newer}'`);
    });
  });
}

/** Runs `bun run audit` against a database URL (in `cwd`, for a relative one); its exit code and both outputs. */
async function auditCli(databaseUrl: string, cwd?: string): Promise<{ code: number; out: string }> {
  const cli = Bun.spawn(['bun', join(import.meta.dir, '..', 'scripts', 'audit.ts')], { cwd, env: { ...process.env, DATABASE_URL: databaseUrl }, stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr] = await Promise.all([new Response(cli.stdout).text(), new Response(cli.stderr).text()]);
  return { code: await cli.exited, out: stdout + stderr };
}

describe('audit refuses what is not a paycenter store, and creates nothing', () => {
  const scratch = join(import.meta.dir, '..', '.test-tmp', `audit-${process.pid}`);
  beforeAll(() => mkdirSync(scratch, { recursive: true }));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test('a missing SQLite file: "no such database", and no file appears', async () => {
    const path = join(scratch, 'missing', 'paycenter.db');
    const { code, out } = await auditCli(`sqlite:${path}`);
    expect(code).toBe(2);
    expect(out).toContain('audit refused (no_such_database)');
    expect(out).not.toContain('    at ');
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(scratch, 'missing'))).toBe(false);
  });

  test('an empty DATABASE_URL is unset, as for the service: the default sqlite:data/paycenter.db', async () => {
    const { code, out } = await auditCli('', scratch);
    expect(code).toBe(2);
    expect(out.trim()).toBe('audit refused (no_such_database): no such database: data/paycenter.db does not exist');
    expect(existsSync(join(scratch, 'data'))).toBe(false);
  });

  test('an empty SQLite file: "not a paycenter store", left as it was', async () => {
    const path = join(scratch, 'empty.db');
    writeFileSync(path, '');
    const { code, out } = await auditCli(`sqlite:${path}`);
    expect(code).toBe(2);
    expect(out).toContain('audit refused (not_a_paycenter_store)');
    expect(statSync(path).size).toBe(0);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  test('a store whose migrations are behind the code: "migrations behind", naming the missing one', async () => {
    const database = await freshDatabase('sqlite');
    const store = await openStore(database.url);
    await store.migrate();
    await store.close();
    await executeSql(database.url, 'DELETE FROM schema_migrations WHERE version = 1');
    const { code, out } = await auditCli(database.url);
    expect(code).toBe(2);
    expect(out).toContain('audit refused (migrations_behind)');
    expect(out).toContain('lacks migration(s) 1');
    await database.drop();
  });

  test('Postgres: a database that does not exist, and an empty one', async () => {
    const url = new URL(postgresServerUrl());
    url.pathname = '/no_such_paycenter_db';
    expect(await auditCli(url.toString())).toMatchObject({ code: 2 });
    expect((await auditCli(url.toString())).out).toContain('audit refused (no_such_database)');
    const empty = await freshDatabase('postgres');
    const answer = await auditCli(empty.url);
    expect(answer.code).toBe(2);
    expect(answer.out).toContain('audit refused (not_a_paycenter_store)');
    await empty.drop();
  }, 30_000);
});
