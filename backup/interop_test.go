package backup

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// writeIdentity writes the fixture's identity as age-keygen writes it, and returns its path.
func writeIdentity(t *testing.T, id *age.X25519Identity) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.txt")
	body := "# created: " + time.Now().Format(time.RFC3339) + "\n# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"
	must(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

// countSubjects opens a SQLite file with database/sql, as any SQLite tool would.
func countSubjects(t *testing.T, path string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	must(t, err)
	defer db.Close()
	var n int64
	must(t, db.QueryRow("SELECT COUNT(*) FROM subjects").Scan(&n))
	return n
}

// TestInteropAgeLibrary decrypts a backup with age's own library the way the age command
// does (identities parsed from the key file, age.Decrypt, then zstd), with nothing of
// Skjold's, and opens the result as a plain SQLite database [E1].
func TestInteropAgeLibrary(t *testing.T) {
	f := newFixture(t, store.SQLite)
	f.seed(4)
	m := f.backup()
	keyFile, err := os.Open(writeIdentity(t, f.id))
	must(t, err)
	defer keyFile.Close()
	ids, err := age.ParseIdentities(keyFile)
	must(t, err)
	ar, err := age.Decrypt(bytes.NewReader(objectBytes(t, f.targets[0], skjold.BackupFile(m.ID))), ids...)
	must(t, err)
	zr, err := zstd.NewReader(ar)
	must(t, err)
	defer zr.Close()
	path := filepath.Join(t.TempDir(), "skjold.db")
	out, err := os.Create(path)
	must(t, err)
	_, err = io.Copy(out, zr)
	must(t, err)
	must(t, out.Close())
	if n := countSubjects(t, path); n != 4 {
		t.Errorf("the decrypted database holds %d subjects, want 4", n)
	}
}

// TestInteropAgeCommand runs the documented manual procedure with the real tools:
// "age -d -i key.txt X.skjold.age | zstd -d > skjold.db", then sqlite3 [E4].
func TestInteropAgeCommand(t *testing.T) {
	for _, tool := range []string{"age", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it): %v", tool, err)
		}
	}
	f := newFixture(t, store.SQLite)
	f.seed(3)
	m := f.backup()
	dir := f.targets[0].(*Dir).path
	out := filepath.Join(t.TempDir(), "skjold.db")
	script := `age -d -i "$1" "$2" | zstd -d -q -o "$3"`
	cmd := exec.CommandContext(t.Context(), "sh", "-c", script, "sh", writeIdentity(t, f.id),
		filepath.Join(dir, skjold.BackupFile(m.ID)), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("age -d | zstd -d: %v\n%s", err, b)
	}
	if n := countSubjects(t, out); n != 3 {
		t.Errorf("the decrypted database holds %d subjects, want 3", n)
	}
	if _, err := exec.LookPath("sqlite3"); err == nil {
		b, err := exec.CommandContext(t.Context(), "sqlite3", out, "PRAGMA integrity_check; SELECT COUNT(*) FROM records;").CombinedOutput()
		if err != nil || strings.TrimSpace(string(b)) != "ok\n6" {
			t.Errorf("sqlite3: %q, %v; want ok and 6 records", b, err)
		}
	}
	// And age's own command refuses a wrong key.
	other, err := age.GenerateX25519Identity()
	must(t, err)
	cmd = exec.CommandContext(t.Context(), "age", "-d", "-i", writeIdentity(t, other), filepath.Join(dir, skjold.BackupFile(m.ID)))
	if err := cmd.Run(); err == nil {
		t.Error("age decrypted the backup with another identity")
	}
}

// TestOlderSchemaMigratedForward restores a snapshot taken at schema 5 (built by applying
// the shipped migrations 1–5 by hand) and finds it migrated to the newest schema.
func TestOlderSchemaMigratedForward(t *testing.T) {
	f := newFixture(t, store.SQLite)
	old := filepath.Join(t.TempDir(), "old.db")
	buildSchema(t, old, 5)
	info, err := store.InspectSQLite(t.Context(), old)
	must(t, err)
	if info.SchemaVersion != 5 {
		t.Fatalf("built schema %d, want 5", info.SchemaVersion)
	}
	m := &skjold.Manifest{ID: NewID(time.Now()), Time: time.Now().UTC().Truncate(time.Second), Engine: store.SQLite,
		Format: store.FormatSQLite, SchemaVersion: 5, Rows: info.Rows, Recipients: []string{f.id.Recipient().String()}}
	enc, err := seal(context.Background(), old, filepath.Join(t.TempDir(), "old.skjold.age"), []age.Recipient{f.id.Recipient()}, m)
	must(t, err)
	defer enc.Close()
	body, _ := json.Marshal(m)
	must(t, putBackup(t.Context(), f.targets[0], enc, m, body))

	dsn := f.newDSN()
	rep, err := Restore(t.Context(), f.restoreOptions(f.targets[0], dsn))
	must(t, err)
	if rep.Manifest.SchemaVersion != 5 {
		t.Errorf("restored backup has schema %d", rep.Manifest.SchemaVersion)
	}
	db := openDB(t, dsn, f.keys)
	now, err := db.SchemaVersion(t.Context())
	must(t, err)
	newest, err := f.db.SchemaVersion(t.Context())
	must(t, err)
	if now != newest || now <= 5 {
		t.Errorf("restored schema %d, want the newest (%d)", now, newest)
	}
}

// buildSchema makes a SQLite database at schema version upTo from the shipped migrations.
func buildSchema(t *testing.T, path string, upTo int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
	must(t, err)
	files, err := filepath.Glob("../store/migrations/sqlite/*.sql")
	must(t, err)
	for _, file := range files[:upTo] {
		body, err := os.ReadFile(file)
		must(t, err)
		_, err = db.Exec(string(body))
		must(t, err)
		v, _ := strconv.Atoi(filepath.Base(file)[:4])
		_, err = db.Exec("INSERT INTO schema_migrations VALUES (?, ?, ?)", v, filepath.Base(file), time.Now().UnixMicro())
		must(t, err)
	}
}

// TestReplayTenantDeletion restores a backup taken before a tenant was terminated: the
// journal copy's tenant line deletes the tenant again, key and rows [D4, D5].
func TestReplayTenantDeletion(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			f.seed(2)
			m := f.backup()
			line := &skjold.JournalEntry{Seq: m.JournalSeq + 1, Time: time.Now().UTC().Truncate(time.Microsecond),
				TenantID: f.tenantID, Kind: "tenant", Reason: skjold.ErasedOnTermination}
			body, _ := json.Marshal(line)
			_, err := f.targets[0].Put(t.Context(), skjold.JournalFile, bytes.NewReader(append(body, '\n')))
			must(t, err)

			dsn := f.newDSN()
			rep, err := Restore(t.Context(), f.restoreOptions(f.targets[0], dsn))
			must(t, err)
			if rep.Replayed != 1 {
				t.Errorf("replayed %d, want 1", rep.Replayed)
			}
			db := openDB(t, dsn, f.keys)
			tn, err := db.FindTenantByID(f.op, f.tenantID)
			must(t, err)
			if tn.Status != skjold.TenantTerminated {
				t.Errorf("tenant status %q after replay, want terminated", tn.Status)
			}
			if _, err := db.FindSubjectByID(f.ctx, f.subjects[0].ID); err == nil {
				t.Error("a subject of the deleted tenant is readable after the restore")
			}
		})
	}
}
