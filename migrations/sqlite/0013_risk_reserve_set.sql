-- Postgres's risk_reserve became set-based (migrations/postgres/0013). SQLite has no such
-- function (its counters live in the process), so nothing changes here; the number is kept in
-- step with Postgres's.
SELECT 1;
