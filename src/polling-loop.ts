/**
 * Runs a tick function every `intervalMs`, one tick at a time (the next starts only after the
 * previous finished), until stopped; stopping waits for the tick in progress. A failing tick is
 * logged and the loop goes on: the work it did not finish is durable and is picked up again
 * (a bug that hit one row parks that row in the loop itself; see src/failures.ts).
 */
import { isDependencyFailure } from './failures.ts';
import type { Logger } from './log.ts';

export class PollingLoop {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly tick: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      this.running = this.tick().catch((error: unknown) =>
        isDependencyFailure(error)
          ? this.log.warn(`${this.name} tick failed: a dependency; the next tick tries again`, { error: String(error) })
          // A bug outside any one row (rows that hit one are parked by their loop).
          : this.log.error(`${this.name} tick failed: a bug`, { error: String(error), stack: (error as Error)?.stack }));
      await this.running;
      if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
    };
    this.timer = setTimeout(loop, this.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
