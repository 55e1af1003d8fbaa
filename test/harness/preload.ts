/**
 * Preloaded by `bun test`. `bun run test` (scripts/test.ts) starts Redis and PostgreSQL once
 * and passes their URLs in TEST_REDIS_URL / TEST_POSTGRES_URL; a bare `bun test file` gets
 * its own throwaway servers here, stopped when the test process exits.
 */
import { startPostgres, startRedis } from './services.ts';

if (!process.env.TEST_POSTGRES_URL) process.env.TEST_POSTGRES_URL = (await startPostgres()).url;
if (!process.env.TEST_REDIS_URL) process.env.TEST_REDIS_URL = (await startRedis()).url;
