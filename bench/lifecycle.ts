/**
 * bun run bench lifecycle — complete payments per second through the real server, and a sale-day burst.
 *
 * For each store (SQLite; Postgres + Redis) a paycenter process serves on 127.0.0.1, the channel
 * sandbox runs in its own process with no artificial delay, and this process is both the
 * merchant (signed creates and refunds, its notification endpoint) and the payers (bench/lifecycle/load.ts).
 * In one run, in order:
 *   hello:  the bare route /healthz at 64 connections for 5 s — this machine's ceiling for the stack;
 *   probe:  64 payers in a closed loop for 20 s — the capacity in complete payments per second;
 *   calibrate: open-loop at 70 % of it for 15 s — the rate the machine sustains, at the CPU every
 *           process spends per payment (`sustainedCeiling`); again at 70 % of that, when the loop
 *           offered more than 90 % of it (it then measured a saturated machine); each loop starts
 *           once the payments of the one before have ended;
 *   settle: open-loop at that rate (BENCH_RATE, default 80 % — BENCH_STEADY_SHARE — of the lesser of
 *           the two) for a minute (BENCH_SETTLE_S), so that the steady minute carries the deferred
 *           work (the unpaid tenth's queries and expiry) of payments offered at its own rate; the
 *           rate is lowered to that share of what its second half shows the machine sustains, when
 *           that is less;
 *   steady: open-loop at that rate for 60 s — payments/s,
 *           create-to-notification p50/p99, paycenter's CPU time per payment (/proc; by thread:
 *           the event loop is one core) and RSS; on Postgres, the transactions it committed a payment;
 *   burst:  ten times that rate for 30 s — what is shed (429/503, and how fast), p99 during;
 *   after:  the steady rate again for 60 s — p99 after, and how long until it is back to the
 *           steady p99 (recovery_s: the first 5 s step from which the payments created until the
 *           phase's end, taken together, have a p99 within 1.25× the steady minute's;
 *           recovery_window_s: from which every 5 s window's p99 is within the worst of the steady
 *           phase's own windows); each window's p99 and the expiries that arrived in it are printed
 *           (the burst's unpaid tenth expires inside this phase), with how busy the cores were
 *           (steady_busy_pct, after_busy_pct: every party's CPU over both cores); close_late_p99_ms:
 *           how long after their expiry the unpaid orders of these three phases heard
 *           `payment.closed`. For the steady, burst and after phases, each window's store is
 *           printed too: paycenter's commits (how many, their mean time, how many took over
 *           100 ms; from /metrics), the items waiting for one, and paycenter's RSS; and for the
 *           steady and after phases, the machine's speed (the median of the fastest of three RSA
 *           signatures, read every second: steady_sign_us, after_sign_us, and per window) and the
 *           share of a core each party and each kind of paycenter's threads kept busy.
 * Then it waits (bounded) for every order to be final — the unpaid tenth expires after 60 s —
 * and checks that nothing was lost: no order left open, every event the merchant should have
 * had arrived, `bun run audit` clean. BENCH_PROFILE=1 runs paycenter and the sandbox under
 * `--cpu-prof` and `--cpu-prof-md` and prints where the profiles are written. Phase lengths: BENCH_STEADY_S, BENCH_BURST_S, BENCH_AFTER_S.
 * Prints one `RESULT lifecycle store=… payments_per_s p99_create_to_notify_ms cpu_us_per_payment rss_mb …`
 * line per store as soon as it is measured.
 *
 * `--soak` instead runs SQLite at BENCH_RATE (default half the probed capacity) for BENCH_SOAK_S
 * (default 600 s), reading paycenter's heap after a full collection (GET /admin/memory?collect=true)
 * and its RSS every 30 s (bench/memory.ts), and prints the trend after the warm-up:
 * `RESULT lifecycle mode=soak … heap_slope_mb_per_min … heap_trend=flat|growing|shrinking …`.
 */
import autocannon from 'autocannon';
import { Database } from 'bun:sqlite';
import { SQL } from 'bun';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { type Service, startPostgres, startRedis } from '../test/harness/services.ts';
import { type Configuration, runConfigurations } from './configurations.ts';
import { Ledger, Payer, closedLoop, expire_seconds, openLoop, type Completion } from './lifecycle/load.ts';
import { type ThreadCpu, type ThreadKind, type ThreadUs, cpuSeconds, describeThreads, peakRssMb, rssMb, threadCpuSeconds, threadsUsPer, treeCpuSeconds, userPlusSystem } from './lifecycle/proc.ts';
import { type CommitReading, admin, callbacksNotTaken, channelCallsFailed, commitReading, merchantEndpoint, provision, startPaycenter, startSandboxProcess } from './lifecycle/world.ts';
import { describeMemory, startMemorySampler } from './memory.ts';
import { percentile } from './stats.ts';
import { paidStatuses } from '../machines/payment.model.ts';

