/**
 * What a process costs, read from /proc: CPU time (user + system, all threads), how long a thread
 * waited for a core, and resident memory (bench/memory.ts reads it). Linux only, as every bench
 * here; a process that has exited reads as zero.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { procMemoryMb } from '../memory.ts';

/** USER_HZ: the unit of utime/stime in /proc/PID/stat (100 on every Linux this runs on). */
const clock_ticks_per_s = 100;

/** CPU seconds the process has used so far. */
export const cpuSeconds = (pid: number): number => cpuSecondsOfStat(`/proc/${pid}/stat`);

/**
 * What each of paycenter's threads is, by the name Bun and JavaScriptCore give it
 * (/proc/PID/task/TID/comm). Its main thread is the event loop, which runs every request's
 * JavaScript and can use one core at most, while the others may use the rest: the SQLite store's
 * one Worker is its writer thread (src/store/sqlite-writer.ts); the JIT compiles; mimalloc's
 * scavenger returns freed pages to the system; JavaScriptCore's helpers are its collector's heap
 * helpers and its warm-up thread; Bun's fetch runs on its HTTP client thread; its pool ("Bun Pool
 * 0", "Bun Pool 1", …) runs node:crypto's asynchronous RSA signatures and verifications
 * (src/channels/rsa.ts). A thread of any other name is `other`.
 */
const thread_kinds = {
  Worker: 'sqlite_writer',
  JITWorker: 'jit',
  'mi-scavenger': 'allocator',
  HeapHelper: 'jsc_helpers',
  JSCWarmUp: 'jsc_helpers',
  'HTTP Client': 'http_client',
  'Bun Pool': 'crypto_pool',
} as const;
export type ThreadKind = 'main' | (typeof thread_kinds)[keyof typeof thread_kinds] | 'other';
/** CPU seconds by thread kind, user and system apart (system: the kernel's work for the thread — I/O, fsync, sockets). */
export type ThreadCpu = Partial<Record<ThreadKind, { user: number; system: number }>>;

/** CPU seconds so far of the process's live threads, summed by kind; a thread that has exited no longer counts. */
export function threadCpuSeconds(pid: number): ThreadCpu {
  const byKind: ThreadCpu = {};
  for (const tid of taskIds(pid)) {
    const fields = statFields(`/proc/${pid}/task/${tid}/stat`);
    if (!fields) continue;
    const sum = (byKind[kindOf(pid, tid)] ??= { user: 0, system: 0 });
    sum.user += Number(fields[11]) / clock_ticks_per_s;
    sum.system += Number(fields[12]) / clock_ticks_per_s;
  }
  return byKind;
}

export type ThreadUs = { user: number; system: number };
export const userPlusSystem = (t: ThreadUs | undefined): number => (t ? t.user + t.system : 0);

/** Each kind of a process's threads: its CPU seconds between two readings (a kind absent before started at zero). */
export function threadCpuBetween(before: ThreadCpu, after: ThreadCpu): ThreadCpu {
  return Object.fromEntries(Object.entries(after).map(([kind, now]: [string, ThreadUs]) => {
    const then = before[kind as ThreadKind] ?? { user: 0, system: 0 };
    return [kind, { user: now.user - then.user, system: now.system - then.system }];
  }));
}

/** Each kind of a process's threads: its CPU between two readings, in µs per one of `units` (payments, or seconds). */
export function threadsUsPer(before: ThreadCpu, after: ThreadCpu, units: number): Partial<Record<ThreadKind, ThreadUs>> {
  const perUnit = (seconds: number) => (seconds * 1e6) / Math.max(1, units);
  return Object.fromEntries(Object.entries(threadCpuBetween(before, after)).map(([kind, spent]: [string, ThreadUs]) => [
    kind, { user: perUnit(spent.user), system: perUnit(spent.system) },
  ]));
}

/** The thread kinds, costliest first: `main 4400 + 900 · sqlite_writer 2100 + 1600 · …` (user + system). */
export const describeThreads = (threads: Partial<Record<ThreadKind, ThreadUs>>): string =>
  (Object.entries(threads) as [string, ThreadUs][])
    .sort(([, a], [, b]) => userPlusSystem(b) - userPlusSystem(a))
    .map(([kind, t]) => `${kind} ${t.user.toFixed(0)} + ${t.system.toFixed(0)}`)
    .join(' · ');

/** A numbered thread ("Bun Pool 3") is of its name's kind without the number. */
function kindOf(pid: number, tid: string): ThreadKind {
  if (Number(tid) === pid) return 'main';
  const name = threadName(pid, tid).replace(/ \d+$/, '');
  return (thread_kinds as Record<string, ThreadKind>)[name] ?? 'other';
}

function taskIds(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

function threadName(pid: number, tid: string): string {
  try {
    return readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function cpuSecondsOfStat(path: string): number {
  const fields = statFields(path);
  return fields ? (Number(fields[11]) + Number(fields[12])) / clock_ticks_per_s : 0;
}

/**
 * Seconds a thread has spent runnable but waiting for a core (the second field of
 * /proc/PID/task/TID/schedstat, in ns): on a machine whose cores are all in use, the time its
 * work waited for another party's; 0 once the thread is gone.
 */
export function runQueueWaitSeconds(pid: number, tid: number = pid): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return 0;
  }
}

/** The fields of a /proc stat file after the command name (state first); null once the process is gone. */
function statFields(path: string): string[] | null {
  try {
    const stat = readFileSync(path, 'utf8');
    // The command name is in parentheses and may itself hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * CPU seconds of a process and all its descendants, the ones that ended included (Postgres'
 * postmaster and its backends): its own time and its reaped children's (cutime, cstime), plus
 * the live descendants'.
 */
export function treeCpuSeconds(pid: number): number {
  const stats = new Map<number, { ppid: number; fields: string[] }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(`/proc/${entry}/stat`);
    if (fields) stats.set(Number(entry), { ppid: Number(fields[1]), fields });
  }
  const withReaped = (fields: string[]) => (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / clock_ticks_per_s;
  let total = 0;
  const pending = [pid];
  while (pending.length > 0) {
    const current = pending.pop()!;
    const stat = stats.get(current);
    if (stat) total += withReaped(stat.fields);
    for (const [child, { ppid }] of stats) if (ppid === current) pending.push(child);
  }
  return total;
}

/** RSS now and the peak so far (the kernel's VmHWM), in MB; 0 once the process is gone. */
export const rssMb = (pid: number): number => procMemoryMb(pid, 'VmRSS') ?? 0;
export const peakRssMb = (pid: number): number => procMemoryMb(pid, 'VmHWM') ?? 0;
