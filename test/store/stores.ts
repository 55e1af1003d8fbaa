/**
 * Fresh, migrated stores for tests: a new SQLite file, or a new database on the harness's
 * Postgres server (TEST_POSTGRES_URL). Each call is isolated from every other.
 */
import { afterAll, beforeAll } from 'bun:test';
import { SQL } from 'bun';
import { openSqliteDatabase } from '../../src/store/sqlite-batch.ts';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.ts';
import type { Store } from '../../src/store/store.ts';

export const storeKinds = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof storeKinds)[number];

export type FreshStore = { store: Store; url: string; dispose: () => Promise<void> };

const scratchDir = join(import.meta.dir, '..', '..', '.test-tmp');
const uniqueName = () => `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;

export function postgresServerUrl(): string {
  const url = process.env.TEST_POSTGRES_URL;
  if (!url) throw new Error('TEST_POSTGRES_URL is not set: run the suite with `bun run test`, which starts Postgres');
  return url;
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A new, empty database of the given kind, not yet opened: for tests that start paycenter on it. */
export async function freshDatabase(kind: StoreKind): Promise<{ url: string; drop: () => Promise<void> }> {
  if (kind === 'sqlite') {
    mkdirSync(scratchDir, { recursive: true });
    const path = join(scratchDir, `${uniqueName()}.db`);
    return { url: `sqlite:${path}`, drop: async () => ['', '-wal', '-shm'].forEach((suffix) => rmSync(path + suffix, { force: true })) };
  }
  const server = postgresServerUrl();
  const database = uniqueName();
  const admin = new SQL({ url: server, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${database}`);
  const drop = async () => {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.close();
  };
  return { url: withDatabase(server, database), drop };
}

export async function freshStore(kind: StoreKind): Promise<FreshStore> {
  const database = await freshDatabase(kind);
  const store = await openStore(database.url);
  await store.migrate();
  const dispose = async () => {
    await store.close();
    await database.drop();
  };
  return { store, url: database.url, dispose };
}

/**
 * A fresh store for the enclosing describe block: opened before its tests, disposed after. The
 * returned store forwards to the one opened, so tests use it like any store.
 */
export function freshStoreFor(kind: StoreKind): Store {
  let fresh: FreshStore | undefined;
  beforeAll(async () => {
    fresh = await freshStore(kind);
  });
  afterAll(async () => {
    await fresh?.dispose();
  });
  return new Proxy({} as Store, {
    get(_, name) {
      if (!fresh) throw new Error('the fresh store is opened in beforeAll; use it inside tests');
      const value = (fresh.store as unknown as Record<string | symbol, unknown>)[name];
      return typeof value === 'function' ? value.bind(fresh.store) : value;
    },
  });
}

/** Runs one statement on the database behind `url` through its own connection. */
export async function onDatabase(url: string, statement: string): Promise<Record<string, unknown>[]> {
  if (url.startsWith('sqlite:')) {
    const db = openSqliteDatabase(url.slice('sqlite:'.length));
    try {
      return db.query(statement).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }
  const sql = new SQL({ url, max: 1 });
  try {
    return (await sql.unsafe(statement)) as Record<string, unknown>[];
  } finally {
    await sql.close();
  }
}
