/**
 * Runs a tick function every `intervalMs`, one tick at a time (the next starts only after the
 * previous finished), until stopped; stopping waits for the tick in progress. A failing tick is
 * logged and the loop goes on: the work it did not finish is durable and is picked up again
 * (a bug that hit one row parks that row in the loop itself; see src/failures.ts).
 *
 * `wake()` says new work was just committed: the next tick runs at once instead of after the
 * interval (or right after the tick in progress), so work made in this process waits for no
 * poll; the interval remains for work from other instances and retries coming due.
 */
import { isDependencyFailure } from './failures.ts';
import type { Logger } from './log.ts';

export class PollingLoop {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<unknown> | null = null;
  private started = false;
  private stopped = false;
  /** A tick is already due at once: further wakes until it starts change nothing. */
  private dueNow = false;
  /** Woken while a tick ran: the next one follows it at once. */
  private woken = false;

  constructor(
    private readonly name: string,
    private readonly tick: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.started = true;
    this.schedule(this.intervalMs);
  }

  wake(): void {
    if (!this.started || this.stopped || this.dueNow) return;
    if (this.running) this.woken = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.dueNow = delayMs === 0;
    this.timer = setTimeout(() => void this.run(), delayMs);
  }

  private async run(): Promise<void> {
    this.timer = null;
    this.dueNow = false;
    this.woken = false;
    if (this.stopped) return;
    this.running = this.tick().catch((error: unknown) =>
      isDependencyFailure(error)
        ? this.log.warn(`${this.name} tick failed: a dependency; the next tick tries again`, { error: String(error) })
        // A bug outside any one row (rows that hit one are parked by their loop).
        : this.log.error(`${this.name} tick failed: a bug`, { error: String(error), stack: (error as Error)?.stack }));
    await this.running;
    this.running = null;
    if (!this.stopped) this.schedule(this.woken ? 0 : this.intervalMs);
  }
}
