/**
 * The client's types cannot drift from the server: the generated module must equal what the
 * served /openapi.json renders to now, every /v1 operation must have a client method, and the
 * error codes must be the ones the server maps. After changing a route or schema on purpose,
 * run `bun run client:types`.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { balance_operations, client_operations } from '../../src/client/client.ts';
import { error_codes, v1_operations } from '../../src/client/openapi.generated.ts';
import { errorStatus } from '../../src/http/errors.ts';
import { generated_path, renderClientTypes } from '../../scripts/client-types.ts';
import { type Booted, bootPaycenter } from '../http/harness.ts';

let booted: Booted;
let doc: any;
beforeAll(async () => {
  booted = await bootPaycenter('sqlite');
  doc = await (await fetch(`${booted.url}/openapi.json`)).json();
});
afterAll(() => booted?.stop());

test('src/client/openapi.generated.ts is what the served document renders to (else: bun run client:types)', () => {
  expect(readFileSync(generated_path, 'utf8')).toBe(renderClientTypes(doc));
});

test('every /v1 operation the server documents has a client method, and none is made up', () => {
  const balances: string[] = Object.values(balance_operations);
  const served = v1_operations.filter((op) => !balances.includes(op));
  expect([...Object.values(client_operations)].sort()).toEqual([...served].sort());
  // The balance routes (API.md v1.1) are typed from API.md; once served, they must be exactly these.
  const servedBalances: string[] = v1_operations.filter((op) => / \/v1\/balances\//.test(op));
  if (servedBalances.length > 0) expect([...servedBalances].sort()).toEqual([...balances].sort());
});

test('the client knows exactly the error codes the server maps', () => {
  expect([...error_codes].sort() as string[]).toEqual(Object.keys(errorStatus).sort());
});

test('the redeliver route is documented for merchants', () => {
  const op = doc.paths['/v1/events/{id}/redeliver']?.post;
  expect(op?.security).toEqual([{ merchantSignature: [] }]);
  expect(op?.description).toContain('404');
});
