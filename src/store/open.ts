import { PostgresStore } from './postgres.ts';
import { SqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

/** Opens the store a DATABASE_URL names: `sqlite:PATH` or `postgres://…`. The caller migrates. */
export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) return new SqliteStore(databaseUrl.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return PostgresStore.open(databaseUrl);
  throw new Error(`unsupported database URL scheme: ${databaseUrl.split(':')[0]}`);
}
