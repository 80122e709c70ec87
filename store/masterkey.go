package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
)

// inUseKeys selects the fingerprints of the master keys that something stored is wrapped or
// sealed under now.
const inUseKeys = `SELECT key_id FROM tenants WHERE wrapped_key IS NOT NULL AND key_id IS NOT NULL
	UNION SELECT key_id FROM audit_key WHERE sealed IS NOT NULL AND key_id IS NOT NULL
	UNION SELECT totp_key_id FROM users WHERE totp_key_id IS NOT NULL`

// MissingKeysError is Open's refusal of a database whose keys are wrapped under master keys
// the node's key file lacks.
type MissingKeysError struct {
	Missing []string // fingerprints, sorted
}

func (e *MissingKeysError) Error() string {
	return fmt.Sprintf("this node's master key file lacks master key(s) %s, which this database's keys are wrapped under: "+
		"copy the key file from a node that has them (\"skjold keys status\" lists what the database needs); "+
		"a node must never start with a key file of its own on a database in use", strings.Join(e.Missing, ", "))
}

// keyHolder is what the key service tells of the keys it holds (keys.Service does).
type keyHolder interface{ HasKey(id string) bool }

// checkMasterKeys refuses, before anything is unwrapped or made, a database that needs master
// keys this node does not hold. A key service that cannot tell is trusted.
func (db *DB) checkMasterKeys(ctx context.Context) error {
	holder, ok := db.keys.(keyHolder)
	if !ok {
		return nil
	}
	needed, err := neededKeys(ctx, db.wdb, db.rebind)
	if err != nil {
		return err
	}
	var missing []string
	for _, id := range needed {
		if !holder.HasKey(id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return &MissingKeysError{Missing: missing}
	}
	return nil
}

// neededKeys returns, sorted, the master keys recorded in master_keys and those in use.
func neededKeys(ctx context.Context, conn *sql.DB, rebind func(string) string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, rebind("SELECT key_id FROM master_keys UNION "+inUseKeys))
	if err != nil {
		return nil, fmt.Errorf("store: read the master keys the database needs: %w", err)
	}
	ids, err := collect(rows, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("store: read the master keys the database needs: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// recordMasterKeys adds to master_keys every key in use that it lacks (the audit key sealed
// at a new database's first open, a secret sealed by an older version).
func (db *DB) recordMasterKeys(ctx context.Context) error {
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO master_keys (key_id, added_at) SELECT key_id, ? FROM (`+inUseKeys+`) k
			WHERE key_id NOT IN (SELECT key_id FROM master_keys)`, micros(db.now()))
		return err
	})
}

// recordMasterKey notes, inside a write that wrapped or sealed something under id, that the
// database needs id.
func (tx *Tx) recordMasterKey(id string) error {
	_, err := tx.exec("INSERT INTO master_keys (key_id, added_at) VALUES (?, ?) ON CONFLICT (key_id) DO NOTHING",
		id, micros(tx.db.now()))
	return err
}

// forgetUnusedMasterKeys drops from master_keys the keys nothing is wrapped under any more,
// after a rotation rewrapped everything under the new primary key.
func (tx *Tx) forgetUnusedMasterKeys() error {
	_, err := tx.exec("DELETE FROM master_keys WHERE key_id NOT IN (" + inUseKeys + ")")
	return err
}

// MasterKeysNeeded returns, sorted, the fingerprints of the master keys the database at dsn
// needs: every node serving it must hold them all. It opens no store, needs no key and
// migrates nothing, so that a node that lacks keys can still say which: a database that does
// not exist yet, or predates the audit key, needs none.
func MasterKeysNeeded(ctx context.Context, dsn string) ([]string, error) {
	var conn *sql.DB
	rebind := func(q string) string { return q }
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		cfg, err := pgConfig(dsn, DefaultPostgresLimits)
		if err != nil {
			return nil, errors.New("store: the database URL does not parse")
		}
		conn = stdlib.OpenDB(*cfg)
	} else {
		path := strings.TrimPrefix(dsn, "sqlite:")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		var err error
		if conn, err = sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(10000)"); err != nil {
			return nil, err
		}
	}
	defer conn.Close()
	if err := conn.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("store: connect to the database: %w", classify(err))
	}
	pg := strings.HasPrefix(dsn, "postgres")
	has := func(table string) (bool, error) {
		q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
		if pg {
			q = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1"
		}
		var n int
		err := conn.QueryRowContext(ctx, q, table).Scan(&n)
		return n > 0, err
	}
	if ok, err := has("audit_key"); err != nil {
		return nil, fmt.Errorf("store: inspect the database: %w", err)
	} else if !ok {
		return nil, nil // a new database, or one older than schema 11: nothing is sealed yet
	}
	if ok, err := has("master_keys"); err != nil {
		return nil, fmt.Errorf("store: inspect the database: %w", err)
	} else if !ok {
		return queryIDs(ctx, conn, inUseKeys) // not migrated to schema 19 yet
	}
	return neededKeys(ctx, conn, rebind)
}

func queryIDs(ctx context.Context, conn *sql.DB, q string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: read the master keys the database needs: %w", err)
	}
	ids, err := collect(rows, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
	slices.Sort(ids)
	return ids, err
}
