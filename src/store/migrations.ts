/**
 * The migration runner both stores share: numbered files `NNNN_name.sql` in
 * migrations/<dialect>/, applied in order, each in its own transaction, recorded in
 * schema_migrations. A database that has a migration this code does not know is newer than
 * the code: starting against it could misread its data, so start-up stops.
 *
 * Each dialect hands the runner an executor; everything else (what to ask, in which order,
 * what to refuse) is written here once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dialect } from './store.ts';

export type Migration = { version: number; name: string; sql: string };

/** Statements inside one migration transaction. Parameters are written $1, $2, … in both dialects. */
export type MigrationTx = {
  /** Runs a script of one or more statements, without parameters. */
  script(sql: string): Promise<void>;
  /** Runs one statement and returns its rows. */
  rows(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>;
};

/** What a store adapter provides to the runner. */
export type MigrationExecutor = {
  /**
   * Runs `work` in one transaction that holds the database's migration lock (SQLite: BEGIN
   * IMMEDIATE; Postgres: an advisory lock), so processes that start together apply each
   * migration once. Commits when `work` resolves, rolls back when it throws.
   */
  locked<T>(work: (tx: MigrationTx) => Promise<T>): Promise<T>;
};

const migrationFile = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/** The repository's migrations folder, found from this file so any working directory works. */
const migrationsRoot = join(import.meta.dir, '..', '..', 'migrations');

const createSchemaMigrations =
  'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)';

export function migrationsOf(dialect: Dialect): Migration[] {
  const dir = join(migrationsRoot, dialect);
  const migrations = readdirSync(dir)
    .map((file) => ({ file, match: migrationFile.exec(file) }))
    .filter((f) => f.match !== null)
    .map(({ file, match }) => ({ version: Number(match![1]), name: match![2]!, sql: readFileSync(join(dir, file), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  const versions = migrations.map((m) => m.version);
  if (new Set(versions).size !== versions.length) throw new Error(`assertion failed: two migrations share a version in ${dir}`);
  return migrations;
}

export class DatabaseNewerThanCodeError extends Error {
  constructor(unknown: number[], known: number) {
    super(`database has migration(s) ${unknown.join(', ')} but this code knows up to ${known}: upgrade paycenter before starting it`);
    this.name = 'DatabaseNewerThanCodeError';
  }
}

/** Applies the pending migrations; returns the versions this call applied. */
export async function migrate(executor: MigrationExecutor, migrations: Migration[], nowMs: number): Promise<number[]> {
  const applied = await executor.locked(async (tx) => {
    await tx.script(createSchemaMigrations);
    return new Set((await tx.rows('SELECT version FROM schema_migrations', [])).map((r) => Number(r.version)));
  });
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied].filter((v) => !known.has(v)).sort((a, b) => a - b);
  if (unknown.length > 0) throw new DatabaseNewerThanCodeError(unknown, Math.max(0, ...known));
  const done: number[] = [];
  for (const migration of migrations.filter((m) => !applied.has(m.version))) {
    if (await executor.locked((tx) => applyOnce(tx, migration, nowMs))) done.push(migration.version);
  }
  return done;
}

/** Applies a migration unless another process applied it since this one looked. */
async function applyOnce(tx: MigrationTx, migration: Migration, nowMs: number): Promise<boolean> {
  if ((await tx.rows('SELECT version FROM schema_migrations WHERE version = $1', [migration.version])).length > 0) return false;
  await tx.script(migration.sql);
  await tx.rows('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, nowMs]);
  return true;
}
