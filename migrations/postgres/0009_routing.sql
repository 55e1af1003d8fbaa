-- Routing (API.md "Routing, channel health and failover"): a channel's fee rate, a merchant's
-- strategy, the breaker of each channel when there is no Redis to hold it, and every breaker
-- transition with its reason (kept in the store with or without Redis: operators read them).
ALTER TABLE channels ADD COLUMN fee_rate TEXT NOT NULL DEFAULT '0';
ALTER TABLE merchants ADD COLUMN routing TEXT NOT NULL DEFAULT 'smart';

CREATE TABLE channel_breakers (
  code TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  forced BOOLEAN NOT NULL,
  opened_at BIGINT,
  since BIGINT NOT NULL,
  version BIGINT NOT NULL,
  probe_until BIGINT NOT NULL
);

CREATE TABLE breaker_transitions (
  id TEXT PRIMARY KEY,
  code TEXT NOT NULL,
  at BIGINT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX breaker_transitions_by_code ON breaker_transitions (code, at);

-- Health and breakers in Redis are keyed under this database's own random scope: two paycenters
-- (or two test databases) sharing a Redis never mix channels that happen to share a code.
CREATE TABLE routing_scope (id TEXT NOT NULL);
INSERT INTO routing_scope (id) VALUES (substr(md5(random()::text || clock_timestamp()::text), 1, 16));
