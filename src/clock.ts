/** The one source of time. Tests pass a ManualClock and move it instead of sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class ManualClock implements Clock {
  constructor(private current: number) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}

/** An epoch-milliseconds time as the API and the pages show it (RFC 3339, UTC). */
export const isoTime = (ms: number): string => new Date(ms).toISOString();
