-- Skjold schema 11 (SQLite): the audit chain becomes keyed [F3]. Events from keyed_from on are
-- hashed with HMAC-SHA-256 under a random audit key sealed under the master key, so that
-- whoever can write the database but holds no master key cannot recompute the chain. Events
-- before keyed_from (those of a database made before this migration) keep their plain SHA-256
-- links. The sealed key is bound to keyed_from, so that moving the boundary breaks it; it is
-- NULL until the first process that opens the database makes it.
CREATE TABLE audit_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    keyed_from INTEGER NOT NULL,
    key_id     TEXT,
    sealed     BLOB
);
INSERT INTO audit_key (id, keyed_from) SELECT 1, seq + 1 FROM audit_head WHERE id = 1;
