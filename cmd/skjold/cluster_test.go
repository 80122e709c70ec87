package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold/internal/pgtest"
	"github.com/skjold-project/skjold/keys"
)

// ownPostgres starts a PostgreSQL server of the test's own, which it may stop and start
// again without disturbing the other tests' shared one.
func ownPostgres(t *testing.T) *pgtest.Server {
	t.Helper()
	srv, err := pgtest.Start()
	if err != nil {
		t.Skipf("%s: no PostgreSQL for this test: %v", pgtest.SkipMarker, err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

// answer is one response: status, Retry-After and the error code, if any.
type answer struct {
	status     int
	retryAfter string
	code       string
}

func (s *server) ask(t *testing.T, method, path, token string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := newJSONRequest(method, s.url+path, token, rd)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v (the server must answer, not hang or drop the connection)", method, path, err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), e.Error.Code}
}

// TestPostgresDownAnswers503 stops PostgreSQL under a running server: reads, writes and the
// health check answer 503 with Retry-After (never 500 "internal"), quickly, and the server
// serves again by itself once PostgreSQL is back.
func TestPostgresDownAnswers503(t *testing.T) {
	pg := ownPostgres(t)
	dsn := pg.NewDatabase(t)
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, map[string]string{"SKJOLD_DATABASE": dsn})
	tok := readToken(t, data)
	if a := s.ask(t, "POST", "/api/v1/tenants", tok, map[string]string{"name": "Before"}); a.status != 201 {
		t.Fatalf("create tenant: %+v", a)
	}
	for _, probe := range []string{"/livez", "/readyz"} {
		if a := s.ask(t, "GET", probe, "", nil); a.status != 200 {
			t.Errorf("%s with PostgreSQL up: %+v", probe, a)
		}
	}
	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			pg.Resume() // the database is dropped through it
		}
	})
	for _, rq := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/tenants", nil},
		{"POST", "/api/v1/tenants", map[string]string{"name": "During"}},
		{"GET", "/api/v1/audit", nil},
		{"GET", "/healthz", nil},
	} {
		start := time.Now()
		a := s.ask(t, rq.method, rq.path, tok, rq.body)
		if a.status != 503 {
			t.Errorf("%s %s with PostgreSQL down: %+v, want 503", rq.method, rq.path, a)
		}
		if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 {
			t.Errorf("%s %s: Retry-After %q, want whole seconds", rq.method, rq.path, a.retryAfter)
		}
		if rq.path != "/healthz" && a.code != "unavailable" {
			t.Errorf("%s %s: error code %q, want unavailable", rq.method, rq.path, a.code)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("%s %s took %v with PostgreSQL down", rq.method, rq.path, d)
		}
	}
	waitStatus(t, s, "/readyz", 503) // a passed check is reused for up to a second
	if a := s.ask(t, "GET", "/readyz", "", nil); a.retryAfter == "" || a.code != "unavailable" {
		t.Errorf("/readyz with PostgreSQL down: %+v, want unavailable with Retry-After", a)
	}
	if a := s.ask(t, "GET", "/livez", "", nil); a.status != 200 {
		t.Errorf("/livez with PostgreSQL down: %+v, want 200: the process runs", a)
	}
	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := s.ask(t, "POST", "/api/v1/tenants", tok, map[string]string{"name": "After"})
		if a.status == 201 {
			break
		}
		if a.status != 503 || time.Now().After(deadline) {
			t.Fatalf("after PostgreSQL came back: %+v", a)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitStatus(t, s, "/readyz", 200)
	var list struct{ Items []map[string]any }
	if code := s.call(t, "GET", "/api/v1/tenants", tok, nil, &list); code != 200 || len(list.Items) != 2 {
		t.Errorf("tenants after the outage: %d, %d listed, want Before and After", code, len(list.Items))
	}
}

// waitStatus asks for path until it answers want, for at most 10 s.
func waitStatus(t *testing.T, s *server, path string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := s.ask(t, "GET", path, "", nil)
		if a.status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v, want %d", path, a, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReadyzUnwrapsATenantKey spoils the stored wrapped key of a running SQLite server's
// only tenant: /readyz, which unwraps it past the cache, turns 503 (the node could read none
// of that tenant's data), /livez stays 200, and /readyz recovers when the key is put back.
func TestReadyzUnwrapsATenantKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	if a := s.ask(t, "GET", "/readyz", "", nil); a.status != 200 {
		t.Fatalf("/readyz on a new database (no tenant: the audit key is unwrapped): %+v", a)
	}
	if a := s.ask(t, "POST", "/api/v1/tenants", readToken(t, data), map[string]string{"name": "A"}); a.status != 201 {
		t.Fatalf("create tenant: %+v", a)
	}
	raw, err := sql.Open("sqlite", filepath.Join(data, "skjold.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var wrapped []byte
	if err := raw.QueryRow("SELECT wrapped_key FROM tenants").Scan(&wrapped); err != nil {
		t.Fatal(err)
	}
	spoilt := bytes.Clone(wrapped)
	spoilt[len(spoilt)-1] ^= 1
	if _, err := raw.Exec("UPDATE tenants SET wrapped_key = ?", spoilt); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, "/readyz", 503)
	if a := s.ask(t, "GET", "/readyz", "", nil); a.retryAfter == "" || a.code != "unavailable" {
		t.Errorf("/readyz with a spoilt tenant key: %+v, want unavailable with Retry-After", a)
	}
	if a := s.ask(t, "GET", "/livez", "", nil); a.status != 200 {
		t.Errorf("/livez: %+v", a)
	}
	if _, err := raw.Exec("UPDATE tenants SET wrapped_key = ?", wrapped); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, "/readyz", 200)
}

