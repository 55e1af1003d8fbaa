/**
 * Throwaway Redis and PostgreSQL servers on free loopback ports, for tests and benches.
 * Each lives in its own temporary directory, which stopping removes. No Docker: the
 * binaries come from Debian's packages (scripts/test.ts installs them when missing).
 *
 * Three things stop a server, so none outlives the process that started it:
 *   1. `stop()` (or, under `bun test`, the preload's global afterAll);
 *   2. the process's 'exit' event and SIGINT/SIGTERM/SIGHUP handlers;
 *   3. a watchdog shell in its own session that polls the owner's pid and cleans up once it is
 *      gone — the only thing that helps after SIGKILL, a crash, or `bun test` (which does not
 *      emit 'exit' to preloaded code).
 */
import { spawn as spawnNode, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

export const service_start_timeout_ms = 30_000;
const service_poll_interval_ms = 50;
/** A port found free can be taken by someone else before the server binds it: try again. */
const service_start_attempts_max = 3;
const service_stop_timeout_s = 10;
const watchdog_poll_interval_s = 1;
const redis_ping_timeout_ms = 1_000;
const postgres_connections_max = 200;

/** `pid`: the server's process (Postgres' postmaster), for the benches' CPU figures. */
export type Service = { url: string; pid: number; stop: () => Promise<void> };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The newest installed PostgreSQL's binary directory (/usr/lib/postgresql/N/bin), or null. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  const dir = versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  return dir ?? null;
}

export function redisServerBinary(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : null;
}

/** Debian's Chromium, for the browser tests (playwright-core drives it; it never downloads one). */
export function chromiumBinary(): string | null {
  return existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : null;
}

/**
 * Debian's Chromium has no CJK or emoji fonts: without these packages every Chinese label in a
 * screenshot is a row of boxes. Keyed by package, checked by a file each installs.
 */
export const browser_font_packages = {
  'fonts-wqy-zenhei': '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc',
  'fonts-noto-color-emoji': '/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf',
} as const;

export const missingFontPackages = (): string[] =>
  Object.entries(browser_font_packages).filter(([, file]) => !existsSync(file)).map(([name]) => name);

const isRoot = () => process.getuid?.() === 0;

/** initdb refuses to run as root, so as root the cluster belongs to the postgres user. */
const asPostgresUser = (argv: string[]) => (isRoot() ? ['runuser', '-u', 'postgres', '--', ...argv] : argv);

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const shellCommand = (argv: string[]) => argv.map(shellQuote).join(' ');

/** Runs a command to completion within the start timeout; throws with its output on failure. */
async function run(argv: string[], what: string): Promise<void> {
  const child = Bun.spawn(argv, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const timer = setTimeout(() => child.kill('SIGKILL'), service_start_timeout_ms);
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${what} failed (exit ${code}): ${(err || out).trim()}`);
}

async function waitUntil(what: string, ready: () => Promise<boolean>, gaveUp: () => string | null): Promise<void> {
  const deadline = Date.now() + service_start_timeout_ms;
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return;
    const reason = gaveUp();
    if (reason) throw new Error(`${what} did not start: ${reason}`);
    await Bun.sleep(service_poll_interval_ms);
  }
  throw new Error(`${what} did not answer within ${service_start_timeout_ms} ms`);
}

// ---- cleanup on exit --------------------------------------------------------------------

const cleanups = new Set<() => void>();
let exitHooksInstalled = false;

function runCleanups(): void {
  for (const cleanup of cleanups) cleanup();
  cleanups.clear();
}

/** Registers a synchronous cleanup for when the process ends; returns its removal. */
function onExit(cleanup: () => void): () => void {
  if (!exitHooksInstalled) {
    exitHooksInstalled = true;
    process.on('exit', runCleanups);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        runCleanups();
        process.exit(128 + constants.signals[signal]);
      });
    }
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/**
 * A shell in its own session (terminal signals do not reach it) that runs `cleanup` once this
 * process is gone. Stopping normally kills the watchdog first.
 */
function startWatchdog(cleanup: string): () => void {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep ${watchdog_poll_interval_s}; done; ${cleanup}`;
  const watchdog = spawnNode('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return () => {
    watchdog.kill('SIGKILL');
  };
}

/** One place that owns a server's stop: idempotent, synchronous (usable in 'exit'). */
function guard(stopSync: () => void, watchdogCleanup: string): () => void {
  const stopWatchdog = startWatchdog(watchdogCleanup);
  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    stopWatchdog();
    stopSync();
  };
  const forget = onExit(stopNow);
  return () => {
    forget();
    stopNow();
  };
}

