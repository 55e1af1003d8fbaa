-- Two indexes on orders that no query reads: nothing looks orders up by expiry (timers close
-- them) or by merchant and creation time (merchant lists go by id, orders_merchant_id). Every
-- create wrote both, and a status change is never a HOT update (status is indexed): each one
-- added an entry to both as well (docs/benchmarks.md, lifecycle "Session 13").
DROP INDEX IF EXISTS orders_status_expires;
DROP INDEX IF EXISTS orders_merchant_created;
