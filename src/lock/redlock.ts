import type Redis from 'ioredis';
import Redlock, { ExecutionError } from 'redlock';
import { DependencyError } from '../failures.ts';
import { type Lock, type LockHandle, LockUnavailableError } from './lock.ts';

export type RedlockOptions = {
  /** Tries before giving up on a contended key. */
  acquireAttemptsMax: number;
  retryDelayMs: number;
};

export const default_redlock_options: RedlockOptions = { acquireAttemptsMax: 200, retryDelayMs: 10 };

/**
 * Redlock over one or more independent Redis masters. All of the redlock package's quirks
 * (its error shapes, retry counting) stay in this file.
 */
export class RedlockLock implements Lock {
  private readonly redlock: Redlock;

  constructor(private readonly clients: Redis[], options: RedlockOptions = default_redlock_options) {
    this.redlock = new Redlock(clients, {
      driftFactor: 0.01,
      // redlock counts retries, not attempts.
      retryCount: options.acquireAttemptsMax - 1,
      retryDelay: options.retryDelayMs,
      retryJitter: options.retryDelayMs,
    });
  }

  async acquire(key: string, ttlMs: number): Promise<LockHandle> {
    try {
      const lock = await this.redlock.acquire([`lock:${key}`], ttlMs);
      return {
        release: async () => {
          // A lock that already expired (or a flush took) cannot be released; fencing covered that
          // step. Once, not with the acquire's retries: redlock would try 200 times, 2–4 s inside
          // the order's mailbox, for a key that is not ours any more.
          await this.redlock.release(lock, { retryCount: 0 }).catch((error: unknown) => {
            if (!(error instanceof ExecutionError)) throw new DependencyError('redis', `lock on ${key}: release failed`, { cause: error });
          });
        },
      };
    } catch (error) {
      // Contention (ExecutionError) or Redis itself failing: either way a dependency's, retried.
      throw new LockUnavailableError(key, error);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.quit()));
  }
}
