/**
 * Configuration from the environment, validated once at start. A bad value stops start-up
 * with one line naming the variable and what is wrong (never the value of a secret).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as v from 'valibot';
import type { BreakerSettings } from './routing/breaker.ts';
import type { AdmissionSettings } from './http/admission.ts';
import { commit_queue_writes_max } from '../actors/durable-commit.ts';
import { type Range, parseRange } from './net/ip.ts';

export type Mode = 'dev' | 'production';

export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export type Config = {
  mode: Mode;
  /** Port 0 lets the OS choose (tests). */
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string;
  database: DatabaseConfig;
  /** Independent Redis masters for Redlock; empty without Redis. */
  redisUrls: string[];
  adminToken: string;
  secretKey: Uint8Array;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  engine: { commitBatchMax: number; commitWaitMaxMs: number; commitQueueWritesMax: number; lockTtlMs: number; mailboxDepthMax: number };
  /** Per-merchant request rate: `perSecond` sustained, bursts up to `capacity`. */
  rateLimit: { perSecond: number; capacity: number };
  /** Serve the channel sandbox at /sandbox (on under `bun dev`, off in production unless asked). */
  sandbox: boolean;
  /** Gaps between active queries of a flow waiting on its channel, in ms; the last repeats. */
  queryScheduleMs: number[];
  /** Gaps before each retry of a merchant notification, in ms; their count is the number of retries. */
  notifyRetryMs: number[];
  /** Channel breakers and the cashier's hiding (API.md "Routing, channel health and failover"). */
  breaker: BreakerSettings;
  /** Reconciliation: when each day's run starts (ms after China midnight) and how long a local success waits for a statement. */
  recon: { atMs: number; holdDays: number };
  /** Merchant URLs may point at loopback and private addresses (dev and tests); never link-local, unspecified or metadata. */
  outboundAllowPrivate: boolean;
  /** Bearer token /metrics asks for; null leaves it open (for a scraper on a private network). */
  metricsToken: string | null;
  /** Reverse proxies whose X-Forwarded-For names the caller the per-address limits count; empty: none. */
  trustedProxies: Range[];
  /** Callbacks taken per source address and per channel (token buckets, per process). */
  callbackIntake: { perAddress: { perSecond: number; capacity: number }; perChannel: { perSecond: number; capacity: number } };
  /** Callbacks older than this are purged unless an open order or an unmatched payment still needs them. */
  callbackRetentionMs: number;
  /** How long an operator's browser session lasts after sign-in. */
  adminSessionMs: number;
  /** Requests in flight per class in this process, and the short wait beyond (src/http/admission.ts). */
  admission: AdmissionSettings;
};

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Where paycenter listens without PORT; demo:order looks there too. */
export const default_port = 3000;
const secret_key_bytes = 32;
const admin_token_length_min = 16;
const redis_masters_max = 9;
const metrics_token_length_min = 16;
/** A proxy chain is a few hops; a list longer than this is a mistake (every request walks it). */
const trusted_proxies_max = 32;
const day_ms = 86_400_000;
const hour_ms = 3_600_000;

const integer = (min: number, max: number, fallback: number) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.regex(/^[0-9]+$/, 'must be a whole number'),
    v.transform(Number),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );

/** A comma-separated list of gaps in seconds ("5,10,30"), each 1 s to 1 day, at most 20; read as ms. */
const gapsOf = (fallback: string) =>
  v.pipe(
    v.optional(v.string(), fallback),
    v.regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'must be whole seconds separated by commas, like "5,10,30"'),
    v.transform((s) => s.split(',').map((gap) => Number(gap.trim()))),
    v.check((gaps) => gaps.length <= 20, 'must list at most 20 gaps'),
    v.check((gaps) => gaps.every((gap) => gap >= 1 && gap <= 86_400), 'each gap must be 1 to 86400 seconds'),
    v.transform((gaps) => gaps.map((gap) => gap * 1000)),
  );

/** A share from 0 to 1 written as a decimal ("0.5"). */
const share = (fallback: string) =>
  v.pipe(
    v.optional(v.string(), fallback),
    v.regex(/^(0(\.\d{1,6})?|1(\.0{1,6})?)$/, 'must be a decimal from 0 to 1, like "0.5"'),
    v.transform(Number),
  );

