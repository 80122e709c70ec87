package store

import (
	"context"
	"database/sql"
	"fmt"
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
