-- Skjold schema 21: the subject's own view on the privacy center. A subject logs in with a
-- one-time code sent to the address on file; the row keeps the code's SHA-256 until it is
-- used, its expiry and the wrong guesses, then the SHA-256 of the short-lived session
-- secret the code opened. No address, code or secret is stored in clear.
CREATE TABLE subject_logins (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    subject_id         TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
    code_hash          BYTEA,
    code_expires_at    BIGINT NOT NULL,
    code_attempts      INTEGER NOT NULL DEFAULT 0,
    session_hash       BYTEA,
    session_expires_at BIGINT,
    created_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX subject_logins_session ON subject_logins (session_hash);
CREATE INDEX subject_logins_subject ON subject_logins (tenant_id, subject_id, created_at);
