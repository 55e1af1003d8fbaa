/**
 * bun run test — the whole suite against real servers. Installs redis-server, PostgreSQL and
 * Chromium with CJK and emoji fonts (for the browser tests) from Debian's packages when they are missing (as root; otherwise says what to install),
 * starts one of each on free loopback ports, runs `bun test` (extra arguments pass through,
 * output inherited), stops them again and exits with bun test's exit code.
 */
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { chromiumBinary, missingFontPackages, postgresBinDir, redisServerBinary, startPostgres, startRedis } from '../test/harness/services.ts';

function missingPackages(): string[] {
  const missing: string[] = [];
  if (!redisServerBinary()) missing.push('redis-server');
  if (!postgresBinDir()) missing.push('postgresql');
  if (!chromiumBinary()) missing.push('chromium');
  // The README's curl walkthrough (run by test/first-hour.test.ts) captures ids with jq and signs with openssl.
  for (const tool of ['jq', 'openssl']) if (!Bun.which(tool)) missing.push(tool);
  missing.push(...missingFontPackages());
  return missing;
}

function ensureSystemPackages(): void {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(`bun run test needs ${missing.join(' and ')}: run \`sudo apt-get install -y ${missing.join(' ')}\` and try again`);
    process.exit(1);
  }
  console.log(`installing ${missing.join(' and ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const argv of [['apt-get', 'update', '-q'], ['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing]]) {
    const result = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (result.status !== 0) {
      console.error(`\`${argv.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
      process.exit(1);
    }
  }
  const still = missingPackages();
  if (still.length > 0) {
    console.error(`apt-get finished but ${still.join(' and ')} is still missing`);
    process.exit(1);
  }
}

ensureSystemPackages();
const started = performance.now();
const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
console.log(`test servers up in ${Math.round(performance.now() - started)} ms: ${postgres.url} ${redis.url}`);
let code = 1;
try {
  const child = Bun.spawn([process.execPath, 'test', ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit'],
    env: { ...process.env, TEST_POSTGRES_URL: postgres.url, TEST_REDIS_URL: redis.url },
  });
  await child.exited;
  // A bun test killed by a signal has no exit code; report it the way a shell would.
  code = child.exitCode ?? 128 + (constants.signals[child.signalCode as keyof typeof constants.signals] ?? 0);
} finally {
  await Promise.all([postgres.stop(), redis.stop()]);
}
process.exit(code);
