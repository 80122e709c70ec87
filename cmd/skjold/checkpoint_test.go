package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	// The copy on the backup target alone is enough.
	if err := os.Remove(local); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, environ, "audit", "verify", "--data", data)
	if err == nil || !strings.HasPrefix(out, "audit chain BROKEN") || !strings.Contains(out, "checkpoints from "+local+": none") {
		t.Fatalf("audit verify with the target's copy only: %v\n%s", err, out)
	}
}

// TestAuditVerifyAfterRestore restores an older backup: the checkpoints on the backup target
// record more events than the restored chain holds, yet verification passes, counting them as
// superseded by the restore, rather than failing for ever [F3].
func TestAuditVerifyAfterRestore(t *testing.T) {
	dir := t.TempDir()
	data, backups, restored := filepath.Join(dir, "skjold-data"), filepath.Join(dir, "backups"), filepath.Join(dir, "restored")
	identity := filepath.Join(dir, "backup-identity.txt")
	recipient, err := runCLI(t, nil, "backup", "keygen", "--out", identity)
	must(t, err)
	environ := map[string]string{"SKJOLD_BACKUP_DIRS": backups, "SKJOLD_BACKUP_RECIPIENTS": strings.TrimSpace(recipient)}
	s := startServer(t, data, environ)
	tok, _ := walkthrough(t, s, readToken(t, data))
	out, err := runCLI(t, environ, "backup", "run", "--data", data)
	must(t, err)
	first := regexp.MustCompile(`^backup (\S+):`).FindStringSubmatch(out)
	if first == nil {
		t.Fatalf("backup run printed %q", out)
	}
	for i := range 5 { // the chain grows past the first backup
		if code := s.call(t, "POST", "/api/v1/subjects", tok, map[string]string{"name": fmt.Sprintf("Later %d", i)}, nil); code != 201 {
			t.Fatalf("create subject: %d", code)
		}
	}
	// The next backup run copies the checkpoints to the target, and its rotation keeps only the
	// newest backup of the day: keep the first one's files aside and put them back.
	kept := map[string][]byte{}
	entries, err := os.ReadDir(backups)
	must(t, err)
	for _, e := range entries {
		if strings.Contains(e.Name(), first[1]) {
			b, err := os.ReadFile(filepath.Join(backups, e.Name()))
			must(t, err)
			kept[e.Name()] = b
		}
	}
	if len(kept) == 0 {
		t.Fatalf("no file of backup %s in %s", first[1], backups)
	}
	must(t, s.stop()) // signs the longer chain
	_, err = runCLI(t, environ, "backup", "run", "--data", data)
	must(t, err)
	for name, b := range kept {
		must(t, os.WriteFile(filepath.Join(backups, name), b, 0o600))
	}
	cps, err := backup.ReadCheckpointFile(filepath.Join(backups, skjold.CheckpointFile))
	if err != nil || len(cps) == 0 {
		t.Fatalf("checkpoints on the target: %v, %v", cps, err)
	}

	must(t, os.MkdirAll(restored, 0o700))
	key, err := os.ReadFile(filepath.Join(data, "master.key"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(restored, "master.key"), key, 0o600))
	if out, err := runCLI(t, nil, "restore", "--from", backups, "--backup", first[1], "--identity", identity, "--to", restored); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	out, err = runCLI(t, environ, "audit", "verify", "--data", restored)
	if err != nil || !strings.HasPrefix(out, "audit chain OK") || !strings.Contains(out, "checkpoints from local:"+backups+": ") {
		t.Fatalf("audit verify of the restored database: %v\n%s", err, out)
	}
	var matched, superseded int
	if _, err := fmt.Sscanf(out[strings.Index(out, "checkpoints matched: "):], "checkpoints matched: %d; superseded by a restore (of events it did not bring back): %d",
		&matched, &superseded); err != nil || superseded == 0 || matched == 0 {
		t.Errorf("want checkpoints both matched (before the backup) and superseded (after it): %v\n%s", err, out)
	}
}
