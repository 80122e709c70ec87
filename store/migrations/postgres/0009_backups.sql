-- Skjold schema 9 (PostgreSQL): backup runs [E1–E4]. Each scheduled backup, off-site copy and
-- restore drill claims its slot (kind and scheduled time) by inserting a row: the slot is the
-- primary key, so when two nodes wake for the same slot only the first insert succeeds and
-- only one backup is made. The row then records the outcome as evidence. No personal data.
CREATE TABLE backup_runs (
    slot        TEXT PRIMARY KEY,      -- kind@scheduled time (RFC 3339, UTC), or kind@time-random for manual runs
    kind        TEXT NOT NULL,         -- backup, offsite, drill, manual
    node        TEXT NOT NULL,         -- host/pid of the node that claimed it
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    manifest_id TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX backup_runs_started ON backup_runs (started_at);
