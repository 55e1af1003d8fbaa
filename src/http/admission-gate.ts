/**
 * One door of the admission control (admission.ts): at most `inFlightMax` requests inside; up
 * to `queueMax` more wait, first come first served, each at most `waitMs`; any further one is
 * turned away at once. A place that frees goes straight to the longest waiter, so a newcomer
 * never overtakes the queue, and nothing waits longer than `waitMs` for a place.
 */
import { assert } from '../failures.ts';

export type GateLimits = {
  /** Requests inside at once. */
  inFlightMax: number;
  /** Requests waiting for a place, at most (0: none wait). */
  queueMax: number;
  /** How long one request waits for a place before it is turned away. */
  waitMs: number;
};

/** How a request fared at the door. */
export type Entry = 'admitted' | 'queue_full' | 'wait_expired';

type Waiter = { admit: (entry: Entry) => void; deadline: number; timer: ReturnType<typeof setTimeout> | null };

export class Gate {
  private inside = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly limits: GateLimits) {
    assert(limits.inFlightMax >= 1 && limits.queueMax >= 0 && limits.waitMs >= 0, 'gate limits are positive');
  }

  get inFlight(): number {
    return this.inside;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Admitted now, a promise of the outcome after a wait, or refused now. `leave()` once for every admission. */
  enter(): Entry | Promise<Entry> {
    if (this.inside < this.limits.inFlightMax) {
      // Waiters exist only while the gate is full: a free place was handed to them in leave().
      assert(this.waiting.length === 0, 'nobody waits at a gate with a free place');
      this.inside += 1;
      return 'admitted';
    }
    const now = performance.now();
    this.expireOverdue(now);
    if (this.waiting.length >= this.limits.queueMax) return 'queue_full';
    return new Promise((admit) => {
      const waiter: Waiter = { admit, deadline: now + this.limits.waitMs, timer: null };
      waiter.timer = setTimeout(() => this.expire(waiter), this.limits.waitMs);
      this.waiting.push(waiter);
    });
  }

  /** An admitted request is done: its place goes to the longest waiter, or is freed. */
  leave(): void {
    assert(this.inside > 0, 'a request leaves a gate it entered');
    const next = this.waiting.shift();
    if (!next) {
      this.inside -= 1;
      return;
    }
    clearTimeout(next.timer!);
    next.admit('admitted');
  }

  /**
   * Turns away the waiters whose wait is over, oldest first (the queue is in deadline order). In a
   * flood the event loop is busy with arrivals and the waiters' timers fire late; the arrivals
   * themselves then answer the overdue ones and make room.
   */
  private expireOverdue(now: number): void {
    while (this.waiting.length > 0 && this.waiting[0]!.deadline <= now) this.expire(this.waiting[0]!);
  }

  private expire(waiter: Waiter): void {
    const at = this.waiting.indexOf(waiter);
    assert(at >= 0, 'an expiring waiter is still queued (an admitted or expired one had its timer cleared)');
    this.waiting.splice(at, 1);
    clearTimeout(waiter.timer!);
    waiter.admit('wait_expired');
  }
}
