-- paycenter schema v1 (Postgres). Times are Unix epoch milliseconds; money is integer minor units.

CREATE TABLE orders (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  merchant_order_no TEXT NOT NULL,
  status TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  paid_amount BIGINT NOT NULL,
  refunded_amount BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  machine_version INTEGER NOT NULL,
  version INTEGER NOT NULL,
  snapshot JSONB NOT NULL,
  UNIQUE (merchant_id, merchant_order_no)
);
CREATE INDEX orders_status_expires ON orders (status, expires_at);
CREATE INDEX orders_merchant_created ON orders (merchant_id, created_at);

CREATE TABLE flows (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders (id),
  method TEXT NOT NULL,
  channel TEXT NOT NULL,
  amount BIGINT NOT NULL,
  status TEXT NOT NULL,
  channel_trade_no TEXT,
  created_at BIGINT NOT NULL,
  completed_at BIGINT
);
CREATE INDEX flows_order ON flows (order_id);
CREATE INDEX flows_channel_created ON flows (channel, created_at);

CREATE TABLE refunds (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders (id),
  merchant_id TEXT NOT NULL,
  refund_no TEXT,
  amount BIGINT NOT NULL,
  status TEXT NOT NULL,
  automatic BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL,
  completed_at BIGINT,
  UNIQUE (order_id, refund_no)
);

CREATE TABLE journal (
  order_id TEXT NOT NULL REFERENCES orders (id),
  seq BIGINT NOT NULL,
  at BIGINT NOT NULL,
  event JSONB NOT NULL,
  state_before JSONB,
  state_after JSONB,
  effects JSONB NOT NULL,
  PRIMARY KEY (order_id, seq)
);

CREATE TABLE outbox (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders (id),
  kind TEXT NOT NULL,
  payload JSONB NOT NULL,
  created_at BIGINT NOT NULL,
  due_at BIGINT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  lease_until BIGINT,
  completed_at BIGINT
);
CREATE INDEX outbox_order ON outbox (order_id);
CREATE INDEX outbox_status_due ON outbox (status, due_at);

CREATE TABLE timers (
  order_id TEXT NOT NULL REFERENCES orders (id),
  key TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  event JSONB NOT NULL,
  lease_until BIGINT,
  PRIMARY KEY (order_id, key)
);
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE merchant_events (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  order_id TEXT NOT NULL REFERENCES orders (id),
  type TEXT NOT NULL,
  data JSONB NOT NULL,
  created_at BIGINT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  delivered_at BIGINT
);
CREATE INDEX merchant_events_merchant ON merchant_events (merchant_id, id);
CREATE INDEX merchant_events_order ON merchant_events (order_id);

CREATE TABLE notification_attempts (
  id TEXT PRIMARY KEY,
  event_id TEXT NOT NULL REFERENCES merchant_events (id),
  attempted_at BIGINT NOT NULL,
  http_status INTEGER,
  error TEXT,
  duration_ms BIGINT NOT NULL
);
CREATE INDEX notification_attempts_event ON notification_attempts (event_id);

CREATE TABLE merchants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  secret_enc TEXT NOT NULL,
  notify_url TEXT,
  methods JSONB NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE channels (
  code TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  methods JSONB NOT NULL,
  currencies JSONB NOT NULL,
  weight INTEGER NOT NULL,
  single_limit BIGINT,
  daily_limit BIGINT,
  status TEXT NOT NULL,
  config_enc TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE callback_log (
  id TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  channel_code TEXT NOT NULL,
  headers JSONB NOT NULL,
  body TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  verified BOOLEAN,
  order_id TEXT,
  flow_id TEXT,
  outcome TEXT
);
CREATE INDEX callback_log_order ON callback_log (order_id);

CREATE TABLE nonces (
  merchant_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, nonce)
);
CREATE INDEX nonces_expires ON nonces (expires_at);
