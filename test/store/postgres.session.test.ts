/**
 * Every Postgres session paycenter opens has a bound on a statement and on a transaction left
 * idle: a statement stuck behind a lock, or a plan gone wrong, fails as the store's failure (and is
 * retried) instead of holding a connection of a 16-connection pool for ever, and a write
 * transaction a stuck caller left open is ended — it would hold row locks, and GET /v1/events
 * lists nothing committed after it began.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { openRiskDatabase } from '../../src/risk/repo.ts';
import { type FreshStore, freshStore } from './stores.ts';

const show = async (run: (sql: string) => Promise<unknown[]>) => {
  const [statement] = (await run('SHOW statement_timeout')) as { statement_timeout: string }[];
  const [idle] = (await run('SHOW idle_in_transaction_session_timeout')) as { idle_in_transaction_session_timeout: string }[];
  return [statement!.statement_timeout, idle!.idle_in_transaction_session_timeout];
};

describe('Postgres sessions', () => {
  let fresh: FreshStore;
  beforeAll(async () => {
    fresh = await freshStore('postgres');
  });
  afterAll(() => fresh?.dispose());

  test("the store's connections bound a statement (30 s) and an idle transaction (60 s)", async () => {
    expect(await show((sql) => fresh.store.ledger.rows({ sql, params: [] }))).toEqual(['30s', '1min']);
  });

  test("risk's connections, its counters' included, have the same bounds", async () => {
    const risk = await openRiskDatabase(fresh.url);
    try {
      expect(await show((sql) => risk.postgres!.unsafe(sql))).toEqual(['30s', '1min']);
      expect(await show((sql) => risk.counters!.unsafe(sql))).toEqual(['30s', '1min']);
    } finally {
      await risk.postgres!.close();
      await risk.counters!.close();
    }
  });
});
