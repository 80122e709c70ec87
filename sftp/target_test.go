package sftp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/internal/sshdtest"
)

// newTarget starts sshd and returns a Target on its directory.
func newTarget(t *testing.T) (*Target, *sshdtest.Server) {
	t.Helper()
	srv := sshdtest.Start(t)
	return targetFor(t, srv, srv.Dir), srv
}

func targetFor(t *testing.T, srv *sshdtest.Server, dir string) *Target {
	t.Helper()
	tg, err := New(Config{Addr: srv.Addr, User: srv.User, KeyFile: srv.KeyFile,
		KnownHostsFile: srv.KnownHostsFile, Dir: dir, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func get(t *testing.T, tg skjold.Target, name string) []byte {
	t.Helper()
	rc, err := tg.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func list(t *testing.T, tg skjold.Target) []string {
	t.Helper()
	names, err := tg.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return names
}

// dirEntries lists the server's directory as it is on disk, temporary files included.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tg, srv := newTarget(t)
	ctx := t.Context()
	first, second := randomBytes(t, 1<<20+17), randomBytes(t, 1000)

	got, err := tg.Put(ctx, "b.skjold.age", bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if got != sum(first) {
		t.Errorf("Put returned SHA-256 %s, want %s", got, sum(first))
	}
	if _, err := tg.Put(ctx, skjold.JournalFile, strings.NewReader("{}\n")); err != nil {
		t.Fatal(err)
	}
	if names, want := list(t, tg), []string{"b.skjold.age", skjold.JournalFile}; !slices.Equal(names, want) {
		t.Errorf("List = %q, want %q", names, want)
	}
	if b := get(t, tg, "b.skjold.age"); !bytes.Equal(b, first) {
		t.Errorf("Get returned %d bytes that differ from the %d put", len(b), len(first))
	}
	onDisk, err := os.ReadFile(filepath.Join(srv.Dir, "b.skjold.age"))
	if err != nil || !bytes.Equal(onDisk, first) {
		t.Errorf("the server's file differs from what was put (read error: %v)", err)
	}

	// A second Put of the same name replaces the object whole.
	if got, err := tg.Put(ctx, "b.skjold.age", bytes.NewReader(second)); err != nil || got != sum(second) {
		t.Fatalf("replacing Put = %s, %v; want %s", got, err, sum(second))
	}
	if b := get(t, tg, "b.skjold.age"); !bytes.Equal(b, second) {
		t.Errorf("after replacing, Get returned %d bytes, want the %d of the second Put", len(b), len(second))
	}

	for range 2 { // deleting a missing object is not an error
		if err := tg.Delete(ctx, "b.skjold.age"); err != nil {
			t.Fatal(err)
		}
	}
	if names := list(t, tg); !slices.Equal(names, []string{skjold.JournalFile}) {
		t.Errorf("after Delete, List = %q", names)
	}
	if _, err := tg.Get(ctx, "b.skjold.age"); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("Get of a deleted object: %v, want code %s", err, skjold.ENOTFOUND)
	}
	if n := tg.Name(); !strings.HasPrefix(n, "sftp:"+srv.User+"@"+srv.Addr) {
		t.Errorf("Name = %q", n)
	}
}

// failingReader yields n random bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	p = p[:min(len(p), r.n)]
	rand.Read(p)
	r.n -= len(p)
	return len(p), nil
}

func TestInterruptedUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	tg, srv := newTarget(t)
	ctx := t.Context()
	old := randomBytes(t, 5000)
	if _, err := tg.Put(ctx, "x.skjold.age", bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}

	errBroken := errors.New("the backup stream broke")
	for _, name := range []string{"x.skjold.age", "y.skjold.age"} {
		_, err := tg.Put(ctx, name, &failingReader{n: 700 << 10, err: errBroken})
		t.Log(err)
		if !errors.Is(err, errBroken) {
			t.Errorf("Put %s from a failing reader: %v, want it to wrap %v", name, err, errBroken)
		}
	}
	if names := list(t, tg); !slices.Equal(names, []string{"x.skjold.age"}) {
		t.Errorf("List = %q, want only the complete object", names)
	}
	if b := get(t, tg, "x.skjold.age"); !bytes.Equal(b, old) {
		t.Error("an interrupted replacement changed the existing object")
	}
	if files := dirEntries(t, srv.Dir); !slices.Equal(files, []string{"x.skjold.age"}) {
		t.Errorf("the server's directory holds %q; the temporary files were not removed", files)
	}
}

func TestCancelledUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	tg, srv := newTarget(t)
	ctx, cancel := context.WithCancel(t.Context())
	r := &cancellingReader{r: bytes.NewReader(randomBytes(t, 4<<20)), after: 1 << 20, cancel: cancel}
	_, err := tg.Put(ctx, "c.skjold.age", r)
	t.Log(err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled midway: %v, want it to wrap context.Canceled", err)
	}
	if names := list(t, tg); len(names) != 0 {
		t.Errorf("List = %q after a cancelled upload, want nothing", names)
	}
	// The connection died with the context, so the temporary file may stay; it is not an object.
	for _, f := range dirEntries(t, srv.Dir) {
		if !strings.HasPrefix(f, tempPrefix) {
			t.Errorf("the server's directory holds %q", f)
		}
	}
}

