/**
 * `bun run bench engine` on a machine without redis-server: it says which server is missing and
 * how to install it, prints the SQLite configuration's RESULT line anyway (as soon as it is
 * measured), marks the Postgres one skipped, and exits non-zero. A tiny run (BENCH_ORDERS).
 */
import { expect, test } from 'bun:test';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const repo = join(import.meta.dir, '..', '..');

test('a bench that cannot find redis-server says so, and still reports the configuration it could run', async () => {
  // A PATH with a shell and nothing else: no redis-server on it.
  const bin = join(repo, '.test-tmp', `no-redis-${process.pid}`);
  mkdirSync(bin, { recursive: true });
  symlinkSync('/bin/sh', join(bin, 'sh'));
  try {
    const child = Bun.spawn([process.execPath, join(repo, 'bench', 'engine.ts')], {
      cwd: repo,
      env: { ...process.env, PATH: bin, BENCH_ORDERS: '40', BENCH_EVENTS: '200', BENCH_STORES: 'sqlite,postgres' },
      stdout: 'pipe', stderr: 'pipe',
    });
    const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    expect(await child.exited).toBe(1);
    expect(err).toContain('redis-server not found — needed by store=postgres');
    expect(err).toContain('apt-get install redis-server');
    const lines = out.split('\n');
    expect(lines.some((l) => /^RESULT engine store=sqlite events_per_s=\d+/.test(l))).toBe(true);
    expect(lines).toContain('SKIPPED engine store=postgres: needs redis-server');
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}, 120_000);
