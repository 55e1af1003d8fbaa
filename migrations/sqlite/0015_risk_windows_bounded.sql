-- Postgres's risk_reserve counts a window's shorter spans only when a rule on them could hit
-- (migrations/postgres/0015). SQLite has no such function (its counters live in the process), so
-- nothing changes here; the number is kept in step with Postgres's.
SELECT 1;
