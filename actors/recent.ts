/**
 * What this process committed last, by key — orders' states, flows' owners — so that the next
 * event or callback for them can skip a read of the store. A cache is no state of the orders':
 * a miss reads the store, so what it keeps and for how long is a matter of memory only.
 *
 * At most `max` entries, none written more than `ttlMs` ago, the oldest write evicted first. A
 * write makes its key the newest, so the expired entries are always the oldest: a steady flow of
 * writes holds rate × `ttlMs` entries and stops growing there, instead of filling up to `max`.
 * The clock is this process's monotonic one.
 */
import { WriteOrderedMap } from '../src/write-ordered-map.ts';

export class RecentlyCommitted<V> {
  private readonly entries = new WriteOrderedMap<string, { value: V; at: number }>();

  constructor(private readonly max: number, private readonly ttlMs: number, private readonly now: () => number = () => performance.now()) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry && this.now() - entry.at <= this.ttlMs) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V): void {
    const now = this.now();
    this.entries.set(key, { value, at: now });
    this.entries.deleteOldestWhile((oldest) => this.entries.size > this.max || now - oldest.at > this.ttlMs);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