const urlOf = (schemes: string[], message: string) =>
  v.pipe(
    v.string(),
    v.check((s) => URL.canParse(s) && schemes.includes(new URL(s).protocol), message),
  );

/** Canonical base64 (what `openssl rand -base64 32` prints) of exactly 32 bytes. */
const isSecretKey = (s: string) => {
  const bytes = Buffer.from(s, 'base64');
  return bytes.length === secret_key_bytes && bytes.toString('base64') === s;
};

const environment = v.object({
  PORT: integer(0, 65_535, default_port),
  HOST: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9.:-]{1,253}$/, 'must be a host name or address')), '0.0.0.0'),
  PUBLIC_URL: v.optional(urlOf(['http:', 'https:'], 'must be an http:// or https:// URL')),
  DATABASE_URL: v.pipe(
    v.optional(v.string(), 'sqlite:data/paycenter.db'),
    v.check((s) => /^sqlite:.+/.test(s) || /^postgres(ql)?:\/\/.+/.test(s), 'must be sqlite:PATH or postgres://…'),
  ),
  REDIS_URL: v.optional(
    v.pipe(
      v.string(),
      v.transform((s) => s.split(',').map((u) => u.trim())),
      v.array(urlOf(['redis:', 'rediss:'], 'must be redis:// or rediss:// URLs, separated by commas')),
      v.maxLength(redis_masters_max, `must name at most ${redis_masters_max} Redis masters`),
    ),
  ),
  ADMIN_TOKEN: v.pipe(v.string(), v.minLength(admin_token_length_min, `must be at least ${admin_token_length_min} characters`)),
  SECRET_KEY: v.pipe(v.string(), v.check(isSecretKey, `must be base64 of ${secret_key_bytes} bytes`)),
  LOG_LEVEL: v.optional(v.picklist(['debug', 'info', 'warn', 'error'], 'must be debug, info, warn or error'), 'info'),
  COMMIT_BATCH_MAX: integer(1, 1_000, 64),
  // 4 ms, not 1: a third fewer transactions a payment, ~9 % less CPU (bench lifecycle, decisions.md "Session 18").
  COMMIT_WAIT_MAX_MS: integer(0, 100, 4),
  LOCK_TTL_MS: integer(100, 60_000, 5_000),
  MAILBOX_DEPTH_MAX: integer(1, 1_000_000, 10_000),
  RATE_LIMIT_PER_S: integer(1, 1_000_000, 1_000),
  RATE_LIMIT_BURST: integer(1, 1_000_000, 2_000),
  SANDBOX: v.optional(v.picklist(['on', 'off'], 'must be on or off')),
  QUERY_SCHEDULE_S: gapsOf('5,10,30,60,120,300,600,1800'),
  NOTIFY_RETRY_S: gapsOf('1,5,30,120,600,1800'),
  // Retired: risk rules are data (src/risk). Starting with it set would silently drop a protection someone asked for.
  RISK_PAYER_ORDERS_PER_MIN: v.optional(v.custom<never>(() => false,
    'is retired: risk rules are data now; create a velocity rule with POST /admin/risk/rules (docs/operations.md, "Risk"), then unset it')),
  BREAKER_MIN_CALLS: integer(1, 1_000_000, 10),
  BREAKER_FAILURE_RATIO: v.pipe(share('0.5'), v.minValue(0.000001, 'must be more than 0')),
  BREAKER_CONSECUTIVE: integer(1, 1_000_000, 5),
  BREAKER_OPEN_S: integer(1, 86_400, 30),
  CASHIER_HIDE_BELOW: share('0.8'),
  BREAKER_HALF_OPEN_PROBES: integer(1, 1_000, 3),
  RECON_AT: v.pipe(
    v.optional(v.string(), '10:00'),
    v.regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a China time of day, HH:MM'),
    v.transform((s) => Number(s.slice(0, 2)) * 3_600_000 + Number(s.slice(3)) * 60_000),
  ),
  RECON_HOLD_DAYS: integer(0, 30, 2),
  OUTBOUND_ALLOW_PRIVATE: v.optional(v.picklist(['0', '1'], 'must be 0 or 1')),
  METRICS_TOKEN: v.optional(v.pipe(v.string(), v.minLength(metrics_token_length_min, `must be at least ${metrics_token_length_min} characters`))),
  TRUSTED_PROXIES: v.pipe(
    v.optional(v.string(), ''),
    v.transform((s) => s.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')),
    v.check((entries) => entries.length <= trusted_proxies_max, `must list at most ${trusted_proxies_max} addresses or ranges`),
    v.check((entries) => entries.every((entry) => parseRange(entry) !== null), 'must be addresses or CIDR ranges, comma-separated'),
    v.transform((entries) => entries.map((entry) => parseRange(entry)!)),
    // Trusting every address lets any caller name the address it is counted by.
    v.check((ranges) => ranges.every((range) => range.first !== 0n || range.last !== (range.family === 4 ? 2n ** 32n : 2n ** 128n) - 1n),
      'must not trust every address (0.0.0.0/0, ::/0): list the proxies'),
  ),
  CALLBACK_RATE_PER_ADDRESS_PER_S: integer(1, 1_000_000, 200),
  CALLBACK_BURST_PER_ADDRESS: integer(1, 1_000_000, 2_000),
  CALLBACK_RATE_PER_CHANNEL_PER_S: integer(1, 1_000_000, 500),
  CALLBACK_BURST_PER_CHANNEL: integer(1, 1_000_000, 5_000),
  CALLBACK_RETENTION_DAYS: integer(1, 3_650, 90),
  ADMIN_SESSION_HOURS: integer(1, 720, 8),
  COMMIT_QUEUE_WRITES_MAX: integer(1, 1_000_000, commit_queue_writes_max),
  ADMISSION_MERCHANT_WRITES_MAX: integer(1, 100_000, 256),
  ADMISSION_MERCHANT_READS_MAX: integer(1, 100_000, 256),
  ADMISSION_CALLBACKS_MAX: integer(1, 100_000, 256),
  ADMISSION_CASHIER_MAX: integer(1, 100_000, 256),
  ADMISSION_ADMIN_MAX: integer(1, 100_000, 64),
  ADMISSION_QUEUE_MAX: integer(0, 100_000, 64),
  // Past a second a waiting client has likely given up: a longer wait only holds its memory.
  ADMISSION_QUEUE_WAIT_MS: integer(0, 1_000, 20),
});

