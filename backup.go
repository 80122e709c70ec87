package skjold

import (
	"context"
	"io"
	"time"
)

// Manifest describes one backup [E1]: what it holds and how to check it. It travels beside
// the encrypted file on every target (<id>.manifest.json) and is not secret: it holds no
// personal data, only counts, sizes and hashes.
type Manifest struct {
	ID             string           `json:"id"`   // sortable: the UTC time, e.g. 20261123T140000Z-<random>
	Time           time.Time        `json:"time"` // when the snapshot was taken
	Engine         string           `json:"engine"`
	SchemaVersion  int              `json:"schema_version"`
	Format         string           `json:"format"` // "sqlite" (a database file) or "skjold-dump-v1" (PostgreSQL rows)
	Size           int64            `json:"size"`   // bytes of the encrypted file
	SHA256         string           `json:"sha256"` // hex, of the encrypted file
	Rows           map[string]int64 `json:"rows"`   // table → rows in the snapshot
	Recipients     []string         `json:"recipients"`
	KeyFingerprint string           `json:"key_fingerprint"` // the primary master key when the backup was made
	// MasterKeys are the ids of every master key that wraps a tenant key (or seals the audit
	// key) in the backup: a restore needs a key file holding all of them [E3, E4]. Empty in
	// manifests made before it existed; KeyFingerprint is then the best guess.
	MasterKeys []string `json:"master_keys,omitempty"`
	JournalSeq int64    `json:"journal_seq"` // the erasure journal's last seq in the snapshot
	AuditSeq   int64    `json:"audit_seq"`
}

// BackupFile and ManifestFile name a backup's objects on a target.
func BackupFile(id string) string   { return id + ".skjold.age" }
func ManifestFile(id string) string { return id + ".manifest.json" }

// JournalFile is the erasure journal's copy on every target (JSON lines of JournalEntry).
const JournalFile = "erasure-journal.jsonl"

// Target is a place backups are kept [E2]: a local directory, an SFTP host, an S3 bucket.
// Names are plain file names without directories.
type Target interface {
	// Name identifies the target in logs, metrics and the manifest list ("local:/mnt/a",
	// "sftp:backup@host/dir", "s3:bucket/prefix"); it holds no secret.
	Name() string

	// Put stores r under name atomically: a reader of the target sees the whole object or
	// nothing (temporary name, then rename; or a single committed upload). It returns the
	// SHA-256 of what the target holds after the upload, read back or reported by the target.
	Put(ctx context.Context, name string, r io.Reader) (sha256hex string, err error)

	// Get opens an object. Errors: ENOTFOUND.
	Get(ctx context.Context, name string) (io.ReadCloser, error)

	// List returns the names of complete objects, sorted. Temporary or partial uploads are
	// never listed.
	List(ctx context.Context) ([]string, error)

	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, name string) error
}
