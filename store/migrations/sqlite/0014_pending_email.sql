-- Skjold schema 14: staff accounts that a tenant's admin creates wait for their address to be
-- confirmed. A staff address is unique across the installation (a login needs nothing else),
-- so the account keeps a placeholder in email and the address in pending_email until the
-- person logs in with the one-time password and gives the code mailed to the address. Only
-- then can the address turn out to belong to another account, and only the address's owner
-- learns it: an admin cannot probe which addresses have accounts in other tenants.
ALTER TABLE users ADD COLUMN pending_email TEXT;
ALTER TABLE users ADD COLUMN otp_hash BLOB;              -- SHA-256 of the one-time password
ALTER TABLE users ADD COLUMN confirm_hash BLOB;          -- SHA-256 of the code last mailed
ALTER TABLE users ADD COLUMN confirm_expires INTEGER;
ALTER TABLE users ADD COLUMN confirm_failures INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX users_pending_email ON users (pending_email, tenant_id);

-- When confirmation codes were mailed, to bound them per account and hour.
CREATE TABLE email_confirmations (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sent_at INTEGER NOT NULL
);
CREATE INDEX email_confirmations_user ON email_confirmations (user_id, sent_at);
