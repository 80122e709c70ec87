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
	"syscall"
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

	cleaned []string // leftovers of an interrupted restore that this one removed
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
	crashPoint("fetched")
	fetched := time.Now()
	r, err := open(withProgress(ctx, f, m.Size), o.Identities)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer r.Close()
	var rep *RestoreReport
	sr := &stepReader{r: r}
	if isPostgres(o.DSN) {
		rep, err = restorePostgres(ctx, sr, m, o, journal)
	} else {
		rep, err = restoreSQLite(ctx, sr, m, o, journal)
	}
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	rep.Took = time.Since(start)
	o.Log.Info("backup restored", "component", "backup", "id", m.ID, "took", rep.Took.Round(time.Millisecond).String(),
		"fetch", fetched.Sub(start).Round(time.Millisecond).String(), "replayed", rep.Replayed, "chain", rep.ChainLength)
	return rep, nil
}

// crashPoint is called at each step of a restore with the step's name ("writing" once the
// first decrypted bytes are read, "loaded" once the data is written, "finished" once it is
// migrated, replayed and verified but not yet made servable). It does nothing; a test sets
// it to kill the process there.
var crashPoint = func(step string) {}

// stepReader calls crashPoint("writing") at its second read: the decrypted data is then
// being written.
type stepReader struct {
	r     io.Reader
	reads int
}

func (s *stepReader) Read(p []byte) (int, error) {
	if s.reads++; s.reads == 2 {
		crashPoint("writing")
	}
	return s.r.Read(p)
}

// restorePostgres loads the dump into the empty database, marked restore-pending, finishes
// the restore in it and only then removes the mark.
func restorePostgres(ctx context.Context, r io.Reader, m *skjold.Manifest, o RestoreOptions, journal []*skjold.JournalEntry) (*RestoreReport, error) {
	const drop = "(the database holds the loaded rows without the erasure journal applied, and is marked so that " +
		"skjold refuses to serve it: run \"skjold restore\" into it again, which starts over, or drop it)"
	info, err := store.LoadDump(ctx, o.DSN, r, o.Log)
	if err != nil {
		return nil, err
	}
	if info.Cleaned {
		o.cleaned = []string{"restore-pending database"}
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
	// A restore cut off before left a decrypted database that holds personal data, some of
	// it erased after the backup: it goes before anything else is written.
	cleaned, err := CleanInterrupted(dir)
	if err != nil {
		return nil, err
	}
	if len(cleaned) > 0 {
		o.cleaned = cleaned
		o.Log.Warn("an interrupted restore was cleaned up", "component", "backup", "dir", dir, "files", len(cleaned))
	}
	tmp := filepath.Join(dir, restorePrefix+m.ID+".db")
	defer shredSQLite(tmp)
	if err := copyFile(tmp, ctxReader{ctx, r}); err != nil {
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
	if err := ctx.Err(); err != nil { // stopped (SIGINT, SIGTERM): leave the directory as it was
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

// CleanInterrupted removes what a restore into dir that was cut off (kill -9, power loss)
// left there: the decrypted intermediate database and its companions, each overwritten with
// zeros, synced, then unlinked [D4] (a file that is also linked elsewhere, which is the
// finished database already placed, is only unlinked). "skjold serve" and "skjold restore"
// call it on start, with a log line and an audit event when it removed anything; it returns
// the names it removed.
func CleanInterrupted(dir string) ([]string, error) {
	old, err := filepath.Glob(filepath.Join(dir, restorePrefix+"*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, p := range old {
		if err := shred(p); err != nil {
			return removed, fmt.Errorf("remove an interrupted restore's %s: %w", filepath.Base(p), err)
		}
		removed = append(removed, filepath.Base(p))
	}
	if len(removed) > 0 {
		return removed, syncDir(dir)
	}
	return nil, nil
}

// shred overwrites the file at path with zeros unless it has other links, syncs it, and
// unlinks it. A missing file is not an error.
func shred(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); fi.Mode().IsRegular() && ok && st.Nlink == 1 && fi.Size() > 0 {
		if err := zero(path, fi.Size()); err != nil {
			return err
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// zero overwrites the first size bytes of the file at path with zeros and syncs it.
func zero(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<16)
	for left := size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return f.Sync()
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
	if len(o.cleaned) > 0 {
		if err := db.AuditBackupEvent(op, "restore.interrupted_cleaned", strings.Join(o.cleaned, ",")); err != nil {
			return nil, err
		}
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

// shredSQLite overwrites and removes a SQLite database file and its companions.
func shredSQLite(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		shred(p)
	}
}
