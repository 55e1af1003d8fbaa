/** `bun run backup DEST` copies a running SQLite store into a database that opens on its own with every committed order. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.ts';
import { type Booted, MerchantClient, bootPaycenter } from '../http/harness.ts';

const script = join(import.meta.dir, '../../scripts/backup.ts');
let booted: Booted;
let dest: string;

beforeAll(async () => {
  booted = await bootPaycenter('sqlite');
  dest = `${booted.databaseUrl.slice('sqlite:'.length)}.backup`;
});
afterAll(async () => {
  rmSync(dest, { force: true });
  await booted?.stop();
});

async function backup(databaseUrl: string, to: string, cwd?: string): Promise<{ code: number; out: string; err: string }> {
  const child = Bun.spawn(['bun', script, to], { cwd, env: { ...process.env, DATABASE_URL: databaseUrl }, stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, out, err };
}

test('a backup taken while paycenter serves holds every order it committed, and a second one refuses to overwrite it', async () => {
  const merchant = await MerchantClient.create(booted.url);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await merchant.createPayment()).body.id);

  const first = await backup(booted.databaseUrl, dest);
  expect(first).toMatchObject({ code: 0, err: '' });

  const copy = await openStore(`sqlite:${dest}`);
  try {
    await copy.migrate(); // the copy knows its migrations: nothing to apply
    for (const id of ids) expect((await copy.loadOrder(id))?.version).toBe((await booted.paycenter.store.loadOrder(id))?.version);
  } finally {
    await copy.close();
  }

  const again = await backup(booted.databaseUrl, dest);
  expect(again.code).toBe(1);
  expect(again.err).toContain('exists already');
});

test('a Postgres URL or a missing database is refused with one line saying why', async () => {
  const postgres = await backup('postgres://127.0.0.1/paycenter', `${dest}.pg`);
  expect(postgres.code).toBe(2);
  expect(postgres.err).toContain('pg_dump');
  const missing = await backup('sqlite:/nonexistent/paycenter.db', `${dest}.none`);
  expect(missing.code).toBe(1);
  expect(missing.err.trim()).toBe('backup: no database at /nonexistent/paycenter.db');
});

test('an empty DATABASE_URL is unset, as for the service: the default sqlite:data/paycenter.db', async () => {
  const unset = await backup('', `${dest}.unset`, tmpdir());
  expect(unset.code).toBe(1);
  expect(unset.err.trim()).toBe('backup: no database at data/paycenter.db');
});
