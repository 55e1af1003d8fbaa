/** Repeated JSON keys (src/http/json-keys.ts): found at any depth, by meaning, never inside strings. */
import { expect, test } from 'bun:test';
import fc from 'fast-check';
import { duplicateKeyOf } from '../../src/http/json-keys.ts';

test.each([
  ['{"a":1,"b":2}', null],
  ['{"amount":"1.00","subject":"x","amount":"99999.00"}', 'amount'],
  ['{"metadata":{"n":1,"n":2}}', 'metadata.n'],
  ['{"parts":[{"m":1},{"m":1,"m":2}]}', 'parts.1.m'],
  ['{"a":1,"\\u0061":2}', 'a'],
  ['{ "a" : 1 , "a"\n:\t2 }', 'a'],
  ['{"a":"\\"a\\":1","b":"\\\\","a":3}', 'a'],
  ['{"s":"{\\"a\\":1,\\"a\\":2}"}', null],
  ['{"x":{"a":1},"y":{"a":1}}', null],
  ['[{"a":1},{"a":1}]', null],
  ['"a"', null],
])('%s → %p', (text, expected) => {
  expect(duplicateKeyOf(text)).toBe(expected);
});

test('agrees with JSON.parse on any JSON without repeats (property)', () => {
  const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000);
  console.log(`fast-check seed ${seed}`);
  fc.assert(fc.property(fc.jsonValue(), (value) => duplicateKeyOf(JSON.stringify(value)) === null), { seed, numRuns: 500 });
});
