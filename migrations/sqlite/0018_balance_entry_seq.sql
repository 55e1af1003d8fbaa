-- A payer's entries are listed in the order they were committed (GET …/entries pages by it): by
-- `seq`, which the account's own row hands out in the statement that moves its balance, under
-- its lock. Entry ids are made before the commit, outside that lock, so pages by id could pass an
-- entry that committed after a later id was already listed — and skip it for good.
ALTER TABLE balance_accounts ADD COLUMN entries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE balance_entries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE balance_entries SET seq = (
  SELECT numbered.n FROM (
    SELECT id, row_number() OVER (PARTITION BY merchant_id, user_id, currency ORDER BY id) AS n FROM balance_entries
  ) AS numbered WHERE numbered.id = balance_entries.id
);
UPDATE balance_accounts SET entries = (
  SELECT count(*) FROM balance_entries e
  WHERE e.merchant_id = balance_accounts.merchant_id AND e.user_id = balance_accounts.user_id AND e.currency = balance_accounts.currency
);
DROP INDEX IF EXISTS balance_entries_payer;
CREATE UNIQUE INDEX balance_entries_seq ON balance_entries (merchant_id, user_id, currency, seq);
