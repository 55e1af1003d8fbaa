/**
 * bun run test — the whole suite against real servers. Installs redis-server and PostgreSQL
 * from Debian's packages when they are missing (as root), starts one of each on free loopback
 * ports, runs `bun test` (extra arguments pass through), and stops them again.
 */
import { spawnSync } from 'node:child_process';
import { postgresBinDir, redisServerBinary, startPostgres, startRedis } from '../test/harness/services.ts';

function ensureSystemPackages(): void {
  const missing = [!redisServerBinary() && 'redis-server', !postgresBinDir() && 'postgresql'].filter(Boolean) as string[];
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(`the test suite needs ${missing.join(' and ')}: run \`sudo apt-get install -y ${missing.join(' ')}\` and try again`);
    process.exit(1);
  }
  console.log(`installing ${missing.join(', ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const argv of [['apt-get', 'update', '-q'], ['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing]]) {
    const result = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    if (result.status !== 0) process.exit(result.status ?? 1);
  }
}

ensureSystemPackages();
const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
let code = 1;
try {
  const child = Bun.spawn(['bun', 'test', ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit'],
    env: { ...process.env, TEST_POSTGRES_URL: postgres.url, TEST_REDIS_URL: redis.url },
  });
  code = await child.exited;
} finally {
  await Promise.all([postgres.stop(), redis.stop()]);
}
process.exit(code);
