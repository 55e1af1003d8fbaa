/**
 * SQLite's writer thread ending (killed, out of memory) is a store that cannot write: /readyz's
 * ping fails from then on (it answered ready while every write failed), and a write fails at once
 * as the store's failure instead of waiting for an answer that never comes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { DependencyError } from '../../src/failures.ts';
import { orderRow, writeOf } from './fixtures.ts';
import { type FreshStore, freshStore } from './stores.ts';

/** How long the thread's end takes to be heard, at most. */
const ended_heard_ms = 5_000;

describe('the SQLite writer thread, ended', () => {
  let fresh: FreshStore;
  beforeAll(async () => {
    fresh = await freshStore('sqlite');
  });
  afterAll(() => fresh?.dispose());

  test('fails the ping and every write from then on', async () => {
    expect(await fresh.store.commit([writeOf(orderRow(1))])).toEqual(['committed']);
    await fresh.store.ping();
    // Fault injection: the thread is ended from outside, as the system would end it.
    (fresh.store as unknown as { writer: { worker: Worker } }).writer.worker.terminate();
    const started = Date.now();
    let pinged: unknown = null;
    while (pinged === null && Date.now() - started < ended_heard_ms) {
      pinged = await fresh.store.ping().then(() => null, (error: unknown) => error);
      if (pinged === null) await Bun.sleep(20);
    }
    expect(pinged).toBeInstanceOf(DependencyError);
    const written = await fresh.store.commit([writeOf(orderRow(1))]).then(() => null, (error: unknown) => error);
    expect(written).toBeInstanceOf(DependencyError);
  });
});
