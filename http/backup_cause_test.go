package http

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestBackupRunCauses: with no target able to take the backup, POST /api/v1/backups answers
// 503 naming each target and its cause; with one of two, 201 and the run says which took it
// and which did not, and why.
func TestBackupRunCauses(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Dir(e.dbPath)
	e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})

	// One target's directory is gone: the backup is made on the other.
	if err := os.RemoveAll(filepath.Join(dir, "backups-b")); err != nil {
		t.Fatal(err)
	}
	e.do(t, e.operator, "POST", "/api/v1/backups", nil).want(t, 201)
	var runs struct{ Items []skjold.BackupRun }
	e.do(t, e.operator, "GET", "/api/v1/backups/runs?limit=5", nil).want(t, 200).decode(t, &runs)
	if len(runs.Items) != 1 {
		t.Fatalf("runs %+v", runs)
	}
	note := runs.Items[0].Note
	if !strings.HasPrefix(note, "on ") || !strings.Contains(note, "backups-a") ||
		!strings.Contains(note, "backups-b: the bucket or directory does not exist") {
		t.Errorf("partial run note %q: want the target that took it, and the one that did not with its cause", note)
	}

	// Both gone: 503 with the targets and the cause, not 500 "internal error".
	if err := os.RemoveAll(filepath.Join(dir, "backups-a")); err != nil {
		t.Fatal(err)
	}
	d := e.do(t, e.operator, "POST", "/api/v1/backups", nil).wantError(t, 503, skjold.EUNAVAILABLE)
	for _, want := range []string{"no backup target took backup", "backups-a: the bucket or directory does not exist",
		"backups-b: the bucket or directory does not exist"} {
		if !strings.Contains(d.Message, want) {
			t.Errorf("503 message %q lacks %q", d.Message, want)
		}
	}
}

// TestConsoleBackupRunAllTargetsFail: the console says the backup failed (not that backups are
// not set up) when every target refused it.
func TestConsoleBackupRunAllTargetsFail(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Dir(e.dbPath)
	for _, d := range []string{"backups-a", "backups-b"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := e.operatorConsole(t, skjold.RoleOwner)
	r := c.post(t, "/console/operator/backups", url.Values{}).want(t, 503)
	wantText(t, r, "The backup failed.")
	if strings.Contains(text(r.body), "not set up") {
		t.Errorf("failed targets shown as backups not set up: %.800s", text(r.body))
	}
}
