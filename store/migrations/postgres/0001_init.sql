-- Skjold schema 1 (PostgreSQL). Times are microseconds since the Unix epoch (UTC) in both engines,
-- so that values, ordering and audit hashes are identical on SQLite and PostgreSQL.
-- Personal values live only in the sealed "fields" columns; *_idx columns are keyed blind indexes.

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    key_id       TEXT,             -- master key that wraps the tenant key
    wrapped_key  BYTEA,             -- NULL once destroyed (crypto-shredded)
    created_at   BIGINT NOT NULL,
    destroyed_at BIGINT
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT REFERENCES tenants (id),
    operator   SMALLINT NOT NULL CHECK (operator IN (0, 1)),
    name       TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE,   -- SHA-256 of the secret; the secret is never stored
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    CHECK ((operator = 1) = (tenant_id IS NULL))
);
CREATE INDEX tokens_tenant ON tokens (tenant_id, id);

CREATE TABLE categories (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,          -- JSON: fields, purposes, legal basis, retention
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE subjects (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    wrapped_key BYTEA NOT NULL,         -- the subject's data key, wrapped under the tenant key
    fields      BYTEA NOT NULL,         -- sealed profile values
    email_idx   BYTEA,
    phone_idx   BYTEA,
    ref_idx     BYTEA,
    guardian_id TEXT REFERENCES subjects (id),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX subjects_tenant ON subjects (tenant_id, id);
CREATE INDEX subjects_email ON subjects (tenant_id, email_idx) WHERE email_idx IS NOT NULL;
CREATE INDEX subjects_phone ON subjects (tenant_id, phone_idx) WHERE phone_idx IS NOT NULL;
CREATE UNIQUE INDEX subjects_ref ON subjects (tenant_id, ref_idx) WHERE ref_idx IS NOT NULL;
CREATE INDEX subjects_guardian ON subjects (guardian_id) WHERE guardian_id IS NOT NULL;

CREATE TABLE records (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
    category   TEXT NOT NULL,
    fields     BYTEA NOT NULL,          -- sealed values, one per field
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, category) REFERENCES categories (tenant_id, name)
);
CREATE INDEX records_subject ON records (subject_id, id);
CREATE INDEX records_category ON records (tenant_id, category);

-- The audit log: append-only and hash-chained. No foreign keys, so that events outlive the
-- subjects and tenants they name.
CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    time       BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    action     TEXT NOT NULL,
    fields     TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    source     TEXT NOT NULL,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);
CREATE INDEX audit_tenant ON audit_events (tenant_id, seq);
CREATE INDEX audit_subject ON audit_events (subject_id, seq) WHERE subject_id <> '';

CREATE FUNCTION skjold_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION skjold_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION skjold_audit_append_only();

-- The chain head, updated in the same transaction as every append: removing events from the
-- end of the log no longer goes unnoticed.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
