-- Skjold schema 25: organisational measures the operator (tenant_id '') or a tenant records
-- once and the generated TOMs document shows with their dates [G4]: training held, agreements
-- signed, physical security, incident rehearsals. The description is for customers and holds
-- no personal data; taken_on is the date (YYYY-MM-DD) the measure was taken or last reviewed.
CREATE TABLE compliance_measures (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    description TEXT NOT NULL,
    taken_on    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX compliance_measures_tenant ON compliance_measures (tenant_id, taken_on);
