import { AssertionError, DependencyError } from '../failures.ts';
import { openPostgresStore } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

/**
 * Opens the store a DATABASE_URL names: `sqlite:PATH` (the file and its folder are created)
 * or `postgres://…` / `postgresql://…`. The caller migrates.
 */
export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) return typedFailures(await openSqliteStore(databaseUrl.slice('sqlite:'.length)));
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return typedFailures(await openPostgresStore(databaseUrl));
  throw new Error(`unsupported database URL scheme: ${databaseUrl.split(':')[0]}`);
}

/**
 * Postgres refused data paycenter sent (SQLSTATE class 22, data exception: a NUL in text, a number
 * out of range): what it sent is wrong, not the database — a bug, which retrying repeats.
 */
const isDataRefused = (error: unknown): boolean =>
  (error as { name?: unknown })?.name === 'PostgresError' && String((error as { errno?: unknown }).errno ?? '').startsWith('22');

/**
 * The store's failures, typed at the port (src/failures.ts): an assertion the adapter checks is
 * a bug and passes unchanged, and so is data the database refused; anything else its driver
 * throws (connection lost, disk full, busy, a statement timing out) becomes a DependencyError,
 * which background work retries. `what` names the work in the message.
 */
export function storeFailure(error: unknown, what = 'store'): unknown {
  if (error instanceof AssertionError || error instanceof DependencyError) return error;
  const message = (error as Error)?.message ?? String(error);
  return isDataRefused(error) ? new AssertionError(`${what}: the database refused the data it was sent: ${message}`) : new DependencyError('store', `${what}: ${message}`, { cause: error });
}

export function typedFailures(store: Store): Store {
  const typed = (error: unknown) => storeFailure(error);
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      // Only the port's methods; migrate runs at start-up, where its own errors say what is wrong.
      if (typeof value !== 'function' || Object.hasOwn(target, property) || property === 'migrate') return value;
      return (...args: unknown[]) => {
        try {
          const result = value.apply(target, args);
          return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(typed(error))) : result;
        } catch (error) {
          throw typed(error);
        }
      };
    },
  });
}
