package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// ErrWrongIdentity is returned (wrapped) when none of the identities given can decrypt a
// backup.
var ErrWrongIdentity = errors.New("the identity does not match the backup's recipients")

// ErrCorrupt is returned (wrapped) for a backup whose file does not match its manifest, or
// that fails to decrypt or decompress: it is never restored.
var ErrCorrupt = errors.New("the backup is damaged or was altered")

// Verify checks backup id on t (the newest when id is "") and returns its manifest: the
// file's size and SHA-256 against the manifest, and, with identities, that it decrypts and
// decompresses in full and holds the manifest's schema version and rows of every table.
// Errors wrap ErrCorrupt or ErrWrongIdentity; ENOTFOUND when t holds no such backup.
func Verify(ctx context.Context, t skjold.Target, id string, ids []age.Identity) (*skjold.Manifest, error) {
	m, err := find(ctx, t, id)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return m, checksum(ctx, t, m)
	}
	dir, err := os.MkdirTemp("", "skjold-verify-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f, err := fetch(ctx, t, m, dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := open(f, ids)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return m, checkContent(ctx, r, m, dir)
}

// checksum reads the backup file from t and compares its size and SHA-256 with m.
func checksum(ctx context.Context, t skjold.Target, m *skjold.Manifest) error {
	rc, err := t.Get(ctx, skjold.BackupFile(m.ID))
	if err != nil {
		return fmt.Errorf("backup %s on %s: %w", m.ID, t.Name(), err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, rc})
	if err != nil {
		return fmt.Errorf("backup %s on %s: read: %w", m.ID, t.Name(), err)
	}
	return compareSum(m, n, h.Sum(nil))
}

func compareSum(m *skjold.Manifest, n int64, sum []byte) error {
	if n != m.Size {
		return fmt.Errorf("backup %s: %w: it has %d bytes, its manifest says %d (truncated?)", m.ID, ErrCorrupt, n, m.Size)
	}
	if hex.EncodeToString(sum) != m.SHA256 {
		return fmt.Errorf("backup %s: %w: its SHA-256 does not match its manifest", m.ID, ErrCorrupt)
	}
	return nil
}

// fetch copies the backup file from t into dir, checking its size and SHA-256 against m, and
// returns it open at its start. Nothing is decrypted from a file that fails the check.
func fetch(ctx context.Context, t skjold.Target, m *skjold.Manifest, dir string) (*os.File, error) {
	rc, err := t.Get(ctx, skjold.BackupFile(m.ID))
	if err != nil {
		return nil, fmt.Errorf("backup %s on %s: %w", m.ID, t.Name(), err)
	}
	defer rc.Close()
	f, err := os.OpenFile(filepath.Join(dir, skjold.BackupFile(m.ID)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, rc})
	if err == nil {
		err = compareSum(m, n, h.Sum(nil))
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// open decrypts and decompresses a backup file. The caller closes the reader, which stops
// the decompressor's goroutines.
func open(r io.Reader, ids []age.Identity) (io.ReadCloser, error) {
	ar, err := age.Decrypt(r, ids...)
	var noMatch *age.NoIdentityMatchError
	if errors.As(err, &noMatch) {
		return nil, ErrWrongIdentity
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	zr, err := zstd.NewReader(ar)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return corruptReader{zr.IOReadCloser()}, nil
}

// corruptReader marks every read error of a decrypting, decompressing stream as ErrCorrupt:
// age authenticates each chunk, so a flipped bit fails there.
type corruptReader struct{ r io.ReadCloser }

func (c corruptReader) Close() error { return c.r.Close() }

func (c corruptReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return n, err
}

// checkContent reads the whole decrypted snapshot and compares what it holds with m.
func checkContent(ctx context.Context, r io.Reader, m *skjold.Manifest, dir string) error {
	var rows map[string]int64
	var schema int
	switch m.Format {
	case store.FormatSQLite:
		path := filepath.Join(dir, "check.db")
		if err := copyFile(path, r); err != nil {
			return fmt.Errorf("backup %s: %w", m.ID, err)
		}
		info, err := store.InspectSQLite(ctx, path)
		if err != nil {
			return fmt.Errorf("backup %s: %w: %v", m.ID, ErrCorrupt, err)
		}
		rows, schema = info.Rows, info.SchemaVersion
	case store.FormatDump:
		info, err := store.ReadDump(r)
		if err != nil {
			return fmt.Errorf("backup %s: %w: %v", m.ID, ErrCorrupt, err)
		}
		rows, schema = info.Rows, info.SchemaVersion
	default:
		return fmt.Errorf("backup %s has format %q, which this version does not read", m.ID, m.Format)
	}
	return compareRows(m, schema, rows)
}

// compareRows checks a snapshot's schema version and rows against its manifest.
func compareRows(m *skjold.Manifest, schema int, rows map[string]int64) error {
	if schema != m.SchemaVersion {
		return fmt.Errorf("backup %s: %w: it holds schema %d, its manifest says %d", m.ID, ErrCorrupt, schema, m.SchemaVersion)
	}
	if maps.Equal(rows, m.Rows) {
		return nil
	}
	tables := make([]string, 0, len(rows)+len(m.Rows))
	for t := range rows {
		tables = append(tables, t)
	}
	for t := range m.Rows {
		if _, ok := rows[t]; !ok {
			tables = append(tables, t)
		}
	}
	sort.Strings(tables)
	for _, t := range tables {
		if rows[t] != m.Rows[t] {
			return fmt.Errorf("backup %s: %w: table %s has %d rows, its manifest says %d", m.ID, ErrCorrupt, t, rows[t], m.Rows[t])
		}
	}
	return fmt.Errorf("backup %s: %w: its tables differ from its manifest's", m.ID, ErrCorrupt)
}
