-- Skjold schema 26: the sub-processor register [G2], the tenants' objections to its entries,
-- the acceptances of each tenant's data processing agreement [G1] (a signed scan sealed
-- under a data key the tenant key wraps), and the registers of copies handed over [D3] and of
-- destroyed storage media [D4] (tenant_id '' for the operator's own).
CREATE TABLE subprocessors (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    service        TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    location       TEXT NOT NULL,
    hosts          TEXT NOT NULL,
    contract_date  TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    notified_at    INTEGER
);

CREATE TABLE subproc_objections (
    subprocessor_id TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (subprocessor_id, tenant_id)
);

CREATE TABLE dpa_acceptances (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    version     TEXT NOT NULL,
    method      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    scan_sha256 TEXT,
    scan_size   INTEGER,
    scan_key    BLOB,
    scan        BLOB
);
CREATE INDEX dpa_acceptances_tenant ON dpa_acceptances (tenant_id, accepted_at);

CREATE TABLE register_copies (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    what        TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    handed_over TEXT NOT NULL,
    delete_by   TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    reminded_at INTEGER,
    deleted_at  INTEGER,
    deleted_by  TEXT
);
CREATE INDEX register_copies_tenant ON register_copies (tenant_id, created_at);

CREATE TABLE register_media (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    what         TEXT NOT NULL,
    method       TEXT NOT NULL,
    destroyed_by TEXT NOT NULL,
    witness      TEXT NOT NULL,
    destroyed_on TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    cert_sha256  TEXT,
    cert_size    INTEGER,
    cert_key_id  TEXT,
    cert_key     BLOB,
    certificate  BLOB
);
CREATE INDEX register_media_tenant ON register_media (tenant_id, created_at);
