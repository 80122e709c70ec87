-- Skjold schema 6 (SQLite): purposes and consent, contact sends, restriction and objection,
-- the customer relationship, retention anchors, holds, data-subject requests and their
-- downloads, the erasure journal, and the tenant lifecycle. No column here holds a personal
-- value in clear: those stay sealed under the subject's data key.

-- The purpose register [A2, C7]: each purpose's legal basis, channels and frequency cap.
CREATE TABLE purposes (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    name           TEXT NOT NULL,
    definition     TEXT NOT NULL,      -- JSON: legal basis, description, channels, cap
    notice_version INTEGER NOT NULL,   -- the current notice text's version
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Every version of every purpose's notice text, kept as proof of what a subject was shown.
CREATE TABLE purpose_notices (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    purpose    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    text       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, purpose, version)
);

-- Consent given and withdrawn, per subject and purpose; the newest row is in force.
CREATE TABLE consents (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    subject_id     TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
    purpose        TEXT NOT NULL,
    granted        INTEGER NOT NULL CHECK (granted IN (0, 1)),
    source         TEXT NOT NULL,
    notice_version INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX consents_subject ON consents (subject_id, purpose, created_at);

-- Messages the contact guard allowed, counted against each purpose's frequency cap [H2].
CREATE TABLE contact_sends (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    channel    TEXT NOT NULL,
    sent_at    INTEGER NOT NULL
);
CREATE INDEX contact_sends_subject ON contact_sends (subject_id, purpose, sent_at);

-- Restriction [C4], objection [C5], the customer relationship (its end starts retention
-- periods counted from it), and a pending erasure (everything erased but records under a
-- hold; the data key stays until the last of them is erased).
ALTER TABLE subjects ADD COLUMN restricted_at INTEGER;
ALTER TABLE subjects ADD COLUMN objected_at INTEGER;
ALTER TABLE subjects ADD COLUMN relationship TEXT NOT NULL DEFAULT 'active'
    CHECK (relationship IN ('prospect', 'active', 'ended'));
ALTER TABLE subjects ADD COLUMN relationship_ended_at INTEGER;
ALTER TABLE subjects ADD COLUMN erasure_pending_at INTEGER;

-- retain_from is the moment a record's retention period counts from (creation, a date
-- field, or the end of the relationship); NULL while it is not known yet.
ALTER TABLE records ADD COLUMN retain_from INTEGER;
UPDATE records SET retain_from = created_at WHERE EXISTS (SELECT 1 FROM categories c
    WHERE c.tenant_id = records.tenant_id AND c.name = records.category
    AND json_extract(c.definition, '$.retention.from') = 'created');
CREATE INDEX records_retention ON records (tenant_id, category, retain_from);

-- Legal holds [D2] on one subject or (subject_id NULL) the whole tenant, optionally of one
-- category only; until NULL holds until released.
CREATE TABLE holds (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    subject_id  TEXT REFERENCES subjects (id) ON DELETE CASCADE,
    category    TEXT,
    reason      TEXT NOT NULL,
    until       INTEGER,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    released_at INTEGER
);
CREATE INDEX holds_tenant ON holds (tenant_id, subject_id);

-- The erasure journal [D4]: every subject erasure and tenant deletion, by pseudonymous id
-- only, replayed after a restore. Append-only, like the audit log, and without foreign keys
-- so that it outlives what it names.
CREATE TABLE erasure_journal (
    seq        INTEGER PRIMARY KEY,
    time       INTEGER NOT NULL,
    tenant_id  TEXT NOT NULL,
    subject_id TEXT NOT NULL,          -- '' for a whole tenant
    kind       TEXT NOT NULL CHECK (kind IN ('subject', 'tenant')),
    reason     TEXT NOT NULL           -- request, retention, termination, …
);
CREATE TRIGGER erasure_journal_no_update BEFORE UPDATE ON erasure_journal
BEGIN SELECT RAISE(ABORT, 'the erasure journal is append-only'); END;
CREATE TRIGGER erasure_journal_no_delete BEFORE DELETE ON erasure_journal
BEGIN SELECT RAISE(ABORT, 'the erasure journal is append-only'); END;

-- Data-subject requests [C1–C9]. subject_id has no foreign key: a request outlives the
-- erasure it carried out, naming the subject by its pseudonymous id only.
CREATE TABLE requests (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    subject_id        TEXT NOT NULL,
    type              TEXT NOT NULL,
    status            TEXT NOT NULL,
    purpose           TEXT NOT NULL DEFAULT '',   -- consent withdrawal: the purpose
    received_at       INTEGER NOT NULL,
    due_at            INTEGER NOT NULL,
    extension_reason  TEXT NOT NULL DEFAULT '',
    refusal_code      TEXT NOT NULL DEFAULT '',
    refusal_note      TEXT NOT NULL DEFAULT '',
    code_hash         BLOB,                       -- SHA-256 of the one-time code
    code_expires_at   INTEGER,
    code_attempts     INTEGER NOT NULL DEFAULT 0,
    codes_sent        INTEGER NOT NULL DEFAULT 0,
    verified_at       INTEGER,
    closed_at         INTEGER,
    result            TEXT NOT NULL DEFAULT '',   -- JSON: what was done; never personal values
    created_by        TEXT NOT NULL,
    overdue_at        INTEGER                     -- when the overdue alert was raised
);
CREATE INDEX requests_tenant ON requests (tenant_id, id);
CREATE INDEX requests_open ON requests (status, due_at);

-- Hand-over copies (access and portability packages): sealed under the subject's data key,
-- fetched once through a secret link, and gone with the subject.
CREATE TABLE downloads (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,   -- SHA-256 of the link's secret
    content    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX downloads_expiry ON downloads (expires_at);

-- The tenant lifecycle [D5]: active → frozen (until a date) → active, or → terminated.
ALTER TABLE tenants ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'frozen', 'terminated'));
ALTER TABLE tenants ADD COLUMN frozen_until INTEGER;

-- What a terminated tenant left behind: counts, time and a hash, kept for the operator.
CREATE TABLE deletion_certificates (
    tenant_id  TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL,          -- JSON: the certificate
    hash       BLOB NOT NULL           -- SHA-256 of body
);

-- Approvals: a freeze's end date, and when an approved bulk export was fetched (once).
ALTER TABLE approvals ADD COLUMN until INTEGER;
ALTER TABLE approvals ADD COLUMN used_at INTEGER;
