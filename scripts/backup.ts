/**
 * bun run backup DEST — a consistent copy of the SQLite store named by DATABASE_URL (default
 * sqlite:data/paycenter.db; empty is unset, as for the service), taken while paycenter runs.
 * Copying the .db file is not a backup: commits may still sit in its -wal file. `VACUUM INTO` reads one snapshot (WAL lets the writer
 * go on meanwhile) and writes it as a compact database that opens on its own. DEST must not exist.
 * Postgres has its own tools (pg_dump, pg_basebackup); this refuses a Postgres URL.
 */
import { Database } from 'bun:sqlite';
import { existsSync } from 'node:fs';
import { ConfigError, readVariable } from '../src/config.ts';

function fail(message: string, code = 1): never {
  console.error(`backup: ${message}`);
  process.exit(code);
}

/** The service's DATABASE_URL, read by the service's rule (empty is unset). */
function databaseUrlOf(env: Record<string, string | undefined>): string {
  try {
    return readVariable('DATABASE_URL', env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    fail(error.message, 2);
  }
}

const databaseUrl = databaseUrlOf(process.env);
const dest = process.argv[2];
if (!dest) fail('usage: bun run backup DEST   (DEST: a new file for the copy)', 2);
if (!databaseUrl.startsWith('sqlite:')) fail('DATABASE_URL is not sqlite:PATH; back Postgres up with pg_dump or pg_basebackup', 2);
const source = databaseUrl.slice('sqlite:'.length);
if (!existsSync(source)) fail(`no database at ${source}`);
if (existsSync(dest)) fail(`${dest} exists already; name a new file`);

const db = new Database(source, { readonly: true });
try {
  db.prepare('VACUUM INTO ?').run(dest);
} catch (error) {
  fail(`copying ${source} to ${dest} failed: ${(error as Error).message}`);
} finally {
  db.close();
}
console.log(`backup: ${source} copied to ${dest}`);
