/**
 * WriteOrderedMap against the model it replaces: a `Map` whose writes delete the key first, so
 * its first key is always the oldest write. fast-check drives both with the same writes,
 * deletes and evictions of the oldest (one, or while they are stale), over keys written again and again, in runs long enough
 * to rebuild the write queue; a full map of 5,000 is driven through a million writes.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { WriteOrderedMap, queue_slack_items } from '../src/write-ordered-map.ts';

/** Few enough keys that they are written again and again: dead items fill the queue and it is rebuilt about once a run. */
const keys_max = 300;

const operation = fc.oneof(
  { weight: 7, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.integer({ min: 0, max: keys_max }), value: fc.integer() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.integer({ min: 0, max: keys_max }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('deleteOldest' as const) }) },
  // Stale below a value drawn like the values: deletes none, some or all of the entries.
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteOldestWhile' as const), below: fc.integer() }) },
);

function oldestOf(model: Map<number, number>): { key: number; value: number } | undefined {
  const first = model.entries().next();
  return first.done ? undefined : { key: first.value[0], value: first.value[1] };
}

describe('WriteOrderedMap', () => {
  test('agrees with a Map in write order after every step, and its queue stays within 2 × size + slack', () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 2_000, maxLength: 8_000 }), (operations) => {
        const map = new WriteOrderedMap<number, number>();
        const model = new Map<number, number>();
        for (const step of operations) {
          if (step.op === 'set') {
            map.set(step.key, step.value);
            model.delete(step.key);
            model.set(step.key, step.value);
          } else if (step.op === 'delete') {
            map.delete(step.key);
            model.delete(step.key);
          } else if (step.op === 'deleteOldest') {
            map.deleteOldest();
            const oldest = oldestOf(model);
            if (oldest) model.delete(oldest.key);
          } else {
            map.deleteOldestWhile((value) => value < step.below);
            for (let oldest = oldestOf(model); oldest && oldest.value < step.below; oldest = oldestOf(model)) model.delete(oldest.key);
          }
          expect(map.size).toBe(model.size);
          expect(map.oldest()).toEqual(oldestOf(model));
          expect(map.queuedItems).toBeLessThanOrEqual(2 * map.size + queue_slack_items);
        }
        for (let key = 0; key <= keys_max; key++) expect(map.get(key)).toBe(model.get(key));
      }),
      { numRuns: 100 },
    );
  });

  test('a full map evicting its oldest on every write keeps its queue bounded over a million writes', () => {
    const map = new WriteOrderedMap<string, number>();
    for (let i = 0; i < 1_000_000; i++) {
      map.set(`pay_${i}`, i);
      if (map.size > 5_000) map.deleteOldest();
    }
    expect(map.size).toBe(5_000);
    expect(map.oldest()).toEqual({ key: 'pay_995000', value: 995_000 });
    expect(map.queuedItems).toBeLessThanOrEqual(2 * 5_000 + queue_slack_items);
  });

  test('ten keys written a million times keep a queue within twenty and the slack', () => {
    const map = new WriteOrderedMap<string, number>();
    for (let i = 0; i < 1_000_000; i++) map.set(`pay_${i % 10}`, i);
    expect(map.size).toBe(10);
    expect(map.oldest()).toEqual({ key: 'pay_0', value: 999_990 });
    expect(map.queuedItems).toBeLessThanOrEqual(2 * 10 + queue_slack_items);
  });
});
