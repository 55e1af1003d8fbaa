/**
 * Retry schedules: gaps in ms before each retry, spread by a ± share so that many failures do
 * not retry in lockstep. Shared by merchant notifications and channel effects.
 */

/** When the next try is due after `attemptsBefore` failed ones, or null when the schedule is used up. */
export function retryDueAt(scheduleMs: readonly number[], attemptsBefore: number, at: number, jitterShare: number, random: () => number): number | null {
  const gap = scheduleMs[attemptsBefore];
  if (gap === undefined) return null;
  return at + Math.round(gap * (1 + jitterShare * (2 * random() - 1)));
}
