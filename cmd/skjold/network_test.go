package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// callFrom sends a JSON request as if from client, through the loopback proxy the server
// trusts, and returns the status and body.
func (s *server) callFrom(t *testing.T, client, method, path, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := newJSONRequest(method, s.url+path, token, rd)
	req.Header.Set("X-Forwarded-For", client)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("no %s within 10 s", what)
}

// TestThreatBlocking drives bans, the block list and allow lists through the real server:
// an address that fails ten logins is refused everywhere at once, stays refused after a
// restart, and is let in again by an operator; a block-list range is refused; a tenant's
// allow list refuses its token from outside.
func TestThreatBlocking(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	environ := map[string]string{"SKJOLD_TRUSTED_PROXIES": "127.0.0.1/32, ::1", "SKJOLD_ALERT_EMAIL": "security@fjord-it.example"}
	s := startServer(t, data, environ)
	op := readToken(t, data)
	const attacker, neighbour = "198.51.100.7", "198.51.100.8"

	login := map[string]string{"email": "nobody@example.com", "password": "guess-Number-1"}
	for i := range 10 {
		// After five, the address is locked out (429); the attempts still count towards a ban.
		if code, _ := s.callFrom(t, attacker, "POST", "/api/v1/auth/login", "", login); code != 401 && code != 429 {
			t.Fatalf("failed login %d answered %d, want 401 or 429", i+1, code)
		}
	}
	if code, body := s.callFrom(t, attacker, "GET", "/healthz", "", nil); code != 403 || !strings.Contains(body, "blocked") {
		t.Fatalf("after 10 failed logins the address got %d %s, want 403 blocked", code, body)
	}
	if code, _ := s.callFrom(t, neighbour, "GET", "/healthz", "", nil); code != 200 {
		t.Errorf("a neighbouring address got %d, want 200", code)
	}
	var bans struct {
		Items []struct{ Addr, Reason string }
	}
	if s.call(t, "GET", "/api/v1/bans", op, nil, &bans); len(bans.Items) != 1 || bans.Items[0].Addr != attacker {
		t.Fatalf("bans = %+v, want the attacker's", bans.Items)
	}
	_, metrics := s.callFrom(t, neighbour, "GET", "/metrics", op, nil)
	for _, want := range []string{`skjold_security_events_total{action="security.ban"} 1`, `skjold_threat_events_total{kind="blocked"} 1`,
		`skjold_security_events_total{action="auth.login_failed"} 5`, `skjold_threat_events_total{kind="login_failed"} 10`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The ban raised an alert e-mail (into the outbox: no relay is configured).
	waitFor(t, "a ban alert in the outbox", func() bool {
		files, _ := filepath.Glob(filepath.Join(data, "outbox", "*.eml"))
		for _, f := range files {
			if raw, _ := os.ReadFile(f); strings.Contains(string(raw), "security alert: security.ban") &&
				strings.Contains(string(raw), "To: security@fjord-it.example") {
				return true
			}
		}
		return false
	})

	// The ban survives a restart, and an operator lifts it.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, data, environ)
	if code, _ := s.callFrom(t, attacker, "GET", "/healthz", "", nil); code != 403 {
		t.Errorf("after a restart the banned address got %d, want 403", code)
	}
	if code, _ := s.callFrom(t, neighbour, "DELETE", "/api/v1/bans/"+attacker, op, nil); code != 204 {
		t.Fatalf("unban: %d", code)
	}
	if code, _ := s.callFrom(t, attacker, "GET", "/healthz", "", nil); code != 200 {
		t.Errorf("after the unban the address got %d, want 200", code)
	}

	// A block-list range is refused; malformed lists are refused whole, naming the line.
	list := map[string]string{"text": "# known bad network\n203.0.113.0/24 # scanner\n"}
	if code, _ := s.callFrom(t, neighbour, "PUT", "/api/v1/blocklist", op, list); code != 200 {
		t.Fatalf("PUT blocklist: %d", code)
	}
	if code, _ := s.callFrom(t, "203.0.113.77", "GET", "/healthz", "", nil); code != 403 {
		t.Errorf("a block-listed address got %d, want 403", code)
	}
	bad := map[string]string{"text": "10.0.0.0/8\n10.0.0.0/99\n"}
	if code, body := s.callFrom(t, neighbour, "PUT", "/api/v1/blocklist", op, bad); code != 400 || !strings.Contains(body, "line 2") {
		t.Errorf("a malformed list answered %d %s, want 400 naming line 2", code, body)
	}

	// A tenant's allow list refuses its own token from outside the list.
	var tenant struct {
		Token struct{ Secret string } `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/tenants", op, map[string]string{"name": "Fjord Travel AS"}, &tenant); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	tok := tenant.Token.Secret
	var set map[string]any
	s.callFrom(t, "10.1.2.3", "GET", "/api/v1/settings/session", tok, nil)
	s.call(t, "GET", "/api/v1/settings/session", tok, nil, &set)
	set["allowed_networks"] = []string{"10.0.0.0/8", "2001:db8::/32"}
	if code, body := s.callFrom(t, "10.1.2.3", "PUT", "/api/v1/settings/session", tok, set); code != 200 {
		t.Fatalf("PUT settings: %d %s", code, body)
	}
	if code, _ := s.callFrom(t, "10.9.9.9", "GET", "/api/v1/categories", tok, nil); code != 200 {
		t.Errorf("from inside the allow list: %d, want 200", code)
	}
	if code, body := s.callFrom(t, neighbour, "GET", "/api/v1/categories", tok, nil); code != 403 || !strings.Contains(body, "allowed networks") {
		t.Errorf("from outside the allow list: %d %s, want 403", code, body)
	}

	// Probing another tenant's objects: ids are random, so asking for an existing one of
	// another tenant five times bans the address, though each answer is a plain 404.
	var subject struct{ ID string }
	if code, body := s.callFrom(t, "10.1.2.3", "POST", "/api/v1/subjects", tok, map[string]string{"ref": "C-1"}); code != 201 {
		t.Fatalf("create subject: %d %s", code, body)
	} else {
		json.Unmarshal([]byte(body), &subject)
	}
	var other struct {
		Token struct{ Secret string } `json:"token"`
	}
	s.call(t, "POST", "/api/v1/tenants", op, map[string]string{"name": "Prying Eyes AS"}, &other)
	const prober = "198.51.100.66"
	for i := range 5 {
		if code, _ := s.callFrom(t, prober, "GET", "/api/v1/subjects/"+subject.ID, other.Token.Secret, nil); code != 404 {
			t.Fatalf("probe %d answered %d, want 404", i+1, code)
		}
	}
	if code, _ := s.callFrom(t, prober, "GET", "/healthz", "", nil); code != 403 {
		t.Errorf("after five probes of another tenant's subject the address got %d, want 403", code)
	}
}
