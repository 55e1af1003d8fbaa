-- Postgres's risk_reserve answers shared windows per check (migrations/postgres/0014). SQLite has
-- no such function (its counters live in the process), so nothing changes here; the number is
-- kept in step with Postgres's.
SELECT 1;
