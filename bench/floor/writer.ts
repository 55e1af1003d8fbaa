/**
 * The floor's SQLite writer thread (bench/floor/server.ts): the least durable write a create
 * makes in paycenter's design — the order with its snapshot, its journal row, its deadline's
 * timer and its nonce — on its own connection, each message (a batch of creates as JSON text) one
 * `synchronous = FULL` transaction in WAL mode, answered with the message's number.
 */
import { openSqliteDatabase } from '../../src/store/sqlite-batch.ts';

declare const self: Worker;

/** One create's rows. */
export type FloorRow = {
  id: string; merchantId: string; merchantOrderNo: string; amount: number; snapshot: string; at: number;
  event: string; effects: string; timerId: string; dueAt: number; nonce: string; nonceExpiresAt: number;
};
export type FloorBatch = { batch: number; json: string };

// The server checked FLOOR_DATABASE before starting this thread. paycenter's own connection
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
`);
const order = db.prepare(`INSERT INTO orders VALUES (?, ?, ?, 'created', ?, 1, ?, ?)`);
const journal = db.prepare('INSERT INTO journal VALUES (?, 1, ?, ?, ?)');
const timer = db.prepare('INSERT INTO timers VALUES (?, ?, ?)');
const nonce = db.prepare('INSERT INTO nonces VALUES (?, ?, ?)');
const writeAll = db.transaction((rows: FloorRow[]) => {
  for (const row of rows) {
    order.run(row.id, row.merchantId, row.merchantOrderNo, row.amount, row.snapshot, row.at);
    journal.run(row.id, row.at, row.event, row.effects);
    timer.run(row.timerId, row.id, row.dueAt);
    nonce.run(row.merchantId, row.nonce, row.nonceExpiresAt);
  }
});

self.onmessage = (message: MessageEvent<FloorBatch>) => {
  writeAll.immediate(JSON.parse(message.data.json));
  postMessage(message.data.batch);
};
