-- Skjold schema 4 (PostgreSQL): four-eyes approvals and support grants.

CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,           -- '' for the operator's own
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    role         TEXT NOT NULL,
    profile      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by TEXT NOT NULL,           -- user id
    decided_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    decided_at   BIGINT
);
CREATE INDEX approvals_tenant ON approvals (tenant_id, id);

CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    reason     TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_user ON grants (user_id, tenant_id);
CREATE INDEX grants_tenant ON grants (tenant_id, id);
