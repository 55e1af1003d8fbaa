/**
 * The compact index of a day's records (src/recon/day-index.ts, key-table.ts): every key found in
 * its slot and nothing else found, through growth and with any characters; a key never added
 * twice; a full index says so; the records no line showed come back whole; passes split keys
 * without overlap.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { DayIndex, passOf, passesFor } from '../../src/recon/day-index.ts';
import { KeyTable } from '../../src/recon/key-table.ts';

/** Mostly ASCII keys (as ids are), sometimes any code units at all (the arena widens for them). */
const anyKey = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) });

describe('the key table', () => {
  test('property: every key added is found in its slot and reads back; other keys are not found', () => {
    const seed = Date.now() % 2 ** 31;
    console.log(`the key table property's seed: ${seed}`);
    fc.assert(
      fc.property(fc.uniqueArray(anyKey, { maxLength: 3000, size: 'large' }), fc.array(anyKey, { maxLength: 50 }), (keys, others) => {
        const table = new KeyTable();
        keys.forEach((key, i) => expect(table.add(key)).toBe(i));
        expect(table.size).toBe(keys.length);
        keys.forEach((key, i) => {
          expect(table.find(key)).toBe(i);
          expect(table.keyAt(i)).toBe(key);
        });
        for (const other of others) expect(table.find(other)).toBe(keys.indexOf(other));
      }),
      { seed, numRuns: 60 },
    );
  });

  test('through many growths (table, slots and arena), 50,000 ids are each found in their slot', () => {
    const table = new KeyTable();
    const keys = Array.from({ length: 50_000 }, (_, i) => `flw_${String(i * 7919).padStart(26, '0')}`);
    for (const key of keys) table.add(key);
    expect(keys.every((key, i) => table.find(key) === i && table.keyAt(i) === key)).toBe(true);
    expect(table.find('flw_missing')).toBe(-1);
  });

  test('a key beyond Latin-1 after thousands of ASCII ones widens the arena: every key before and after it still found and read back', () => {
    const table = new KeyTable();
    const keys = [...Array.from({ length: 5_000 }, (_, i) => `flw_${i}`), '退款_Ā', 'é_latin1', '😀', ...Array.from({ length: 5_000 }, (_, i) => `rfd_${i}`)];
    for (const key of keys) table.add(key);
    expect(keys.every((key, i) => table.find(key) === i && table.keyAt(i) === key)).toBe(true);
    // A wide key whose code units' low bytes spell an ASCII key: one byte per unit would mistake them.
    expect(table.find(String.fromCharCode(0x166, 0x16c, 0x177, 0x15f, 0x130))).toBe(-1);
  });

  test('a key added twice is a bug, not a second slot', () => {
    const table = new KeyTable();
    table.add('flw_A');
    expect(() => table.add('flw_A')).toThrow('added twice');
  });
});

describe('the day index', () => {
  const facts = (key: string, amount: number, kind: 'payment' | 'refund' = 'payment', status = 'succeeded') => ({ key, kind, amount, status });

  test('facts by key; a shown record is not found again; the unshown come back with their kind; a full index refuses more', () => {
    const index = new DayIndex(3);
    expect(index.add(facts('flw_A', 100))).toBe(true);
    expect(index.add(facts('rfd_B', 30, 'refund'))).toBe(true);
    expect(index.add(facts('flw_C', 250, 'payment', 'refunded'))).toBe(true);
    expect(index.add(facts('flw_D', 1))).toBe(false);
    const a = index.unshownSlot('flw_A');
    expect(index.factsAt(a)).toEqual({ amount: 100, status: 'succeeded' });
    expect(index.factsAt(index.unshownSlot('flw_C'))).toEqual({ amount: 250, status: 'refunded' });
    expect(index.unshownSlot('flw_D')).toBe(-1);
    index.markShown(a);
    expect(index.unshownSlot('flw_A')).toBe(-1);
    expect([...index.unshown()]).toEqual([{ key: 'rfd_B', kind: 'refund' }, { key: 'flw_C', kind: 'payment' }]);
  });

  test('passes split keys into disjoint shares that cover them all', () => {
    const keys = Array.from({ length: 4000 }, (_, i) => `flw_${i}`);
    const shares = [0, 1, 2, 3].map((pass) => keys.filter((key) => passOf(key, 4) === pass));
    expect(shares.flat().sort()).toEqual([...keys].sort());
    for (const share of shares) expect(share.length).toBeGreaterThan(800);
    expect(keys.every((key) => passOf(key, 1) === 0)).toBe(true);
  });

  test('a day that overflowed one pass gets the passes its records need, with room for uneven shares, at once', () => {
    expect(passesFor(3_000_000, 1_000_000, 1)).toBe(4);
    expect(passesFor(1_600_000, 1_000_000, 1)).toBe(2);
    expect(passesFor(1_700_000, 1_000_000, 1)).toBe(4);
    // Always more than were tried, even when the count says fewer would do (a share was unlucky).
    expect(passesFor(1_000, 1_000_000, 4)).toBe(8);
  });
});
