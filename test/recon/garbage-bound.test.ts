/**
 * The bound on a reconciliation pass's uncollected garbage (src/recon/garbage-bound.ts): one
 * collection per `everyRows` rows read, however the rows come (a page of records or a line at a
 * time), and the count starts again after each.
 */
import { expect, test } from 'bun:test';
import { GarbageBound, recon_collect_rows } from '../../src/recon/garbage-bound.ts';

test('collects once every everyRows rows, counted across pages and lines', () => {
  let collections = 0;
  const bound = new GarbageBound(1_000, () => collections++);
  bound.read(999);
  expect(collections).toBe(0);
  bound.read(1);
  expect(collections).toBe(1);
  for (let line = 0; line < 999; line++) bound.read(1);
  expect(collections).toBe(1);
  bound.read(10_000);
  expect(collections).toBe(2);
  bound.read(999);
  expect(collections).toBe(2);
});

/** Rows as a pass makes them, each gone once read; weak references tell whether the memory was taken back. */
function garbageRows(count: number): Array<WeakRef<object>> {
  return Array.from({ length: count }, (_, line) => new WeakRef({ flowId: `flw_${line}`.repeat(4).slice(1), amount: line }));
}

test("by default the runtime's collection: the rows read before the bound's turn are freed by it", async () => {
  const bound = new GarbageBound();
  const rows = garbageRows(1_000);
  // A weak reference holds its target until the current job ends.
  await Bun.sleep(0);
  bound.read(recon_collect_rows);
  // The collector scans the stack conservatively: a stray word may keep a row or two.
  expect(rows.filter((row) => row.deref() !== undefined).length).toBeLessThan(50);
});