type Variables = typeof environment.entries;

/**
 * One variable as the service reads it (empty is unset; the same default, bounds and refusals),
 * for a tool that needs only it and not the rest of the service's configuration: the money audit
 * (DATABASE_URL, RECON_HOLD_DAYS) and the backup (DATABASE_URL).
 */
export function readVariable<N extends keyof Variables>(name: N, env: Record<string, string | undefined>): v.InferOutput<Variables[N]> {
  const parsed = v.safeParse(environment.entries[name], withoutEmpty(env)[name]);
  if (!parsed.success) throw new ConfigError(name, parsed.issues[0].message);
  return parsed.output;
}

/** Validates the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined>, mode: Mode): Config {
  const parsed = v.safeParse(environment, withoutEmpty(env));
  if (!parsed.success) {
    const issue = parsed.issues[0];
    // The first path step is the variable, also when the problem is inside it (REDIS_URL's 2nd URL).
    const variable = String(issue.path?.[0]?.key ?? 'environment');
    const problem = issue.input === undefined ? (mode === 'dev' ? 'is required (bun dev generates it under data/)' : 'is required') : issue.message;
    throw new ConfigError(variable, problem.replace(/\s+/g, ' '));
  }
  const e = parsed.output;
  const database: DatabaseConfig = e.DATABASE_URL.startsWith('sqlite:')
    ? { kind: 'sqlite', path: e.DATABASE_URL.slice('sqlite:'.length) }
    : { kind: 'postgres', url: e.DATABASE_URL };
  return {
    mode,
    port: e.PORT,
    host: e.HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/$/, ''),
    databaseUrl: e.DATABASE_URL,
    database,
    redisUrls: e.REDIS_URL ?? [],
    adminToken: e.ADMIN_TOKEN,
    secretKey: new Uint8Array(Buffer.from(e.SECRET_KEY, 'base64')),
    logLevel: e.LOG_LEVEL,
    engine: {
      commitBatchMax: e.COMMIT_BATCH_MAX, commitWaitMaxMs: e.COMMIT_WAIT_MAX_MS, commitQueueWritesMax: e.COMMIT_QUEUE_WRITES_MAX,
      lockTtlMs: e.LOCK_TTL_MS, mailboxDepthMax: e.MAILBOX_DEPTH_MAX,
    },
    rateLimit: { perSecond: e.RATE_LIMIT_PER_S, capacity: e.RATE_LIMIT_BURST },
    sandbox: (e.SANDBOX ?? (mode === 'dev' ? 'on' : 'off')) === 'on',
    queryScheduleMs: e.QUERY_SCHEDULE_S,
    notifyRetryMs: e.NOTIFY_RETRY_S,
    breaker: {
      minCalls: e.BREAKER_MIN_CALLS, failureRatio: e.BREAKER_FAILURE_RATIO, consecutive: e.BREAKER_CONSECUTIVE,
      openMs: e.BREAKER_OPEN_S * 1000, hideBelow: e.CASHIER_HIDE_BELOW, halfOpenProbes: e.BREAKER_HALF_OPEN_PROBES,
    },
    recon: { atMs: e.RECON_AT, holdDays: e.RECON_HOLD_DAYS },
    outboundAllowPrivate: (e.OUTBOUND_ALLOW_PRIVATE ?? (mode === 'dev' ? '1' : '0')) === '1',
    metricsToken: e.METRICS_TOKEN ?? null,
    trustedProxies: e.TRUSTED_PROXIES,
    callbackIntake: {
      perAddress: { perSecond: e.CALLBACK_RATE_PER_ADDRESS_PER_S, capacity: e.CALLBACK_BURST_PER_ADDRESS },
      perChannel: { perSecond: e.CALLBACK_RATE_PER_CHANNEL_PER_S, capacity: e.CALLBACK_BURST_PER_CHANNEL },
    },
    callbackRetentionMs: e.CALLBACK_RETENTION_DAYS * day_ms,
    adminSessionMs: e.ADMIN_SESSION_HOURS * hour_ms,
    admission: {
      inFlightMax: {
        merchant_write: e.ADMISSION_MERCHANT_WRITES_MAX, merchant_read: e.ADMISSION_MERCHANT_READS_MAX, callback: e.ADMISSION_CALLBACKS_MAX,
        cashier: e.ADMISSION_CASHIER_MAX, admin: e.ADMISSION_ADMIN_MAX,
      },
      queueMax: e.ADMISSION_QUEUE_MAX,
      queueWaitMs: e.ADMISSION_QUEUE_WAIT_MS,
    },
  };
}

/** `VAR=` in a shell or a compose file means "not set", not "set to nothing". */
function withoutEmpty(env: Record<string, string | undefined>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value.trim() !== '') kept[name] = value;
  return kept;
}

