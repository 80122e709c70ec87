package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/netguard"
)

// Security state shared by every node of a cluster [B11]: the lockout counts of addresses
// without an account (login_throttle) and the threat detectors' windows (guard_windows) live
// in the database beside the accounts' own counts (users.failed_logins) and the bans, so
// that guesses spread over several nodes count exactly as on one.

// Shared state idle this long is forgotten: a day past the last failure for an address
// without an account, as the in-memory count it replaces forgot it when full; three days for
// a detector window, longer than the longest ban (24 h) plus its memory (24 h).
const (
	throttleIdle = 24 * time.Hour
	windowIdle   = 72 * time.Hour
)

// writeShared runs fn, a write that records no audit event, as a write. On PostgreSQL it
// runs in a transaction of its own beside the group commit: it then takes no lock on the
// audit chain's head, so that counting a failure or renewing a lease on one node never
// waits for another node's writes (and theirs not for it). On SQLite it goes through the
// one writer, as every write. fn must not call tx.audit: nothing would commit its events.
func (db *DB) writeShared(ctx context.Context, fn func(*Tx) error) error {
	if db.engine != Postgres {
		return db.write(ctx, fn)
	}
	sqlTx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer sqlTx.Rollback()
	tx := &Tx{tx: sqlTx, db: db}
	if err := fn(tx); err != nil {
		return classify(err)
	}
	if len(tx.events) > 0 {
		return fmt.Errorf("store: a shared-state write recorded audit events")
	}
	return classify(sqlTx.Commit())
}

// forUpdate is the clause that locks a row read for an update on PostgreSQL; SQLite's one
// writer needs none.
func (tx *Tx) forUpdate() string {
	if tx.db.engine == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// attemptUnknown counts one more failed login for email, an address without an account,
// unless it is locked out now, in one transaction that every node's attempts take in turn,
// and reports whether the attempt may go on. It locks as an account locks
// (skjold.LockoutDelay). Only a hash of the address is stored.
func (db *DB) attemptUnknown(ctx context.Context, email string) (bool, error) {
	h := sha256.Sum256([]byte("skjold login throttle\x00" + email))
	now := db.now()
	allowed := false
	err := db.writeShared(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO login_throttle (addr_hash, failed, last_failed) VALUES (?, 0, ?)
			ON CONFLICT (addr_hash) DO NOTHING`, h[:], micros(now)); err != nil {
			return err
		}
		var failed int
		var until sql.NullInt64
		if err := tx.queryRow("SELECT failed, locked_until FROM login_throttle WHERE addr_hash = ?"+tx.forUpdate(),
			h[:]).Scan(&failed, &until); err != nil {
			return err
		}
		if until.Valid && now.Before(fromMicros(until.Int64)) {
			allowed = false
			return nil
		}
		allowed, failed = true, failed+1
		var lock *int64
		if d := skjold.LockoutDelay(failed); d > 0 {
			v := micros(now.Add(d))
			lock = &v
		}
		_, err := tx.exec("UPDATE login_throttle SET failed = ?, locked_until = ?, last_failed = ? WHERE addr_hash = ?",
			failed, lock, micros(now), h[:])
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: count failed login: %w", err)
	}
	return allowed, nil
}

// UpdateWindow implements netguard.SharedState: it applies step to the stored window of rule
// and key in one transaction, the row locked on PostgreSQL, so that the nodes' events for
// one source count one after another.
func (db *DB) UpdateWindow(ctx context.Context, rule, key string, step func(*netguard.TrackState)) error {
	if len(rule) > 200 || len(key) > 100 {
		return skjold.Errorf(skjold.EINVALID, "detector rule or source too long")
	}
	now := micros(db.now())
	return db.writeShared(ctx, func(tx *Tx) error {
		var st netguard.TrackState
		var b []byte
		err := tx.queryRow("SELECT state FROM guard_windows WHERE rule = ? AND source = ?"+tx.forUpdate(), rule, key).Scan(&b)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// A concurrent first event for the same key inserts too: the second insert waits
			// for the first and then does nothing, so create the row, lock it, and read it.
			if _, err := tx.exec(`INSERT INTO guard_windows (rule, source, state, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (rule, source) DO NOTHING`, rule, key, make([]byte, 88), now); err != nil {
				return err
			}
			if err := tx.queryRow("SELECT state FROM guard_windows WHERE rule = ? AND source = ?"+tx.forUpdate(),
				rule, key).Scan(&b); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if err := st.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("store: detector window of %s: %w", rule, err)
		}
		step(&st)
		if b, err = st.MarshalBinary(); err != nil {
			return err
		}
		_, err = tx.exec("UPDATE guard_windows SET state = ?, updated_at = ? WHERE rule = ? AND source = ?", b, now, rule, key)
		return err
	})
}

// PruneSharedState forgets lockout counts of addresses without an account and detector
// windows that have been idle long enough to hold nothing (throttleIdle, windowIdle), and
// returns how many rows it dropped.
func (db *DB) PruneSharedState(ctx context.Context) (int64, error) {
	now := db.now()
	var n int64
	err := db.writeShared(ctx, func(tx *Tx) error {
		n = 0
		for _, q := range []struct {
			sql    string
			before time.Time
		}{
			{"DELETE FROM login_throttle WHERE last_failed < ?", now.Add(-throttleIdle)},
			{"DELETE FROM guard_windows WHERE updated_at < ?", now.Add(-windowIdle)},
		} {
			res, err := tx.exec(q.sql, micros(q.before))
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return n, err
}

var _ netguard.SharedState = (*DB)(nil)
