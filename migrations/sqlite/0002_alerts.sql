-- Operator alerts: rows with a kind, raised by the engine's effects, notification delivery and
-- the features around the order; an operator acknowledges them (src/alerts/).
CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  payment_id TEXT,
  channel TEXT,
  created_at INTEGER NOT NULL,
  acked_at INTEGER,
  acked_by TEXT
);
-- Open alerts newest first (the console's list and the metrics gauge), and an order's alerts.
CREATE INDEX alerts_open ON alerts (id) WHERE acked_at IS NULL;
CREATE INDEX alerts_payment ON alerts (payment_id) WHERE payment_id IS NOT NULL;
