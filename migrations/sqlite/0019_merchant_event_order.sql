-- GET /v1/events pages a merchant's events in the order they were committed, not by id: ids are
-- made before the commit, so a later id could commit first and `after=` passed the earlier one
-- for good. SQLite has one writer, so a number handed out at insert is commit order: `seq`, one
-- more than the largest (rowids would do, but VACUUM may renumber them). Existing rows are
-- numbered by id.
ALTER TABLE merchant_events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE merchant_events SET seq = (
  SELECT numbered.n FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM merchant_events) AS numbered
  WHERE numbered.id = merchant_events.id
);
DROP INDEX IF EXISTS merchant_events_merchant;
CREATE UNIQUE INDEX merchant_events_seq ON merchant_events (seq);
CREATE INDEX merchant_events_merchant_seq ON merchant_events (merchant_id, seq);
