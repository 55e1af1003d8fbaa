-- Risk center (API.md "Risk"): rules, lists and settings as data; counters; payers' paid history.

CREATE TABLE risk_rules (
  code TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  action TEXT NOT NULL,
  score INTEGER NOT NULL,
  status TEXT NOT NULL,
  params TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Bumped by every change to rules, lists or settings: an instance whose copy is old asks for
-- this number first and reads everything again only when it moved.
CREATE TABLE risk_generation (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n INTEGER NOT NULL
);
INSERT INTO risk_generation (id, n) VALUES (1, 0);

CREATE TABLE risk_list_entries (
  id TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  value TEXT NOT NULL,
  reason TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX risk_list_entries_subject ON risk_list_entries (subject, id);

CREATE TABLE risk_settings (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  review_at INTEGER NOT NULL,
  reject_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Counters live in Redis or, for a single SQLite instance, in memory seeded from the orders
-- (src/risk/counters-memory.ts): no tables here.

CREATE TABLE risk_paid_history (
  order_id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  region TEXT,
  paid_at INTEGER NOT NULL
);
CREATE INDEX risk_paid_history_user ON risk_paid_history (merchant_id, user_id, paid_at);
