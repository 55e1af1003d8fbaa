/**
 * What an operator can fix stops the start with one line `paycenter: …` and exit 2, before
 * anything is written: a SECRET_KEY that does not open the store's secrets (a backup restored
 * beside another key), a database newer than the code, a port already taken.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../harness/services.ts';
import { admin_token, MerchantClient, adminCall, executeSql, startInstance, tableCounts } from '../http/harness.ts';
import { freshDatabase } from '../store/stores.ts';

const repo = join(import.meta.dir, '..', '..');
/** A refused start ends at once; one that is not refused is stopped after this long. */
const start_wait_ms = 15_000;

/** Runs `bun src/main.ts` (with `args`) until it exits; its exit code and standard error. */
async function start(env: Record<string, string>, options: { args?: string[]; cwd?: string } = {}): Promise<{ code: number | null; err: string }> {
  const { TEST_POSTGRES_URL, TEST_REDIS_URL, ...inherited } = process.env;
  const child = Bun.spawn(['bun', join(repo, 'src/main.ts'), ...(options.args ?? [])], {
    cwd: options.cwd, env: { ...inherited, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env }, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe',
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), start_wait_ms);
  const [err, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  return { code, err };
}

/** Asserts a refusal: exit 2 and exactly one line, no stack trace. */
function refusedWith(result: { code: number | null; err: string }): string {
  expect(result.err).not.toContain('    at ');
  expect(result.err.trim().split('\n')).toHaveLength(1);
  expect(result.code).toBe(2);
  return result.err.trim();
}

describe('refused starts', () => {
  let database: { url: string; drop: () => Promise<void> };
  const production = (): Record<string, string> => ({ PORT: '0', DATABASE_URL: database.url, ADMIN_TOKEN: admin_token, SECRET_KEY: Buffer.alloc(32, 9).toString('base64') });

  beforeAll(async () => {
    database = await freshDatabase('sqlite');
    const first = await startInstance(database.url);
    await MerchantClient.create(first.url);
    await first.stop();
  });
  afterAll(async () => {
    await database?.drop();
  });

  test('a SECRET_KEY that does not open the merchant secrets the database holds: one line naming SECRET_KEY, nothing written', async () => {
    const before = await tableCounts(database.url);
    const other = Buffer.alloc(32, 4).toString('base64');
    const line = refusedWith(await start({ ...production(), SECRET_KEY: other }));
    expect(line).toStartWith('paycenter: configuration error: SECRET_KEY: ');
    expect(line).not.toContain(other);
    expect(await tableCounts(database.url)).toEqual(before);
    // The right key still opens it all.
    const again = await startInstance(database.url);
    expect((await adminCall(again.url, 'GET', '/admin/merchants')).status).toBe(200);
    await again.stop();
  }, 30_000);

  test('a database newer than the code: one line saying to upgrade', async () => {
    await executeSql(database.url, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)");
    try {
      expect(refusedWith(await start(production()))).toMatch(/^paycenter: database has migration\(s\) 9999 but this code knows up to \d+: upgrade paycenter/);
    } finally {
      await executeSql(database.url, 'DELETE FROM schema_migrations WHERE version = 9999');
    }
  }, 30_000);

  test('a port in use: one line naming PORT', async () => {
    const taken = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('taken') });
    try {
      expect(refusedWith(await start({ ...production(), PORT: String(taken.port) }))).toBe(`paycenter: PORT ${taken.port} is in use: stop what holds it, or set another PORT`);
    } finally {
      taken.stop(true);
    }
  }, 30_000);

  test("bun dev with the demo shop's port taken: one line suggesting MERCHANT_PORT=0", async () => {
    mkdirSync(join(repo, '.test-tmp'), { recursive: true });
    const dir = mkdtempSync(join(repo, '.test-tmp', 'dev-port-'));
    const taken = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('taken') });
    try {
      const line = refusedWith(await start({ PORT: String(await freePort()), MERCHANT_PORT: String(taken.port) }, { args: ['--dev'], cwd: dir }));
      expect(line).toBe(`paycenter: MERCHANT_PORT ${taken.port} (the demo shop's) is in use: set MERCHANT_PORT=0 for any free port`);
    } finally {
      taken.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
