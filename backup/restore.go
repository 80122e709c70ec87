package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// RestoreOptions say what to restore where. From, Identities, DSN and Keys are required.
type RestoreOptions struct {
	From       skjold.Target
	ID         string // "" for the newest backup
	Identities []age.Identity
	// DSN is where to restore: a new SQLite file path (it must not exist, or be empty) or the
	// postgres:// URL of an empty PostgreSQL database.
	DSN  string
	Keys skjold.KeyService // the master keyring the data is sealed under
	Log  *slog.Logger
}

// RestoreReport says what a restore did.
type RestoreReport struct {
	Manifest    *skjold.Manifest
	Took        time.Duration
	Replayed    int   // erasure journal entries applied again
	ChainLength int64 // the verified audit chain's length after the restore
}

// Restore restores a backup into a new database [E4]: it checks the file's SHA-256 against
// its manifest BEFORE decrypting (a truncated, altered or bit-flipped file is refused and
// nothing is written), decrypts and decompresses it, checks its rows against the manifest,
// loads it (SQLite: the file; PostgreSQL: the dump into the empty database), migrates it to
// the newest schema, applies again every erasure in the target's journal copy that is newer
// than the backup [D4], and verifies the audit chain. It returns only when all that is done,
// so a server started afterwards never serves what was erased. A restore that fails after
// the SQLite file was placed removes it again.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreReport, error) {
	start := time.Now()
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	m, err := find(ctx, o.From, o.ID)
	if err != nil {
		return nil, err
	}
	journal, err := readJournal(ctx, o.From)
	if err != nil {
		return nil, fmt.Errorf("restore: the erasure journal: %w", err)
	}
	if err := checkFreshTarget(ctx, o.DSN, m); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "skjold-restore-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f, err := fetch(ctx, o.From, m, dir)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	fetched := time.Now()
	r, err := open(f, o.Identities)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer r.Close()
	if err := load(ctx, r, m, o); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	loaded := time.Now()
	rep, err := finish(ctx, o, m, journal)
	if err != nil && isPostgres(o.DSN) {
		return nil, fmt.Errorf("restore: %w (the database holds the loaded rows without the journal applied: drop it, do not serve it)", err)
	} else if err != nil {
		removeSQLite(o.DSN)
		return nil, fmt.Errorf("restore: %w", err)
	}
	rep.Took = time.Since(start)
	o.Log.Info("backup restored", "component", "backup", "id", m.ID, "took", rep.Took.Round(time.Millisecond).String(),
		"fetch", fetched.Sub(start).Round(time.Millisecond).String(), "load", loaded.Sub(fetched).Round(time.Millisecond).String(),
		"finish", time.Since(loaded).Round(time.Millisecond).String(), "replayed", rep.Replayed, "chain", rep.ChainLength)
	return rep, nil
}

func (o *RestoreOptions) check() error {
	switch {
	case o.From == nil:
		return skjold.Errorf(skjold.EINVALID, "restore: name the target to restore from")
	case len(o.Identities) == 0:
		return skjold.Errorf(skjold.EINVALID, "restore: an age identity is needed to decrypt the backup")
	case o.DSN == "":
		return skjold.Errorf(skjold.EINVALID, "restore: name where to restore to: a new SQLite file or an empty postgres:// database")
	case o.Keys == nil:
		return skjold.Errorf(skjold.EINVALID, "restore: the master keyring is needed")
	}
	return nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// checkFreshTarget refuses a target that cannot take backup m: a SQLite file that exists and
// is not empty, or a backup of the other engine. (LoadDump refuses a non-empty PostgreSQL
// database itself.)
func checkFreshTarget(ctx context.Context, dsn string, m *skjold.Manifest) error {
	if isPostgres(dsn) {
		if m.Format != store.FormatDump {
			return skjold.Errorf(skjold.EINVALID, "backup %s is a SQLite database: restore it to a file path", m.ID)
		}
		return nil
	}
	if m.Format != store.FormatSQLite {
		return skjold.Errorf(skjold.EINVALID, "backup %s is a PostgreSQL dump: restore it into an empty postgres:// database", m.ID)
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if fi.Size() > 0 || p != path {
			return skjold.Errorf(skjold.ECONFLICT, "restore: %s already exists: restore into a new data directory", p)
		}
	}
	return nil
}

// load places the decrypted snapshot: the SQLite file, or the dump loaded into PostgreSQL.
func load(ctx context.Context, r io.Reader, m *skjold.Manifest, o RestoreOptions) error {
	if isPostgres(o.DSN) {
		info, err := store.LoadDump(ctx, o.DSN, r, o.Log)
		if err != nil {
			return err
		}
		return compareRows(m, info.SchemaVersion, info.Rows)
	}
	return placeSQLite(ctx, r, m, strings.TrimPrefix(o.DSN, "sqlite:"))
}

// placeSQLite writes the database beside path under a temporary name, checks it against the
// manifest, and links it to path, which fails if path appeared meanwhile.
func placeSQLite(ctx context.Context, r io.Reader, m *skjold.Manifest, path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".skjold-restore-"+m.ID+".db")
	os.Remove(tmp)
	defer os.Remove(tmp)
	if err := copyFile(tmp, r); err != nil {
		return err
	}
	info, err := store.InspectSQLite(ctx, tmp)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := compareRows(m, info.SchemaVersion, info.Rows); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		os.Remove(path) // an empty file is what "new" allows
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("place the database: %w", err)
	}
	return syncDir(dir)
}

// finish opens the restored database (which migrates it forward), replays the journal and
// verifies the audit chain.
func finish(ctx context.Context, o RestoreOptions, m *skjold.Manifest, journal []*skjold.JournalEntry) (*RestoreReport, error) {
	if m.KeyFingerprint != "" && m.KeyFingerprint != o.Keys.PrimaryKeyID() {
		o.Log.Warn("the backup was sealed under another primary master key; the keyring must still hold it",
			"component", "backup", "backup_key", m.KeyFingerprint, "keyring_primary", o.Keys.PrimaryKeyID())
	}
	db, err := store.Open(ctx, o.DSN, store.Options{Keys: o.Keys, Logger: o.Log})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	op := skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "system:restore", Operator: true, Source: "local"})
	// First, so that audit checkpoints of the chain the restore replaces no longer apply [F3].
	if err := db.MarkRestored(op, m.ID); err != nil {
		return nil, err
	}
	n, err := db.ReplayJournal(op, journal, m.JournalSeq, m.ID)
	if err != nil {
		return nil, err
	}
	chain, err := db.VerifyAuditChain(op)
	if err != nil {
		return nil, fmt.Errorf("the restored audit chain does not verify: %w", err)
	}
	return &RestoreReport{Manifest: m, Replayed: n, ChainLength: chain.Length}, nil
}

// removeSQLite removes a restored SQLite database that failed its checks.
func removeSQLite(dsn string) {
	path := strings.TrimPrefix(dsn, "sqlite:")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
}
