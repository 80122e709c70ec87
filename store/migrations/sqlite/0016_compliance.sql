-- Skjold schema 16: what each tenant (tenant_id '' for the operator) has promised its
-- customers, as JSON (skjold.ComplianceProfile): which compliance checks apply to it and
-- against which numbers (backup times, idle minutes, password length, …). A tenant without a
-- row has the defaults, which follow the seed documents.
CREATE TABLE compliance_profiles (
    tenant_id  TEXT PRIMARY KEY,
    profile    TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Maintenance windows the operator announces [E6]; announced_at is when the tenant owners
-- were e-mailed. The note is for customers and holds no personal data.
CREATE TABLE maintenance (
    id           TEXT PRIMARY KEY,
    starts_at    INTEGER NOT NULL,
    ends_at      INTEGER NOT NULL,
    note         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    announced_at INTEGER
);
