-- Skjold schema 19: operator support staff ask a tenant for a support grant from the console
-- or the API; one of the tenant's admins approves it (which creates the grant, by the same
-- rules as POST /api/v1/grants) or denies it with a reason. A request lapses after 24 hours.
CREATE TABLE grant_requests (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    user_id     TEXT NOT NULL REFERENCES users (id), -- the operator staff member who asks
    reason      TEXT NOT NULL,
    hours       INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    grant_id    TEXT,                                -- the grant an approval made
    decided_by  TEXT,                                -- the tenant admin's user id
    deny_reason TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    decided_at  INTEGER
);
CREATE INDEX grant_requests_tenant ON grant_requests (tenant_id, id);
CREATE INDEX grant_requests_user ON grant_requests (user_id, id);
