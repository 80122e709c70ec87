package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeCleansInterruptedRestore: "skjold serve" finds a decrypted database that a restore
// into its data directory left when it was killed, overwrites and removes it before opening
// the database, logs it, and records restore.interrupted_cleaned in the audit chain [D4].
func TestServeCleansInterruptedRestore(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	must(t, s.stop())
	left := filepath.Join(data, ".skjold-restore-20261123T140000Z-1a2b3c4d.db")
	must(t, os.WriteFile(left, []byte(strings.Repeat("erased subject sub_0123456789 ", 1000)), 0o600))
	must(t, os.WriteFile(left+"-wal", []byte("erased subject sub_0123456789"), 0o600))
	// A second link to the same file (as a placed database would be) must survive intact.
	other := filepath.Join(t.TempDir(), "linked.db")
	must(t, os.Link(left, other))

	s = startServer(t, data, nil)
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("serve left the interrupted restore's database (%v)", err)
	}
	if _, err := os.Stat(left + "-wal"); !os.IsNotExist(err) {
		t.Errorf("serve left the interrupted restore's write-ahead log (%v)", err)
	}
	if b, _ := os.ReadFile(other); !strings.Contains(string(b), "sub_0123456789") {
		t.Error("serve overwrote a file that was linked elsewhere too")
	}
	if !strings.Contains(s.stderr.String(), "an interrupted restore was cleaned up") {
		t.Errorf("no log line about the cleanup:\n%s", s.stderr)
	}
	var page struct{ Items []struct{ Action string } }
	if code := s.call(t, "GET", "/api/v1/audit?limit=200", readToken(t, data), nil, &page); code != 200 {
		t.Fatalf("audit list: %d", code)
	}
	found := false
	for _, e := range page.Items {
		found = found || e.Action == "restore.interrupted_cleaned"
	}
	if !found {
		t.Errorf("no restore.interrupted_cleaned audit event in %+v", page.Items)
	}
}
