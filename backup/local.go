package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/skjold-project/skjold"
)

// tmpPrefix starts the name of an object being written; List never shows one.
const tmpPrefix = ".tmp-"

// Dir is a target in a local directory [E2]: a mounted disk, a mirror's half. Objects are
// files of mode 0600 in a directory of mode 0700.
type Dir struct{ path string }

// NewDir returns the local directory target at path, creating it (0700) if needed.
func NewDir(path string) (skjold.Target, error) {
	if path == "" {
		return nil, errors.New("backup: a local target needs a directory")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("backup: target directory: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("backup: target %s is not a directory", abs)
	}
	return &Dir{path: abs}, nil
}

// Name returns "local:" and the directory.
func (d *Dir) Name() string { return "local:" + d.path }

// checkName refuses a name that is not a plain file name of an object.
func checkName(name string) error {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return skjold.Errorf(skjold.EINVALID, "%q is not an object name", name)
	}
	return nil
}

// Put writes r to a temporary file in the directory, syncs it, renames it over name and
// syncs the directory: a crash leaves the old object or the new one, never part of one
// (the leftover temporary file is never listed). It returns the SHA-256 read back from the
// renamed file.
func (d *Dir) Put(ctx context.Context, name string, r io.Reader) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(d.path, tmpPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("%s: %w", d.Name(), err)
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	defer f.Close()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return "", fmt.Errorf("%s: write %s: %w", d.Name(), name, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("%s: write %s: %w", d.Name(), name, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("%s: write %s: %w", d.Name(), name, err)
	}
	final := filepath.Join(d.path, name)
	if err := os.Rename(f.Name(), final); err != nil {
		return "", fmt.Errorf("%s: %w", d.Name(), err)
	}
	if err := syncDir(d.path); err != nil {
		return "", fmt.Errorf("%s: %w", d.Name(), err)
	}
	return fileSHA256(final)
}

// Get opens an object. Errors: ENOTFOUND.
func (d *Dir) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(d.path, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, skjold.Errorf(skjold.ENOTFOUND, "%s holds no %s", d.Name(), name)
	}
	return f, err
}

// List returns the names of the directory's objects, sorted, without temporary files.
func (d *Dir) List(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name(), err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Delete removes an object; a missing one is not an error.
func (d *Dir) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(d.path, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", d.Name(), err)
	}
	return syncDir(d.path)
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// fileSHA256 returns the hex SHA-256 of a file's content.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a copy once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
