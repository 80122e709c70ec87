package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// AuditLength returns the number of events in the audit chain, from the chain head.
func (db *DB) AuditLength(ctx context.Context) (int64, error) {
	var n int64
	err := db.queryRow(ctx, "SELECT seq FROM audit_head WHERE id = 1").Scan(&n)
	return n, err
}

// CountOperatorTokensEver returns how many operator tokens were ever made, revoked ones
// included: the bootstrap token is made only on a database that never had one.
func (db *DB) CountOperatorTokensEver(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, "SELECT COUNT(*) FROM tokens WHERE operator = 1").Scan(&n)
	return n, err
}

// keyCheckEvery is how long a passed tenant key check stands before Health checks again.
const keyCheckEvery = time.Minute

// Health reports whether the database answers and the master keyring opens every tenant's
// key (checked at most once every keyCheckEvery while that holds): a server started on a
// restored database under the wrong master key must not call itself healthy while it
// cannot read any personal data.
func (db *DB) Health(ctx context.Context) error {
	if err := db.Ping(ctx); err != nil {
		return err
	}
	if last := db.keysChecked.Load(); last != 0 && db.now().Sub(time.UnixMicro(last)) < keyCheckEvery {
		return nil
	}
	if _, err := db.CheckTenantKeys(ctx); err != nil {
		return err
	}
	db.keysChecked.Store(db.now().UnixMicro())
	return nil
}

// CheckTenantKeys unwraps, with the master keyring and past the cache, the key of every
// tenant that still has one, and returns how many it opened. It fails when any does not
// open, saying how many did not (a keyring without the master key the data is sealed
// under, or without an older one some tenants are still wrapped under).
func (db *DB) CheckTenantKeys(ctx context.Context) (int, error) {
	type wrapped struct {
		id    string
		keyID sql.NullString
		key   []byte
	}
	rows, err := db.query(ctx, "SELECT id, key_id, wrapped_key FROM tenants WHERE wrapped_key IS NOT NULL")
	if err != nil {
		return 0, err
	}
	all, err := collect(rows, func(s scanner) (wrapped, error) {
		var w wrapped
		err := s.Scan(&w.id, &w.keyID, &w.key)
		return w, err
	})
	if err != nil {
		return 0, err
	}
	failed := 0
	for _, w := range all {
		if _, err := db.keys.OpenTenantKey(w.id, w.keyID.String, w.key); err != nil {
			failed++
		}
	}
	if failed > 0 {
		return len(all) - failed, fmt.Errorf("store: the master keyring opens %d of %d tenant keys: is it the master key "+
			"this database's data is sealed under?", len(all)-failed, len(all))
	}
	return len(all), nil
}

// Ready reports whether this node can do its work now: it commits a write through the same
// writer and transaction path as every request (taking the audit chain's head, so a lock
// held by a stalled node, a read-only standby or a full disk fail it), and it unwraps a
// tenant key past the cache with the master keyring (or, with no tenant yet, opens the
// audit key). It returns EUNAVAILABLE for a database out of reach.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.write(ctx, func(*Tx) error { return nil }); err != nil {
		return err
	}
	var id string
	var keyID sql.NullString
	var wrapped []byte
	err := db.queryRow(ctx, "SELECT id, key_id, wrapped_key FROM tenants WHERE wrapped_key IS NOT NULL LIMIT 1").
		Scan(&id, &keyID, &wrapped)
	switch {
	case err == sql.ErrNoRows:
		return db.openAuditKey(ctx)
	case err != nil:
		return err
	}
	if _, err := db.keys.OpenTenantKey(id, keyID.String, wrapped); err != nil {
		return fmt.Errorf("store: a tenant key does not open with this node's master key file: %w", err)
	}
	return nil
}

// openAuditKey unseals the stored audit key again, to show that the keyring opens it.
func (db *DB) openAuditKey(ctx context.Context) error {
	var from int64
	var keyID sql.NullString
	var sealed []byte
	if err := db.queryRow(ctx, "SELECT keyed_from, key_id, sealed FROM audit_key WHERE id = 1").Scan(&from, &keyID, &sealed); err != nil {
		return err
	}
	if _, err := db.keys.OpenSecret(auditKeyLabel, strconv.FormatInt(from, 10), keyID.String, sealed); err != nil {
		return fmt.Errorf("store: the audit key does not open with this node's master key file: %w", err)
	}
	return nil
}
