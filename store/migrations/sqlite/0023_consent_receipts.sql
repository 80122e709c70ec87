-- Skjold schema 23: consent receipts from a tenant's website banner [H2, A2]. A receipt is
-- proof of one visitor's choice: the random consent id the browser keeps, the choices and
-- notice versions as JSON, whether Global Privacy Control opted out, and a keyed hash of the
-- user agent (never the user agent, never an address). The retention sweep deletes a
-- receipt at expires_at. The banner's own settings live in settings (name "banner").
CREATE TABLE consent_receipts (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    consent_id      TEXT NOT NULL,
    method          TEXT NOT NULL,
    choices         TEXT NOT NULL,
    notice_versions TEXT NOT NULL,
    gpc             INTEGER NOT NULL CHECK (gpc IN (0, 1)),
    ua_hash         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX consent_receipts_tenant ON consent_receipts (tenant_id, created_at);
CREATE INDEX consent_receipts_expiry ON consent_receipts (expires_at);
