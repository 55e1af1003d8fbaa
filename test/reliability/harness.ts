/**
 * Pieces of the crash and fault test: a seeded PRNG, paycenter as a child process that can be
 * killed with SIGKILL and started again on the same port and store, and a test merchant
 * endpoint that refuses the first attempts of every event and records every delivery.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';

export const repo_root = join(import.meta.dir, '..', '..');
export const scratch_dir = join(repo_root, '.test-tmp');

/** A stable 32-bit hash, to derive a per-item choice from the run's seed without consuming the PRNG. */
export function hash32(text: string): number {
  let h = 2_166_136_261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
  return h >>> 0;
}

/**
 * The flow of `method` that a pay answer is about: the newest one still pending. A retried pay
 * can start a new attempt (the first one's prepay never ran: its request died with the process,
 * and the retry came after the join window), and then the answer lists the replaced attempt's
 * closed flows first; the payer is shown the new one (its `action`).
 */
export function answeringFlow(payment: { flows: Array<{ id: string; method: string; status: string }> }, method: string): { id: string } | undefined {
  return payment.flows.findLast((f) => f.method === method && f.status === 'pending');
}

/** Retries `fn` while it throws (connection refused while the server is down) or answers 5xx. */
export async function persist<T extends { status: number }>(what: string, fn: () => Promise<T>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await fn();
      if (answer.status < 500 && answer.status !== 429) return answer;
      last = `HTTP ${answer.status} ${JSON.stringify((answer as any).body).slice(0, 200)}`;
    } catch (error) {
      last = String((error as Error).message ?? error);
    }
    if (Date.now() > deadline) throw new Error(`${what}: gave up after ${attempt + 1} attempts, last: ${last}`);
    await Bun.sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)));
  }
}

export type ServerProcess = {
  url: string;
  logPath: string;
  starts: number;
  /** The running child's pid, null while it is down. */
  pid(): number | null;
  start(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
};

export function paycenterProcess(options: {
  port: number; databaseUrl: string; redisUrl: string | null; adminToken: string; secretKey: string; logName: string;
  /** More settings for this process (BREAKER_OPEN_S, …). */
  env?: Record<string, string>;
  /** Flags for bun itself, before the entry point (a bench's --cpu-prof). */
  bunFlags?: string[];
}): ServerProcess {
  mkdirSync(scratch_dir, { recursive: true });
  const logPath = join(scratch_dir, options.logName);
  const url = `http://127.0.0.1:${options.port}`;
  let child: Subprocess | null = null;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(TEST_|DATABASE_URL|REDIS_URL|SANDBOX)/.test(k)) env[k] = v;
  Object.assign(env, {
    PORT: String(options.port), HOST: '127.0.0.1', PUBLIC_URL: url, DATABASE_URL: options.databaseUrl,
    ADMIN_TOKEN: options.adminToken, SECRET_KEY: options.secretKey, LOG_LEVEL: 'warn', NODE_ENV: 'production',
    // The sandbox and the test merchant's endpoint listen on loopback.
    OUTBOUND_ALLOW_PRIVATE: '1',
  });
  if (options.redisUrl) env.REDIS_URL = options.redisUrl;
  Object.assign(env, options.env);
  const server: ServerProcess = {
    url, logPath, starts: 0,
    pid: () => child?.pid ?? null,
    async start() {
      if (child) throw new Error('already running');
      const fd = openSync(logPath, 'a');
      child = Bun.spawn([process.execPath, ...(options.bunFlags ?? []), 'src/main.ts'], { cwd: repo_root, env, stdin: 'ignore', stdout: fd, stderr: fd });
      closeSync(fd);
      server.starts += 1;
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`paycenter exited at start (${child.exitCode ?? child.signalCode}); see ${logPath}`);
        const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`paycenter not ready within 60 s; see ${logPath}`);
        await Bun.sleep(50);
      }
    },
    async kill() {
      const c = child;
      if (!c) return;
      child = null;
      c.kill('SIGKILL');
      await c.exited;
    },
    async stop() {
      const c = child;
      if (!c) return;
      child = null;
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
      await c.exited;
      clearTimeout(timer);
    },
  };
  return server;
}

export type Delivery = { id: string; type: string; paymentId: string; status: string; attempt: number; answered: number };

/** The test merchant's notification endpoint: answers 500 to the first 1–2 attempts of each event id, then 200. */
export function merchantEndpoint(seed: number) {
  const attempts = new Map<string, number>();
  const deliveries: Delivery[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const body = (await request.json().catch(() => null)) as any;
      if (!body || typeof body.id !== 'string') return new Response('bad', { status: 400 });
      const attempt = (attempts.get(body.id) ?? 0) + 1;
      attempts.set(body.id, attempt);
      const failFirst = 1 + (hash32(`${seed}:${body.id}`) % 2);
      const answered = attempt <= failFirst ? 500 : 200;
      deliveries.push({ id: body.id, type: body.type, paymentId: body.data?.id ?? '', status: body.data?.status ?? '', attempt, answered });
      return new Response(answered === 200 ? 'ok' : 'not yet', { status: answered });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/notify`, deliveries, attempts, stop: () => server.stop(true) };
}
