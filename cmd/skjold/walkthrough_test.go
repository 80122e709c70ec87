package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skjold-project/skjold/internal/pgtest"
)

// Distinctive personal values: the tests search raw files and logs for them.
const (
	secretName  = "Ingeborg Zwetschgenbaum-Kvalsund"
	secretEmail = "ingeborg.zwetschgenbaum@example.invalid"
	secretPhone = "+47 934 56 781"
	secretNote  = "window seat, vegetarian meal, allergic to hazelnuts"
)

type created struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// walkthrough does what the README's walkthrough does, through the real server, and returns
// the tenant token and the subject id.
func walkthrough(t *testing.T, s *server, opToken string) (string, string) {
	t.Helper()
	var tenant struct {
		Tenant created `json:"tenant"`
		Token  created `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/tenants", opToken, map[string]string{"name": "Nordlys Travel AS"}, &tenant); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	tok := tenant.Token.Secret
	var sub created
	body := map[string]string{"ref": "C-1001", "email": secretEmail, "phone": secretPhone, "name": secretName, "birth_date": "1985-04-12"}
	if code := s.call(t, "POST", "/api/v1/subjects", tok, body, &sub); code != 201 {
		t.Fatalf("create subject: %d", code)
	}
	rec := map[string]any{"category": "travel_booking", "data": map[string]any{
		"booking_reference": "NL-4711", "kind": "flight", "departure_date": "2027-02-14", "notes": secretNote}}
	if code := s.call(t, "POST", "/api/v1/subjects/"+sub.ID+"/records", tok, rec, nil); code != 201 {
		t.Fatalf("create record: %d", code)
	}
	var found struct {
		Items []struct {
			ID       string   `json:"id"`
			Name     string   `json:"name"`
			Withheld []string `json:"withheld"`
		} `json:"items"`
	}
	// Looked up by e-mail in another case and with spaces: the blind index is over normalised values.
	if code := s.call(t, "GET", "/api/v1/subjects?email="+strings.ToUpper(secretEmail), tok, nil, &found); code != 200 ||
		len(found.Items) != 1 || found.Items[0].ID != sub.ID || found.Items[0].Name != secretName {
		t.Fatalf("lookup by e-mail: %d %+v", code, found)
	}
	if w := found.Items[0].Withheld; len(w) != 1 || w[0] != "birth_date" {
		t.Errorf("birth_date is purpose-bound and should be withheld without a purpose: %v", w)
	}
	var audit struct {
		Items []struct{ Action, Purpose string } `json:"items"`
	}
	if code := s.call(t, "GET", "/api/v1/audit", tok, nil, &audit); code != 200 || len(audit.Items) < 4 {
		t.Fatalf("audit: %d %+v", code, audit)
	}
	return tok, sub.ID
}

func TestWalkthroughSQLite(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	tok, subjectID := walkthrough(t, s, readToken(t, data))

	// The chain verifies from the command line while the server runs.
	out, err := runCLI(t, nil, "audit", "verify", "--data", data)
	if err != nil || !strings.HasPrefix(out, "audit chain OK") {
		t.Fatalf("audit verify: %v %s", err, out)
	}
	// The master key rotates while the server runs, and the server keeps reading and writing.
	before, _ := os.ReadFile(filepath.Join(data, "master.key"))
	if out, err := runCLI(t, nil, "keys", "rotate", "--data", data); err != nil || !strings.Contains(out, "1 tenant keys rewrapped") {
		t.Fatalf("keys rotate: %v %s", err, out)
	}
	after, _ := os.ReadFile(filepath.Join(data, "master.key"))
	// The new key comes first; the old one stays, retired, for the backups made before.
	keyLines := func(b []byte) (n int) {
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				n++
			}
		}
		return n
	}
	if bytes.Equal(before, after) || keyLines(after) != keyLines(before)+1 || strings.Count(string(after), " retired=")-strings.Count(string(before), " retired=") != 1 {
		t.Errorf("the key file should hold one new key and the old one retired after rotation:\n%s\nbefore:\n%s", after, before)
	}
	mustMode(t, filepath.Join(data, "master.key"), 0o600)
	if code := s.call(t, "GET", "/api/v1/subjects/"+subjectID, tok, nil, nil); code != 200 {
		t.Fatalf("read after rotation: %d", code)
	}
	op := readToken(t, data)
	if code := s.call(t, "POST", "/api/v1/tenants", op, map[string]string{"name": "After Rotation AS"}, nil); code != 201 {
		t.Fatalf("create tenant after rotation: %d", code)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// After a restart, only the new master key exists, and both tenants' data opens.
	s2 := startServer(t, data, nil)
	if code := s2.call(t, "GET", "/api/v1/subjects/"+subjectID, tok, nil, nil); code != 200 {
		t.Fatalf("read after restart: %d", code)
	}
	s2.stop()
	assertNoPlaintext(t, data, s.stderr.String()+s2.stderr.String())
}

// assertNoPlaintext searches every file of the data directory (database, WAL, shared memory,
// keys) and the server's log for the personal values stored.
func assertNoPlaintext(t *testing.T, data, logs string) {
	t.Helper()
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range []string{secretName, secretEmail, strings.ToLower(secretEmail), secretPhone, secretNote, "Zwetschgenbaum", "hazelnuts"} {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("%s holds the plaintext %q", path, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{secretName, secretEmail, secretPhone, secretNote, "Zwetschgenbaum"} {
		if strings.Contains(logs, v) {
			t.Errorf("the log holds the plaintext %q", v)
		}
	}
}

func TestWalkthroughPostgres(t *testing.T) {
	dsn := pgtest.Require(t).NewDatabase(t)
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, map[string]string{"SKJOLD_DATABASE": dsn})
	var health map[string]string
	if s.call(t, "GET", "/healthz", "", nil, &health); health["engine"] != "postgres" {
		t.Fatalf("healthz engine: %v", health)
	}
	_, subjectID := walkthrough(t, s, readToken(t, data))
	env := map[string]string{"SKJOLD_DATABASE": dsn}
	if out, err := runCLI(t, env, "audit", "verify", "--data", data); err != nil || !strings.HasPrefix(out, "audit chain OK") {
		t.Fatalf("audit verify: %v %s", err, out)
	}
	if out, err := runCLI(t, env, "keys", "rotate", "--data", data); err != nil {
		t.Fatalf("keys rotate: %v %s", err, out)
	}
	if subjectID == "" {
		t.Fatal("no subject")
	}
	s.stop()
	if _, err := os.Stat(filepath.Join(data, "skjold.db")); err == nil {
		t.Error("with PostgreSQL configured, no SQLite file should be made")
	}
}
