-- Skjold schema 16: what each tenant (tenant_id '' for the operator) has promised its
-- customers, as JSON (skjold.ComplianceProfile): which compliance checks apply to it and
-- against which numbers (backup times, idle minutes, password length, …). A tenant without a
-- row has the defaults, which follow the seed documents.
CREATE TABLE compliance_profiles (
    tenant_id  TEXT PRIMARY KEY,
    profile    TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