const seconds = (name: string, fallback: number) => Number(process.env[name] ?? fallback) * 1000;
const hello_ms = 5_000;
const probe_ms = seconds('BENCH_PROBE_S', 20);
const probe_payers = 64;
const warmup_ms = 5_000;
const warmup_per_s = 50;
/** As long as an unpaid order lives: a minute at one rate carries the deferred work of the payments offered at that rate. */
const settle_ms = seconds('BENCH_SETTLE_S', expire_seconds);
const steady_ms = seconds('BENCH_STEADY_S', 60);
const burst_ms = seconds('BENCH_BURST_S', 30);
const after_ms = seconds('BENCH_AFTER_S', 60);
const burst_factor = 10;
/**
 * The steady rate when BENCH_RATE is not given, as a share of the probed capacity or the sustained
 * ceiling, the lesser: BENCH_STEADY_SHARE, default 0.8 — a lower share shows what headroom a
 * burst's aftermath needs.
 */
const steady_share_of_capacity = Number(process.env.BENCH_STEADY_SHARE ?? 0.8);
if (!(steady_share_of_capacity > 0 && steady_share_of_capacity <= 1)) throw new Error('BENCH_STEADY_SHARE is a share: more than 0, at most 1');
/** The open loop that measures the sustained ceiling: its rate, as a share of the probed capacity, and its length. */
const calibrate_share_of_capacity = 0.7;
const calibrate_ms = 15_000;
/** A calibrating loop that offered more than this share of the ceiling it found is run again, at 70 % of that ceiling. */
const calibrate_load_max = 0.9;
/** Recovery is looked for in steps this long after the burst, and p99 printed over windows this long. */
const recovery_window_ms = 5_000;
/**
 * The payments after a recovery step, taken together, have recovered when their p99 is within this
 * factor of the steady minute's p99.
 */
const recovered_factor = 1.25;
/**
 * At least this much of the after phase must follow a recovery step: its p99 is then over a
 * thousand payments or more, as the steady minute's is over several thousand. A 5 s window's p99
 * is its few slowest payments: judged alone, one of the after phase's last six windows lands above
 * every steady window by chance in one run in three (6 of 18 windows drawn alike), even when nothing is slower.
 */
const recovery_rest_min_ms = 15_000;
/** After the last payment was offered: the unpaid ones' expiry, the ticker and delivery. */
const final_wait_ms = (expire_seconds + 90) * 1000;
/** Statuses an order never leaves: paid (refunds move it only among these) or closed. */
const final_statuses = [...paidStatuses, 'closed'];
const repo = join(import.meta.dir, '..');
const profile = process.env.BENCH_PROFILE === '1';

/** The `p`th percentile (99 for p99) of values in any order. */
const pth = (values: number[], p: number): number => percentile([...values].sort((a, b) => a - b), p / 100);
const ms = (v: number) => v.toFixed(0);

/** How often the machine's speed is read while a phase's windows are sampled (fastestSignUs). */
const speed_sample_every_ms = 1_000;
/** Signatures a speed reading takes the fastest of (fastestSignUs). */
const speed_signatures_per_reading = 3;
const { privateKey: speedKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signOnce = (i: number) => createSign('RSA-SHA256').update(`app_id=2021&biz_content={}&n=${i}`).sign(speedKey);

/** µs per RSA-2048 SHA-256 signature on one core: each payment needs several (paycenter's requests, the sandbox's answers and notifies). */
function rsaSignUs(): number {
  const rounds = 200;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) signOnce(i);
  return ((performance.now() - start) * 1000) / rounds;
}

/**
 * The machine's speed now, as the fastest of a few signatures (µs): on a loaded machine some of
 * them wait for a core, the fastest seldom does. This machine's speed drifts by a fifth or more
 * within a run, so a window whose payments were slow because every process was is told apart.
 * One reading scatters by about a tenth even on an idle machine (484–566 µs): a window takes the
 * median of its readings, one every `speed_sample_every_ms`.
 */
function fastestSignUs(): number {
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < speed_signatures_per_reading; i++) {
    const start = performance.now();
    signOnce(i);
    fastest = Math.min(fastest, (performance.now() - start) * 1000);
  }
  return fastest;
}

async function helloPerSecond(url: string): Promise<number> {
  const result = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon({ url: `${url}/healthz`, connections: 64, duration: hello_ms / 1000 }, (e, r) => (e ? reject(e) : resolve(r))));
  return result.requests.average;
}

/** Rows of a read-only query on paycenter's database (the bench's own rows, not paycenter's code). */
async function queryDatabase<Row>(databaseUrl: string, query: string): Promise<Row[]> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length), { readonly: true });
    const rows = db.query(query).all() as Row[];
    db.close();
    return rows;
  }
  const sql = new SQL(databaseUrl);
  const rows: Row[] = await sql.unsafe(query);
  await sql.close();
  return rows;
}

