-- Callback retention (the purge walks the log by age) and operators' browser sessions.

CREATE INDEX callback_log_received ON callback_log (received_at);

-- A signed-in browser: the SHA-256 of its random session id (the cookie), never the id itself.
CREATE TABLE admin_sessions (
  id_hash TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
