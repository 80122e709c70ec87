-- Skjold schema 22: security state and singleton jobs shared by every node of a cluster, so
-- that several nodes on one database answer exactly as one would. SQLite serves one node but
-- keeps the same tables, so that both engines behave alike.
--
-- login_throttle counts failed logins for e-mail addresses that have no account, exactly as
-- users.failed_logins counts them for accounts (skjold.LockoutDelay), so that the answer after
-- five failures does not tell which addresses exist, whichever node is asked. addr_hash is
-- the SHA-256 of the normalised address, never the address; rows idle for a day are swept.
CREATE TABLE login_throttle (
    addr_hash    BYTEA PRIMARY KEY,
    failed       INTEGER NOT NULL,
    locked_until BIGINT,
    last_failed  BIGINT NOT NULL
);
CREATE INDEX login_throttle_last ON login_throttle (last_failed);

-- guard_windows holds the threat detectors' sliding windows (netguard.TrackState: failures
-- per time slot and the ban escalation) per rule and source prefix, so that failures spread
-- over several nodes count together. Rows idle past the rule's memory are swept.
CREATE TABLE guard_windows (
    rule       TEXT NOT NULL,
    source     TEXT NOT NULL,
    state      BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (rule, source)
);
CREATE INDEX guard_windows_updated ON guard_windows (updated_at);

-- job_leases makes a periodic job (retention sweep, hourly jobs, checkpoints) run on one node
-- at a time: the holder renews its lease while it lives, and another node takes the job over
-- once expires_at has passed. last_run is when the job's last pass ended, on any node.
CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_run   BIGINT
);

-- A claimed backup run is leased too: its node renews lease_until while the run lasts, so
-- that a run whose node died is found (backup.stalled) and run again by another node.
ALTER TABLE backup_runs ADD COLUMN lease_until BIGINT;
