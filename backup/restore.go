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
// loads it, migrates it to the newest schema, checks that the master keyring opens its
// tenant keys, applies again every erasure in the target's journal copy that is newer than
// the backup [D4], and verifies the audit chain. Only then is the database made servable:
// a SQLite file, all that done in a temporary file beside the destination, is renamed into
// place; a PostgreSQL database, loaded marked restore-pending (see store.LoadDump), has its
// mark removed. A restore cut off at any point (kill -9, power loss) therefore never leaves
// a database a server would serve with erased subjects in it. A failed restore removes
// what it wrote of a SQLite file; a PostgreSQL database must be dropped.
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
	if missing := MissingKeys(m, o.Keys); len(missing) > 0 {
		return nil, fmt.Errorf("restore: refused: %w", errMissingKeys(m, missing))
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
	var rep *RestoreReport
	if isPostgres(o.DSN) {
		rep, err = restorePostgres(ctx, r, m, o, journal)
	} else {
		rep, err = restoreSQLite(ctx, r, m, o, journal)
	}
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	rep.Took = time.Since(start)
	o.Log.Info("backup restored", "component", "backup", "id", m.ID, "took", rep.Took.Round(time.Millisecond).String(),
		"fetch", fetched.Sub(start).Round(time.Millisecond).String(), "replayed", rep.Replayed, "chain", rep.ChainLength)
	return rep, nil
}

// crashPoint is called at each step of a restore with the step's name ("loaded" once the
// data is written, "finished" once it is migrated, replayed and verified but not yet made
// servable). It does nothing; a test sets it to kill the process there.
var crashPoint = func(step string) {}

// restorePostgres loads the dump into the empty database, marked restore-pending, finishes
// the restore in it and only then removes the mark.
func restorePostgres(ctx context.Context, r io.Reader, m *skjold.Manifest, o RestoreOptions, journal []*skjold.JournalEntry) (*RestoreReport, error) {
	const drop = "(the database holds the loaded rows without the erasure journal applied, and is marked so that " +
		"skjold refuses to serve it: drop it)"
	info, err := store.LoadDump(ctx, o.DSN, r, o.Log)
	if err != nil {
		return nil, err
	}
	if err := compareRows(m, info.SchemaVersion, info.Rows); err != nil {
		return nil, fmt.Errorf("%w %s", err, drop)
	}
	crashPoint("loaded")
	rep, err := finish(ctx, o, o.DSN, m, journal)
	if err != nil {
		return nil, fmt.Errorf("%w %s", err, drop)
	}
	return rep, nil
}

// restoreSQLite writes the database beside its destination under a temporary name, checks
// it against the manifest, finishes the restore in it, and links it to the destination,
// which fails if that appeared meanwhile. The temporary file goes in every case.
func restoreSQLite(ctx context.Context, r io.Reader, m *skjold.Manifest, o RestoreOptions, journal []*skjold.JournalEntry) (*RestoreReport, error) {
	path := strings.TrimPrefix(o.DSN, "sqlite:")
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	removeLeftovers(dir) // of a restore cut off before: they hold personal data
	tmp := filepath.Join(dir, restorePrefix+m.ID+".db")
	defer removeSQLite(tmp)
	if err := copyFile(tmp, r); err != nil {
		return nil, err
	}
	info, err := store.InspectSQLite(ctx, tmp)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := compareRows(m, info.SchemaVersion, info.Rows); err != nil {
		return nil, err
	}
	crashPoint("loaded")
	rep, err := finish(ctx, o, tmp, m, journal)
	if err != nil {
		return nil, err
	}
	if err := place(tmp, path); err != nil {
		return nil, err
	}
	return rep, nil
}

// restorePrefix starts the name of a database being restored beside its destination.
const restorePrefix = ".skjold-restore-"

// place links the finished database tmp to path, once its write-ahead log is folded in.
func place(tmp, path string) error {
	if fi, err := os.Stat(tmp + "-wal"); err == nil && fi.Size() > 0 {
		return fmt.Errorf("place the database: %s-wal was not checkpointed", filepath.Base(tmp))
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		os.Remove(path) // an empty file is what "new" allows
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("place the database: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// removeLeftovers removes the temporary databases of restores into dir that were cut off.
func removeLeftovers(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, restorePrefix+"*"))
	for _, p := range old {
		os.Remove(p)
	}
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

// finish opens the loaded database at dsn (which migrates it forward), checks that the
// keyring opens its tenant keys, replays the journal, verifies the audit chain, and marks
// the database finished; the step before it is made servable is crashPoint("finished").
func finish(ctx context.Context, o RestoreOptions, dsn string, m *skjold.Manifest, journal []*skjold.JournalEntry) (*RestoreReport, error) {
	db, err := store.Open(ctx, dsn, store.Options{Keys: o.Keys, Logger: o.Log, Restoring: true})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.CheckTenantKeys(ctx); err != nil {
		if m.KeyFingerprint != "" && m.KeyFingerprint != o.Keys.PrimaryKeyID() {
			err = fmt.Errorf("%w (the backup was made under master key %s; the keyring's primary is %s)", err,
				m.KeyFingerprint, o.Keys.PrimaryKeyID())
		}
		return nil, skjold.Errorf(skjold.EINVALID, "refused: %v", err)
	}
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
	crashPoint("finished")
	if err := db.FinishRestore(op); err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil { // folds SQLite's write-ahead log into the file
		return nil, err
	}
	return &RestoreReport{Manifest: m, Replayed: n, ChainLength: chain.Length}, nil
}

// removeSQLite removes a SQLite database file and its companions.
func removeSQLite(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
}
