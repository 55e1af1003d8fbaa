/**
 * The floor's SQLite writer thread (bench/floor/server.ts, bench/floor/payment-server.ts): the
 * least durable writes an order makes in paycenter's design, on their own connection, each message
 * (a batch of writes as JSON text) one `synchronous = FULL` transaction in WAL mode, answered with
 * the message's number.
 *   order: a new order with its snapshot, its journal rows (the create, and the pay when the create
 *     names a method), its deadline's timer, its nonce, and its flow (the channel's out_trade_no);
 *   step: a later event of the order — its snapshot where the version is still the one before, its
 *     journal row, and the merchant event it owes, if any;
 *   delivered: a merchant event that reached the merchant.
 */
import { openSqliteDatabase } from '../../src/store/sqlite-batch.ts';

declare const self: Worker;

/**
 * A journal row: the event (for a callback, its body as received) and the effects it asked for
 * (paycenter's `effectsOf` the transition's actions). Snapshots, events, effects and merchant
 * events travel as values inside the batch's JSON and are made column text here, as paycenter's
 * SQLite store does: text made on the main thread would be encoded twice there (escaped inside the
 * batch's JSON).
 */
export type FloorJournal = { event: unknown; effects: unknown };
export type FloorWrite =
  | {
    kind: 'order'; id: string; merchantId: string; merchantOrderNo: string; status: string; amount: number; snapshot: unknown; at: number;
    journal: FloorJournal[]; timerId: string; dueAt: number; nonce: string; nonceExpiresAt: number; flowId: string | null;
  }
  | { kind: 'step'; id: string; version: number; status: string; snapshot: unknown; at: number; journal: FloorJournal; merchantEvent: { id: string; body: unknown } | null }
  | { kind: 'delivered'; merchantEventId: string; at: number };
export type FloorBatch = { batch: number; json: string };

// The servers check FLOOR_DATABASE before starting this thread. paycenter's own connection
// settings: WAL, synchronous = FULL, its checkpoint interval.
const path = process.env.FLOOR_DATABASE;
if (!path) throw new Error('FLOOR_DATABASE is not set');
const db = openSqliteDatabase(path);
db.exec(`
  CREATE TABLE orders (id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, merchant_order_no TEXT NOT NULL, status TEXT NOT NULL,
    amount INTEGER NOT NULL, version INTEGER NOT NULL, snapshot TEXT NOT NULL, updated_at INTEGER NOT NULL,
    UNIQUE (merchant_id, merchant_order_no)) WITHOUT ROWID;
  CREATE TABLE journal (order_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, event TEXT NOT NULL, effects TEXT NOT NULL,
    PRIMARY KEY (order_id, seq)) WITHOUT ROWID;
  CREATE TABLE timers (id TEXT PRIMARY KEY, order_id TEXT NOT NULL, due_at INTEGER NOT NULL);
  CREATE INDEX timers_due ON timers (due_at);
  CREATE TABLE nonces (merchant_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (merchant_id, nonce)) WITHOUT ROWID;
  CREATE TABLE flows (id TEXT PRIMARY KEY, order_id TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE merchant_events (id TEXT PRIMARY KEY, order_id TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL, delivered_at INTEGER);
`);
const order = db.prepare('INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
const journal = db.prepare('INSERT INTO journal VALUES (?, ?, ?, ?, ?)');
const timer = db.prepare('INSERT INTO timers VALUES (?, ?, ?)');
const nonce = db.prepare('INSERT INTO nonces VALUES (?, ?, ?)');
const flow = db.prepare('INSERT INTO flows VALUES (?, ?)');
const step = db.prepare('UPDATE orders SET status = ?, version = ?, snapshot = ?, updated_at = ? WHERE id = ? AND version = ?');
const merchantEvent = db.prepare('INSERT INTO merchant_events VALUES (?, ?, ?, ?, NULL)');
const delivered = db.prepare('UPDATE merchant_events SET delivered_at = ? WHERE id = ?');

/** A column's text: a string is already one (a callback's body as received), anything else its JSON. */
const text = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

function write(w: FloorWrite): void {
  switch (w.kind) {
    case 'order':
      order.run(w.id, w.merchantId, w.merchantOrderNo, w.status, w.amount, w.journal.length, text(w.snapshot), w.at);
      w.journal.forEach((row, i) => journal.run(w.id, i + 1, w.at, text(row.event), text(row.effects)));
      timer.run(w.timerId, w.id, w.dueAt);
      nonce.run(w.merchantId, w.nonce, w.nonceExpiresAt);
      if (w.flowId !== null) flow.run(w.flowId, w.id);
      return;
    case 'step':
      if (step.run(w.status, w.version, text(w.snapshot), w.at, w.id, w.version - 1).changes !== 1) throw new Error(`order ${w.id} is not at version ${w.version - 1}`);
      journal.run(w.id, w.version, w.at, text(w.journal.event), text(w.journal.effects));
      if (w.merchantEvent) merchantEvent.run(w.merchantEvent.id, w.id, text(w.merchantEvent.body), w.at);
      return;
    case 'delivered':
      if (delivered.run(w.at, w.merchantEventId).changes !== 1) throw new Error(`no merchant event ${w.merchantEventId}`);
  }
}

const writeAll = db.transaction((writes: FloorWrite[]) => {
  for (const w of writes) write(w);
});

self.onmessage = (message: MessageEvent<FloorBatch>) => {
  writeAll.immediate(JSON.parse(message.data.json));
  postMessage(message.data.batch);
};
