package backup

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestDir checks the local directory target: private modes, atomic puts that report the
// stored checksum, temporary files never listed, plain names only.
func TestDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backups")
	d, err := NewDir(path)
	must(t, err)
	ctx := t.Context()
	if d.Name() != "local:"+path {
		t.Errorf("name %q", d.Name())
	}
	body := []byte("encrypted bytes")
	sum, err := d.Put(ctx, "a.skjold.age", bytes.NewReader(body))
	must(t, err)
	if sum != sha256Hex(body) {
		t.Errorf("Put returned %s, want the content's SHA-256", sum)
	}
	// A half-written upload, as a crash would leave it, is not an object.
	must(t, os.WriteFile(filepath.Join(path, tmpPrefix+"123"), []byte("part"), 0o600))
	names, err := d.List(ctx)
	must(t, err)
	if !slices.Equal(names, []string{"a.skjold.age"}) {
		t.Errorf("List = %v", names)
	}
	for name, want := range map[string]os.FileMode{path: 0o700, filepath.Join(path, "a.skjold.age"): 0o600} {
		fi, err := os.Stat(name)
		must(t, err)
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	rc, err := d.Get(ctx, "a.skjold.age")
	must(t, err)
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("Get = %q", got)
	}
	_, err = d.Get(ctx, "missing")
	if skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("Get(missing): %v", err)
	}
	for _, bad := range []string{"", "../x", "sub/x", ".hidden"} {
		if _, err := d.Put(ctx, bad, strings.NewReader("x")); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("Put(%q): %v, want EINVALID", bad, err)
		}
	}
	must(t, d.Delete(ctx, "a.skjold.age"))
	must(t, d.Delete(ctx, "a.skjold.age")) // a missing object is no error
	if names, _ := d.List(ctx); len(names) != 0 {
		t.Errorf("after Delete: %v", names)
	}
}

// TestMergeJournals keeps every entry of both copies and refuses copies that disagree.
func TestMergeJournals(t *testing.T) {
	e := func(seq int64, subject string) *skjold.JournalEntry {
		return &skjold.JournalEntry{Seq: seq, TenantID: "t", SubjectID: subject, Kind: "subject", Reason: "request"}
	}
	got, err := mergeJournals([]*skjold.JournalEntry{e(1, "a"), e(3, "c")}, []*skjold.JournalEntry{e(1, "a"), e(2, "b"), e(4, "d")})
	must(t, err)
	var seqs []int64
	for _, x := range got {
		seqs = append(seqs, x.Seq)
	}
	if !slices.Equal(seqs, []int64{1, 2, 3, 4}) {
		t.Errorf("merged %v", seqs)
	}
	if _, err := mergeJournals([]*skjold.JournalEntry{e(1, "a")}, []*skjold.JournalEntry{e(1, "b")}); err == nil {
		t.Error("copies that disagree were merged")
	}
}
