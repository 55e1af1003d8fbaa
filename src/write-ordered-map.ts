/**
 * A map that knows its oldest write and drops it in constant time: the shape of every bounded
 * cache here that evicts its oldest entry first.
 *
 * Why not a `Map` alone, whose keys come back in insertion order: JavaScriptCore keeps a deleted
 * entry's slot until the table is rebuilt, and every iteration (`keys().next()` included) starts
 * at the first slot and steps over all of them. A full map that drops its first entry on each
 * write therefore walks a growing run of dead slots every time: 6–7 µs a write at 10,000 entries,
 * 20–26 µs at 50,000 (`bun run bench caches`), paid by the engine's cache of recent orders on
 * every commit once it evicts. Here the write order is kept in a queue of its own, whose dead
 * items (keys written again or deleted since) are skipped once, from its front.
 */
export class WriteOrderedMap<K, V> {
  private readonly entries = new Map<K, { value: V; write: number }>();
  /**
   * Every write's key and number, in order; an item is live while its key's entry is still that
   * write. Items hold no values, so a dead one keeps nothing of what was overwritten.
   */
  private queue: Array<{ key: K; write: number }> = [];
  private head = 0;
  private writes = 0;

  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Writes `key` as the newest entry, wherever it was before. */
  set(key: K, value: V): void {
    const write = ++this.writes;
    this.entries.set(key, { value, write });
    this.queue.push({ key, write });
    this.keepQueueBounded();
  }

  delete(key: K): void {
    this.entries.delete(key);
    this.keepQueueBounded();
  }

  clear(): void {
    this.entries.clear();
    this.queue = [];
    this.head = 0;
  }

  /** The oldest live entry, or undefined when the map is empty. */
  oldest(): { key: K; value: V } | undefined {
    for (; this.head < this.queue.length; this.head++) {
      const { key, write } = this.queue[this.head]!;
      const entry = this.entries.get(key);
      if (entry?.write === write) return { key, value: entry.value };
    }
    return undefined;
  }

  deleteOldest(): void {
    const oldest = this.oldest();
    if (oldest) this.delete(oldest.key);
  }

  /** Deletes the oldest entry for as long as `stale` holds of the oldest one left (it may read `size`). */
  deleteOldestWhile(stale: (oldest: V) => boolean): void {
    for (let oldest = this.oldest(); oldest && stale(oldest.value); oldest = this.oldest()) this.delete(oldest.key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Items in the write queue, dead ones included: what the bound below keeps within 2 × size + slack. */
  get queuedItems(): number {
    return this.queue.length;
  }

  /**
   * Dead items, the skipped ones at the front included, at most as many as live ones plus some
   * slack: the queue stays O(size), and each rebuild, O(size), comes after at least as many
   * writes or deletes, so it costs O(1) each, amortized.
   */
  private keepQueueBounded(): void {
    if (this.queue.length <= 2 * this.entries.size + queue_slack_items) return;
    this.queue = this.queue.slice(this.head).filter(({ key, write }) => this.entries.get(key)?.write === write);
    this.head = 0;
  }
}

/** Dead queue items allowed beyond the live ones before the queue is rebuilt; makes small maps' rebuilds rare. */
export const queue_slack_items = 1_024;
