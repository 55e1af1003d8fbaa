/**
 * One mailbox per order in this process: events for the same order run one after the other,
 * in arrival order, before any lock is taken. Same-order contention therefore never reaches
 * Redis (where Redlock's retry loop is unfair); only different processes contend there.
 */
import { DependencyError } from '../src/failures.ts';

export class MailboxFullError extends DependencyError {
  constructor(key: string, depthMax: number) {
    super('overload', `mailbox of ${key} holds ${depthMax} events already`);
    this.name = 'MailboxFullError';
  }
}

type Box = { tail: Promise<unknown>; depth: number };

export class Mailboxes {
  private readonly boxes = new Map<string, Box>();

  constructor(private readonly depthMax: number) {}

  /** Runs `work` after every earlier piece of work queued for `key` has settled. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const box = this.boxes.get(key) ?? { tail: Promise.resolve(), depth: 0 };
    if (box.depth >= this.depthMax) return Promise.reject(new MailboxFullError(key, this.depthMax));
    box.depth += 1;
    this.boxes.set(key, box);
    const result = box.tail.then(work);
    box.tail = result.then(
      () => this.leave(key, box),
      () => this.leave(key, box),
    );
    return result;
  }

  /** Events queued or running, across all orders. */
  get size(): number {
    let total = 0;
    for (const box of this.boxes.values()) total += box.depth;
    return total;
  }

  private leave(key: string, box: Box): void {
    box.depth -= 1;
    if (box.depth === 0 && this.boxes.get(key) === box) this.boxes.delete(key);
  }
}
