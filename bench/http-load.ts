/**
 * What `bench http`, `bench floor` and `bench lifecycle-floor` share: a server process on
 * 127.0.0.1 (paycenter, or a floor), a merchant in paycenter, autocannon's load (the bare route,
 * signed creates) at 64 connections from this process, the sums of load turns (any load's outcome)
 * with what each cost the server, its threads, its side processes and this process, and the
 * servers' profiles.
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { requestSignature } from '../src/http/signature.ts';
import { freePort } from '../test/harness/services.ts';
import { benchPayer } from './risk-rules.ts';
import { type ThreadCpu, type ThreadKind, type ThreadUs, cpuSeconds, runQueueWaitSeconds, threadCpuBetween, threadCpuSeconds, treeCpuSeconds, userPlusSystem } from './lifecycle/proc.ts';

const connections = 64;
export const admin_token = 'adm_bench_0123456789abcdef';
const server_start_timeout_ms = 20_000;
const secret_key = Buffer.alloc(32, 3).toString('base64');
const repo = join(import.meta.dir, '..');

export type Server = { url: string; pid: number; stop: () => Promise<void> };
export type Merchant = { id: string; secret: string };

/** Spawns `command` with PORT set and waits until its /healthz answers. */
export async function startServer(command: string[], env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = Bun.spawn(command, { env: { ...process.env, ...env, PORT: String(port) }, stdout: 'ignore', stderr: 'inherit' });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + server_start_timeout_ms;
  while (!(await fetch(`${url}/healthz`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`${command.join(' ')} did not start`);
    }
    await Bun.sleep(50);
  }
  return { url, pid: child.pid, stop: async () => { child.kill('SIGTERM'); await child.exited; } };
}

/** paycenter's own server with its rate limit out of the way; `bunFlags` go before its entry (profiling). */
export function startPaycenter(databaseUrl: string, redisUrl: string | null, bunFlags: string[] = []): Promise<Server> {
  return startServer(['bun', ...bunFlags, join(repo, 'src/main.ts')], {
    HOST: '127.0.0.1', DATABASE_URL: databaseUrl, ADMIN_TOKEN: admin_token, SECRET_KEY: secret_key,
    LOG_LEVEL: 'warn', RATE_LIMIT_PER_S: '1000000', RATE_LIMIT_BURST: '1000000', ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  });
}

const created_merchant = v.object({ merchant_id: v.string(), secret: v.string() });

export async function createMerchant(url: string): Promise<Merchant> {
  const response = await fetch(`${url}/admin/merchants`, {
    method: 'POST', headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }),
  });
  const body = v.parse(created_merchant, await response.json());
  return { id: body.merchant_id, secret: body.secret };
}

/** What one turn of a load came to: its 2xx answers (or complete payments) over `seconds`, the rest, the latencies. */
export type LoadOutcome = { answered: number; seconds: number; non2xx: number; errors: number; p50Ms: number; p99Ms: number };

/** autocannon at 64 connections from this process, for `options.duration` seconds. */
export async function run(options: autocannon.Options & { duration: number }): Promise<LoadOutcome> {
  const result = await new Promise<autocannon.Result>((resolve, reject) => autocannon({ connections, ...options }, (error, result) => (error ? reject(error) : resolve(result))));
  return { answered: result['2xx'], seconds: options.duration, non2xx: result.non2xx, errors: result.errors, p50Ms: result.latency.p50, p99Ms: result.latency.p99 };
}

/** Signed creates to `path` for `seconds`, each with its own merchant_order_no and nonce, by one of the bench's payers. */
export function runCreates(url: string, merchant: Merchant, tag: string, seconds: number, path = '/v1/payments'): Promise<LoadOutcome> {
  let serial = 0;
  return run({
    url, duration: seconds,
    requests: [{
      method: 'POST',
      path,
      setupRequest: (request) => {
        const n = serial++;
        const body = JSON.stringify({ merchant_order_no: `B${process.pid}-${tag}-${n}`, amount: '100.00', subject: 'bench', ...benchPayer(n) });
        const timestamp = String(Math.floor(Date.now() / 1000));
        const nonce = randomBytes(9).toString('base64url');
        const signature = requestSignature(merchant.secret, 'POST', path, timestamp, nonce, body);
        return {
          ...request, body,
          headers: {
            'content-type': 'application/json',
            authorization: `PAYC-HMAC-SHA256 merchant_id="${merchant.id}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"`,
          },
        };
      },
    }],
  });
}

/**
 * Turns of one load, summed: its 2xx answers (or complete payments); the server's CPU time (and
 * its main thread's and SQLite writer's apart), the side processes' (the databases, or the channel
 * sandbox: the load's other servers) and this process's (the client's: autocannon and the signing,
 * or the payers and the merchant's endpoint); how long the server's main thread waited for a core;
 * the worst turn's latencies.
 */
