import { type Lock, type LockHandle, LockUnavailableError } from './lock.ts';

/** Waiters queued on one key before acquire refuses; a bound, not a tuning knob. */
const local_lock_waiters_max = 10_000;

/**
 * An in-process lock for a single paycenter process (no Redis): a FIFO queue per key.
 * The TTL is honoured like Redlock's: a holder that overstays loses the lock to the next waiter.
 */
export class LocalLock implements Lock {
  private readonly queues = new Map<string, Array<() => void>>();

  async acquire(key: string, ttlMs: number): Promise<LockHandle> {
    let queue = this.queues.get(key);
    if (!queue) {
      queue = [];
      this.queues.set(key, queue);
      return this.grant(key, ttlMs);
    }
    if (queue.length >= local_lock_waiters_max) throw new LockUnavailableError(key);
    await new Promise<void>((resolve) => queue.push(resolve));
    return this.grant(key, ttlMs);
  }

  private grant(key: string, ttlMs: number): LockHandle {
    let released = false;
    const handOver = () => {
      if (released) return;
      released = true;
      clearTimeout(expiry);
      const queue = this.queues.get(key);
      const next = queue?.shift();
      if (next) next();
      else this.queues.delete(key);
    };
    const expiry = setTimeout(handOver, ttlMs);
    return { release: async () => handOver() };
  }

  async close(): Promise<void> {}
}
