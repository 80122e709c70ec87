package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/skjold-project/skjold/internal/sshdtest"
)

// TestBackupCommands drives the backup commands through run against a serving node: keygen,
// a refusal without a recipient, backup run to two mirrored directories while serving (which,
// like POST /api/v1/backups, records the run and rotates: a backup older than backup_keep
// days goes), an erasure (which the server appends to the mirrors' journal copies before it
// answers), list, verify with and without the identity, then a restore into a new data
// directory of the backup, which erases again the subject erased after it, and prints the
// time it took.
func TestBackupCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "skjold-data")
	identity := filepath.Join(dir, "backup-identity.txt")
	recipient, err := runCLI(t, nil, "backup", "keygen", "--out", identity)
	must(t, err)
	recipient = strings.TrimSpace(recipient)
	mustMode(t, identity, 0o600)
	if !strings.HasPrefix(recipient, "age1") {
		t.Fatalf("keygen printed %q", recipient)
	}
	mirrors := filepath.Join(dir, "mirror-a") + "," + filepath.Join(dir, "mirror-b")
	env := map[string]string{"SKJOLD_BACKUP_RECIPIENTS": recipient, "SKJOLD_BACKUP_DIRS": mirrors}
	s := startServer(t, data, env)
	out, err := runCLI(t, nil, "tenant", "create", "--name", "Vestland Reiser AS", "--json", "--data", data)
	must(t, err)
	var tn struct{ Token struct{ Secret string } }
	must(t, json.Unmarshal([]byte(out), &tn))
	var kept, gone struct{ ID string }
	for name, sub := range map[string]*struct{ ID string }{"Kari Nordmann": &kept, "Ola Nordmann": &gone} {
		if code := s.call(t, "POST", "/api/v1/subjects", tn.Token.Secret, map[string]string{"name": name}, sub); code != 201 {
			t.Fatalf("create subject: %d", code)
		}
	}

	if _, err := runCLI(t, nil, "backup", "run", "--data", data, "--backup-dirs", mirrors); err == nil ||
		!strings.Contains(err.Error(), "skjold backup keygen") {
		t.Fatalf("backup run without a recipient: %v", err)
	}
	stale := plantOldBackup(t, strings.Split(mirrors, ","), s, readToken(t, data))
	out, err = runCLI(t, env, "backup", "run", "--data", data)
	must(t, err)
	first := regexp.MustCompile(`^backup (\S+):`).FindStringSubmatch(out)
	if first == nil {
		t.Fatalf("backup run printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "mirror-a", stale+".skjold.age")); !os.IsNotExist(err) {
		t.Errorf("backup run did not rotate away a backup older than seven days (%v)", err)
	}
	var runs struct {
		Items []struct {
			Kind, Status string
			ManifestID   string `json:"manifest_id"`
		}
	}
	if code := s.call(t, "GET", "/api/v1/backups/runs", readToken(t, data), nil, &runs); code != 200 || len(runs.Items) == 0 ||
		runs.Items[0].ManifestID != first[1] || runs.Items[0].Status != "ok" || runs.Items[0].Kind != "manual" {
		t.Errorf("backup runs after backup run: %d %+v, want the run of %s recorded", code, runs, first[1])
	}
	if code := s.call(t, "POST", "/api/v1/subjects/"+gone.ID+"/erasure", tn.Token.Secret, nil, nil); code != 200 {
		t.Fatalf("erase: %d", code)
	}
	for _, m := range []string{"mirror-a", "mirror-b"} { // in the mirrors once the erasure is answered
		j, err := os.ReadFile(filepath.Join(dir, m, "erasure-journal.jsonl"))
		if err != nil || !strings.Contains(string(j), gone.ID) {
			t.Errorf("%s's erasure journal lacks the erasure just answered (%v)", m, err)
		}
	}

	out, err = runCLI(t, env, "backup", "list", "--data", data)
	must(t, err)
	if strings.Count(out, ": 1 backups") != 2 || !strings.Contains(out, first[1]) {
		t.Errorf("backup list:\n%s", out)
	}
	out, err = runCLI(t, env, "backup", "verify", first[1], "--identity", identity, "--data", data)
	if err != nil || strings.Count(out, "rows match the manifest") != 2 {
		t.Errorf("backup verify: %v\n%s", err, out)
	}
	if _, err := runCLI(t, env, "backup", "verify", "--data", data); err == nil {
		t.Error("backup verify without an id succeeded")
	}

	restored := filepath.Join(dir, "restored")
	must(t, os.MkdirAll(restored, 0o700))
	key, err := os.ReadFile(filepath.Join(data, "master.key"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(restored, "master.key"), key, 0o600))
	out, err = runCLI(t, nil, "restore", "--from", "local:"+filepath.Join(dir, "mirror-b"), "--backup", first[1],
		"--identity", identity, "--to", restored)
	must(t, err)
	for _, want := range []string{"restored backup " + first[1], "erasures re-applied from the journal: 1", "audit chain verified", "took "} {
		if !strings.Contains(out, want) {
			t.Errorf("restore printed %q, want %q", out, want)
		}
	}
	// The restored data directory serves: the kept subject is there, the erased one is not.
	r := startServer(t, restored, nil)
	if code := r.call(t, "GET", "/api/v1/subjects/"+kept.ID, tn.Token.Secret, nil, nil); code != 200 {
		t.Errorf("kept subject after restore: %d", code)
	}
	if code := r.call(t, "GET", "/api/v1/subjects/"+gone.ID, tn.Token.Secret, nil, nil); code != 404 {
		t.Errorf("erased subject after restore: %d, want 404", code)
	}
	manualRestore(t, filepath.Join(dir, "mirror-a"), first[1], identity, key, tn.Token.Secret, kept.ID, gone.ID)
	// A second restore into the same place is refused.
	if _, err := runCLI(t, nil, "restore", "--from", filepath.Join(dir, "mirror-a"), "--identity", identity, "--to", restored); err == nil ||
		!strings.Contains(err.Error(), "already exists") {
		t.Errorf("restore over a restored database: %v", err)
	}
}

