package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// Options configure a Backuper. Recipients and Targets are required.
type Options struct {
	// Recipients are who can decrypt the backups: X25519 public keys ("age1…"), so that the
	// server, which holds no identity, cannot read its own backups; or one passphrase
	// (age.NewScryptRecipient), which must then be the only recipient.
	Recipients []age.Recipient
	Targets    []skjold.Target
	Log        *slog.Logger
	Now        func() time.Time // defaults to time.Now
	// TempDir holds the snapshot and the encrypted file while a backup runs ("" for the
	// system's); each run makes a private (0700) directory in it and removes it after.
	TempDir string
	// Checkpoints is the local audit checkpoint file, copied to every target with the erasure
	// journal [F3]; "" for none.
	Checkpoints string
}

// Backuper makes backups of one database.
type Backuper struct {
	db   *store.DB
	opts Options
	log  *slog.Logger
}

// New returns a Backuper of db.
func New(db *store.DB, opts Options) *Backuper {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Backuper{db: db, opts: opts, log: opts.Log.With("component", "backup")}
}

// errNoRecipients refuses a backup nobody could decrypt, and says how to make a recipient.
var errNoRecipients = skjold.Errorf(skjold.EUNAVAILABLE, "no backup recipient is configured: make an identity "+
	"with \"skjold backup keygen --out backup-identity.txt\" (or age-keygen), keep that file off the server, "+
	"and set backup_recipients to the age1… public key it prints")

