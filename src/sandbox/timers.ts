// Every timer the sandbox starts goes through here so that stop() can clear them all:
// a test that forgot one would otherwise hang the runner.

export class Timers {
  private readonly handles = new Set<ReturnType<typeof setTimeout>>();
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  /** Runs fn after ms unless stop() came first. */
  after(ms: number, fn: () => void): ReturnType<typeof setTimeout> | undefined {
    if (this.stopped) return undefined;
    const handle = setTimeout(() => {
      this.handles.delete(handle);
      fn();
    }, Math.max(0, ms));
    this.handles.add(handle);
    return handle;
  }

  cancel(handle: ReturnType<typeof setTimeout> | undefined): void {
    if (handle === undefined) return;
    clearTimeout(handle);
    this.handles.delete(handle);
  }

  /** A promise that settles after ms, or at once when stop() is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      let handle: ReturnType<typeof setTimeout> | undefined;
      const wake = () => {
        this.sleepers.delete(wake);
        this.cancel(handle);
        resolve();
      };
      this.sleepers.add(wake);
      handle = this.after(ms, wake);
    });
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    for (const h of this.handles) clearTimeout(h);
    this.handles.clear();
    for (const wake of [...this.sleepers]) wake();
  }
}
