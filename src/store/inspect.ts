/**
 * Looks at a database a tool (the audit) is pointed at before opening it as a store: opening
 * creates a missing SQLite file, and reading a database that is not paycenter's, or is behind
 * the code's migrations, would die on a missing table with a stack trace. This reads only —
 * SQLite read-only without creating anything, Postgres through one short connection.
 */
import { SQL } from 'bun';
import { Database } from 'bun:sqlite';
import { existsSync } from 'node:fs';
import { migrationsOf } from './migrations.ts';
import type { Dialect } from './store.ts';

export type StoreCheck =
  | { ok: true }
  | { ok: false; reason: 'no_such_database' | 'not_a_paycenter_store' | 'migrations_behind' | 'migrations_ahead'; message: string };

/** Postgres' SQLSTATE for "database does not exist". */
const postgres_no_such_database = '3D000';

/** Compares the applied migration versions (null: no schema_migrations table) with the code's. */
export function checkMigrations(dialect: Dialect, where: string, applied: number[] | null): StoreCheck {
  if (applied === null) {
    return { ok: false, reason: 'not_a_paycenter_store', message: `${where} is not a paycenter store (it has no schema_migrations table); start paycenter on it once to create the schema` };
  }
  const known = migrationsOf(dialect).map((m) => m.version);
  const missing = known.filter((v) => !applied.includes(v));
  const unknown = applied.filter((v) => !known.includes(v));
  if (unknown.length > 0) return { ok: false, reason: 'migrations_ahead', message: `${where} has migration(s) ${unknown.join(', ')} this code does not know: upgrade paycenter first` };
  if (missing.length > 0) return { ok: false, reason: 'migrations_behind', message: `${where} lacks migration(s) ${missing.join(', ')}: start paycenter on it once to apply them` };
  return { ok: true };
}

function checkSqlite(path: string): StoreCheck {
  if (!existsSync(path)) return { ok: false, reason: 'no_such_database', message: `no such database: ${path} does not exist` };
  let db: Database;
  try {
    db = new Database(path, { readonly: true });
  } catch (error) {
    return { ok: false, reason: 'not_a_paycenter_store', message: `${path} cannot be opened as SQLite: ${String((error as Error).message ?? error)}` };
  }
  try {
    const table = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    const applied = table ? db.query('SELECT version FROM schema_migrations').all().map((r) => Number((r as { version: unknown }).version)) : null;
    return checkMigrations('sqlite', path, applied);
  } catch (error) {
    // Not a database at all (any file can be named .db).
    return { ok: false, reason: 'not_a_paycenter_store', message: `${path} is not a SQLite database: ${String((error as Error).message ?? error)}` };
  } finally {
    db.close();
  }
}

async function checkPostgres(url: string): Promise<StoreCheck> {
  const where = `database ${new URL(url).pathname.slice(1) || '(default)'}`;
  const sql = new SQL({ url, max: 1 });
  try {
    const [row] = await sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`;
    const applied = row.present ? (await sql`SELECT version FROM schema_migrations`).map((r: { version: unknown }) => Number(r.version)) : null;
    return checkMigrations('postgres', where, applied);
  } catch (error) {
    if ((error as { errno?: unknown }).errno === postgres_no_such_database || String(error).includes('does not exist')) {
      return { ok: false, reason: 'no_such_database', message: `no such database: ${where} does not exist` };
    }
    throw error;
  } finally {
    await sql.close();
  }
}

/** Whether DATABASE_URL names an existing paycenter store whose migrations match this code; creates nothing. */
export async function checkStore(databaseUrl: string): Promise<StoreCheck> {
  if (databaseUrl.startsWith('sqlite:')) return checkSqlite(databaseUrl.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return checkPostgres(databaseUrl);
  return { ok: false, reason: 'no_such_database', message: `unsupported database URL scheme: ${databaseUrl.split(':')[0]}` };
}