// manualRestore follows docs/disaster-recovery.md by hand: decrypt with age and zstd, place
// the file beside the master key, "skjold journal replay", then serve.
func manualRestore(t *testing.T, mirror, id, identity string, key []byte, token, keptID, goneID string) {
	t.Helper()
	kf, err := os.Open(identity)
	must(t, err)
	defer kf.Close()
	ids, err := age.ParseIdentities(kf)
	must(t, err)
	enc, err := os.Open(filepath.Join(mirror, id+".skjold.age"))
	must(t, err)
	defer enc.Close()
	ar, err := age.Decrypt(enc, ids...)
	must(t, err)
	zr, err := zstd.NewReader(ar)
	must(t, err)
	defer zr.Close()
	data := filepath.Join(t.TempDir(), "manual")
	must(t, os.MkdirAll(data, 0o700))
	db, err := os.OpenFile(filepath.Join(data, "skjold.db"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	must(t, err)
	_, err = io.Copy(db, zr)
	must(t, err)
	must(t, db.Close())
	must(t, os.WriteFile(filepath.Join(data, "master.key"), key, 0o600))
	out, err := runCLI(t, nil, "journal", "replay", "--journal", filepath.Join(mirror, "erasure-journal.jsonl"), "--data", data)
	if err != nil || !strings.Contains(out, "erasures re-applied from the journal: 1") {
		t.Fatalf("journal replay: %v\n%s", err, out)
	}
	s := startServer(t, data, nil)
	if code := s.call(t, "GET", "/api/v1/subjects/"+goneID, token, nil, nil); code != 404 {
		t.Errorf("erased subject after the manual restore: %d, want 404", code)
	}
	if code := s.call(t, "GET", "/api/v1/subjects/"+keptID, token, nil, nil); code != 200 {
		t.Errorf("kept subject after the manual restore: %d", code)
	}
}

// plantOldBackup makes a backup through the API and moves it, in every directory of dirs,
// to the id and time of one made ten days ago; it returns that id.
func plantOldBackup(t *testing.T, dirs []string, s *server, opToken string) string {
	t.Helper()
	var m map[string]any
	if code := s.call(t, "POST", "/api/v1/backups", opToken, nil, &m); code != 201 && code != 200 {
		t.Fatalf("POST /api/v1/backups: %d %v", code, m)
	}
	id, _ := m["id"].(string)
	at := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	old := at.Format("20060102T150405Z") + id[16:]
	m["id"], m["time"] = old, at.Format(time.RFC3339)
	body, err := json.Marshal(m)
	must(t, err)
	for _, dir := range dirs {
		must(t, os.Rename(filepath.Join(dir, id+".skjold.age"), filepath.Join(dir, old+".skjold.age")))
		must(t, os.WriteFile(filepath.Join(dir, old+".manifest.json"), body, 0o600))
		must(t, os.Remove(filepath.Join(dir, id+".manifest.json")))
	}
	return old
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestHealthUnderWrongMasterKey: a server is not started under another installation's
// master.key (its audit key does not open), and a server whose keyring does not open every
// tenant key answers /healthz 503, not ok.
func TestHealthUnderWrongMasterKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	if _, err := runCLI(t, nil, "tenant", "create", "--name", "Vestland Reiser AS", "--data", data); err != nil {
		t.Fatal(err)
	}
	if code := s.call(t, "GET", "/healthz", "", nil, nil); code != 200 {
		t.Fatalf("healthz under the right key: %d", code)
	}
	must(t, s.stop())

	// Another installation's master key: the audit key does not open, and serve refuses.
	right, err := os.ReadFile(filepath.Join(data, "master.key"))
	must(t, err)
	other := filepath.Join(t.TempDir(), "other")
	startServer(t, other, nil).stop() // makes a master key of its own
	key, err := os.ReadFile(filepath.Join(other, "master.key"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(data, "master.key"), key, 0o600))
	var stderr bytes.Buffer
	err = run(t.Context(), []string{"skjold", "serve", "--data", data, "--addr", "127.0.0.1:0"},
		func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("serve under another installation's master key: %v, want a refusal naming the master key", err)
	}
	must(t, os.WriteFile(filepath.Join(data, "master.key"), right, 0o600))

	// A tenant key the keyring cannot open (wrapped under a key the file no longer holds; here
	// a damaged wrap): the server starts, but /healthz must not say ok.
	db, err := sql.Open("sqlite", filepath.Join(data, "skjold.db"))
	must(t, err)
	_, err = db.Exec("UPDATE tenants SET wrapped_key = randomblob(length(wrapped_key)) WHERE wrapped_key IS NOT NULL")
	must(t, err)
	must(t, db.Close())
	s = startServer(t, data, nil)
	var body struct{ Status string }
	if code := s.call(t, "GET", "/healthz", "", nil, &body); code != 503 || body.Status == "ok" {
		t.Errorf("healthz while a tenant key does not open: %d %q, want 503", code, body.Status)
	}
}

// TestJournalReachesRemoteTargetOnShutdown: an erasure made just before a graceful shutdown
// (what SIGTERM does: run's context ends) is in the erasure journal copy on the SFTP target
// once the server has exited, not only a minute later [D4].
func TestJournalReachesRemoteTargetOnShutdown(t *testing.T) {
	sftpd := sshdtest.Start(t)
	id, err := age.GenerateX25519Identity()
	must(t, err)
	env := map[string]string{"SKJOLD_BACKUP_RECIPIENTS": id.Recipient().String(), "SKJOLD_BACKUP_SFTP_ADDR": sftpd.Addr,
		"SKJOLD_BACKUP_SFTP_USER": sftpd.User, "SKJOLD_BACKUP_SFTP_KEY_FILE": sftpd.KeyFile,
		"SKJOLD_BACKUP_SFTP_KNOWN_HOSTS": sftpd.KnownHostsFile, "SKJOLD_BACKUP_SFTP_DIR": sftpd.Dir}
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, env)
	out, err := runCLI(t, nil, "tenant", "create", "--name", "Vestland Reiser AS", "--json", "--data", data)
	must(t, err)
	var tn struct{ Token struct{ Secret string } }
	must(t, json.Unmarshal([]byte(out), &tn))
	var gone struct{ ID string }
	if code := s.call(t, "POST", "/api/v1/subjects", tn.Token.Secret, map[string]string{"name": "Ola Nordmann"}, &gone); code != 201 {
		t.Fatalf("create subject: %d", code)
	}
	if code := s.call(t, "POST", "/api/v1/subjects/"+gone.ID+"/erasure", tn.Token.Secret, nil, nil); code != 200 {
		t.Fatalf("erase: %d", code)
	}
	must(t, s.stop())
	j, err := os.ReadFile(filepath.Join(sftpd.Dir, "erasure-journal.jsonl"))
	if err != nil || !strings.Contains(string(j), gone.ID) {
		t.Errorf("after the shutdown, the SFTP target's erasure journal lacks the erasure (%v)", err)
	}
	if !strings.Contains(s.stderr.String(), "erasure journal copied to every backup target") {
		t.Errorf("no log line of the journal flush:\n%s", s.stderr)
	}
}
