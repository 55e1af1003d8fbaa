-- Risk center (API.md "Risk"): rules, lists and settings as data; counters; payers' paid history.

CREATE TABLE risk_rules (
  code TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  action TEXT NOT NULL,
  score INTEGER NOT NULL,
  status TEXT NOT NULL,
  params JSONB NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE risk_list_entries (
  id TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  value TEXT NOT NULL,
  reason TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX risk_list_entries_subject ON risk_list_entries (subject, id);

CREATE TABLE risk_settings (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  review_at INTEGER NOT NULL,
  reject_at INTEGER NOT NULL,
  updated_at BIGINT NOT NULL
);

-- One row per order counted in a bucket (a limit's period or a velocity's window): a release
-- deletes the order's row, so giving a share back twice is impossible. A limit's count and sum
-- are kept beside them in risk_counter_totals, changed in the same transaction, so a check reads
-- one row however many orders the period holds.
CREATE TABLE risk_counter_entries (
  bucket TEXT NOT NULL,
  order_id TEXT NOT NULL,
  amount BIGINT NOT NULL,
  at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (bucket, order_id)
);
CREATE INDEX risk_counter_entries_expires ON risk_counter_entries (expires_at);
CREATE INDEX risk_counter_entries_window ON risk_counter_entries (bucket, at);

CREATE TABLE risk_counter_totals (
  bucket TEXT PRIMARY KEY,
  count BIGINT NOT NULL,
  amount BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX risk_counter_totals_expires ON risk_counter_totals (expires_at);

CREATE TABLE risk_paid_history (
  order_id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  region TEXT,
  paid_at BIGINT NOT NULL
);
CREATE INDEX risk_paid_history_user ON risk_paid_history (merchant_id, user_id, paid_at);
