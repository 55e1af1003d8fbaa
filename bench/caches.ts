/**
 * bun run bench caches — what a write costs a full cache bounded oldest-first, the shape of the
 * engine's recent orders and flows, the risk center's payer histories, the cashier's gate, the
 * failed admin sign-ins and the channels' parsed RSA keys.
 *
 * At each size (1,000, 10,000 and 50,000 entries, the last the engine's `recentOrdersMax`), a
 * full cache takes BENCH_WRITES (default 300,000) writes of new keys, each followed by the
 * eviction of its oldest entry, after as many writes again to warm up: once as a plain `Map`
 * evicting its first key (`keys().next()`, which is what the caches did before session 22 and
 * the sandbox still does), once as `WriteOrderedMap` (src/write-ordered-map.ts). JavaScriptCore's
 * `Map` keeps deleted slots until it rebuilds its table and starts every iteration at the first
 * slot, so the first form's write grows with the entries. Prints one
 * `RESULT caches entries=… map_us_per_write=… write_ordered_us_per_write=…` per size.
 */
import { WriteOrderedMap } from '../src/write-ordered-map.ts';
import { runConfigurations } from './configurations.ts';

const writes = Number(process.env.BENCH_WRITES ?? 300_000);
const sizes = [1_000, 10_000, 50_000];

/** The two forms behind one face: write a new key, then evict the oldest while over the bound. */
type BoundedCache = { write(key: string, value: number): void };

function plainMap(entriesMax: number): BoundedCache {
  const map = new Map<string, number>();
  return {
    write(key, value) {
      map.set(key, value);
      if (map.size > entriesMax) map.delete(map.keys().next().value!);
    },
  };
}

function writeOrdered(entriesMax: number): BoundedCache {
  const map = new WriteOrderedMap<string, number>();
  return {
    write(key, value) {
      map.set(key, value);
      if (map.size > entriesMax) map.deleteOldest();
    },
  };
}

/** µs a write, over `writes` writes after filling the cache and as many writes to warm up. */
function usPerWrite(cache: BoundedCache, entries: number): number {
  let next = 0;
  for (const end = entries + writes; next < end; next++) cache.write(`pay_${next}`, next);
  const started = performance.now();
  for (const end = next + writes; next < end; next++) cache.write(`pay_${next}`, next);
  return ((performance.now() - started) * 1000) / writes;
}

const code = await runConfigurations('caches', sizes.map((entries) => ({
  name: `entries=${entries}`,
  needs: [],
  run: async () => {
    const map = usPerWrite(plainMap(entries), entries);
    const ordered = usPerWrite(writeOrdered(entries), entries);
    console.log(`${entries} entries: a write with its eviction ${map.toFixed(2)} µs as a Map, ${ordered.toFixed(2)} µs as a WriteOrderedMap`);
    return `RESULT caches entries=${entries} map_us_per_write=${map.toFixed(2)} write_ordered_us_per_write=${ordered.toFixed(2)}`;
  },
})));
process.exit(code);