export type Turns = {
  answered: number; seconds: number; cpuS: number; threads: ThreadCpu; mainWaitS: number; sideCpuS: number; clientCpuS: number;
  p50Ms: number; p99Ms: number; non2xx: number; errors: number;
};
export const noTurns = (): Turns => ({
  answered: 0, seconds: 0, cpuS: 0, threads: {}, mainWaitS: 0, sideCpuS: 0, clientCpuS: 0, p50Ms: 0, p99Ms: 0, non2xx: 0, errors: 0,
});

/** Adds each kind's CPU between two readings of the server's threads to `sum`. */
function addThreads(sum: ThreadCpu, before: ThreadCpu, after: ThreadCpu): void {
  for (const [kind, spent] of Object.entries(threadCpuBetween(before, after)) as [ThreadKind, ThreadUs][]) {
    const total = (sum[kind] ??= { user: 0, system: 0 });
    total.user += spent.user;
    total.system += spent.system;
  }
}
const clientCpuSeconds = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

/** One turn of `load` (`seconds` long) against `server`, whose side processes are `sidePids`, added to `sum`. */
export async function turn(server: Server, sidePids: number[], sum: Turns, seconds: number, load: (seconds: number) => Promise<LoadOutcome>): Promise<void> {
  const sideCpu = () => sidePids.reduce((total, pid) => total + treeCpuSeconds(pid), 0);
  const cpuBefore = cpuSeconds(server.pid);
  const threadsBefore = threadCpuSeconds(server.pid);
  const waitBefore = runQueueWaitSeconds(server.pid);
  const sideBefore = sideCpu();
  const clientBefore = clientCpuSeconds();
  const outcome = await load(seconds);
  const threadsAfter = threadCpuSeconds(server.pid);
  sum.answered += outcome.answered;
  sum.seconds += outcome.seconds;
  sum.cpuS += cpuSeconds(server.pid) - cpuBefore;
  addThreads(sum.threads, threadsBefore, threadsAfter);
  sum.mainWaitS += runQueueWaitSeconds(server.pid) - waitBefore;
  sum.sideCpuS += sideCpu() - sideBefore;
  sum.clientCpuS += clientCpuSeconds() - clientBefore;
  sum.p50Ms = Math.max(sum.p50Ms, outcome.p50Ms);
  sum.p99Ms = Math.max(sum.p99Ms, outcome.p99Ms);
  sum.non2xx += outcome.non2xx;
  sum.errors += outcome.errors;
}

/** Answers a second over the turns. */
export const perSecond = (sum: Turns): number => sum.answered / sum.seconds;

/** CPU per answered request (or complete payment), µs: the server's (all threads), its main thread's, its SQLite writer's, the side processes', the client's. */
export type CostUs = { server: number; main: number; writer: number; side: number; client: number };

export function costUs(sum: Turns): CostUs {
  const us = (seconds: number) => (seconds * 1e6) / Math.max(1, sum.answered);
  const thread = (kind: ThreadKind) => us(userPlusSystem(sum.threads[kind]));
  return { server: us(sum.cpuS), main: thread('main'), writer: thread('sqlite_writer'), side: us(sum.sideCpuS), client: us(sum.clientCpuS) };
}

/**
 * The ratio to the bare route that creates would reach if every core of this machine did
 * nothing but creates at the CPU each one cost in this run (server, side processes and client, which
 * share the cores): a ceiling for `hello_ratio` that idle time and the machine's drift do not
 * move. Below the target, only a cheaper create reaches it.
 */
export const ratioCeiling = (cost: CostUs, helloPerSecond: number): number =>
  (availableParallelism() * 1e6) / (cost.server + cost.side + cost.client) / helloPerSecond;

/**
 * A bench's run directory and its servers' profiles: with BENCH_PROFILE=1, `flags(name)` are Bun's
 * flags that profile a server as `{prefix}-{name}` into `dir` (a Markdown summary and a
 * `.cpuprofile`, which `bun bench/profile-samples.ts` ranks by samples); `finish()` removes what the
 * run left in `dir` (its databases) but the profiles, or the whole directory when nothing was profiled.
 */
export function profiling(dir: string, prefix: string): { flags(name: string): string[]; finish(): void } {
  const on = process.env.BENCH_PROFILE === '1';
  return {
    flags: (name) => (on ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${prefix}-${name}`] : []),
    finish: () => {
      if (!on) return rmSync(dir, { recursive: true, force: true });
      for (const file of readdirSync(dir)) if (!/\.(md|cpuprofile)$/.test(file)) rmSync(join(dir, file), { recursive: true, force: true });
      console.log(`CPU profiles (.md and .cpuprofile; bun bench/profile-samples.ts ranks frames by samples): ${readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f)).join(', ')}`);
    },
  };
}
