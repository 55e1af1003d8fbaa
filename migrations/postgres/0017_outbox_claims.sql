-- How many times an outbox row has been claimed or queued again. A delivery attempt's result is
-- written only while the row's count is still the one its claim read: a redelivery asked while an
-- attempt was in flight counts one more, and that attempt's result then leaves the row as the
-- redelivery set it.
ALTER TABLE outbox ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
