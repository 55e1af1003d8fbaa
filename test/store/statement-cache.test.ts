/** The SQLite connections' prepared statements are kept up to a bound, the least recently used finalized first. */
import { Database } from 'bun:sqlite';
import { expect, test } from 'bun:test';
import { StatementCache } from '../../src/store/statement-cache.ts';

test('at most `max` statements stay prepared; the least recently used is finalized, a used one stays', () => {
  const db = new Database(':memory:');
  const cache = new StatementCache(db, 3);
  const first = cache.get('SELECT 1 AS n');
  for (const n of [2, 3]) cache.get(`SELECT ${n} AS n`);
  expect(cache.get('SELECT 1 AS n')).toBe(first); // now the most recently used
  const second = cache.get('SELECT 2 AS n');
  cache.get('SELECT 4 AS n'); // evicts `SELECT 3`, the least recently used
  expect(cache.size).toBe(3);
  expect(cache.get('SELECT 1 AS n')).toBe(first);
  expect(cache.get('SELECT 2 AS n')).toBe(second);
  expect(first.get()).toEqual({ n: 1 });
  const third = cache.get('SELECT 3 AS n'); // prepared again, evicting `SELECT 4`
  expect(third.get()).toEqual({ n: 3 });
  expect(cache.size).toBe(3);
  cache.finalize();
  expect(cache.size).toBe(0);
  db.close(true);
});

test('an evicted statement is finalized, not left holding its connection', () => {
  const db = new Database(':memory:');
  const cache = new StatementCache(db, 1);
  const evicted = cache.get('SELECT 1 AS n');
  cache.get('SELECT 2 AS n');
  expect(() => evicted.get()).toThrow();
  cache.finalize();
  db.close(true);
});