/**
 * `bun dev` needs no setup: a secret key and an admin token are generated once under the
 * data directory (mode 0600) and reused on every later start. Returns them as the variables
 * loadConfig reads.
 */
export function ensureDevSecrets(dataDir: string): { SECRET_KEY: string; ADMIN_TOKEN: string } {
  mkdirSync(dataDir, { recursive: true });
  return {
    SECRET_KEY: keptSecret(join(dataDir, 'secret.key'), () => randomBytes(secret_key_bytes).toString('base64')),
    ADMIN_TOKEN: keptSecret(join(dataDir, 'admin.token'), () => `adm_${randomBytes(24).toString('base64url')}`),
  };
}

function keptSecret(path: string, make: () => string): string {
  try {
    // 'wx' fails when the file exists, so two processes starting at once keep one secret.
    writeFileSync(path, `${make()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  chmodSync(path, 0o600);
  return readFileSync(path, 'utf8').trim();
}

/** The dev-mode environment additions: generated secrets, unless the environment sets them. */
export function devSecrets(dataDir: string, env: Record<string, string | undefined>): Record<string, string> {
  if (env.SECRET_KEY && env.ADMIN_TOKEN) return { SECRET_KEY: env.SECRET_KEY, ADMIN_TOKEN: env.ADMIN_TOKEN };
  const generated = ensureDevSecrets(dataDir);
  return { SECRET_KEY: env.SECRET_KEY || generated.SECRET_KEY, ADMIN_TOKEN: env.ADMIN_TOKEN || generated.ADMIN_TOKEN };
}