// cancellingReader cancels its context once after bytes have been read.
type cancellingReader struct {
	r      io.Reader
	after  int
	cancel func()
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.after -= n; c.after <= 0 {
		c.cancel()
	}
	return n, err
}

func TestListSkipsTemporaryFilesAndDirectories(t *testing.T) {
	t.Parallel()
	tg, srv := newTarget(t)
	for name, content := range map[string]string{
		".tmp-ABCDEF":     "a partial upload left by a dropped connection",
		"a.manifest.json": "{}",
	} {
		if err := os.WriteFile(filepath.Join(srv.Dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(srv.Dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if names := list(t, tg); !slices.Equal(names, []string{"a.manifest.json"}) {
		t.Errorf("List = %q, want only the complete object", names)
	}
	if _, err := tg.Get(t.Context(), ".tmp-ABCDEF"); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Errorf("Get of a temporary name: %v, want code %s", err, skjold.EINVALID)
	}
}

func TestRenameWithoutPosixExtension(t *testing.T) {
	t.Parallel()
	tg, srv := newTarget(t)
	ctx := t.Context()
	if _, err := tg.Put(ctx, "r", strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	c, err := tg.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.canPosixRename = false // as on a server without posix-rename@openssh.com
	tmp := tg.path(tempPrefix + "test")
	if _, err := c.upload(tmp, strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	if err := c.commit(tmp, tg.path("r")); err != nil {
		t.Fatal(err)
	}
	if b := get(t, tg, "r"); string(b) != "new" {
		t.Errorf("after commit, r holds %q", b)
	}
	if files := dirEntries(t, srv.Dir); !slices.Equal(files, []string{"r"}) {
		t.Errorf("the server's directory holds %q", files)
	}
}

func TestBadNames(t *testing.T) {
	t.Parallel()
	tg, _ := newTarget(t)
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, ".tmp-x", ".hidden"} {
		if _, err := tg.Put(t.Context(), name, strings.NewReader("x")); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("Put %q: %v, want code %s", name, err, skjold.EINVALID)
		}
		if err := tg.Delete(t.Context(), name); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("Delete %q: %v, want code %s", name, err, skjold.EINVALID)
		}
	}
}

// TestUploadsAreOwnerOnly: a backup or journal lands on the SFTP host with mode 0600, like a
// local copy, whatever the server's umask would give a new file.
func TestUploadsAreOwnerOnly(t *testing.T) {
	t.Parallel()
	tg, srv := newTarget(t)
	for _, name := range []string{"b.skjold.age", skjold.JournalFile} {
		if _, err := tg.Put(t.Context(), name, strings.NewReader("sealed\n")); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(srv.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o on the server, want 0600", name, perm)
		}
	}
}
