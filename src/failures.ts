/**
 * How a failure is told apart — the rule the background loops (effect runner, notification
 * delivery, ticker) act on:
 *
 * - A **dependency failure** is typed where the dependency is called: `DependencyError` and its
 *   subclasses (the store adapters wrap every error of their database driver, the lock wraps
 *   Redis, the group committer and mailboxes refuse when full). It is retried: the dependency
 *   may be back in a moment. Channels answer with values (`{ ok: false, retryable }`), never
 *   exceptions, so they need no type here.
 * - **Anything else is a bug**: an `AssertionError`, but equally a TypeError or an error nobody
 *   typed. Retrying a bug repeats it forever, so a background row that hits one is parked (see
 *   the ops guide) and an operator is told. Untyped means bug on purpose: a new dependency whose
 *   errors nobody wrapped shows up as parked rows at once, not as endless quiet retries.
 */

/** A broken invariant: the code is wrong (or data it wrote was changed behind its back). */
export class AssertionError extends Error {
  constructor(what: string) {
    super(`assertion failed: ${what}`);
    this.name = 'AssertionError';
  }
}

export function assert(condition: boolean, what: string): asserts condition {
  if (!condition) throw new AssertionError(what);
}

/**
 * Which dependency failed: the database, Redis (locks, indexes), this process's own queues being
 * full, or a newer paycenter — the only one that can read what it wrote (a rollback, a deploy
 * under way).
 */
export type Dependency = 'store' | 'redis' | 'overload' | 'newer_instance';

/** A dependency failed, timed out or is busy: the same work may succeed when tried again. */
export class DependencyError extends Error {
  constructor(readonly dependency: Dependency, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DependencyError';
  }
}

export const isDependencyFailure = (error: unknown): error is DependencyError => error instanceof DependencyError;

/**
 * A Redis command's outcome; whatever it throws (a refused connection, a timeout, a script error
 * of a server that lost its scripts) is Redis failing, typed here where Redis is called.
 */
export async function inRedis<T>(what: string, command: Promise<T>): Promise<T> {
  try {
    return await command;
  } catch (error) {
    throw new DependencyError('redis', `${what} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

/**
 * One of this process's own queues was full (the group commit's, an order's mailbox): the work
 * was refused before it began, so nothing of it was written, and a retry a moment later is the cure.
 */
export const isOverload = (error: unknown): boolean => error instanceof DependencyError && error.dependency === 'overload';

/** An error's text for a log line or a row, bounded. */
export function errorText(error: unknown, charsMax: number): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, charsMax);
}
