/**
 * A set of strings numbered in the order they were added (key → slot), kept in typed arrays: the
 * keys' code units side by side in one arena, an open-addressing table of slots. The arena holds a
 * byte per code unit while every key is Latin-1 (paycenter's ids are ASCII) and widens to two bytes
 * the first time a key is not. A million 30-character ids take about 50 MB here and no garbage
 * collector's attention; a `Map` of them took about 200 MB and a third of a reconciliation's time
 * (docs/benchmarks.md).
 */

/** FNV-1a over a string's code units (also what splits a day into passes). */
export function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

const initial_bits = 10;
/** Code units the arena holds at most (its offsets are 32-bit); a day's index is far below it. */
const arena_units_max = 2 ** 31 - 1;

export class KeyTable {
  /** Slot + 1 per bucket (0: empty); at most half full. */
  private buckets = new Int32Array(1 << initial_bits);
  private bits = initial_bits;
  private hashes = new Uint32Array(1 << (initial_bits - 1));
  /** Where each slot's key starts in the arena; slot s ends where s + 1 starts. */
  private starts = new Int32Array((1 << (initial_bits - 1)) + 1);
  /** A byte per code unit until a key needs two (every byte held here also raises the garbage the collector lets pile up: src/recon/garbage-bound.ts). */
  private arena: Uint8Array | Uint16Array = new Uint8Array(1 << 14);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The key's slot, or -1. */
  find(key: string): number {
    const b = this.bucketFor(key, keyHash(key));
    return this.buckets[b]! - 1;
  }

  /** Adds a key not in the table yet and answers its slot (the number of keys before it). */
  add(key: string): number {
    if ((this.count + 1) * 2 > this.buckets.length) this.growBuckets();
    if (this.count + 1 >= this.starts.length) this.growSlots();
    const hash = keyHash(key);
    const b = this.bucketFor(key, hash);
    if (this.buckets[b] !== 0) throw new Error(`assertion failed: the key ${key} is added twice`);
    const slot = this.count++;
    const start = this.starts[slot]!;
    if (start + key.length > arena_units_max) throw new Error(`assertion failed: over ${arena_units_max} characters of keys`);
    if (start + key.length > this.arena.length) {
      const narrow = this.arena instanceof Uint8Array;
      this.arena = grown(this.arena, Math.min(arena_units_max, Math.max(this.arena.length * 2, start + key.length)), (n) => (narrow ? new Uint8Array(n) : new Uint16Array(n)));
    }
    for (let i = 0; i < key.length; i++) {
      const unit = key.charCodeAt(i);
      if (unit > 0xff && this.arena instanceof Uint8Array) this.arena = new Uint16Array(this.arena);
      this.arena[start + i] = unit;
    }
    this.starts[slot + 1] = start + key.length;
    this.hashes[slot] = hash;
    this.buckets[b] = slot + 1;
    return slot;
  }

  /** The key in a slot, as a string again. */
  keyAt(slot: number): string {
    return String.fromCharCode(...this.arena.subarray(this.starts[slot]!, this.starts[slot + 1]!));
  }

  /** Fibonacci hashing: the high bits of the product, so keys that share their low hash bits (one pass's share) still spread. */
  private bucketOf(hash: number): number {
    return Math.imul(hash, 0x9e3779b1) >>> (32 - this.bits);
  }

  /** The bucket holding the key, or the empty one where it would go. */
  private bucketFor(key: string, hash: number): number {
    const mask = this.buckets.length - 1;
    let b = this.bucketOf(hash);
    for (let entry = this.buckets[b]!; entry !== 0; entry = this.buckets[b]!) {
      if (this.hashes[entry - 1] === hash && this.keyIs(entry - 1, key)) return b;
      b = (b + 1) & mask;
    }
    return b;
  }

  private keyIs(slot: number, key: string): boolean {
    const start = this.starts[slot]!;
    if (this.starts[slot + 1]! - start !== key.length) return false;
    for (let i = 0; i < key.length; i++) if (this.arena[start + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  private place(slot: number, hash: number): void {
    const mask = this.buckets.length - 1;
    let b = this.bucketOf(hash);
    while (this.buckets[b] !== 0) b = (b + 1) & mask;
    this.buckets[b] = slot + 1;
  }

  private growBuckets(): void {
    this.bits++;
    this.buckets = new Int32Array(1 << this.bits);
    for (let slot = 0; slot < this.count; slot++) this.place(slot, this.hashes[slot]!);
  }

  private growSlots(): void {
    const slots = this.hashes.length * 2;
    this.hashes = grown(this.hashes, slots, (n) => new Uint32Array(n));
    this.starts = grown(this.starts, slots + 1, (n) => new Int32Array(n));
  }
}

/** A typed array copied into a larger one. */
export function grown<T extends Uint8Array | Uint16Array | Int32Array | Uint32Array | Float64Array>(old: T, size: number, make: (n: number) => T): T {
  const next = make(size);
  next.set(old as never);
  return next;
}
