/**
 * The per-order lock port. It serializes one order's events across processes; inside a
 * process the actor mailbox already does, so the lock is only ever contended between
 * processes. A lock can expire mid-step: the store's row-version check (fencing) is what
 * keeps a late writer from overwriting a newer state, not the lock.
 */
import { DependencyError } from '../failures.ts';

export interface Lock {
  /** Takes the lock on `key` for at most `ttlMs`, or throws LockUnavailableError. */
  acquire(key: string, ttlMs: number): Promise<LockHandle>;
  close(): Promise<void>;
}

export interface LockHandle {
  release(): Promise<void>;
}

/** The lock could not be taken within its attempts: a dependency problem, safe to retry. */
export class LockUnavailableError extends DependencyError {
  constructor(key: string, cause?: unknown) {
    super('redis', `lock on ${key} unavailable`, { cause });
    this.name = 'LockUnavailableError';
  }
}
