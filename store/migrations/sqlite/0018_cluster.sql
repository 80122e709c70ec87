-- Skjold schema 18 (SQLite): several nodes on one database. SQLite serves one node, but
-- keeps the same tables so that both engines answer alike.
--
-- master_keys lists the fingerprints (keys.keyID: a truncated SHA-256, never the key) of the
-- master keys that this database's keys are wrapped or sealed under: tenant keys, the audit
-- key, staff TOTP secrets. A node refuses to start without every one of them, and a node
-- without a key file never makes a new key for a database that lists any.
CREATE TABLE master_keys (
    key_id   TEXT PRIMARY KEY,
    added_at INTEGER NOT NULL
);
INSERT INTO master_keys (key_id, added_at)
    SELECT key_id, 0 FROM tenants WHERE wrapped_key IS NOT NULL AND key_id IS NOT NULL
    UNION SELECT key_id, 0 FROM audit_key WHERE sealed IS NOT NULL AND key_id IS NOT NULL
    UNION SELECT totp_key_id, 0 FROM users WHERE totp_key_id IS NOT NULL;

-- cluster_nodes is the node registry: each running node writes its row on start and every
-- heartbeat. address is where the node listens, key_ids the fingerprints of the master
-- keys it holds (comma-separated); down_since is set when another node raised node.down.
CREATE TABLE cluster_nodes (
    id         TEXT PRIMARY KEY,
    address    TEXT NOT NULL,
    version    TEXT NOT NULL,
    key_ids    TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    down_since INTEGER
);