/** Orders the store holds that are not final, by status. */
async function openOrders(databaseUrl: string): Promise<Record<string, number>> {
  const query = `SELECT status, count(*) AS n FROM orders WHERE status NOT IN (${final_statuses.map((s) => `'${s}'`).join(', ')}) GROUP BY status`;
  const rows = await queryDatabase<{ status: string; n: number | string }>(databaseUrl, query);
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/**
 * When paycenter committed each order's first channel notify (its journal row), on this
 * process's performance.now() clock: splits a notification's wait into the channel's side (the
 * sandbox notifying) and paycenter's (committing it, then delivering the event).
 */
async function notifiesHeard(databaseUrl: string): Promise<Map<string, number>> {
  const field = (name: string) => (databaseUrl.startsWith('sqlite:') ? `json_extract(event, '$.${name}')` : `event->>'${name}'`);
  const query = `SELECT order_id, min(at) AS at FROM journal WHERE ${field('type')} = 'flow.report' AND ${field('source')} = 'callback' GROUP BY order_id`;
  const rows = await queryDatabase<{ order_id: string; at: number | string }>(databaseUrl, query);
  const wallOffset = Date.now() - performance.now();
  return new Map(rows.map((r) => [r.order_id, Number(r.at) - wallOffset]));
}

/** Transactions Postgres has committed in paycenter's database (its statistics trail by up to a second). */
async function committedTransactions(databaseUrl: string): Promise<number> {
  const [row] = await queryDatabase<{ n: number | string }>(databaseUrl, 'SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()');
  return Number(row?.n ?? Number.NaN);
}

async function audit(databaseUrl: string): Promise<string> {
  const child = Bun.spawn([process.execPath, join(repo, 'scripts/audit.ts')], { env: { ...process.env, DATABASE_URL: databaseUrl }, stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) console.log(`${out}${err}`.split('\n').slice(0, 20).join('\n'));
  return code === 0 ? 'clean' : code === 1 ? 'breaches' : 'refused';
}

/** CPU seconds of each party, read together so that a window's deltas line up. */
type CpuReading = { paycenter: number; paycenterMain: number; sandbox: number; bench: number; db: number };
/** A CPU reading with paycenter's threads by kind (threadCpuSeconds). */
type CpuReadingWithThreads = CpuReading & { threads: ThreadCpu };

/**
 * The payments per second this machine sustains, from the CPU every process spends per payment in
 * an open loop below the probed capacity. A closed loop outruns it (the probe's capacity was
 * 1.2–1.3× the steady minute's ceiling): payers that wait for each other keep the queues full, so
 * commits group more, and its payments' deferred work (the unpaid tenth's expiry a minute later)
 * falls after it. It starts once the payments of the loop before have ended, so that their
 * remaining work and completions do not fall into its readings.
 */
async function sustainedCeiling(payer: Payer, ledger: Ledger, readCpu: () => CpuReading, perSecond: number): Promise<number> {
  await payer.settled();
  const start = performance.now();
  const before = readCpu();
  await openLoop(payer, 'calibrate', perSecond, calibrate_ms);
  const after = readCpu();
  return machineCeiling(before, after, completedWithin(ledger.completions, start, performance.now()));
}

/**
 * Offers `perSecond` for `settle_ms`, and returns the rate the machine sustains at the CPU every
 * process spent per payment in its second half. An unpaid order's queries and its expiry come up to
 * a minute after its create: the calibration's loops end before theirs, and the minute before the
 * steady one would otherwise carry the probe's and the calibration's instead of payments at the
 * steady rate. By its second half the expiries it carries are the calibration's, at about its rate.
 */
async function settleCeiling(payer: Payer, ledger: Ledger, readCpu: () => CpuReading, perSecond: number): Promise<number> {
  await openLoop(payer, 'settle', perSecond, settle_ms / 2);
  const half = performance.now();
  const before = readCpu();
  await openLoop(payer, 'settle', perSecond, settle_ms / 2);
  return machineCeiling(before, readCpu(), completedWithin(ledger.completions, half, performance.now()));
}

/**
 * Every party shares this machine's cores: at the CPU all of them spent per payment between two
 * readings, no more payments fit in a second.
 */
function machineCeiling(before: CpuReading, after: CpuReading, payments: number): number {
  return (cpus().length * Math.max(1, payments)) / cpuSpent(before, after);
}

/** CPU seconds every party (paycenter, the sandbox, this bench, the database) spent between two readings. */
function cpuSpent(before: CpuReading, after: CpuReading): number {
  return after.paycenter - before.paycenter + after.sandbox - before.sandbox + after.bench - before.bench + after.db - before.db;
}

/** How busy every party kept the machine's cores between two readings, in %. */
function busyPercent(before: CpuReading, after: CpuReading, seconds: number): number {
  return (100 * cpuSpent(before, after)) / (cpus().length * seconds);
}

/** What the store was doing, read with each window: paycenter's commits so far, and its RSS now. */
type StoreReading = CommitReading & { rssMb: number };
/** One window: how busy the cores were (busyPercent), its commits (mean time, how many over 100 ms), and the gauges at its end. */
type Window = { busyPct: number; signUs: number; commits: number; commitMeanMs: number; over100ms: number; waiting: number; rssMb: number };

/**
 * Reads every party's CPU and the store now and every `recovery_window_ms` until stopped; `stop()`
 * gives the busy share (busyPercent) of the whole span and each window's, so a slow window can be
 * told from a busy one, from one whose commits were slow (an fsync, a WAL checkpoint), and from
 * one on a slow machine (the median of the window's fastestSignUs, read every second).
 */
function windowSampler(readCpu: () => CpuReading, readStore: () => Promise<StoreReading>): { stop(): Promise<{ busy: number; signUs: number; windows: Window[] }> } {
  type Reading = { at: number; cpu: CpuReading; store: Promise<StoreReading> };
  const read = (): Reading => ({ at: performance.now(), cpu: readCpu(), store: readStore() });
  const readings = [read()];
  const timer = setInterval(() => readings.push(read()), recovery_window_ms);
  const speeds: { at: number; signUs: number }[] = [];
  const speedTimer = setInterval(() => speeds.push({ at: performance.now(), signUs: fastestSignUs() }), speed_sample_every_ms);
  return {
    stop: async () => {
      clearInterval(timer);
      clearInterval(speedTimer);
      // The phase's last window, unless the interval has just read it.
      if (performance.now() - readings.at(-1)!.at > recovery_window_ms / 2) readings.push(read());
      const stores = await Promise.all(readings.map((r) => r.store));
      const busy = (from: number, to: number) => busyPercent(readings[from]!.cpu, readings[to]!.cpu, (readings[to]!.at - readings[from]!.at) / 1000);
      const signUs = (from: number, to: number) => pth(speeds.filter((s) => s.at >= from && s.at < to).map((s) => s.signUs), 50);
      const windows = stores.slice(1).map((end, k): Window => {
        const start = stores[k]!;
        const commits = end.commits - start.commits;
        return {
          busyPct: busy(k, k + 1), signUs: signUs(readings[k]!.at, readings[k + 1]!.at), commits,
          commitMeanMs: (1000 * (end.seconds - start.seconds)) / Math.max(1, commits),
          over100ms: end.over100ms - start.over100ms, waiting: end.waiting, rssMb: end.rssMb,
        };
      });
      return { busy: busy(0, readings.length - 1), signUs: signUs(readings[0]!.at, readings.at(-1)!.at), windows };
    },
  };
}

/** `1650 commits 4.1 ms (2 > 100 ms), 0 waiting, RSS 250 MB` for each window. */
const describeStoreWindows = (windows: Window[]): string =>
  windows.map((w) => `${w.commits} commits ${w.commitMeanMs.toFixed(1)} ms (${w.over100ms} > 100 ms), ${w.waiting} waiting, RSS ${ms(w.rssMb)} MB`).join(' · ');

/** Where the p99 went: the create's answer, the payer's answer from the sandbox, the notification (each p99, ms after the create was sent). */
function stages(completions: Completion[]): string {
  const p99 = (k: 'answeredMs' | 'paidMs' | 'latencyMs') => ms(pth(completions.map((c) => c[k]), 99));
  return `p99 created ${p99('answeredMs')} ms, paid ${p99('paidMs')} ms, notified ${p99('latencyMs')} ms`;
}

/**
 * The share of one core each party, and each kind of paycenter's threads, kept busy between two
 * readings (`main 38 · sqlite_writer 25 · … · sandbox 31 · bench 9`, %): phases of different rates
 * and different work (the burst's deferred queries and expiries after it) compare second for second.
 */
function coreShares(before: CpuReadingWithThreads, after: CpuReadingWithThreads, seconds: number): string {
  const percent = (cpuSeconds: number) => ms((100 * cpuSeconds) / seconds);
  // Per one unit: each kind's CPU µs over the whole span.
  const threads = (Object.entries(threadsUsPer(before.threads, after.threads, 1)) as [ThreadKind, ThreadUs][])
    .map(([kind, spentUs]) => [kind, userPlusSystem(spentUs) / 1e6] as const)
    .sort(([, a], [, b]) => b - a);
  const others = [['sandbox', after.sandbox - before.sandbox], ['bench', after.bench - before.bench], ['postgres+redis', after.db - before.db]] as const;
  return [...threads, ...others.filter(([, spent]) => spent > 0)].map(([who, spent]) => `${who} ${percent(spent)}`).join(' · ');
}

/** Payments completed (the merchant notified) between two times. */
const completedWithin = (completions: Completion[], from: number, to: number): number =>
  completions.filter((c) => c.createdAt + c.latencyMs >= from && c.createdAt + c.latencyMs < to).length;

function windowOf(completions: Completion[], from: number, to: number): Completion[] {
  return completions.filter((c) => c.createdAt >= from && c.createdAt < to);
}

/** The p99 of each recovery window from `from` to `to` (NaN for one with no payment). */
function windowP99s(completions: Completion[], from: number, to: number): number[] {
  const p99s: number[] = [];
  for (let at = from; at + recovery_window_ms <= to; at += recovery_window_ms) {
    const latencies = windowOf(completions, at, at + recovery_window_ms).map((c) => c.latencyMs);
    p99s.push(latencies.length > 0 ? pth(latencies, 99) : Number.NaN);
  }
  return p99s;
}

/**
 * Seconds after the burst (`from`) from which the payments created until `to`, taken together, have
 * a p99 within `bound`; the phase's length when no step leaves `recovery_rest_min_ms` that has.
 */
function recoverySeconds(completions: Completion[], from: number, to: number, bound: number): number {
  for (let step = 0; to - (from + step) >= recovery_rest_min_ms; step += recovery_window_ms) {
    const rest = windowOf(completions, from + step, to).map((c) => c.latencyMs);
    if (rest.length > 0 && pth(rest, 99) <= bound) return step / 1000;
  }
  return Math.round((to - from) / 1000);
}

/** Seconds after the burst until every later window's p99 (`after`, from the burst's end) is within `bound`; a window with no payment is no sign of trouble. */
function windowRecoverySeconds(after: number[], bound: number): number {
  let recovered = after.length;
  while (recovered > 0 && !(after[recovered - 1]! > bound)) recovered -= 1;
  return (recovered * recovery_window_ms) / 1000;
}

/**
 * The after phase window by window: the p99 of the payments created in it, the expiries
 * (`payment.closed`) that arrived in it — the burst's unpaid tenth expires 60 s after its
 * creates, inside this phase, and its closes are work the steady phase did not have — and how
 * busy the cores were and how fast the machine was.
 */
function afterWindows(ledger: Ledger, burstEnd: number, after: number[], sampled: Window[]): string {
  return after.map((p99, k) => {
    const from = burstEnd + k * recovery_window_ms;
    const closes = ledger.closedAt.filter((at) => at >= from && at < from + recovery_window_ms).length;
    const window = sampled[k];
    return `p99 ${Number.isFinite(p99) ? ms(p99) : '–'} ms, ${closes} closed, ${window ? `${ms(window.busyPct)} % busy, sign ${ms(window.signUs)} µs` : '–'}`;
  }).join(' · ');
}

/** `services`: the Postgres and Redis this store runs on (their processes' CPU is the db's share), none for SQLite. */
async function benchStore(name: 'sqlite' | 'postgres', databaseUrl: string, services: { postgres: Service; redis: Service } | null, profileDir: string): Promise<string> {
  const redisUrl = services?.redis.url ?? null;
  const ledger = new Ledger();
  const endpoint = merchantEndpoint(ledger.onEvent);
  const profileFlags = (who: string) => (profile ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=lifecycle-${name}-${who}`] : []);
  const sandbox = await startSandboxProcess(profileFlags('sandbox'));
  const paycenter = await startPaycenter({ databaseUrl, redisUrl, logName: `bench-lifecycle-${name}.log`, bunFlags: profileFlags('paycenter') });
  const pid = paycenter.pid()!;
  const readCpu = (): CpuReadingWithThreads => {
    const threads = threadCpuSeconds(pid);
    return {
      paycenter: cpuSeconds(pid), paycenterMain: (threads.main?.user ?? 0) + (threads.main?.system ?? 0), sandbox: cpuSeconds(sandbox.pid),
      bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
      db: services ? treeCpuSeconds(services.postgres.pid) + cpuSeconds(services.redis.pid) : 0,
      threads,
    };
  };
  const readStore = async (): Promise<StoreReading> => {
    const rss = rssMb(pid); // now, before the scrape's round trip
    return { ...(await commitReading(paycenter.url)), rssMb: rss };
  };
  const log = (line: string) => console.log(`${name}: ${line}`);
  try {
    const merchant = await provision(paycenter.url, sandbox.url, endpoint.url);
    const payer = new Payer(paycenter.url, merchant, ledger);
    const hello = await helloPerSecond(paycenter.url);
    await openLoop(payer, 'warmup', warmup_per_s, warmup_ms);

    const probeStart = performance.now();
    await closedLoop(payer, 'probe', probe_payers, probe_ms);
    const probed = ledger.completions.filter((c) => c.phase === 'probe');
    const capacity = probed.length / ((performance.now() - probeStart) / 1000);
    log(`bare route ${ms(hello)} req/s; probe (${probe_payers} payers, closed loop): ${ms(capacity)} complete payments/s, p99 ${ms(pth(probed.map((c) => c.latencyMs), 99))} ms`);
    const calibrate = async (offered: number) => {
      const found = await sustainedCeiling(payer, ledger, readCpu, offered);
      log(`open loop at ${ms(offered)}/s for ${calibrate_ms / 1000} s: its CPU per payment fits ${ms(found)}/s on ${cpus().length} cores`);
      return found;
    };
    let sustained = await calibrate(capacity * calibrate_share_of_capacity);
    // A loop close to the ceiling it found measured a saturated machine: once more, below that ceiling.
    if (capacity * calibrate_share_of_capacity > sustained * calibrate_load_max) sustained = await calibrate(sustained * calibrate_share_of_capacity);
    const steadyShareOf = (ceiling: number) => Math.max(10, Math.round(ceiling * steady_share_of_capacity));
    const fixedRate = process.env.BENCH_RATE === undefined ? null : Number(process.env.BENCH_RATE);
    let rate = fixedRate ?? steadyShareOf(Math.min(capacity, sustained));
    let settleCeilingPerS = Number.NaN;
    if (settle_ms > 0) {
      settleCeilingPerS = await settleCeiling(payer, ledger, readCpu, rate);
      log(`settling at ${rate}/s for ${settle_ms / 1000} s: its second half's CPU per payment fits ${ms(settleCeilingPerS)}/s on ${cpus().length} cores`);
      if (fixedRate === null) rate = Math.min(rate, steadyShareOf(settleCeilingPerS));
    }
    log(`steady rate ${rate}/s`);

    // The steady minute measures its own rate, not payments still queued from the minute before.
    const backlog = payer.inFlight;
    const settling = performance.now();
    await payer.settled();
    log(`the last ${backlog} payments before it ended ${((performance.now() - settling) / 1000).toFixed(1)} s after it`);
    const steadyStart = performance.now();
    const cpuBefore = readCpu();
    const steadySampler = windowSampler(readCpu, readStore);
    const xactsBefore = services ? await committedTransactions(databaseUrl) : 0;
    await openLoop(payer, 'steady', rate, steady_ms);
    const steadyEnd = performance.now();
    const cpuAfter = readCpu();
    const steadySampled = await steadySampler.stop();
    const xactsAfter = services ? await committedTransactions(databaseUrl) : 0;
    const rss = rssMb(pid);
    const completedInSteady = completedWithin(ledger.completions, steadyStart, steadyEnd);
    const perPaymentUs = (k: keyof CpuReading) => ((cpuAfter[k] - cpuBefore[k]) * 1e6) / Math.max(1, completedInSteady);
    const xactsPerPayment = (xactsAfter - xactsBefore) / Math.max(1, completedInSteady);
    const threads = threadsUsPer(cpuBefore.threads, cpuAfter.threads, completedInSteady);
    const steady = windowOf(ledger.completions, steadyStart, steadyEnd).map((c) => c.latencyMs);
    const steadyP99 = pth(steady, 99);
    const paymentsPerS = completedInSteady / ((steadyEnd - steadyStart) / 1000);
    const ceiling = machineCeiling(cpuBefore, cpuAfter, completedInSteady);
    // ...and paycenter's event loop runs on one core: at its CPU per payment, no more fit either.
    const loopCeiling = 1e6 / perPaymentUs('paycenterMain');
    log(`steady ${rate}/s offered: ${ms(paymentsPerS)} complete payments/s, create→notification p50 ${ms(pth(steady, 50))} ms p99 ${ms(steadyP99)} ms (${stages(windowOf(ledger.completions, steadyStart, steadyEnd))}); `
      + `CPU µs per payment: paycenter ${ms(perPaymentUs('paycenter'))} (its main thread ${ms(perPaymentUs('paycenterMain'))}), sandbox ${ms(perPaymentUs('sandbox'))}, bench ${ms(perPaymentUs('bench'))}${services ? `, postgres+redis ${ms(perPaymentUs('db'))} (Postgres committed ${xactsPerPayment.toFixed(1)} transactions a payment)` : ''} — at most ${ms(ceiling)} payments/s on ${cpus().length} cores (offered: ${ms((100 * rate) / ceiling)} % of that; the cores ${ms(steadySampled.busy)} % busy), ${ms(loopCeiling)}/s on paycenter's event loop; RSS ${ms(rss)} MB`);
    log(`paycenter's threads, CPU µs per payment (user + system): ${describeThreads(threads)}`);

    const burstStart = performance.now();
    const burstSampler = windowSampler(readCpu, readStore);
    await openLoop(payer, 'burst', rate * burst_factor, burst_ms);
    const burstEnd = performance.now();
    const afterSampler = windowSampler(readCpu, readStore);
    const cpuAfterStart = readCpu();
    const burstSampled = await burstSampler.stop();
    await openLoop(payer, 'after', rate, after_ms);
    const afterEnd = performance.now();
    const cpuAfterEnd = readCpu();
    const afterSampled = await afterSampler.stop();
    await payer.settled();
    const burst = windowOf(ledger.completions, burstStart, burstEnd).map((c) => c.latencyMs);
    const after = windowOf(ledger.completions, burstEnd, afterEnd).map((c) => c.latencyMs);
    const shed = ledger.shed.filter((s) => s.phase === 'burst');
    const steadyWindows = windowP99s(ledger.completions, steadyStart, steadyEnd).filter(Number.isFinite);
    const recoveredBound = steadyP99 * recovered_factor;
    // A window alone is back within the worst steady window (or the bound above, if that is higher).
    const windowBound = Math.max(recoveredBound, ...steadyWindows);
    const afterWindowP99s = windowP99s(ledger.completions, burstEnd, afterEnd);
    const recovery = recoverySeconds(ledger.completions, burstEnd, afterEnd, recoveredBound);
    const windowRecovery = windowRecoverySeconds(afterWindowP99s, windowBound);
    log(`steady, per ${recovery_window_ms / 1000} s: p99 ${steadyWindows.map(ms).join(' · ')} ms; recovered below ${ms(recoveredBound)} ms (a window alone: ${ms(windowBound)} ms); the cores busy ${steadySampled.windows.map((w) => ms(w.busyPct)).join(' · ')} %; the fastest signature ${steadySampled.windows.map((w) => ms(w.signUs)).join(' · ')} µs`);
    for (const [phase, sampled] of [['steady', steadySampled], ['burst', burstSampled], ['after', afterSampled]] as const) {
      log(`the store, per ${recovery_window_ms / 1000} s — ${phase}: ${describeStoreWindows(sampled.windows)}`);
    }
    log(`the cores' use by party and paycenter's thread, % of one core — steady: ${coreShares(cpuBefore, cpuAfter, (steadyEnd - steadyStart) / 1000)}; `
      + `after: ${coreShares(cpuAfterStart, cpuAfterEnd, (afterEnd - burstEnd) / 1000)}`);
    log(`after the burst, per ${recovery_window_ms / 1000} s: ${afterWindows(ledger, burstEnd, afterWindowP99s, afterSampled.windows)}`);
    log(`burst ${rate * burst_factor}/s for ${burst_ms / 1000} s: ${burst.length} completed (p99 ${ms(pth(burst, 99))} ms; ${stages(windowOf(ledger.completions, burstStart, burstEnd))}), ${shed.length} shed (answer p99 ${ms(pth(shed.map((s) => s.latencyMs), 99))} ms); `
      + `after: p99 ${ms(pth(after, 99))} ms (${stages(windowOf(ledger.completions, burstEnd, afterEnd))}; the cores ${ms(afterSampled.busy)} % busy; the fastest signature ${ms(afterSampled.signUs)} µs, steady ${ms(steadySampled.signUs)} µs), from ${recovery} s on within ${recovered_factor}× the steady p99 (every window within the steady windows' worst from ${windowRecovery} s)`);

    // ---- nothing lost ----
    const deadline = performance.now() + final_wait_ms;
    while (ledger.missingEvents().length > 0 && performance.now() < deadline) await Bun.sleep(1_000);
    const missing = ledger.missingEvents();
    const open = await openOrders(databaseUrl);
    const heard = await notifiesHeard(databaseUrl);
    const heardP99 = (from: number, to: number) =>
      ms(pth(windowOf(ledger.completions, from, to).map((c) => (heard.get(c.paymentId) ?? Number.NaN) - c.createdAt).filter(Number.isFinite), 99));
    log(`the channel's notify committed by paycenter, p99 after the create: steady ${heardP99(steadyStart, steadyEnd)} ms, burst ${heardP99(burstStart, burstEnd)} ms, `
      + `after ${heardP99(burstEnd, afterEnd)} ms (from there to notified is paycenter's delivery)`);
    const closeLateP99 = (...phases: string[]) => ms(pth(ledger.closeLate.filter((c) => phases.includes(c.phase)).map((c) => c.lateMs), 99));
    log(`unpaid orders' payment.closed, p99 after their expiry: steady ${closeLateP99('steady')} ms, burst ${closeLateP99('burst')} ms, after ${closeLateP99('after')} ms`);
    const notTaken = await callbacksNotTaken(paycenter.url);
    const callsFailed = await channelCallsFailed(paycenter.url);
    const peak = peakRssMb(pid);
    await paycenter.stop();
    const audited = await audit(databaseUrl);
    const lost = missing.length + Object.values(open).reduce((a, b) => a + b, 0);
    log(`${ledger.offered} offered, ${ledger.tracked.size} created, ${ledger.shed.length} shed, ${ledger.failures.length} failed; open orders ${JSON.stringify(open)}; `
      + `${missing.length} events missing; ${endpoint.redeliveries()} redeliveries; channel notifies shed ${notTaken.shed}, refused ${notTaken.refused}, failed ${notTaken.failed}; channel calls failed ${callsFailed}${callsFailed > 0 ? ` (causes: ${paycenter.logPath})` : ''}; audit ${audited}; peak RSS ${ms(peak)} MB`);
    for (const line of [...ledger.failures.slice(0, 5), ...missing.slice(0, 5)]) log(`  ${line}`);
    // The sandbox writes its profile when it exits, in the finally below.
    if (profile) log(`CPU profiles: ${join(profileDir, `lifecycle-${name}-paycenter`)}, ${join(profileDir, `lifecycle-${name}-sandbox`)} (.md and .cpuprofile; bun bench/profile-samples.ts ranks frames by samples)`);

    return `RESULT lifecycle store=${name} payments_per_s=${ms(paymentsPerS)} p99_create_to_notify_ms=${ms(steadyP99)} cpu_us_per_payment=${ms(perPaymentUs('paycenter'))} main_thread_cpu_us=${ms(perPaymentUs('paycenterMain'))} writer_thread_cpu_us=${ms(userPlusSystem(threads.sqlite_writer))} rss_mb=${ms(rss)}`
      + ` offered_per_s=${rate} steady_share=${fixedRate === null ? steady_share_of_capacity : 'fixed'} capacity_per_s=${ms(capacity)} sustained_per_s=${ms(sustained)} settle_ceiling_per_s=${ms(settleCeilingPerS)} hello_per_s=${ms(hello)} rsa_sign_us=${ms(signUs)} sandbox_cpu_us=${ms(perPaymentUs('sandbox'))} bench_cpu_us=${ms(perPaymentUs('bench'))}`
      + `${services ? ` db_cpu_us=${ms(perPaymentUs('db'))} db_xacts_per_payment=${xactsPerPayment.toFixed(1)}` : ''} machine_ceiling_per_s=${ms(ceiling)} loop_ceiling_per_s=${ms(loopCeiling)} steady_busy_pct=${ms(steadySampled.busy)}`
      + ` burst_p99_ms=${ms(pth(burst, 99))} shed=${shed.length} shed_p99_ms=${ms(pth(shed.map((s) => s.latencyMs), 99))}`
      + ` after_p99_ms=${ms(pth(after, 99))} after_busy_pct=${ms(afterSampled.busy)} steady_sign_us=${ms(steadySampled.signUs)} after_sign_us=${ms(afterSampled.signUs)} recovery_s=${recovery} recovery_window_s=${windowRecovery} close_late_p99_ms=${closeLateP99('steady', 'burst', 'after')} failed=${ledger.failures.length} lost=${lost} audit=${audited} peak_rss_mb=${ms(peak)}`;
  } finally {
    await paycenter.stop();
    await sandbox.stop();
    endpoint.stop();
  }
}

const soak_ms = seconds('BENCH_SOAK_S', 600);
const soak_sample_every_ms = 30_000;
/** The share of the probed capacity a soak runs at, unless BENCH_RATE says. */
const soak_share_of_capacity = 0.5;

/** Memory flat over a long steady run: the heap after full collections, and RSS, sampled as it goes. */
async function soak(databaseUrl: string): Promise<string> {
  const ledger = new Ledger();
  const endpoint = merchantEndpoint(ledger.onEvent);
  const sandbox = await startSandboxProcess();
  const paycenter = await startPaycenter({ databaseUrl, redisUrl: null, logName: 'bench-lifecycle-soak.log' });
  try {
    const merchant = await provision(paycenter.url, sandbox.url, endpoint.url);
    const payer = new Payer(paycenter.url, merchant, ledger);
    const probeStart = performance.now();
    await closedLoop(payer, 'probe', probe_payers, probe_ms);
    const capacity = ledger.completions.length / ((performance.now() - probeStart) / 1000);
    const rate = Number(process.env.BENCH_RATE ?? Math.max(10, Math.round(capacity * soak_share_of_capacity)));
    console.log(`soak: ${ms(capacity)} complete payments/s probed; ${rate}/s for ${soak_ms / 60_000} min`);
    const heapMb = async () => (await admin(paycenter.url, 'GET', '/admin/memory?collect=true')).heap_used_bytes / 2 ** 20;
    const sampler = startMemorySampler({ pid: paycenter.pid()!, intervalMs: soak_sample_every_ms, heapMb });
    await openLoop(payer, 'soak', rate, soak_ms);
    await payer.settled();
    const report = await sampler.stop();
    console.log(`soak: ${describeMemory(report)}`);
    for (const line of ledger.failures.slice(0, 5)) console.log(`soak:   ${line}`);
    const t = report.trend;
    return `RESULT lifecycle mode=soak store=sqlite minutes=${(soak_ms / 60_000).toFixed(0)} offered_per_s=${rate} payments=${ledger.completions.length} failed=${ledger.failures.length}`
      + ` heap_first_mb=${t.heapFirstMb?.toFixed(1)} heap_last_mb=${t.heapLastMb?.toFixed(1)} heap_slope_mb_per_min=${t.heapSlopeMbPerMin?.toFixed(2)} heap_trend=${t.verdict}`
      + ` rss_slope_mb_per_min=${t.rssSlopeMbPerMin.toFixed(1)} rss_peak_mb=${report.rssPeakMb.toFixed(0)}`;
  } finally {
    await paycenter.stop();
    await sandbox.stop();
    endpoint.stop();
  }
}

const dir = join(repo, '.test-tmp', `bench-lifecycle-${process.pid}`);
mkdirSync(dir, { recursive: true });
const signUs = rsaSignUs();
console.log(`RSA-2048 signature: ${signUs.toFixed(0)} µs on one core (${cpus().length} cores here)`);
const configurations: Configuration[] = [
    { name: 'store=sqlite', needs: [], run: () => benchStore('sqlite', `sqlite:${join(dir, 'lifecycle.db')}`, null, dir) },
    {
      name: 'store=postgres', needs: ['postgres', 'redis-server'],
      run: async () => {
        const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
        try {
          return await benchStore('postgres', postgres.url, { postgres, redis }, dir);
        } finally {
          await Promise.all([postgres.stop(), redis.stop()]);
        }
      },
    },
];
const chosen = process.env.BENCH_STORES?.split(',').map((s) => `store=${s.trim()}`);
let code: number;
try {
  code = process.argv.includes('--soak')
    ? await runConfigurations('lifecycle', [{ name: 'mode=soak', needs: [], run: () => soak(`sqlite:${join(dir, 'soak.db')}`) }])
    : await runConfigurations('lifecycle', configurations.filter((c) => !chosen || chosen.includes(c.name)));
} finally {
  if (!profile) rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
