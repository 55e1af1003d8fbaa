/** The migration runner on both stores: applies and records, is idempotent, refuses a newer database, survives concurrent starts. */
import { afterEach, describe, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { join } from 'node:path';
import { DatabaseNewerThanCodeError, migrationsOf } from '../../src/store/migrations.ts';
import { openStore } from '../../src/store/open.ts';
import type { Store } from '../../src/store/store.ts';
import { type StoreKind, freshDatabase, onDatabase, storeKinds } from './stores.ts';

const child_exit_timeout_ms = 30_000;
const processes_starting_together = 3;
/** Time for the children to boot, so they all begin migrating at once. */
const children_start_delay_ms = 1_000;

type Recorded = { version: number; name: string; applied_at: number };

const recorded = async (url: string): Promise<Recorded[]> =>
  (await onDatabase(url, 'SELECT version, name, applied_at FROM schema_migrations ORDER BY version')).map((r) => ({
    version: Number(r.version), name: String(r.name), applied_at: Number(r.applied_at),
  }));

for (const kind of storeKinds) {
  describe(`migrations on ${kind}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    async function database(k: StoreKind) {
      const db = await freshDatabase(k);
      cleanups.push(db.drop);
      return db;
    }
    async function opened(url: string): Promise<Store> {
      const store = await openStore(url);
      cleanups.push(() => store.close());
      return store;
    }

    test('every migration file is applied once and recorded; migrating again changes nothing', async () => {
      const { url } = await database(kind);
      const store = await opened(url);
      const before = Date.now();
      await store.migrate();
      const first = await recorded(url);
      const files = migrationsOf(kind);
      expect(files.length).toBeGreaterThan(0);
      expect(first.map((r) => [r.version, r.name])).toEqual(files.map((m) => [m.version, m.name]));
      expect(first.every((r) => r.applied_at >= before && r.applied_at <= Date.now())).toBe(true);
      const tables = kind === 'sqlite'
        ? await onDatabase(url, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        : await onDatabase(url, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
      // Risk's counters are tables in Postgres only (one SQLite instance counts in memory).
      const riskCounters = kind === 'postgres' ? ['risk_counter_entries', 'risk_counter_totals'] : [];
      expect(tables.map((t) => t.name)).toEqual([
        'admin_audit', 'admin_sessions', 'alerts', 'balance_accounts', 'balance_entries', 'balance_freezes', 'balance_postings', 'breaker_transitions', 'callback_log', 'channel_breakers', 'channels', 'flows', 'journal', 'merchant_events',
        'merchants', 'nonces', 'notification_attempts', 'orders', 'outbox', 'parked_timers', 'recon_diffs', 'recon_pending', 'recon_runs', 'refunds', ...riskCounters,
        'risk_generation', 'risk_list_entries', 'risk_paid_history', 'risk_rules', 'risk_settings', 'routing_scope', 'schema_migrations', 'timers',
      ]);
      await store.migrate();
      expect(await recorded(url)).toEqual(first);
    });

    test('a database with a migration this code does not know is refused, with a one-line message', async () => {
      const { url } = await database(kind);
      await (await opened(url)).migrate();
      await onDatabase(url, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)");
      let error: unknown = null;
      await (await opened(url)).migrate().catch((e) => (error = e));
      expect(error).toBeInstanceOf(DatabaseNewerThanCodeError);
      const message = (error as Error).message;
      expect(message).toContain('9999');
      expect(message).not.toContain('\n');
    });

    test('processes that start together on an empty database apply each migration once', async () => {
      const { url } = await database(kind);
      const startAt = String(Date.now() + children_start_delay_ms);
      const children = Array.from({ length: processes_starting_together }, () =>
        Bun.spawn(['bun', join(import.meta.dir, 'migrate-child.ts'), url, startAt], { stdout: 'pipe', stderr: 'pipe', timeout: child_exit_timeout_ms }));
      const results = await Promise.all(children.map(async (c) => ({ code: await c.exited, err: await new Response(c.stderr).text() })));
      expect(results.map((r) => (r.code === 0 ? 0 : r.err))).toEqual(children.map(() => 0));
      expect((await recorded(url)).map((r) => r.version)).toEqual(migrationsOf(kind).map((m) => m.version));
    }, child_exit_timeout_ms + 5_000);
  });
}

test('Postgres sessions commit synchronously even where the database default says otherwise', async () => {
  const { url, drop } = await freshDatabase('postgres');
  const database = new URL(url).pathname.slice(1);
  await onDatabase(url, `ALTER DATABASE ${database} SET synchronous_commit = off`);
  expect(await onDatabase(url, 'SHOW synchronous_commit')).toEqual([{ synchronous_commit: 'off' }]);
  const store = await openStore(url);
  // The setting is per session and the port has no way to show it: look at the adapter's pool.
  const pool = (store as unknown as { sql: SQL }).sql;
  const settings = await Promise.all(Array.from({ length: 4 }, () => pool.unsafe('SELECT current_setting($1) AS s, pg_sleep(0.05)', ['synchronous_commit'])));
  expect(settings.map((rows) => (rows as { s: string }[])[0]!.s)).toEqual(['on', 'on', 'on', 'on']);
  await store.close();
  await drop();
});
