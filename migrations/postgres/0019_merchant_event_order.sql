-- GET /v1/events pages a merchant's events in the order they become visible, not by id: ids are
-- made before the commit, so a later id could commit first and `after=` passed the earlier one
-- for good. On Postgres two instances' group commits are in flight at once, so no counter handed
-- out at insert is commit order either. Each row keeps the id of the transaction that wrote it;
-- a page lists only rows of transactions older than every write transaction of this database
-- still running (read from pg_stat_activity), ordered by (writer_xid, id): a row that becomes
-- visible later always sorts after them.
ALTER TABLE merchant_events ADD COLUMN writer_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
DROP INDEX IF EXISTS merchant_events_merchant;
CREATE INDEX merchant_events_merchant_order ON merchant_events (merchant_id, writer_xid, id);
