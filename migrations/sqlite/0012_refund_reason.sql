-- Payment machine v2 keeps a finished refund's detail in its row, not in the order's snapshot
-- (issue 11, item 9): the row carries the merchant's reason. Rows written before take theirs
-- from the snapshot, which held every refund until now.
ALTER TABLE refunds ADD COLUMN reason TEXT;

UPDATE refunds SET reason = (
  SELECT json_extract(r.value, '$.reason')
  FROM orders o, json_each(o.snapshot, '$.context.refunds') r
  WHERE o.id = refunds.order_id AND json_extract(r.value, '$.id') = refunds.id
);