// serveRefused runs `skjold serve` and expects it to refuse to start: it fails the test if
// the server starts listening instead.
func serveRefused(t *testing.T, environ map[string]string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"skjold", "serve", "--addr", "127.0.0.1:0"}, args...),
			func(k string) string { return environ[k] }, strings.NewReader(""), &out, &errOut)
	}()
	for {
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("serve ended without an error")
			}
			return err
		case <-time.After(50 * time.Millisecond):
			if strings.Contains(out.String(), "listening on") {
				cancel()
				<-done
				t.Fatalf("serve started:\n%s", errOut.String())
			}
		}
	}
}

// TestSecondNodeNeedsTheClusterKey starts a second node on a database in use: without a key
// file it refuses to make one of its own, with a key file of its own it refuses to start
// naming the missing fingerprint, and `skjold keys status` says which key it lacks. On
// PostgreSQL the second node then serves the first node's tenant with a copy of its key file.
func TestSecondNodeNeedsTheClusterKey(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		env := map[string]string{"SKJOLD_DATABASE": pgtest.Require(t).NewDatabase(t)}
		data1, data2 := filepath.Join(t.TempDir(), "node1"), filepath.Join(t.TempDir(), "node2")
		s := startServer(t, data1, env)
		tok := readToken(t, data1)
		if a := s.ask(t, "POST", "/api/v1/tenants", tok, map[string]string{"name": "A"}); a.status != 201 {
			t.Fatalf("create tenant: %+v", a)
		}
		cluster := filepath.Join(data1, "master.key")
		secondNodeRefused(t, env, data2, cluster)
		copied := filepath.Join(t.TempDir(), "cluster.key")
		b, err := os.ReadFile(cluster)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copied, b, 0o600); err != nil {
			t.Fatal(err)
		}
		env2 := map[string]string{"SKJOLD_DATABASE": env["SKJOLD_DATABASE"], "SKJOLD_MASTER_KEY_FILE": copied}
		s2 := startServer(t, data2, env2)
		var list struct{ Items []map[string]any }
		if code := s2.call(t, "GET", "/api/v1/tenants", tok, nil, &list); code != 200 || len(list.Items) != 1 {
			t.Errorf("second node with the cluster's key file: %d, %v", code, list.Items)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		// One database, the startup function called again without its key file.
		data := filepath.Join(t.TempDir(), "skjold-data")
		s := startServer(t, data, nil)
		if a := s.ask(t, "POST", "/api/v1/tenants", readToken(t, data), map[string]string{"name": "A"}); a.status != 201 {
			t.Fatalf("create tenant: %+v", a)
		}
		s.stop()
		aside := filepath.Join(t.TempDir(), "aside.key")
		if err := os.Rename(filepath.Join(data, "master.key"), aside); err != nil {
			t.Fatal(err)
		}
		secondNodeRefused(t, nil, data, aside)
	})
}

// secondNodeRefused starts serve on data, which has no key file, against a database whose
// keys are wrapped under the key in cluster: it must refuse, make no key, refuse a key file
// of its own, and `keys status` must tell the missing key from the held one.
func secondNodeRefused(t *testing.T, env map[string]string, data, cluster string) {
	t.Helper()
	ring, err := keys.OpenKeyring(cluster)
	if err != nil {
		t.Fatal(err)
	}
	first := ring.PrimaryKeyID()
	err = serveRefused(t, env, "--data", data)
	if !strings.Contains(err.Error(), "already in use under master key(s) "+first) {
		t.Errorf("serve without a key file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve made a key file of its own (%v)", err)
	}
	own := filepath.Join(t.TempDir(), "own.key")
	if _, err := keys.CreateKeyring(own); err != nil {
		t.Fatal(err)
	}
	err = serveRefused(t, env, "--data", data, "--master-key-file", own)
	if !strings.Contains(err.Error(), "lacks master key(s) "+first) || !strings.Contains(err.Error(), own) {
		t.Errorf("serve with a key file of its own: %v", err)
	}
	out, err := runCLI(t, env, "keys", "status", "--data", data, "--master-key-file", own)
	if err == nil || !strings.Contains(out, first+"  MISSING") {
		t.Errorf("keys status on a node without the key: %v\n%s", err, out)
	}
	out, err = runCLI(t, env, "keys", "status", "--data", data, "--master-key-file", cluster)
	if err != nil || !strings.Contains(out, first+"  held") {
		t.Errorf("keys status with the cluster's key file: %v\n%s", err, out)
	}
}
