-- risk_reserve again, same contract as 0013's. What changed: velocity windows on one subject
-- share one counter (src/risk/evaluate.ts, compileRule), each rule counting the orders of its own
-- span, so what a window held is now answered per check (by its place in p_checks), not per
-- counter. The entries of a shared window are written once, with the latest expiry its rules ask
-- for (the caller sends each check its counter's). Locks, order and the rest are 0013's.
CREATE OR REPLACE FUNCTION risk_reserve(p_order TEXT, p_at BIGINT, p_checks JSONB) RETURNS JSONB LANGUAGE plpgsql AS $$
DECLARE
  windows JSONB;
  limits JSONB := '{}'::jsonb;
  added TEXT[];
  blocked BOOLEAN;
BEGIN
  PERFORM pg_advisory_xact_lock(k)
    FROM (SELECT DISTINCT hashtextextended(x->>'bucket', 0) AS k FROM jsonb_array_elements(p_checks) AS x WHERE x->>'kind' = 'window' ORDER BY 1) AS keys;
  SELECT coalesce(jsonb_object_agg(s.i::TEXT, s.n), '{}'::jsonb),
         coalesce(bool_or(s.enforce AND s.n + 1 > s.count_max), false)
    INTO windows, blocked
    FROM (SELECT c.i, (c.x->>'enforce')::BOOLEAN AS enforce, (c.x->>'count_max')::BIGINT AS count_max,
                 (SELECT count(*) FROM risk_counter_entries AS e WHERE e.bucket = c.x->>'bucket' AND e.at > p_at - (c.x->>'span_ms')::BIGINT) AS n
            FROM jsonb_array_elements(p_checks) WITH ORDINALITY AS c(x, i) WHERE c.x->>'kind' = 'window') AS s;

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
