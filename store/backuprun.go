package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/skjold-project/skjold"
)

// node names this process in backup_runs: which machine made a backup, for the operator.
var node = func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "unknown"
	}
	return h + "/" + strconv.Itoa(os.Getpid())
}()

// backupActor is who a backup event is recorded as: the operator in ctx, or the scheduler.
func backupActor(ctx context.Context) (actor, source string) {
	if c := skjold.CallerFromContext(ctx); c != nil && c.Actor != "" {
		return c.Actor, c.Source
	}
	return "system:backup", "local"
}

// ClaimBackupRun records that this node starts the run of slot ("kind@time") and reports
// whether it got it. The slot is the table's primary key: when several nodes wake for the
// same slot, the first insert commits and the others find it taken (false, nil) and skip.
// The scheduler calls it; it needs no caller.
func (db *DB) ClaimBackupRun(ctx context.Context, slot string) (bool, error) {
	kind, _, ok := strings.Cut(slot, "@")
	if !ok || kind == "" || len(slot) > 200 {
		return false, skjold.Errorf(skjold.EINVALID, "backup slot %q is not kind@time", slot)
	}
	claimed := false
	err := db.write(ctx, func(tx *Tx) error {
		// ON CONFLICT rather than a caught unique violation: an error would spoil the group
		// commit's transaction. On PostgreSQL a concurrent insert of the same slot waits for
		// the first to commit, then inserts nothing.
		res, err := tx.exec(`INSERT INTO backup_runs (slot, kind, node, started_at, status, lease_until)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (slot) DO NOTHING`, slot, kind, node, micros(db.now()), skjold.RunRunning,
			micros(db.now().Add(BackupLease)))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: claim backup run: %w", err)
	}
	return claimed, nil
}

// FinishBackupRun records a claimed run's outcome (status RunOK or RunFailed, with the
// manifest id, an error message and a note) and, in the same transaction, the audit event
// action ("backup.completed", "backup.failed", "drill.completed", "drill.failed", …) that the
// alert dispatcher forwards. The message must hold no personal data or secret. Errors:
// EINVALID (bad status), ENOTFOUND (the slot was never claimed).
func (db *DB) FinishBackupRun(ctx context.Context, slot, action string, run *skjold.BackupRun) error {
	if run.Status != skjold.RunOK && run.Status != skjold.RunFailed {
		return skjold.Errorf(skjold.EINVALID, "a finished run is ok or failed, not %q", run.Status)
	}
	actor, source := backupActor(ctx)
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE backup_runs SET finished_at = ?, status = ?, manifest_id = ?, error = ?, note = ?
			WHERE slot = ?`, micros(db.now()), run.Status, run.ManifestID, clip(run.Error), clip(run.Note), slot)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errNotFound("backup run")
		}
		fields := []string{"run:" + slot}
		if run.Cause != "" { // the alert says what is wrong
			fields = append(fields, "cause: "+clip(run.Cause))
		}
		tx.audit(&skjold.AuditEvent{Actor: actor, Source: source, Action: action, Fields: fields})
		return nil
	})
}

// AuditBackupEvent appends an audit event about backups that belongs to no run, such as
// "backup.copy_failed" or "backup.rotation_refused"; about names what it concerns (a target's
// name, never a secret) and is kept in the event's fields.
func (db *DB) AuditBackupEvent(ctx context.Context, action, about string) error {
	actor, source := backupActor(ctx)
	return db.auditOnly(ctx, &skjold.AuditEvent{Actor: actor, Source: source, Action: action, Fields: []string{clip(about)}})
}

// FindBackupRuns returns the recorded runs, newest first, at most limit. Errors: EINVALID,
// EUNAUTHORIZED, EFORBIDDEN (operators only).
func (db *DB) FindBackupRuns(ctx context.Context, limit int) ([]*skjold.BackupRun, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > skjold.MaxPageLimit {
		return nil, skjold.Errorf(skjold.EINVALID, "limit must be between 1 and %d", skjold.MaxPageLimit)
	}
	return queryAll(ctx, db, scanBackupRun, `SELECT slot, kind, node, started_at, finished_at, status, manifest_id,
		error, note FROM backup_runs ORDER BY started_at DESC, slot DESC LIMIT ?`, limit)
}

func scanBackupRun(s scanner) (*skjold.BackupRun, error) {
	var r skjold.BackupRun
	var started int64
	var finished sql.NullInt64
	if err := s.Scan(&r.Slot, &r.Kind, &r.Node, &started, &finished, &r.Status, &r.ManifestID, &r.Error, &r.Note); err != nil {
		return nil, err
	}
	r.StartedAt = fromMicros(started)
	if finished.Valid {
		r.FinishedAt = fromMicros(finished.Int64)
	}
	return &r, nil
}

// clip bounds a message kept in backup_runs or an audit event.
func clip(s string) string {
	if len(s) > 1000 {
		return strings.ToValidUTF8(s[:1000], "") + "…"
	}
	return s
}
