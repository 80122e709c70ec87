-- Skjold schema 3 (PostgreSQL): bans and the operator's block list, shared by every node.

CREATE TABLE bans (
    addr       TEXT PRIMARY KEY,  -- one IP address, canonical text form
    until      BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX bans_until ON bans (until);

CREATE TABLE blocklist (
    cidr       TEXT PRIMARY KEY,  -- masked CIDR range
    created_at BIGINT NOT NULL
);
