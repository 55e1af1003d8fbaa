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

-- Bumped by every change to rules, lists or settings: an instance whose copy is old asks for
-- this number first and reads everything again only when it moved.
CREATE TABLE risk_generation (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n BIGINT NOT NULL
);
INSERT INTO risk_generation (id, n) VALUES (1, 0);

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

-- A reservation in one round trip: lock the order's buckets (sorted, so two reservations never
-- deadlock), read what each holds, and — unless a rejecting one would be exceeded — count the
-- order in all of them. Returns what each bucket held before, as [[count, amount], …]; the caller
-- judges with the same rule (src/risk/evaluate.ts counterHit) which way it went.
CREATE FUNCTION risk_reserve(p_order TEXT, p_at BIGINT, p_checks JSONB) RETURNS JSONB LANGUAGE plpgsql AS $$
DECLARE
  c JSONB;
  b TEXT;
  n BIGINT;
  a BIGINT;
  seen JSONB := '[]'::jsonb;
  blocked BOOLEAN := false;
BEGIN
  FOR b IN SELECT DISTINCT x->>'bucket' FROM jsonb_array_elements(p_checks) AS x ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(b, 0));
  END LOOP;
  FOR c IN SELECT * FROM jsonb_array_elements(p_checks) LOOP
    IF c->>'kind' = 'window' THEN
      SELECT count(*) INTO n FROM risk_counter_entries WHERE bucket = c->>'bucket' AND at > p_at - (c->>'span_ms')::BIGINT;
      a := 0;
    ELSE
      SELECT t.count, t.amount INTO n, a FROM risk_counter_totals AS t WHERE t.bucket = c->>'bucket';
      n := coalesce(n, 0);
      a := coalesce(a, 0);
    END IF;
    seen := seen || jsonb_build_array(jsonb_build_array(n, a));
    IF (c->>'enforce')::BOOLEAN AND (
         (c->>'count_max' IS NOT NULL AND n + 1 > (c->>'count_max')::BIGINT)
      OR (c->>'amount_max' IS NOT NULL AND a + (c->>'amount')::BIGINT > (c->>'amount_max')::BIGINT)) THEN
      blocked := true;
    END IF;
  END LOOP;
  IF blocked THEN
    RETURN seen;
  END IF;
  FOR c IN SELECT * FROM jsonb_array_elements(p_checks) LOOP
    INSERT INTO risk_counter_entries (bucket, order_id, amount, at, expires_at)
      VALUES (c->>'bucket', p_order, (c->>'amount')::BIGINT, p_at, (c->>'expires_at')::BIGINT)
      ON CONFLICT (bucket, order_id) DO NOTHING;
    IF FOUND AND c->>'kind' = 'limit' THEN
      INSERT INTO risk_counter_totals (bucket, count, amount, expires_at)
        VALUES (c->>'bucket', 1, (c->>'amount')::BIGINT, (c->>'expires_at')::BIGINT)
        ON CONFLICT (bucket) DO UPDATE SET count = risk_counter_totals.count + 1, amount = risk_counter_totals.amount + excluded.amount;
    END IF;
  END LOOP;
  RETURN seen;
END
$$;
