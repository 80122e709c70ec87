package main

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/skjold-project/skjold/internal/pgtest"
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
	var list struct{ Items []map[string]any }
	if code := s.call(t, "GET", "/api/v1/tenants", tok, nil, &list); code != 200 || len(list.Items) != 2 {
		t.Errorf("tenants after the outage: %d, %d listed, want Before and After", code, len(list.Items))
	}
}
