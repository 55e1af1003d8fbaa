/**
 * bun run bench lifecycle-floor — how far a whole payment can go on this stack, against paycenter's.
 *
 * Issue #19 asks for 1,000 complete payments a second on SQLite. `bench lifecycle` measures
 * paycenter at ~140; this bench measures what the stack itself allows. bench/floor/payment-server.ts
 * is the least a payment can be with paycenter's own parts — the signed create, the payment
 * machine's transitions, paycenter's Alipay adapter (RSA both ways), four grouped
 * `synchronous = FULL` SQLite commits, the signed merchant notification — and nothing else. The
 * channel sandbox runs in its own process, as in `bench lifecycle`; this process is the merchant
 * (its notification endpoint) and the payers. Every payment here is paid (no refunds, no expiries:
 * the floor has neither), and a payment is complete when `payment.succeeded` reached the merchant.
 *
 * In one run, taking turns (this machine's speed drifts within a minute): 64 payers in a closed
 * loop for BENCH_SECONDS (default 30) in three turns against the floor, and as long against
 * paycenter (SQLite, `bench lifecycle`'s settings), after a warm-up of each (BENCH_WARMUP_S,
 * default 30: in the first seconds the JIT's compiling is a fifth of paycenter's CPU, after a
 * minute a twentieth). BENCH_PROFILE=1 runs both servers under `--cpu-prof` and keeps the profiles.
 *
 * RESULT lifecycle_floor: floor_per_s and paycenter_per_s (complete payments a second),
 * paycenter_to_floor; each server's CPU a payment (µs, all threads; floor_cpu_us,
 * paycenter_cpu_us) and paycenter_cpu_to_floor; the sandbox's and this process's CPU a payment
 * beside the floor (sandbox_cpu_us, bench_cpu_us); floor_machine_ceiling_per_s, the payments a
 * second the floor's run would reach with both cores busy with its server, the sandbox and the
 * bench; floor_server_ceiling_per_s, what the floor server alone would reach with both cores to
 * itself (no sandbox, no payers) — above it no server on this stack can go here;
 * paycenter_writes_per_payment (writes and records in its group commits; the floor's are four); the
 * p99 from create to notification of each.
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type LoadOutcome, type Server, type Turns, costUs, noTurns, perSecond, profiling, startServer, turn } from './http-load.ts';
import { runConfigurations } from './configurations.ts';
import { Ledger, Payer, closedLoop } from './lifecycle/load.ts';
import { type Merchant, commitReading, merchantEndpoint, provision, sandboxApp, startPaycenter, startSandboxProcess } from './lifecycle/world.ts';
import { describeThreads, threadsUsPer } from './lifecycle/proc.ts';
import { percentile } from './stats.ts';

const duration_s = Number(process.env.BENCH_SECONDS ?? 30);
const turns = 3;
const turn_ms = (duration_s / turns) * 1000;
/** Each server's warm-up before the turns (BENCH_WARMUP_S): the JIT compiles most of a payment's code in its first seconds. */
const warmup_ms = Number(process.env.BENCH_WARMUP_S ?? 30) * 1000;
const payers = 64;
const floor_merchant = { id: 'M_FLOOR', secret: 'floor-secret-0123456789abcdef0123456789' };

const dir = join(import.meta.dir, '..', '.test-tmp', `bench-lifecycle-floor-${process.pid}`);
const profiles = profiling(dir, 'lifecycle-floor');

/** One closed-loop turn's complete payments, from the ledger's completions and failures of `phase`. */
async function payments(payer: Payer, phase: string, ms: number): Promise<LoadOutcome> {
  const failedBefore = payer.ledger.failures.length;
  const started = performance.now();
  await closedLoop(payer, phase, payers, ms);
  const seconds = (performance.now() - started) / 1000;
  const latencies = payer.ledger.completions.filter((c) => c.phase === phase).map((c) => c.latencyMs).sort((a, b) => a - b);
  const p = (share: number) => Math.round(percentile(latencies, share));
  return { answered: latencies.length, seconds, non2xx: 0, errors: payer.ledger.failures.length - failedBefore, p50Ms: p(0.5), p99Ms: p(0.99) };
}

/**
 * A load's server, payers and sums; `commits` reads how many group commits, and items in them, its
 * server has made so far (paycenter's /metrics; the floor makes four writes a payment by design).
 */
type Load = { name: string; server: Server; payer: Payer; sum: Turns; commits: (() => Promise<Committed>) | null; committed: Committed };
type Committed = { commits: number; items: number };

