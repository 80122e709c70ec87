package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
)

// TestAuditVerifyCheckpointMismatch removes the last events of a stopped server's chain and
// fixes audit_head, as someone with write access to the database but no master key could:
// the chain alone still verifies, but `skjold audit verify` compares it with the signed
// checkpoints in the data directory and on the backup target, and reports the truncation [F3].
func TestAuditVerifyCheckpointMismatch(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	backups := t.TempDir()
	id := filepath.Join(t.TempDir(), "backup-identity.txt")
	recipient, err := runCLI(t, nil, "backup", "keygen", "--out", id)
	if err != nil {
		t.Fatal(err)
	}
	environ := map[string]string{"SKJOLD_BACKUP_DIRS": backups, "SKJOLD_BACKUP_RECIPIENTS": strings.TrimSpace(recipient)}
	s := startServer(t, data, environ)
	walkthrough(t, s, readToken(t, data))
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// The server signed the chain as it left it; a backup run copies the file to the target.
	local := filepath.Join(data, skjold.CheckpointFile)
	cps, err := backup.ReadCheckpointFile(local)
	if err != nil || len(cps) == 0 {
		t.Fatalf("checkpoints in the data directory: %v, %v", cps, err)
	}
	if out, err := runCLI(t, environ, "backup", "run", "--data", data); err != nil {
		t.Fatalf("backup run: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(backups, skjold.CheckpointFile)); err != nil {
		t.Fatalf("the checkpoints were not copied to the backup target: %v", err)
	}
	out, err := runCLI(t, environ, "audit", "verify", "--data", data)
	if err != nil || !strings.HasPrefix(out, "audit chain OK") || !strings.Contains(out, "checkpoints from "+local+": ") ||
		!strings.Contains(out, "checkpoints from local:"+backups+": ") {
		t.Fatalf("audit verify before the tampering: %v\n%s", err, out)
	}

	db, err := sql.Open("sqlite", filepath.Join(data, "skjold.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DROP TRIGGER audit_events_no_delete",
		"DELETE FROM audit_events WHERE seq > (SELECT MAX(seq) - 3 FROM audit_events)",
		"UPDATE audit_head SET (seq, hash) = (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	out, err = runCLI(t, environ, "audit", "verify", "--data", data)
	if err == nil || !strings.HasPrefix(out, "audit chain BROKEN") || !strings.Contains(out, "events were removed from the end") {
		t.Fatalf("audit verify after the truncation: %v\n%s", err, out)
	}
	t.Logf("audit verify after the truncation:\n%s", out)
	// The copy on the backup target alone is enough.
	if err := os.Remove(local); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, environ, "audit", "verify", "--data", data)
	if err == nil || !strings.HasPrefix(out, "audit chain BROKEN") || !strings.Contains(out, "checkpoints from "+local+": none") {
		t.Fatalf("audit verify with the target's copy only: %v\n%s", err, out)
	}
}
