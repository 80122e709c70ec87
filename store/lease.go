package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// Leases make a periodic job run on one node at a time (job_leases): a node runs the job's
// pass only while it holds the job's lease, renews it on every pass and well before it
// expires, and another node takes it over once it has expired, that is within one lease
// period of the holder's death. On SQLite, with one node, the node simply always holds it.

// AcquireLease takes the lease of job name for holder until now+ttl, or renews it when holder
// has it already, and reports whether holder holds it now. It fails to take a lease another
// holder has and has not let expire. It needs no caller: nodes call it for themselves.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if name == "" || len(name) > 200 || holder == "" || len(holder) > 300 || ttl <= 0 {
		return false, skjold.Errorf(skjold.EINVALID, "a lease needs a name, a holder and a positive period")
	}
	now := db.now()
	held := false
	err := db.writeShared(ctx, func(tx *Tx) error {
		// One statement: PostgreSQL makes a concurrent upsert of the same name wait for the
		// first and then re-check the condition against the row it committed.
		res, err := tx.exec(`INSERT INTO job_leases (name, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= ?`,
			name, holder, micros(now.Add(ttl)), micros(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		held = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: lease %s: %w", name, err)
	}
	return held, nil
}

// ReleaseLease gives up holder's lease of name, if it has it, so that another node may take
// the job at once (a node that stops cleanly).
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	return db.writeShared(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE job_leases SET expires_at = 0 WHERE name = ? AND holder = ?", name, holder)
		return err
	})
}

// LeaseRan records that the pass of job name ended at at, on whichever node holds it, so
// that a node taking the job over knows when it is next due.
func (db *DB) LeaseRan(ctx context.Context, name, holder string, at time.Time) error {
	return db.writeShared(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE job_leases SET last_run = ? WHERE name = ? AND holder = ?", micros(at), name, holder)
		return err
	})
}

// LeaseLastRun returns when job name's last pass ended, on any node; zero if never.
func (db *DB) LeaseLastRun(ctx context.Context, name string) (time.Time, error) {
	var last sql.NullInt64
	err := db.queryRow(ctx, "SELECT last_run FROM job_leases WHERE name = ?", name).Scan(&last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, err
	case !last.Valid:
		return time.Time{}, nil
	}
	return fromMicros(last.Int64), nil
}

// Lease is one row of job_leases, as LeaseState reads it.
type Lease struct {
	Name, Holder string
	ExpiresAt    time.Time
	LastRun      time.Time // zero when the job never ran
}

// Leases returns every lease, by name, with no caller (the metrics and tests read it).
func (db *DB) Leases(ctx context.Context) ([]*Lease, error) {
	return queryAll(ctx, db, func(s scanner) (*Lease, error) {
		var l Lease
		var exp int64
		var last sql.NullInt64
		if err := s.Scan(&l.Name, &l.Holder, &exp, &last); err != nil {
			return nil, err
		}
		l.ExpiresAt = fromMicros(exp)
		if last.Valid {
			l.LastRun = fromMicros(last.Int64)
		}
		return &l, nil
	}, "SELECT name, holder, expires_at, last_run FROM job_leases ORDER BY name")
}

// BackupLease is how long a claimed backup run stays leased to its node without a renewal:
// the node renews it every backupLease/3 while the run lasts (RenewBackupRun).
const BackupLease = 2 * time.Minute

// staleUnleased is how old a running run from before leases (lease_until NULL) must be to
// count as stalled.
const staleUnleased = 6 * time.Hour

// RenewBackupRun extends the lease of a running run this node claimed.
func (db *DB) RenewBackupRun(ctx context.Context, slot string) error {
	return db.writeShared(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE backup_runs SET lease_until = ? WHERE slot = ? AND node = ? AND status = ?",
			micros(db.now().Add(BackupLease)), slot, node, skjold.RunRunning)
		return err
	})
}

// ReclaimStalledRun takes over one run of kind that is still "running" but whose node has
// not renewed its lease (the node died): it records this node as the run's node with a fresh
// lease and a backup.stalled audit event (which the alert dispatcher forwards), and returns
// the slot for the caller to run again. ok is false when no run of kind has stalled. Of
// several nodes that try at once, exactly one gets each run.
func (db *DB) ReclaimStalledRun(ctx context.Context, kind string) (slot string, ok bool, err error) {
	now := db.now()
	err = db.write(ctx, func(tx *Tx) error {
		slot, ok = "", false
		var old string
		err := tx.queryRow(`SELECT slot, node FROM backup_runs WHERE kind = ? AND status = ?
			AND (lease_until < ? OR (lease_until IS NULL AND started_at < ?)) ORDER BY started_at LIMIT 1`+tx.forUpdate(),
			kind, skjold.RunRunning, micros(now), micros(now.Add(-staleUnleased))).Scan(&slot, &old)
		if errors.Is(err, sql.ErrNoRows) {
			slot = ""
			return nil
		} else if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE backup_runs SET node = ?, started_at = ?, lease_until = ? WHERE slot = ?",
			node, micros(now), micros(now.Add(BackupLease)), slot); err != nil {
			return err
		}
		tx.audit(&skjold.AuditEvent{Actor: "system:backup", Source: "local", Action: "backup.stalled",
			Fields: []string{"run:" + slot, "cause: the node " + clip(old) + " stopped renewing its claim; run again here"}})
		ok = true
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("store: reclaim stalled %s run: %w", kind, err)
	}
	return slot, ok, nil
}

// HasBackupRun reports whether slot has a recorded run, and whether any run of its kind
// started before at: a slot missed while every node was down is caught up once, at start,
// only on a database that ran that kind before (not on a new one).
func (db *DB) HasBackupRun(ctx context.Context, slot string, at time.Time) (has, before bool, err error) {
	kind, _, _ := strings.Cut(slot, "@")
	var n, earlier int
	err = db.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM backup_runs WHERE slot = ?),
		(SELECT COUNT(*) FROM backup_runs WHERE kind = ? AND started_at < ?)`, slot, kind, micros(at)).Scan(&n, &earlier)
	return n > 0, earlier > 0, err
}