// ---- PostgreSQL ---------------------------------------------------------------------------

export async function startPostgres(): Promise<Service> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'paycenter-pg-'));
  const data = join(dir, 'data');
  const pgCtl = (...args: string[]) => asPostgresUser([join(bin, 'pg_ctl'), '-D', data, ...args]);
  const stopArgv = pgCtl('-m', 'immediate', '-t', String(service_stop_timeout_s), 'stop');
  const stop = guard(
    () => {
      if (existsSync(join(data, 'postmaster.pid'))) spawnSync(stopArgv[0]!, stopArgv.slice(1), { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
    `${shellCommand(stopArgv)} >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`,
  );
  try {
    if (isRoot()) chownSync(dir, postgresUserId('-u'), postgresUserId('-g'));
    // --no-sync only skips initdb's own flush of the fresh cluster; the server runs with fsync on.
    await run(asPostgresUser([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']), 'initdb');
    const port = await startPostgresOnFreePort(bin, dir, pgCtl);
    // postmaster.pid's first line is the postmaster's pid.
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, pid, stop: async () => stop() };
  } catch (error) {
    stop();
    throw error;
  }
}

function postgresUserId(flag: '-u' | '-g'): number {
  const id = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) throw new Error('running as root, but there is no postgres user to own the cluster (apt-get install postgresql)');
  return Number(id.stdout.trim());
}

async function startPostgresOnFreePort(bin: string, dir: string, pgCtl: (...args: string[]) => string[]): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const options = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      `-c max_connections=${postgres_connections_max}`,
      '-c fsync=on',
      '-c synchronous_commit=on',
      // A new database's pooled connections keep plans made while its tables were nearly empty
      // until autovacuum next analyzes them (it looks every naptime, 60 s by default); meanwhile
      // each batch commit seq-scans a growing orders table. operations.md recommends 10 s.
      '-c autovacuum_naptime=10',
    ].join(' ');
    const timeout_s = String(Math.ceil(service_start_timeout_ms / 1000));
    try {
      await run(pgCtl('-o', options, '-l', join(dir, 'log'), '-w', '-t', timeout_s, 'start'), 'pg_ctl start');
    } catch (error) {
      if (attempt >= service_start_attempts_max) throw error;
      continue;
    }
    const isReady = [join(bin, 'pg_isready'), '-q', '-h', '127.0.0.1', '-p', String(port)];
    await waitUntil('PostgreSQL', async () => spawnSync(isReady[0]!, isReady.slice(1)).status === 0, () => null);
    return port;
  }
}

// ---- Redis --------------------------------------------------------------------------------

export async function startRedis(): Promise<Service> {
  const binary = redisServerBinary();
  if (!binary) throw new Error('redis-server is not installed (apt-get install redis-server)');
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'paycenter-redis-'));
    const port = await freePort();
    const argv = [binary, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
    const child = Bun.spawn(argv, { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
    const pid = child.pid;
    // The comm check keeps a late watchdog from killing an unrelated process that reused the pid.
    const watchdogCleanup = `[ "$(cat /proc/${pid}/comm 2>/dev/null)" = redis-server ] && kill -9 ${pid}; rm -rf ${shellQuote(dir)}`;
    const stop = guard(() => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }, watchdogCleanup);
    try {
      await waitUntil('Redis', () => redisAnswersPing(port), () => (child.exitCode !== null ? `redis-server exited with ${child.exitCode}` : null));
    } catch (error) {
      stop();
      if (attempt >= service_start_attempts_max) throw error;
      continue;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      pid,
      stop: async () => {
        stop();
        await child.exited;
      },
    };
  }
}

/** Sends PING over a plain TCP socket and waits for +PONG (a loading Redis answers -LOADING). */
function redisAnswersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = '';
    let settled = false;
    let end: (() => void) | null = null;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      end?.();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), redis_ping_timeout_ms);
    Bun.connect({
      hostname: '127.0.0.1',
      port,
      socket: {
        open(socket) {
          end = () => socket.end();
          socket.write('PING\r\n');
        },
        data(_socket, chunk) {
          reply += chunk.toString();
          if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
        },
        close: () => done(false),
        error: () => done(false),
        connectError: () => done(false),
      },
    }).catch(() => done(false));
  });
}
