/**
 * What a process costs, read from /proc: CPU time (user + system, all threads) and resident
 * memory (bench/memory.ts reads it). Linux only, as every bench here; a process that has exited reads as zero.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { procMemoryMb } from '../memory.ts';

/** USER_HZ: the unit of utime/stime in /proc/PID/stat (100 on every Linux this runs on). */
const clock_ticks_per_s = 100;

/** CPU seconds the process has used so far. */
export const cpuSeconds = (pid: number): number => cpuSecondsOfStat(`/proc/${pid}/stat`);

/**
 * CPU seconds of the process's main thread alone: the event loop, which runs every request's
 * JavaScript and can use one core at most, while the other threads (SQLite's writer, the crypto
 * pool, the HTTP machinery) may use the rest.
 */
export const mainThreadCpuSeconds = (pid: number): number => cpuSecondsOfStat(`/proc/${pid}/task/${pid}/stat`);

function cpuSecondsOfStat(path: string): number {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name, which is in parentheses and may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clock_ticks_per_s;
  } catch {
    return 0;
  }
}

/** CPU seconds of every process whose command name is `comm` (postgres' backends, redis-server). */
export function cpuSecondsOfCommand(comm: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) total += cpuSeconds(Number(entry));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}

/** RSS now and the peak so far (the kernel's VmHWM), in MB; 0 once the process is gone. */
export const rssMb = (pid: number): number => procMemoryMb(pid, 'VmRSS') ?? 0;
export const peakRssMb = (pid: number): number => procMemoryMb(pid, 'VmHWM') ?? 0;
