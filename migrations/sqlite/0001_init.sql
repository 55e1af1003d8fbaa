-- paycenter schema v1 (SQLite). Times are Unix epoch milliseconds; money is integer minor units.

CREATE TABLE orders (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  merchant_order_no TEXT NOT NULL,
  status TEXT NOT NULL,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  paid_amount INTEGER NOT NULL,
  refunded_amount INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  machine_version INTEGER NOT NULL,
  version INTEGER NOT NULL,
  snapshot TEXT NOT NULL,
  UNIQUE (merchant_id, merchant_order_no)
);
CREATE INDEX orders_status_expires ON orders (status, expires_at);
CREATE INDEX orders_merchant_created ON orders (merchant_id, created_at);

CREATE TABLE flows (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders (id),
  method TEXT NOT NULL,
  channel TEXT NOT NULL,
  amount INTEGER NOT NULL,
  status TEXT NOT NULL,
  channel_trade_no TEXT,
  created_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX flows_order ON flows (order_id);
CREATE INDEX flows_channel_created ON flows (channel, created_at);

CREATE TABLE refunds (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders (id),
  merchant_id TEXT NOT NULL,
  refund_no TEXT,
  amount INTEGER NOT NULL,
  status TEXT NOT NULL,
  automatic INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  completed_at INTEGER,
  UNIQUE (order_id, refund_no)
);

CREATE TABLE journal (
  order_id TEXT NOT NULL REFERENCES orders (id),
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  state_before TEXT,
  state_after TEXT,
  effects TEXT NOT NULL,
  PRIMARY KEY (order_id, seq)
) WITHOUT ROWID;

CREATE TABLE outbox (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders (id),
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  lease_until INTEGER,
  completed_at INTEGER
);
CREATE INDEX outbox_order ON outbox (order_id);
CREATE INDEX outbox_status_due ON outbox (status, due_at);

CREATE TABLE timers (
  order_id TEXT NOT NULL REFERENCES orders (id),
  key TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  event TEXT NOT NULL,
  lease_until INTEGER,
  PRIMARY KEY (order_id, key)
) WITHOUT ROWID;
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE merchant_events (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  order_id TEXT NOT NULL REFERENCES orders (id),
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  delivered_at INTEGER
);
CREATE INDEX merchant_events_merchant ON merchant_events (merchant_id, id);
CREATE INDEX merchant_events_order ON merchant_events (order_id);

CREATE TABLE notification_attempts (
  id TEXT PRIMARY KEY,
  event_id TEXT NOT NULL REFERENCES merchant_events (id),
  attempted_at INTEGER NOT NULL,
  http_status INTEGER,
  error TEXT,
  duration_ms INTEGER NOT NULL
);
CREATE INDEX notification_attempts_event ON notification_attempts (event_id);

CREATE TABLE merchants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  secret_enc TEXT NOT NULL,
  notify_url TEXT,
  methods TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE channels (
  code TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  methods TEXT NOT NULL,
  currencies TEXT NOT NULL,
  weight INTEGER NOT NULL,
  single_limit INTEGER,
  daily_limit INTEGER,
  status TEXT NOT NULL,
  config_enc TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE callback_log (
  id TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  channel_code TEXT NOT NULL,
  headers TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  verified INTEGER,
  order_id TEXT,
  flow_id TEXT,
  outcome TEXT
);
CREATE INDEX callback_log_order ON callback_log (order_id);

CREATE TABLE nonces (
  merchant_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (merchant_id, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_expires ON nonces (expires_at);
