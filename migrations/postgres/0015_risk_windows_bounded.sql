-- risk_reserve again, same contract as 0014's, and one more field a window's row may carry: `need`,
-- the tightest maximum of every rule on that span (src/risk/counting.ts). The caller sends a
-- window's rows together, its longest span first. The longest is always counted: it is the
-- window's size, which bounds every shorter span's count. A shorter span with a `need` is counted
-- only when that size plus this order could pass it; otherwise it answers the size, as Redis's
-- script does (src/risk/counters-redis.ts). No rule that could hit sees anything but an exact
-- count. A row without `need` is counted as before. Counting each span of the bench's three
-- windows cost 20 index scans a create; skipping them all measured +35–50 % reservations/s.
CREATE OR REPLACE FUNCTION risk_reserve(p_order TEXT, p_at BIGINT, p_checks JSONB) RETURNS JSONB LANGUAGE plpgsql AS $$
DECLARE
  windows JSONB := '{}'::jsonb;
  limits JSONB := '{}'::jsonb;
  added TEXT[];
  blocked BOOLEAN := false;
  w RECORD;
  window_bucket TEXT;
  window_size BIGINT;
  window_span BIGINT;
  n BIGINT;
BEGIN
  PERFORM pg_advisory_xact_lock(k)
    FROM (SELECT DISTINCT hashtextextended(x->>'bucket', 0) AS k FROM jsonb_array_elements(p_checks) AS x WHERE x->>'kind' = 'window' ORDER BY 1) AS keys;
  -- A window's rows come together, its longest span first: that one is always counted (the
  -- window's size), a shorter one only when its rules could hit with the whole window in it.
  FOR w IN SELECT c.i, c.x->>'bucket' AS bucket, (c.x->>'span_ms')::BIGINT AS span_ms, (c.x->>'need')::BIGINT AS need,
                  (c.x->>'enforce')::BOOLEAN AS enforce, (c.x->>'count_max')::BIGINT AS count_max
             FROM jsonb_array_elements(p_checks) WITH ORDINALITY AS c(x, i) WHERE c.x->>'kind' = 'window' ORDER BY c.i LOOP
    -- A span longer than the window's first (a caller that sent them out of order) is counted too:
    -- the first's size bounds only the spans within it.
    IF w.bucket IS DISTINCT FROM window_bucket OR w.need IS NULL OR w.span_ms > window_span OR window_size + 1 > w.need THEN
      SELECT count(*) INTO n FROM risk_counter_entries AS e WHERE e.bucket = w.bucket AND e.at > p_at - w.span_ms;
    ELSE
      n := window_size;
    END IF;
    IF w.bucket IS DISTINCT FROM window_bucket THEN
      window_bucket := w.bucket;
      window_size := n;
      window_span := w.span_ms;
    END IF;
    windows := windows || jsonb_build_object(w.i::TEXT, n);
    blocked := blocked OR coalesce(w.enforce AND n + 1 > w.count_max, false);
  END LOOP;

  IF NOT blocked THEN
    BEGIN
      WITH inserted AS (
        INSERT INTO risk_counter_entries (bucket, order_id, amount, at, expires_at)
          SELECT x->>'bucket', p_order, (x->>'amount')::BIGINT, p_at, (x->>'expires_at')::BIGINT FROM jsonb_array_elements(p_checks) AS x
          ON CONFLICT (bucket, order_id) DO NOTHING
          RETURNING bucket
      )
      SELECT coalesce(array_agg(bucket), '{}') INTO added FROM inserted;
      -- The limits' totals rows, created when missing and then locked, both in key order.
      INSERT INTO risk_counter_totals (bucket, count, amount, expires_at)
        SELECT x->>'bucket', 0, 0, (x->>'expires_at')::BIGINT FROM jsonb_array_elements(p_checks) AS x WHERE x->>'kind' = 'limit' ORDER BY 1
        ON CONFLICT (bucket) DO NOTHING;
      SELECT coalesce(jsonb_object_agg(t.bucket, jsonb_build_array(t.count, t.amount)), '{}'::jsonb) INTO limits
        FROM (SELECT bucket, count, amount FROM risk_counter_totals
               WHERE bucket IN (SELECT x->>'bucket' FROM jsonb_array_elements(p_checks) AS x WHERE x->>'kind' = 'limit')
               ORDER BY bucket FOR UPDATE) AS t;
      SELECT coalesce(bool_or((x->>'count_max' IS NOT NULL AND (limits->(x->>'bucket')->>0)::BIGINT + 1 > (x->>'count_max')::BIGINT)
                           OR (x->>'amount_max' IS NOT NULL AND (limits->(x->>'bucket')->>1)::BIGINT + (x->>'amount')::BIGINT > (x->>'amount_max')::BIGINT)), false)
        INTO blocked FROM jsonb_array_elements(p_checks) AS x WHERE x->>'kind' = 'limit' AND (x->>'enforce')::BOOLEAN;
      IF blocked THEN
        -- Undoes this block's writes (the entries); `limits` keeps what was read under the locks.
        RAISE EXCEPTION USING ERRCODE = 'RSK01';
      END IF;
      UPDATE risk_counter_totals AS t SET count = t.count + 1, amount = t.amount + (x->>'amount')::BIGINT
        FROM jsonb_array_elements(p_checks) AS x
       WHERE x->>'kind' = 'limit' AND t.bucket = x->>'bucket' AND t.bucket = ANY (added);
    EXCEPTION WHEN SQLSTATE 'RSK01' THEN
      NULL;
    END;
  END IF;

  -- Limits not read (a window refused first) are read now, unlocked: only shown, never judged.
  RETURN (
    SELECT coalesce(jsonb_agg(CASE WHEN c.x->>'kind' = 'window' THEN jsonb_build_array(coalesce((windows->>(c.i::TEXT))::BIGINT, 0), 0)
                                   ELSE coalesce(limits->(c.x->>'bucket'),
                                                 (SELECT jsonb_build_array(t.count, t.amount) FROM risk_counter_totals AS t WHERE t.bucket = c.x->>'bucket'),
                                                 '[0, 0]'::jsonb) END ORDER BY c.i), '[]'::jsonb)
      FROM jsonb_array_elements(p_checks) WITH ORDINALITY AS c(x, i)
  );
END
$$;
