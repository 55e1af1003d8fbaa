/**
 * The migration runner both stores share: numbered files `NNNN_name.sql` in
 * migrations/<dialect>/, applied in order, each in its own transaction, recorded in
 * schema_migrations. A database that has a migration this code does not know is newer than
 * the code: starting against it could misread its data, so start-up stops.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dialect } from './store.ts';

export type Migration = { version: number; name: string; sql: string };

/** What a store adapter provides to the runner. */
export type MigrationTarget = {
  /** Creates schema_migrations if missing and returns the versions recorded there. */
  appliedVersions(): Promise<number[]>;
  /** Runs the migration's SQL and records it, in one transaction. */
  apply(migration: Migration, appliedAt: number): Promise<void>;
};

const migrationFile = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function migrationsOf(dialect: Dialect): Migration[] {
  const dir = join(import.meta.dir, '..', '..', 'migrations', dialect);
  return readdirSync(dir)
    .map((file) => ({ file, match: migrationFile.exec(file) }))
    .filter((f) => f.match !== null)
    .map(({ file, match }) => ({ version: Number(match![1]), name: match![2]!, sql: readFileSync(join(dir, file), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

export class DatabaseNewerThanCodeError extends Error {
  constructor(unknown: number[], known: number) {
    super(`database has migration(s) ${unknown.join(', ')} but this code knows up to ${known}: upgrade paycenter before starting it`);
    this.name = 'DatabaseNewerThanCodeError';
  }
}

export async function migrate(target: MigrationTarget, migrations: Migration[], nowMs: number): Promise<number[]> {
  const applied = new Set(await target.appliedVersions());
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied].filter((v) => !known.has(v));
  if (unknown.length > 0) throw new DatabaseNewerThanCodeError(unknown, Math.max(0, ...known));
  const pending = migrations.filter((m) => !applied.has(m.version));
  for (const migration of pending) await target.apply(migration, nowMs);
  return pending.map((m) => m.version);
}
