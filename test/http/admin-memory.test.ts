/**
 * GET /admin/memory: an operator's (and the lifecycle soak bench's) look at this instance's
 * memory, optionally after a full collection: garbage let go of between two collected readings
 * does not show, so a heap that grows there is kept memory.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Booted, adminCall, bootPaycenter } from './harness.ts';

/** ~20 MB of objects, kept while `kept` refers to them (made in a frame of their own, so no stack slot keeps them after). */
let kept: unknown[] | null = null;
function keepGarbage(): void {
  kept = Array.from({ length: 200_000 }, (_, i) => ({ i, text: `garbage ${i}` }));
}

describe('GET /admin/memory', () => {
  let booted: Booted;
  beforeAll(async () => {
    booted = await bootPaycenter('sqlite');
  });
  afterAll(() => booted?.stop());

  test('answers the instance’s memory to an operator, and only to an operator', async () => {
    const answer = await adminCall(booted.url, 'GET', '/admin/memory');
    expect(answer.status).toBe(200);
    expect(answer.body.rss_bytes).toBeGreaterThan(answer.body.heap_used_bytes);
    expect(answer.body.heap_used_bytes).toBeGreaterThan(0);
    expect((await adminCall(booted.url, 'GET', '/admin/memory', undefined, 'adm_wrong_0123456789abcdef')).status).toBe(401);
  });

  test('collect=true measures after a full collection: what is kept counts, what was let go of does not', async () => {
    // Memory of this process stands in for the server's here, which runs in this process too.
    const heap = async () => (await adminCall(booted.url, 'GET', '/admin/memory?collect=true')).body.heap_used_bytes;
    const baseline = await heap();
    keepGarbage();
    const withKept = await heap();
    kept = null;
    const letGo = await heap();
    expect(withKept).toBeGreaterThan(baseline + 10_000_000);
    expect(letGo).toBeLessThan(withKept - 10_000_000);
  });

  test('an unknown collect value is refused by name', async () => {
    const answer = await adminCall(booted.url, 'GET', '/admin/memory?collect=yes');
    expect(answer.status).toBe(400);
    expect(answer.body.error.field).toBe('collect');
  });
});
