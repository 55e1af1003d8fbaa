-- Reconciliation (src/recon/): runs per channel and China day, their differences, and the
-- holding pool of local successes a statement has not shown yet.

-- A refund's part paid back through an external channel, so a channel's refunds of a day can
-- be listed without reading orders. Refunds written before this migration have none.
ALTER TABLE refunds ADD COLUMN channel_flow_id TEXT;
ALTER TABLE refunds ADD COLUMN channel_amount BIGINT;
CREATE INDEX refunds_completed ON refunds (completed_at);
-- A channel's flows completed in a day (the local side of a statement).
CREATE INDEX flows_channel_completed ON flows (channel, completed_at);

CREATE TABLE recon_runs (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  date TEXT NOT NULL,
  status TEXT NOT NULL,
  source TEXT NOT NULL,
  counts JSONB NOT NULL,
  totals JSONB NOT NULL,
  error TEXT,
  lease_until BIGINT,
  created_at BIGINT NOT NULL,
  finished_at BIGINT,
  UNIQUE (channel, date)
);
CREATE INDEX recon_runs_date ON recon_runs (date, channel);

CREATE TABLE recon_diffs (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES recon_runs (id),
  kind TEXT NOT NULL,
  record_key TEXT NOT NULL,
  flow_id TEXT,
  refund_id TEXT,
  channel_trade_no TEXT,
  local JSONB,
  channel_row JSONB,
  resolution TEXT NOT NULL,
  note TEXT,
  resolved_by TEXT,
  resolved_at BIGINT,
  created_at BIGINT NOT NULL,
  UNIQUE (run_id, kind, record_key)
);
CREATE INDEX recon_diffs_open ON recon_diffs (created_at) WHERE resolution = 'open';

-- held: a local success of `date` no statement has shown yet (the holding pool); seen: a record
-- a statement of `date` showed before paycenter's own day for it (not to be held later).
CREATE TABLE recon_pending (
  channel TEXT NOT NULL,
  record_id TEXT NOT NULL,
  state TEXT NOT NULL,
  date TEXT NOT NULL,
  local JSONB NOT NULL,
  PRIMARY KEY (channel, record_id)
);
