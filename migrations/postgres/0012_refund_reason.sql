-- Payment machine v2 keeps a finished refund's detail in its row, not in the order's snapshot
-- (issue 11, item 9): the row carries the merchant's reason. Rows written before take theirs
-- from the snapshot, which held every refund until now.
ALTER TABLE refunds ADD COLUMN reason TEXT;

UPDATE refunds SET reason = r.reason
FROM orders o, jsonb_to_recordset(o.snapshot -> 'context' -> 'refunds') AS r(id text, reason text)
WHERE o.id = refunds.order_id AND r.id = refunds.id;
