-- Payer balances (API.md "Payer balances"): a double-entry ledger. Money is integer minor units.
-- Accounts per payer hold the stored balances; every change is an entry whose postings sum to zero.

CREATE TABLE balance_accounts (
  merchant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  available BIGINT NOT NULL CHECK (available >= 0),
  frozen BIGINT NOT NULL CHECK (frozen >= 0),
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, user_id, currency)
);

CREATE TABLE balance_entries (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  kind TEXT NOT NULL,
  amount BIGINT NOT NULL CHECK (amount > 0),
  available_after BIGINT NOT NULL,
  frozen_after BIGINT NOT NULL,
  payment_id TEXT,
  refund_id TEXT,
  reference TEXT,
  reason TEXT,
  freeze_id TEXT,
  -- What makes the entry happen once: credit:<credit_no>, debit:<debit_no>, freeze|capture|release:<flow id>, refund:<refund id>:<flow id>.
  idem_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (merchant_id, user_id, idem_key)
);
CREATE INDEX balance_entries_payer ON balance_entries (merchant_id, user_id, currency, id);

CREATE TABLE balance_postings (
  entry_id TEXT NOT NULL REFERENCES balance_entries (id),
  merchant_id TEXT NOT NULL,
  -- NULL for the merchant's own accounts (funding, settlement).
  user_id TEXT,
  currency TEXT NOT NULL,
  account TEXT NOT NULL,
  amount BIGINT NOT NULL,
  PRIMARY KEY (entry_id, account)
);
CREATE INDEX balance_postings_account ON balance_postings (merchant_id, user_id, currency, account);

CREATE TABLE balance_freezes (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  payment_id TEXT NOT NULL,
  amount BIGINT NOT NULL CHECK (amount > 0),
  status TEXT NOT NULL,
  refunded BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
  created_at BIGINT NOT NULL,
  resolved_at BIGINT
);
CREATE INDEX balance_freezes_open ON balance_freezes (status, created_at);
