import { openPostgresStore } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

/**
 * Opens the store a DATABASE_URL names: `sqlite:PATH` (the file and its folder are created)
 * or `postgres://…` / `postgresql://…`. The caller migrates.
 */
export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) return openSqliteStore(databaseUrl.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return openPostgresStore(databaseUrl);
  throw new Error(`unsupported database URL scheme: ${databaseUrl.split(':')[0]}`);
}
