import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, devSecrets, ensureDevSecrets, loadConfig, readVariable } from '../src/config.ts';

const key = Buffer.alloc(32, 7).toString('base64');
const base = { ADMIN_TOKEN: 'adm_0123456789abcdef', SECRET_KEY: key };

function problem(env: Record<string, string | undefined>, mode: 'dev' | 'production' = 'production'): string {
  try {
    loadConfig(env, mode);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  test('defaults: port 3000, SQLite under data/, no Redis, info logs, engine limits', () => {
    const config = loadConfig(base, 'production');
    expect(config.mode).toBe('production');
    expect(config.port).toBe(3000);
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.database).toEqual({ kind: 'sqlite', path: 'data/paycenter.db' });
    expect(config.redisUrls).toEqual([]);
    expect(config.logLevel).toBe('info');
    expect(config.secretKey).toEqual(new Uint8Array(32).fill(7));
    expect(config.adminToken).toBe(base.ADMIN_TOKEN);
    expect(config.engine).toEqual({ commitBatchMax: 64, commitWaitMaxMs: 4, commitQueueWritesMax: 10_000, lockTtlMs: 5000, mailboxDepthMax: 10000 });
  });

  test('PUBLIC_URL follows PORT unless set; a trailing slash is dropped', () => {
    expect(loadConfig({ ...base, PORT: '8080' }, 'production').publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ ...base, PUBLIC_URL: 'https://pay.example.com/' }, 'production').publicUrl).toBe('https://pay.example.com');
  });

  test('tunables are read as numbers', () => {
    const config = loadConfig({
      ...base, COMMIT_BATCH_MAX: '8', COMMIT_WAIT_MAX_MS: '0', COMMIT_QUEUE_WRITES_MAX: '100', LOCK_TTL_MS: '250', MAILBOX_DEPTH_MAX: '3', LOG_LEVEL: 'debug',
    }, 'production');
    expect(config.engine).toEqual({ commitBatchMax: 8, commitWaitMaxMs: 0, commitQueueWritesMax: 100, lockTtlMs: 250, mailboxDepthMax: 3 });
    expect(config.logLevel).toBe('debug');
  });

  test('admission limits: generous defaults per class, each tunable; the queue may be off, its wait is at most a second', () => {
    expect(loadConfig(base, 'production').admission).toEqual({
      inFlightMax: { merchant_write: 256, merchant_read: 256, callback: 256, cashier: 256, admin: 64 }, queueMax: 64, queueWaitMs: 20,
    });
    const tuned = loadConfig({
      ...base, ADMISSION_MERCHANT_WRITES_MAX: '40', ADMISSION_MERCHANT_READS_MAX: '30', ADMISSION_CALLBACKS_MAX: '20', ADMISSION_CASHIER_MAX: '10',
      ADMISSION_ADMIN_MAX: '2', ADMISSION_QUEUE_MAX: '0', ADMISSION_QUEUE_WAIT_MS: '5',
    }, 'production');
    expect(tuned.admission).toEqual({ inFlightMax: { merchant_write: 40, merchant_read: 30, callback: 20, cashier: 10, admin: 2 }, queueMax: 0, queueWaitMs: 5 });
    expect(() => loadConfig({ ...base, ADMISSION_MERCHANT_WRITES_MAX: '0' }, 'production')).toThrow('ADMISSION_MERCHANT_WRITES_MAX: must be at least 1');
    expect(() => loadConfig({ ...base, ADMISSION_QUEUE_WAIT_MS: '5000' }, 'production')).toThrow('ADMISSION_QUEUE_WAIT_MS: must be at most 1000');
  });

  test('breaker settings: API.md defaults; seconds in the environment, ms inside', () => {
    expect(loadConfig(base, 'production').breaker).toEqual({ minCalls: 10, failureRatio: 0.5, consecutive: 5, openMs: 30_000, hideBelow: 0.8, halfOpenProbes: 3 });
    const tuned = loadConfig({ ...base, BREAKER_MIN_CALLS: '20', BREAKER_FAILURE_RATIO: '0.25', BREAKER_CONSECUTIVE: '3', BREAKER_OPEN_S: '60', CASHIER_HIDE_BELOW: '0.9', BREAKER_HALF_OPEN_PROBES: '5' }, 'production');
    expect(tuned.breaker).toEqual({ minCalls: 20, failureRatio: 0.25, consecutive: 3, openMs: 60_000, hideBelow: 0.9, halfOpenProbes: 5 });
  });

  test('sqlite:PATH keeps the path; postgres:// and postgresql:// select Postgres', () => {
    expect(loadConfig({ ...base, DATABASE_URL: 'sqlite:/var/lib/pc.db' }, 'production').database).toEqual({ kind: 'sqlite', path: '/var/lib/pc.db' });
    for (const url of ['postgres://u@db:5432/pc', 'postgresql://u:p@db/pc?sslmode=require']) {
      expect(loadConfig({ ...base, DATABASE_URL: url }, 'production').database).toEqual({ kind: 'postgres', url });
    }
  });

  test('several comma-separated Redis URLs are several independent masters', () => {
    const config = loadConfig({ ...base, REDIS_URL: 'redis://a:6379, redis://b:6379,rediss://c:6380' }, 'production');
    expect(config.redisUrls).toEqual(['redis://a:6379', 'redis://b:6379', 'rediss://c:6380']);
    expect(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379' }, 'production').redisUrls).toEqual(['redis://127.0.0.1:6379']);
  });

  test('schedules are seconds in the environment and ms inside; the sandbox follows the mode', () => {
    const defaults = loadConfig(base, 'production');
    expect(defaults.queryScheduleMs).toEqual([5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000]);
    expect(defaults.notifyRetryMs).toEqual([1_000, 5_000, 30_000, 120_000, 600_000, 1_800_000]);
    expect(defaults.sandbox).toBe(false);
    expect(loadConfig(base, 'dev').sandbox).toBe(true);
    const set = loadConfig({ ...base, QUERY_SCHEDULE_S: '2, 4,8', NOTIFY_RETRY_S: '3', SANDBOX: 'on' }, 'production');
    expect([set.queryScheduleMs, set.notifyRetryMs, set.sandbox]).toEqual([[2_000, 4_000, 8_000], [3_000], true]);
  });

  test('edge settings: private targets allowed only in dev unless set; metrics token, callback limits, retention and sessions read in their units', () => {
    const defaults = loadConfig(base, 'production');
    expect([defaults.outboundAllowPrivate, loadConfig(base, 'dev').outboundAllowPrivate, defaults.metricsToken]).toEqual([false, true, null]);
    expect(loadConfig({ ...base, OUTBOUND_ALLOW_PRIVATE: '0' }, 'dev').outboundAllowPrivate).toBe(false);
    expect(defaults.callbackIntake).toEqual({ perAddress: { perSecond: 200, capacity: 2_000 }, perChannel: { perSecond: 500, capacity: 5_000 } });
    expect([defaults.callbackRetentionMs, defaults.adminSessionMs]).toEqual([90 * 86_400_000, 8 * 3_600_000]);
    const set = loadConfig({ ...base, METRICS_TOKEN: 'metrics_0123456789', CALLBACK_RETENTION_DAYS: '7', ADMIN_SESSION_HOURS: '1' }, 'production');
    expect([set.metricsToken, set.callbackRetentionMs, set.adminSessionMs]).toEqual(['metrics_0123456789', 7 * 86_400_000, 3_600_000]);
    expect(() => loadConfig({ ...base, METRICS_TOKEN: 'short' }, 'production')).toThrow('METRICS_TOKEN: must be at least 16 characters');
    expect(() => loadConfig({ ...base, OUTBOUND_ALLOW_PRIVATE: 'yes' }, 'production')).toThrow('OUTBOUND_ALLOW_PRIVATE: must be 0 or 1');
    expect(defaults.trustedProxies).toEqual([]);
    expect(loadConfig({ ...base, TRUSTED_PROXIES: ' 10.0.0.0/8 , ::1' }, 'production').trustedProxies).toHaveLength(2);
    expect(() => loadConfig({ ...base, TRUSTED_PROXIES: '10.0.0.0/8,proxy.internal' }, 'production'))
      .toThrow('TRUSTED_PROXIES: must be addresses or CIDR ranges, comma-separated');
    for (const everything of ['0.0.0.0/0', '10.0.0.1,::/0']) {
      expect(() => loadConfig({ ...base, TRUSTED_PROXIES: everything }, 'production')).toThrow('TRUSTED_PROXIES: must not trust every address');
    }
  });

  test('an empty variable counts as unset', () => {
    const config = loadConfig({ ...base, PORT: '', REDIS_URL: '', LOG_LEVEL: ' ' }, 'production');
    expect(config.port).toBe(3000);
    expect(config.redisUrls).toEqual([]);
    expect(config.logLevel).toBe('info');
  });

  test.each([
    [{ PORT: 'eighty' }, 'PORT: must be a whole number'],
    [{ PORT: '-1' }, 'PORT: must be a whole number'],
    [{ PORT: '70000' }, 'PORT: must be at most 65535'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL: must be an http:// or https:// URL'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL: must be sqlite:PATH or postgres://…'],
    [{ DATABASE_URL: 'sqlite:' }, 'DATABASE_URL: must be sqlite:PATH or postgres://…'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL: must be redis:// or rediss:// URLs, separated by commas'],
    [{ REDIS_URL: 'redis://a,nonsense' }, 'REDIS_URL: must be redis:// or rediss:// URLs, separated by commas'],
    [{ SECRET_KEY: Buffer.alloc(16).toString('base64') }, 'SECRET_KEY: must be base64 of 32 bytes'],
    [{ SECRET_KEY: Buffer.alloc(33).toString('base64') }, 'SECRET_KEY: must be base64 of 32 bytes'],
    [{ SECRET_KEY: 'not base64 at all, but long enough to be 32 bytes!!' }, 'SECRET_KEY: must be base64 of 32 bytes'],
    [{ SECRET_KEY: Buffer.alloc(32, 7).toString('hex') }, 'SECRET_KEY: must be base64 of 32 bytes'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN: must be at least 16 characters'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: must be debug, info, warn or error'],
    [{ COMMIT_BATCH_MAX: '0' }, 'COMMIT_BATCH_MAX: must be at least 1'],
    [{ COMMIT_WAIT_MAX_MS: '2.5' }, 'COMMIT_WAIT_MAX_MS: must be a whole number'],
    [{ LOCK_TTL_MS: '10' }, 'LOCK_TTL_MS: must be at least 100'],
    [{ MAILBOX_DEPTH_MAX: '99999999999' }, 'MAILBOX_DEPTH_MAX: must be at most 1000000'],
    [{ SANDBOX: 'yes' }, 'SANDBOX: must be on or off'],
    [{ QUERY_SCHEDULE_S: '5,ten' }, 'QUERY_SCHEDULE_S: must be whole seconds separated by commas, like "5,10,30"'],
    [{ QUERY_SCHEDULE_S: '0,5' }, 'QUERY_SCHEDULE_S: each gap must be 1 to 86400 seconds'],
    [{ NOTIFY_RETRY_S: Array.from({ length: 21 }, () => '1').join(',') }, 'NOTIFY_RETRY_S: must list at most 20 gaps'],
    [{ BREAKER_FAILURE_RATIO: '0' }, 'BREAKER_FAILURE_RATIO: must be more than 0'],
    [{ BREAKER_FAILURE_RATIO: '50%' }, 'BREAKER_FAILURE_RATIO: must be a decimal from 0 to 1, like "0.5"'],
    [{ CASHIER_HIDE_BELOW: '1.5' }, 'CASHIER_HIDE_BELOW: must be a decimal from 0 to 1, like "0.5"'],
    [{ BREAKER_OPEN_S: '0' }, 'BREAKER_OPEN_S: must be at least 1'],
  ])('%p is refused with one line naming the variable', (override, expected) => {
    const message = problem({ ...base, ...override });
    expect(message).toBe(expected);
    expect(message).not.toContain('\n');
  });

  test('RISK_PAYER_ORDERS_PER_MIN is retired: start-up refuses it and says what replaces it', () => {
    expect(problem({ ...base, RISK_PAYER_ORDERS_PER_MIN: '30' })).toStartWith('RISK_PAYER_ORDERS_PER_MIN: is retired: risk rules are data now; create a velocity rule');
    expect(() => loadConfig({ ...base, RISK_PAYER_ORDERS_PER_MIN: '' }, 'production')).not.toThrow();
  });

  test('a bad secret is named, never echoed', () => {
    const almost = `${key.slice(0, -2)}!=`;
    const message = problem({ ...base, SECRET_KEY: almost });
    expect(message).toBe('SECRET_KEY: must be base64 of 32 bytes');
    expect(message).not.toContain(almost);
    const token = 'tok_secret_x';
    expect(problem({ ...base, ADMIN_TOKEN: token })).not.toContain(token);
  });

  test('production requires SECRET_KEY and ADMIN_TOKEN', () => {
    expect(problem({ ADMIN_TOKEN: base.ADMIN_TOKEN })).toBe('SECRET_KEY: is required');
    expect(problem({ SECRET_KEY: key })).toBe('ADMIN_TOKEN: is required');
  });
});

describe('dev secrets', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'paycenter-config-'));
    dirs.push(dir);
    return join(dir, 'data');
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  test('generated once under the data directory, mode 0600, then reused', () => {
    const dataDir = tempDir();
    const first = ensureDevSecrets(dataDir);
    expect(Buffer.from(first.SECRET_KEY, 'base64')).toHaveLength(32);
    expect(first.ADMIN_TOKEN.length).toBeGreaterThanOrEqual(16);
    for (const file of ['secret.key', 'admin.token']) expect(statSync(join(dataDir, file)).mode & 0o777).toBe(0o600);
    expect(ensureDevSecrets(dataDir)).toEqual(first);
    const config = loadConfig(first, 'dev');
    expect(config.mode).toBe('dev');
    expect(Buffer.from(config.secretKey).toString('base64')).toBe(first.SECRET_KEY);
  });

  test('the environment wins over generated secrets', () => {
    const dataDir = tempDir();
    expect(devSecrets(dataDir, base)).toEqual(base);
    const mixed = devSecrets(dataDir, { SECRET_KEY: key });
    expect(mixed.SECRET_KEY).toBe(key);
    expect(mixed.ADMIN_TOKEN).toBe(ensureDevSecrets(dataDir).ADMIN_TOKEN);
  });

  test("a tool reads one variable by the service's rule: empty is unset, the same default, bounds and refusals", () => {
    for (const value of [undefined, '', ' ', 'sqlite:x.db']) {
      expect(readVariable('DATABASE_URL', { DATABASE_URL: value })).toBe(loadConfig({ ...base, DATABASE_URL: value }, 'production').databaseUrl);
    }
    expect(() => readVariable('DATABASE_URL', { DATABASE_URL: 'mysql://db' })).toThrow('DATABASE_URL: must be sqlite:PATH or postgres://…');
    for (const value of [undefined, '', '0', '7', '30']) {
      expect(readVariable('RECON_HOLD_DAYS', { RECON_HOLD_DAYS: value })).toBe(loadConfig({ ...base, RECON_HOLD_DAYS: value }, 'production').recon.holdDays);
    }
    for (const value of ['2.0', ' 3', '31', '-1', 'two']) {
      expect(() => readVariable('RECON_HOLD_DAYS', { RECON_HOLD_DAYS: value })).toThrow(ConfigError);
      expect(problem({ ...base, RECON_HOLD_DAYS: value })).toStartWith('RECON_HOLD_DAYS: ');
    }
  });

  test('dev mode without the secrets says how they are made', () => {
    expect(problem({ ADMIN_TOKEN: base.ADMIN_TOKEN }, 'dev')).toBe('SECRET_KEY: is required (bun dev generates it under data/)');
  });
});
