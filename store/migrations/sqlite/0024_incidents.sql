-- Skjold schema 24: the breach register [F2]. An incident belongs to a tenant (tenant_id '' for
-- one the operator records); its texts describe what happened without personal values. The
-- 72-hour clock runs from aware_at; warned_at and overdue_at mark the alerts raised 12 hours
-- before the deadline and after it, once each. decision is JSON (skjold.IncidentDecision),
-- categories a JSON list of category names.
CREATE TABLE incidents (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    detected_at     INTEGER NOT NULL,
    aware_at        INTEGER NOT NULL,
    categories      TEXT NOT NULL,
    subjects        INTEGER NOT NULL,
    records         INTEGER NOT NULL,
    consequences    TEXT NOT NULL,
    measures        TEXT NOT NULL,
    contact         TEXT NOT NULL,
    scoped_subjects INTEGER,
    decision        TEXT,
    status          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    closed_at       INTEGER,
    warned_at       INTEGER,
    overdue_at      INTEGER
);
CREATE INDEX incidents_tenant ON incidents (tenant_id, created_at);
CREATE INDEX incidents_open ON incidents (status, aware_at);

-- The timeline of each incident, append-only: who did what when. tenant_id is the incident's.
CREATE TABLE incident_entries (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    tenant_id   TEXT NOT NULL,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX incident_entries_incident ON incident_entries (incident_id, seq);

-- The tenants an operator incident affects: when their owners were e-mailed and when one of
-- them acknowledged it (Art. 33(2)).
CREATE TABLE incident_tenants (
    incident_id     TEXT NOT NULL REFERENCES incidents (id),
    tenant_id       TEXT NOT NULL,
    notified_at     INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    PRIMARY KEY (incident_id, tenant_id)
);
