// Delivers async notifies the way the providers do: POST, judge the answer, retry on a
// schedule, give up after a bounded number of attempts. Faults (drop, duplicate, delay,
// reorder) are applied here.
import type { FaultTable } from './faults.ts';
import type { Provider, Trade } from './state.ts';
import type { Timers } from './timers.ts';

export type NotifyJob = {
  provider: Provider;
  account: string;
  url: string;
  contentType: string;
  /** Built once per attempt so that timestamps/signatures are fresh, as the providers' are. */
  build: () => { body: string; headers: Record<string, string> };
  /** The provider's rule for "the merchant took it". */
  accepted: (status: number, bodyText: string) => boolean;
  /** The trade whose delivery record is updated. */
  trade: Trade;
  onChange: () => void;
};

type Pending = { job: NotifyJob; attempt: number; timer?: ReturnType<typeof setTimeout> };

/** How many sends a trade's notify record remembers. */
const RECENT_SENDS_MAX = 16;
/** Bound on notifies waiting (held or between retries); beyond it the oldest is dropped. */
const MAX_PENDING = 5_000;
/** Reordered notifies are held this long (or until /notify/flush) before going out shuffled. */
const REORDER_WINDOW_MS = 300;
const REQUEST_TIMEOUT_MS = 5_000;

export class Notifier {
  private readonly pending = new Set<Pending>();
  private held: Pending[] = [];
  private heldTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly retryMs: number[],
    private readonly faults: FaultTable,
    private readonly timers: Timers,
  ) {}

  enqueue(job: NotifyJob): void {
    if (this.timers.isStopped) return;
    job.trade.notify.sent += 1;
    job.onChange();
    const p: Pending = { job, attempt: 0 };
    const f = this.faults.get(job.provider, job.account);
    if (f.reorder) {
      this.held.push(p);
      this.heldTimer ??= this.timers.after(REORDER_WINDOW_MS, () => {
        this.heldTimer = undefined;
        this.releaseHeld();
      });
      return;
    }
    this.schedule(p, f.notify_delay_ms);
  }

  private releaseHeld(): void {
    const batch = this.held;
    this.held = [];
    // Fisher–Yates with the account's seeded PRNG so the shuffle replays.
    for (let i = batch.length - 1; i > 0; i--) {
      const pi = batch[i] as Pending;
      const j = Math.floor(this.faults.random(pi.job.provider, pi.job.account) * (i + 1));
      batch[i] = batch[j] as Pending;
      batch[j] = pi;
    }
    for (const p of batch) this.schedule(p, this.faults.get(p.job.provider, p.job.account).notify_delay_ms);
  }

  private schedule(p: Pending, delayMs: number): void {
    this.pending.add(p);
    while (this.pending.size > MAX_PENDING) {
      const oldest = this.pending.values().next().value as Pending;
      this.timers.cancel(oldest.timer);
      this.pending.delete(oldest);
    }
    if (delayMs <= 0) {
      // Still async: the API answer that caused the notify goes out first, as in reality.
      p.timer = this.timers.after(0, () => this.fire(p));
    } else {
      p.timer = this.timers.after(delayMs, () => this.fire(p));
    }
  }

  private fire(p: Pending): void {
    this.pending.delete(p);
    p.timer = undefined;
    const run = this.attempt(p).finally(() => this.inflight.delete(run));
    this.inflight.add(run);
  }

  private async attempt(p: Pending): Promise<void> {
    const { job } = p;
    p.attempt += 1;
    job.trade.notify.attempts += 1;
    const f = this.faults.get(job.provider, job.account);
    let ok = false;
    if (this.faults.chance(job.provider, job.account, f.drop_notify_rate)) {
      recordSend(job, 'dropped');
    } else {
      // duplicate_notify sends the same notify N times; any accepted copy counts.
      for (let i = 0; i < f.duplicate_notify && !this.timers.isStopped; i++) {
        if (await this.send(job)) ok = true;
      }
    }
    if (ok) {
      job.trade.notify.delivered += 1;
    } else if (p.attempt <= this.retryMs.length) {
      this.schedule(p, this.retryMs[p.attempt - 1] ?? 0);
    } else {
      job.trade.notify.failed += 1; // bounded: the provider gives up too
    }
    job.onChange();
  }

  private async send(job: NotifyJob): Promise<boolean> {
    const { body, headers } = job.build();
    try {
      const res = await fetch(job.url, {
        method: 'POST',
        headers: { 'content-type': job.contentType, ...headers },
        body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
      const text = await res.text();
      recordSend(job, `${res.status} ${text.slice(0, 80)}`);
      return job.accepted(res.status, text);
    } catch (err) {
      recordSend(job, `error ${(err as Error).message}`.slice(0, 120));
      return false;
    }
  }

  /** Sends everything held or waiting for a retry now, and waits for those attempts. */
  async flush(): Promise<number> {
    this.timers.cancel(this.heldTimer);
    this.heldTimer = undefined;
    this.releaseHeld();
    const due = [...this.pending];
    for (const p of due) {
      this.timers.cancel(p.timer);
      this.fire(p);
    }
    await Promise.allSettled([...this.inflight]);
    return due.length;
  }

  get pendingCount(): number {
    return this.pending.size + this.held.length;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.pending.clear();
    this.held = [];
    await Promise.allSettled([...this.inflight]);
  }
}

function recordSend(job: NotifyJob, status: string): void {
  const record = job.trade.notify;
  record.lastStatus = status;
  const recent = (record.recent ??= []);
  recent.push(status);
  if (recent.length > RECENT_SENDS_MAX) recent.shift();
}