/** A load's human lines: its rate, latencies and CPU a payment, its writes (paycenter), its threads. */
function describe({ name, sum, commits, committed }: Load, ledger: Ledger): void {
  if (sum.errors > 0) throw new Error(`${name}: ${sum.errors} payments failed: ${ledger.failures.slice(0, 3).join('; ')}`);
  const cost = costUs(sum);
  const perPayment = (n: number) => (n / sum.answered).toFixed(2);
  const writes = commits ? `, ${perPayment(committed.items)} writes in ${perPayment(committed.commits)} commits a payment` : '';
  console.log(`${name}: ${perSecond(sum).toFixed(0)} complete payments/s, p50 ${sum.p50Ms} ms, p99 ${sum.p99Ms} ms · CPU µs a payment: server ${cost.server.toFixed(0)}, sandbox ${cost.side.toFixed(0)}, bench ${cost.client.toFixed(0)}${writes}`);
  console.log(`  ${name}'s threads, µs a payment (user + system): ${describeThreads(threadsUsPer({}, sum.threads, sum.answered))}`);
}

function resultLine(floor: Load, paycenter: Load): string {
  const rate = (load: Load) => perSecond(load.sum);
  const f = costUs(floor.sum);
  const p = costUs(paycenter.sum);
  const coresUs = availableParallelism() * 1e6;
  return `RESULT lifecycle_floor floor_per_s=${rate(floor).toFixed(0)} paycenter_per_s=${rate(paycenter).toFixed(0)} paycenter_to_floor=${(rate(paycenter) / rate(floor)).toFixed(3)}`
    + ` floor_cpu_us=${f.server.toFixed(0)} paycenter_cpu_us=${p.server.toFixed(0)} paycenter_cpu_to_floor=${(p.server / f.server).toFixed(2)}`
    + ` sandbox_cpu_us=${f.side.toFixed(0)} bench_cpu_us=${f.client.toFixed(0)}`
    + ` floor_machine_ceiling_per_s=${(coresUs / (f.server + f.side + f.client)).toFixed(0)} floor_server_ceiling_per_s=${(coresUs / f.server).toFixed(0)}`
    + ` paycenter_writes_per_payment=${(paycenter.committed.items / paycenter.sum.answered).toFixed(2)}`
    + ` floor_p99_ms=${floor.sum.p99Ms} paycenter_p99_ms=${paycenter.sum.p99Ms}`;
}

async function measure(): Promise<string> {
  const ledger = new Ledger();
  const endpoint = merchantEndpoint(ledger.onEvent);
  const sandbox = await startSandboxProcess();
  const started: { stop(): Promise<void> }[] = [sandbox];
  try {
    const app = await sandboxApp(sandbox.url);
    const floor = await startServer(['bun', ...profiles.flags('floor'), join(import.meta.dir, 'floor', 'payment-server.ts')], {
      FLOOR_DATABASE: join(dir, 'floor.db'), FLOOR_MERCHANT_ID: floor_merchant.id, FLOOR_MERCHANT_SECRET: floor_merchant.secret,
      FLOOR_MERCHANT_NOTIFY_URL: endpoint.url, FLOOR_ALIPAY: JSON.stringify(app.config),
    });
    started.push(floor);
    const paycenter = await startPaycenter({ databaseUrl: `sqlite:${join(dir, 'paycenter.db')}`, redisUrl: null, logName: 'bench-lifecycle-floor.log', bunFlags: profiles.flags('paycenter') });
    started.push(paycenter);
    const pid = paycenter.pid();
    if (pid === null) throw new Error('paycenter is not running');
    const paycenterServer: Server = { url: paycenter.url, pid, stop: () => paycenter.stop() };
    const floorMerchant: Merchant = { ...floor_merchant, payerUrl: app.payerUrl };
    const allPaid = () => 'paid' as const;
    const floorLoad: Load = { name: 'floor', server: floor, payer: new Payer(floor.url, floorMerchant, ledger, allPaid), sum: noTurns(), commits: null, committed: { commits: 0, items: 0 } };
    const paycenterLoad: Load = {
      name: 'paycenter', server: paycenterServer, payer: new Payer(paycenter.url, await provision(paycenter.url, sandbox.url, endpoint.url), ledger, allPaid), sum: noTurns(),
      commits: () => commitReading(paycenter.url), committed: { commits: 0, items: 0 },
    };
    const loads = [floorLoad, paycenterLoad];
    for (const { name, payer } of loads) await closedLoop(payer, `${name} warm-up`, payers, warmup_ms);
    for (let t = 0; t < turns; t++) {
      for (const load of loads) {
        const before = await load.commits?.();
        await turn(load.server, [sandbox.pid], load.sum, turn_ms / 1000, (seconds) => payments(load.payer, `${load.name} ${t}`, seconds * 1000));
        const after = await load.commits?.();
        if (before && after) {
          load.committed.commits += after.commits - before.commits;
          load.committed.items += after.items - before.items;
        }
      }
    }
    for (const load of loads) describe(load, ledger);
    return resultLine(floorLoad, paycenterLoad);
  } finally {
    for (const server of started.reverse()) await server.stop();
    endpoint.stop();
  }
}

mkdirSync(dir, { recursive: true });
let code: number;
try {
  code = await runConfigurations('lifecycle-floor', [{ name: 'store=sqlite', needs: [], run: measure }]);
} finally {
  profiles.finish();
}
process.exit(code);
