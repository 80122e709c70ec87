package skjold

import (
	"context"
	"time"
)

// Kinds of backup run.
const (
	RunBackup  = "backup"  // a scheduled local backup, copied to every target
	RunOffsite = "offsite" // a scheduled copy of the newest backup to the off-site targets
	RunDrill   = "drill"   // a scheduled restore rehearsal [E4]
	RunManual  = "manual"  // a backup started by an operator (CLI or API)
)

// Outcomes of a backup run.
const (
	RunRunning = "running"
	RunOK      = "ok"
	RunFailed  = "failed"
)

// BackupRun is one backup, off-site copy or restore drill as the store records it: the
// evidence that backups are made and rehearsed [E1, E4]. It holds no personal data.
type BackupRun struct {
	Slot       string    `json:"slot"` // kind@scheduled time: unique, so that only one node runs a slot
	Kind       string    `json:"kind"`
	Node       string    `json:"node"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Status     string    `json:"status"`
	ManifestID string    `json:"manifest_id,omitempty"`
	Error      string    `json:"error,omitempty"`
	Note       string    `json:"note,omitempty"` // e.g. what a drill could not check
	// Cause is, for a failed backup run, the causes of its targets' failures (e.g. "full,
	// unreachable"), named in the backup.failed alert; it is not stored.
	Cause string `json:"-"`
}

// Took is how long a finished run took; 0 while it runs.
func (r *BackupRun) Took() time.Duration {
	if r.FinishedAt.IsZero() {
		return 0
	}
	return r.FinishedAt.Sub(r.StartedAt)
}

// TargetBackups is one target's backups, newest first. A target that could not be listed
// has Error set and no backups.
type TargetBackups struct {
	Target  string      `json:"target"`
	Backups []*Manifest `json:"backups"`
	Error   string      `json:"error,omitempty"`
}

// BackupCheck is the outcome of verifying one backup on one target.
type BackupCheck struct {
	Target   string    `json:"target"`
	OK       bool      `json:"ok"`
	Manifest *Manifest `json:"manifest,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// BackupService runs and inspects backups for operators [E1, E2]. Restore is not part of
// it: a restore makes a new database and runs offline, on the command line.
type BackupService interface {
	// List returns every target's backups, newest first. A target that cannot be reached is
	// reported in its TargetBackups.Error. Errors: EUNAUTHORIZED, EFORBIDDEN (not an operator).
	List(ctx context.Context) ([]*TargetBackups, error)

	// Run makes a backup now and copies it to every target. It returns the manifest when at
	// least one target holds the backup; the error then names the targets that failed.
	// Errors: EFORBIDDEN, EUNAVAILABLE (no targets configured), EINTERNAL.
	Run(ctx context.Context) (*Manifest, error)

	// Verify checks backup id on every target that holds it: its checksum against the
	// manifest, and with an identity configured, that it decrypts and holds the manifest's
	// rows. Errors: ENOTFOUND (no target holds it, or a malformed id), EFORBIDDEN.
	Verify(ctx context.Context, id string) ([]*BackupCheck, error)

	// Runs returns the recorded backup runs and drills, newest first, at most limit.
	// Errors: EINVALID (limit out of range), EFORBIDDEN.
	Runs(ctx context.Context, limit int) ([]*BackupRun, error)
}