// Run makes a backup [E1]: a consistent snapshot, compressed (zstd) and encrypted (age) into
// one file, which is then put on every target, followed by its manifest (a backup without its
// manifest does not count) and the erasure journal. A target that fails does not stop the
// others: Run returns the manifest when at least one target holds the backup, with an error
// that names the targets that failed; with no target holding it, the manifest is nil.
func (b *Backuper) Run(ctx context.Context) (*skjold.Manifest, error) {
	if len(b.opts.Recipients) == 0 {
		return nil, errNoRecipients
	}
	if len(b.opts.Targets) == 0 {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "no backup target is configured: set backup_dirs")
	}
	dir, err := os.MkdirTemp(b.opts.TempDir, "skjold-backup-*") // 0700
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	// The keys in use before and after the snapshot include those of the snapshot, even
	// when a rotation rewraps tenant keys meanwhile.
	before, err := b.db.MasterKeysInUse(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	snap, err := b.db.Snapshot(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	after, err := b.db.MasterKeysInUse(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	snapped := time.Now()
	m := newManifest(snap, b.opts.Recipients)
	m.MasterKeys = slices.Compact(slices.Sorted(slices.Values(append(before, after...))))
	enc, err := seal(ctx, snap.Path, filepath.Join(dir, skjold.BackupFile(m.ID)), b.opts.Recipients, m)
	os.Remove(snap.Path) // the plain copy goes as soon as the sealed one exists
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	sealed := time.Now()
	held, err := b.putEverywhere(ctx, enc, m)
	if held == 0 {
		return nil, err
	}
	b.log.Info("backup made", "id", m.ID, "bytes", m.Size, "targets", held,
		"took", time.Since(start).Round(time.Millisecond).String(), "snapshot", snapped.Sub(start).Round(time.Millisecond).String(),
		"seal", sealed.Sub(snapped).Round(time.Millisecond).String(), "copy", time.Since(sealed).Round(time.Millisecond).String())
	return m, err
}

// newManifest describes a snapshot; Size and SHA256 are filled in by seal.
func newManifest(s *store.Snapshot, rs []age.Recipient) *skjold.Manifest {
	m := &skjold.Manifest{ID: NewID(s.Time), Time: s.Time.UTC().Truncate(time.Second), Engine: s.Engine,
		SchemaVersion: s.SchemaVersion, Format: s.Format, Rows: s.Rows, KeyFingerprint: s.KeyFingerprint,
		JournalSeq: s.JournalSeq, AuditSeq: s.AuditSeq}
	for _, r := range rs {
		m.Recipients = append(m.Recipients, recipientName(r))
	}
	return m
}

// recipientName is how the manifest names a recipient: its public key, or "scrypt" for a
// passphrase (which is not written down).
func recipientName(r age.Recipient) string {
	switch r := r.(type) {
	case *age.ScryptRecipient:
		return "scrypt"
	case fmt.Stringer:
		return r.String()
	}
	return fmt.Sprintf("%T", r)
}

// seal compresses and encrypts the snapshot at src into a new file at dst, fills in m's size
// and checksum, and returns the file open for reading from its start.
func seal(ctx context.Context, src, dst string, rs []age.Recipient, m *skjold.Manifest) (*os.File, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer in.Close()
	var size int64
	if fi, err := in.Stat(); err == nil {
		size = fi.Size()
	}
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	h := sha256.New()
	counter := &countWriter{}
	if err := compressEncrypt(io.MultiWriter(out, h, counter), withProgress(ctx, in, size), rs); err != nil {
		out.Close()
		return nil, err
	}
	m.Size, m.SHA256 = counter.n, hex.EncodeToString(h.Sum(nil))
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		out.Close()
		return nil, fmt.Errorf("backup: %w", err)
	}
	return out, nil
}

// compressEncrypt writes r to w compressed with zstd, then encrypted with age: the same
// bytes as "zstd | age -r …", which "age -d | zstd -d" reverses.
func compressEncrypt(w io.Writer, r io.Reader, rs []age.Recipient) error {
	aw, err := age.Encrypt(w, rs...)
	if err != nil {
		return fmt.Errorf("backup: encrypt: %w", err)
	}
	zw, err := zstd.NewWriter(aw, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return fmt.Errorf("backup: compress: %w", err)
	}
	if _, err := zw.ReadFrom(r); err != nil {
		zw.Close()
		return fmt.Errorf("backup: compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("backup: compress: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("backup: encrypt: %w", err)
	}
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// putEverywhere puts the backup, then its manifest, then the journal and the audit
// checkpoints on every target, and returns how many targets hold the backup, with every failure.
func (b *Backuper) putEverywhere(ctx context.Context, f *os.File, m *skjold.Manifest) (int, error) {
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return 0, err
	}
	journal, err := b.journalFile(ctx, filepath.Dir(f.Name()))
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(journal)
	checkpoints, err := ReadCheckpointFile(b.opts.Checkpoints)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	var errs []error
	held := 0
	for _, t := range b.opts.Targets {
		if err := putBackup(ctx, t, f, m, body); err != nil {
			b.log.Error("backup copy failed", "target", t.Name(), "id", m.ID, "err", err)
			errs = append(errs, newTargetError(t.Name(), err))
			continue
		}
		held++
		if err := putJournal(ctx, t, journal); err != nil {
			b.log.Error("erasure journal copy failed", "target", t.Name(), "err", err)
			errs = append(errs, newTargetError(t.Name(), fmt.Errorf("erasure journal: %w", err)))
		}
		if len(checkpoints) == 0 {
			continue
		}
		if err := putCheckpoints(ctx, t, checkpoints); err != nil {
			b.log.Error("audit checkpoints copy failed", "target", t.Name(), "err", err)
			errs = append(errs, newTargetError(t.Name(), fmt.Errorf("audit checkpoints: %w", err)))
		}
	}
	if held == 0 {
		// EUNAVAILABLE: the API answers 503 with the targets and causes, not "internal error".
		return 0, fmt.Errorf("%w: %w", skjold.Errorf(skjold.EUNAVAILABLE, "no backup target took backup %s: %s",
			m.ID, shortList(targetErrors(errors.Join(errs...)))), errors.Join(errs...))
	}
	if len(errs) > 0 {
		return held, fmt.Errorf("backup %s is on %d of %d targets: %w", m.ID, held, len(b.opts.Targets), errors.Join(errs...))
	}
	return held, nil
}

// putBackup puts the encrypted file and checks the target's checksum, then the manifest.
func putBackup(ctx context.Context, t skjold.Target, f *os.File, m *skjold.Manifest, manifest []byte) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sum, err := t.Put(ctx, skjold.BackupFile(m.ID), f)
	if err != nil {
		return err
	}
	if sum != m.SHA256 {
		t.Delete(ctx, skjold.BackupFile(m.ID))
		return errors.New("the copy's checksum does not match: it was not stored intact")
	}
	_, err = t.Put(ctx, skjold.ManifestFile(m.ID), bytes.NewReader(manifest))
	return err
}
