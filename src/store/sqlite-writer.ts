/**
 * The SQLite writer thread. bun:sqlite is synchronous: a commit's statements and its fsync
 * would block the event loop that serves HTTP and runs transitions. Here they block only this
 * thread. The main thread keeps its own connection for reads (WAL lets them run meanwhile) and
 * sees each batch once this thread has answered that it committed.
 *
 * Protocol: { path } → { ready }, then { id, json } → { id, outcome } or { id, error, bug },
 * where json is the JSON text of { batch } (outcome: its BatchOutcome) or of { sideWrites }
 * (outcome: one SideOutcome per side write), and { close } → { closed } once its connection is
 * closed. Work travels as JSON text because structured cloning a batch of order write sets costs
 * the event loop several times what JSON.stringify does (measured: ~16 µs against ~3 µs a write).
 */
import { BatchWriter, openSqliteDatabase, type SideStatement } from './sqlite-batch.ts';
import { AssertionError } from '../failures.ts';
import type { Batch } from './store.ts';

declare const self: Worker;

let writer: BatchWriter | null = null;

type Message = { path: string } | { close: true } | { id: number; json: string };
type Work = { batch: Batch } | { sideWrites: SideStatement[][] };

self.onmessage = (message: MessageEvent<Message>) => {
  const data = message.data;
  if ('path' in data) {
    writer = new BatchWriter(openSqliteDatabase(data.path));
    self.postMessage({ ready: true });
    return;
  }
  if ('close' in data) {
    writer?.close();
    writer = null;
    self.postMessage({ closed: true });
    return;
  }
  try {
    if (!writer) throw new AssertionError('batch before open');
    const work: Work = JSON.parse(data.json);
    self.postMessage({ id: data.id, outcome: 'batch' in work ? writer.commitBatch(work.batch) : writer.sideWrites(work.sideWrites) });
  } catch (error) {
    // A broken assertion stays a bug across the thread boundary; anything else is SQLite's.
    self.postMessage({ id: data.id, error: String((error as Error)?.stack ?? error), bug: error instanceof AssertionError });
  }
};
