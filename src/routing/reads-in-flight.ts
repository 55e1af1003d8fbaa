/**
 * Shared-state reads of an instance, one at a time per channel: when a cache goes stale under
 * concurrent pays, the first one reads and the others keep the entry they have instead of each
 * reading every channel again (a channel without an entry is always read).
 */
export class ReadsInFlight {
  private readonly pending = new Map<string, Promise<void>>();

  has(code: string): boolean {
    return this.pending.has(code);
  }

  /** Runs `read` for `codes`, known as in flight for each of them until it settles. */
  async run(codes: readonly string[], read: () => Promise<void>): Promise<void> {
    const running = read();
    for (const code of codes) this.pending.set(code, running);
    try {
      await running;
    } finally {
      for (const code of codes) if (this.pending.get(code) === running) this.pending.delete(code);
    }
  }
}
