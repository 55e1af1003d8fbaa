import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '../src/config.ts';

const key = Buffer.alloc(32, 7).toString('base64');
const base = { ADMIN_TOKEN: 'adm_0123456789abcdef', SECRET_KEY: key };

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env, 'production');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  test('defaults: port 3000, SQLite under data/, no Redis', () => {
    const config = loadConfig(base, 'production');
    expect(config.port).toBe(3000);
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.database).toEqual({ kind: 'sqlite', path: 'data/paycenter.db' });
    expect(config.redisUrls).toEqual([]);
    expect(config.secretKey).toHaveLength(32);
    expect(config.engine).toEqual({ commitBatchMax: 64, commitWaitMaxMs: 1, lockTtlMs: 5000, mailboxDepthMax: 10000 });
  });

  test('a postgres URL selects Postgres; several Redis URLs are several masters', () => {
    const config = loadConfig({ ...base, DATABASE_URL: 'postgres://u@db:5432/pc', REDIS_URL: 'redis://a:6379, redis://b:6379' }, 'production');
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://u@db:5432/pc' });
    expect(config.redisUrls).toEqual(['redis://a:6379', 'redis://b:6379']);
  });

  test.each([
    [{ PORT: 'eighty' }, 'PORT: must be a whole number'],
    [{ PORT: '70000' }, 'PORT: must be at most 65535'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL: must be sqlite:PATH or postgres://…'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ SECRET_KEY: Buffer.alloc(16).toString('base64') }, 'SECRET_KEY: must be base64 of 32 bytes'],
    [{ SECRET_KEY: 'not base64!' }, 'SECRET_KEY: must be base64 of 32 bytes'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN: must be at least 16 characters'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: must be debug, info, warn or error'],
    [{ COMMIT_BATCH_MAX: '0' }, 'COMMIT_BATCH_MAX: must be at least 1'],
  ])('%p is refused with one line naming the variable', (override, expected) => {
    const message = problem({ ...base, ...override });
    expect(message).toStartWith(expected);
    expect(message).not.toContain('\n');
    expect(message).not.toContain(key);
  });

  test('a missing secret key is named', () => {
    expect(problem({ ADMIN_TOKEN: base.ADMIN_TOKEN })).toStartWith('SECRET_KEY');
  });
});
