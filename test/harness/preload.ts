/**
 * Preloaded by `bun test`. `bun run test` (scripts/test.ts) starts Redis and PostgreSQL once
 * and passes their URLs in TEST_REDIS_URL / TEST_POSTGRES_URL; then this does nothing. A bare
 * `bun test file` gets its own throwaway servers here (about 2 s, nearly all of it initdb),
 * stopped by a global afterAll — `bun test` does not emit 'exit' to preloaded code — and, if
 * the process dies first, by the servers' watchdogs.
 *
 * Both start eagerly: a preload cannot know which servers the chosen files need, and Bun's
 * process.env refuses getters, so a lazy start on first read is not possible.
 */
import { afterAll } from 'bun:test';
import { type Service, startPostgres, startRedis } from './services.ts';

const started: Service[] = [];
const [postgres, redis] = await Promise.all([
  process.env.TEST_POSTGRES_URL ? null : startPostgres(),
  process.env.TEST_REDIS_URL ? null : startRedis(),
]);
if (postgres) {
  process.env.TEST_POSTGRES_URL = postgres.url;
  started.push(postgres);
}
if (redis) {
  process.env.TEST_REDIS_URL = redis.url;
  started.push(redis);
}
if (started.length > 0) afterAll(() => Promise.all(started.map((service) => service.stop())).then(() => undefined));
