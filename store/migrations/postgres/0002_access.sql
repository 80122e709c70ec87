-- Skjold schema 2 (PostgreSQL): staff accounts, sessions, second factors and password resets.
-- Passwords, session secrets, reset tokens and recovery codes are stored only as hashes;
-- TOTP secrets only sealed under a master key.

CREATE TABLE profiles (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name      TEXT NOT NULL,
    scopes    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT REFERENCES tenants (id), -- NULL for operator staff
    email               TEXT NOT NULL UNIQUE,         -- normalised: trimmed, lower-case
    name                TEXT NOT NULL,
    role                TEXT NOT NULL,
    profile             TEXT,
    suspended           SMALLINT NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1)),
    access_until        BIGINT,
    password_hash       TEXT NOT NULL,                -- argon2id, PHC string with its parameters
    password_changed_at BIGINT NOT NULL,
    must_change         SMALLINT NOT NULL DEFAULT 0 CHECK (must_change IN (0, 1)),
    totp_key_id         TEXT,                         -- master key that seals the TOTP secret
    totp_secret         BYTEA,
    totp_pending        BYTEA,                         -- sealed, until the first code confirms it
    totp_last_step      BIGINT NOT NULL DEFAULT 0,   -- replay protection: steps must grow
    failed_logins       BIGINT NOT NULL DEFAULT 0,
    locked_until        BIGINT,
    training_at         BIGINT,
    agreement_at        BIGINT,
    last_login_at       BIGINT,
    created_at          BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, profile) REFERENCES profiles (tenant_id, name)
);
CREATE INDEX users_tenant ON users (tenant_id, id);
CREATE INDEX users_access_until ON users (access_until) WHERE access_until IS NOT NULL AND suspended = 0;

CREATE TABLE password_history (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, created_at);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    BYTEA NOT NULL,
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('cookie', 'token')),
    hash          BYTEA NOT NULL UNIQUE,  -- SHA-256 of the secret
    csrf_hash     BYTEA,                  -- SHA-256 of the CSRF token (cookie sessions)
    source        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    second_factor SMALLINT NOT NULL DEFAULT 0 CHECK (second_factor IN (0, 1)),
    locked        SMALLINT NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    revoked_at    BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id, id);

CREATE TABLE password_resets (
    hash       BYTEA PRIMARY KEY,         -- SHA-256 of the token in the link
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_user ON password_resets (user_id, created_at);

-- Settings per tenant; tenant_id '' holds the operator's own.
CREATE TABLE settings (
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,  -- JSON
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

ALTER TABLE tokens ADD COLUMN user_id TEXT REFERENCES users (id);
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
CREATE INDEX tokens_user ON tokens (user_id) WHERE user_id IS NOT NULL;
