/**
 * The lifecycle bench's world, every part a real process or server on 127.0.0.1: the channel
 * sandbox in its own process (so its CPU — it signs every answer and notify with RSA, as Alipay
 * does — is not paycenter's), paycenter itself, and the merchant's notification endpoint, which
 * lives in the bench process and records when each event arrived.
 */
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import * as v from 'valibot';
import { freePort } from '../../test/harness/services.ts';
import { paycenterProcess, type ServerProcess } from '../../test/reliability/harness.ts';

export const admin_token = 'adm_bench_0123456789abcdef';
const repo = join(import.meta.dir, '..', '..');
const start_timeout_ms = 30_000;

/**
 * Settings for paycenter under this bench. The per-merchant and per-channel intake limits are
 * opened wide because the bench is one merchant and one channel carrying a whole sale day. The
 * merchant writes' admission bound (what sheds a burst) is sized for this 2-core machine as
 * operations.md says to size it: requests in flight ≈ capacity × the latency one accepts — a few
 * hundred payments a second × a few hundred ms — rather than the default 256, meant for bigger
 * machines. Callbacks keep their default: a shed notify waits for the provider's next retry
 * (seconds, then minutes), and the admitted creates already bound how many come.
 */
const bench_settings: Record<string, string> = {
  RATE_LIMIT_PER_S: '1000000',
  RATE_LIMIT_BURST: '1000000',
  CALLBACK_RATE_PER_ADDRESS_PER_S: '1000000',
  CALLBACK_RATE_PER_CHANNEL_PER_S: '1000000',
  ADMISSION_MERCHANT_WRITES_MAX: process.env.ADMISSION_MERCHANT_WRITES_MAX ?? '64',
};

/** Child processes to kill if the bench itself is interrupted (Ctrl-C), so none outlives it. */
const children = new Set<{ kill(signal?: number | NodeJS.Signals): void }>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(130);
  });
}

export type Sandbox = { url: string; pid: number; stop(): Promise<void> };

/** The sandbox as a child process; `bunFlags` (e.g. --cpu-prof-md) go before the entry point. */
export async function startSandboxProcess(bunFlags: string[] = []): Promise<Sandbox> {
  const port = await freePort();
  const child: Subprocess = Bun.spawn([process.execPath, ...bunFlags, join(repo, 'src/sandbox/main.ts')], {
    env: { ...process.env, PORT: String(port) }, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit',
  });
  children.add(child);
  const url = `http://127.0.0.1:${port}/sandbox`;
  const deadline = Date.now() + start_timeout_ms;
  while (!(await fetch(url).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null) throw new Error(`the sandbox exited at start (${child.exitCode})`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the sandbox did not start');
    }
    await Bun.sleep(50);
  }
  return { url, pid: child.pid, stop: async () => { child.kill('SIGTERM'); await child.exited; children.delete(child); } };
}

/** paycenter as a child process; `bunFlags` (e.g. --cpu-prof-md) go before the entry point. */
export async function startPaycenter(o: { databaseUrl: string; redisUrl: string | null; logName: string; bunFlags?: string[] }): Promise<ServerProcess> {
  const server = paycenterProcess({
    port: await freePort(), databaseUrl: o.databaseUrl, redisUrl: o.redisUrl, adminToken: admin_token,
    secretKey: Buffer.alloc(32, 5).toString('base64'), logName: o.logName, env: bench_settings, bunFlags: o.bunFlags ?? [],
  });
  await server.start();
  const running = { kill: () => void server.kill() };
  children.add(running);
  return { ...server, stop: async () => { await server.stop(); children.delete(running); } };
}

export async function admin(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${url}${path}`, {
    method, keepalive: false,
    headers: { authorization: `Bearer ${admin_token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}

export type Merchant = { id: string; secret: string; payerUrl(flowId: string): string };

/** paycenter's /metrics, a line each. */
const metricLines = async (paycenterUrl: string): Promise<string[]> => (await (await fetch(`${paycenterUrl}/metrics`)).text()).split('\n');
/** The sum of the samples whose lines match. */
const sumOfMetrics = (lines: string[]) => (pattern: RegExp): number =>
  lines.filter((line) => pattern.test(line)).reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);

/** paycenter's group commits so far, from its /metrics: how many, the items in them, their seconds in all, how many took over 100 ms; and the items waiting now. */
export type CommitReading = { commits: number; items: number; seconds: number; over100ms: number; waiting: number };

