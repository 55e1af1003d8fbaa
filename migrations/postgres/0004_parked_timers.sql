-- Timers whose firing hit a bug (not a dependency failure): moved out of `timers`, so no tick
-- fires them again, until an operator re-arms them (POST /admin/parked/timers/{order}/{key}/retry).
-- Parked outbox rows need no table: they keep their row with status 'parked'.
CREATE TABLE parked_timers (
  order_id TEXT NOT NULL REFERENCES orders (id),
  key TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  event JSONB NOT NULL,
  error TEXT NOT NULL,
  parked_at BIGINT NOT NULL,
  PRIMARY KEY (order_id, key)
);
CREATE INDEX parked_timers_parked_at ON parked_timers (parked_at);