export async function commitReading(paycenterUrl: string): Promise<CommitReading> {
  const lines = await metricLines(paycenterUrl);
  const value = (prefix: string) => Number(lines.find((line) => line.startsWith(prefix))?.split(' ').at(-1) ?? Number.NaN);
  const commits = value('paycenter_store_commit_seconds_count ');
  return {
    commits, items: value('paycenter_store_committed_items_total '), seconds: value('paycenter_store_commit_seconds_sum '),
    over100ms: commits - value('paycenter_store_commit_seconds_bucket{le="0.1"} '), waiting: value('paycenter_commit_queue_items '),
  };
}

/**
 * Channel notifies paycenter did not take, from its /metrics: shed at the door, refused (rate,
 * size, signature) or answered with a 5xx. Each waits for the provider's next retry (the
 * sandbox's: 1 s, 5 s, 30 s, 120 s), which is where a notification's latency then goes.
 */
export async function callbacksNotTaken(paycenterUrl: string): Promise<{ shed: number; refused: number; failed: number }> {
  const sum = sumOfMetrics(await metricLines(paycenterUrl));
  return {
    shed: sum(/^paycenter_admission_rejected_total\{[^}]*class="callback"/),
    refused: sum(/^paycenter_callbacks_refused_total\{/),
    failed: sum(/^paycenter_http_requests_total\{[^}]*route="\/callbacks[^"]*"[^}]*status="5/),
  };
}

/**
 * Calls to channels that failed (a transport error, a 5xx, an unreadable answer), from paycenter's
 * /metrics; each one's cause is a `channel call failed` line in paycenter's log.
 */
export async function channelCallsFailed(paycenterUrl: string): Promise<number> {
  return sumOfMetrics(await metricLines(paycenterUrl))(/^paycenter_channel_call_duration_seconds_count\{[^}]*outcome="failed"/);
}

/** What the sandbox answers for a new Alipay app: its app_id and the rest of a channel's config, all text. */
const sandbox_app = v.objectWithRest({ app_id: v.string() }, v.string());

/** A new Alipay app at the sandbox: its config as paycenter's admin API takes it, and where its payers pay a flow. */
export async function sandboxApp(sandboxUrl: string): Promise<{ config: Record<string, string>; payerUrl(flowId: string): string }> {
  const answer = await fetch(`${sandboxUrl}/alipay/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const config = v.parse(sandbox_app, await answer.json());
  return { config, payerUrl: (flowId) => `${sandboxUrl}/pay/alipay/${config.app_id}/${flowId}` };
}

/** An Alipay app at the sandbox, paycenter's channel on it, and a merchant paying with it. */
export async function provision(paycenterUrl: string, sandboxUrl: string, notifyUrl: string): Promise<Merchant> {
  const app = await sandboxApp(sandboxUrl);
  await admin(paycenterUrl, 'POST', '/admin/channels', { code: 'alipay_main', provider: 'alipay', methods: ['alipay_qr'], config: app.config });
  const merchant = await admin(paycenterUrl, 'POST', '/admin/merchants', { name: 'bench', methods: ['alipay_qr'], notify_url: notifyUrl });
  return { id: merchant.merchant_id, secret: merchant.secret, payerUrl: app.payerUrl };
}

export type Arrival = { type: string; paymentId: string; at: number };

/**
 * The merchant's notification endpoint: answers 200 at once and calls `onEvent` with the first
 * arrival of each event id (a redelivery of the same id is counted, not reported twice).
 */
export function merchantEndpoint(onEvent: (event: Arrival) => void) {
  const seen = new Set<string>();
  let redeliveries = 0;
  const server = Bun.serve({
    port: 0, hostname: '127.0.0.1',
    async fetch(request) {
      const at = performance.now();
      const body = (await request.json().catch(() => null)) as any;
      if (!body || typeof body.id !== 'string') return new Response('bad', { status: 400 });
      if (seen.has(body.id)) redeliveries += 1;
      else {
        seen.add(body.id);
        onEvent({ type: body.type, paymentId: body.type.startsWith('refund.') ? body.data?.payment_id : body.data?.id, at });
      }
      return new Response('ok');
    },
  });
  return { url: `http://127.0.0.1:${server.port}/notify`, redeliveries: () => redeliveries, stop: () => server.stop(true) };
}
