package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// TestLoginFlood: 40 concurrent logins for unknown addresses from one IPv6 /64 (each from
// its own address) do not starve a correct login from elsewhere. With two password checks at
// a time and no bound per source, the flood would fill the queue and the owner's login would
// wait past the hasher's bound and get 503; bounded to one per source, the flood holds one
// check and is refused the rest, its 503s count as a threat, and its whole /64 is banned.
func TestLoginFlood(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, map[string]string{"SKJOLD_TRUSTED_PROXIES": "127.0.0.1/32, ::1",
		"SKJOLD_PASSWORD_CHECKS": "2", "SKJOLD_PASSWORD_CHECKS_PER_SOURCE": "1"})
	op := readToken(t, data)
	oneTime, err := os.ReadFile(filepath.Join(data, "initial-operator-password"))
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{"email": "owner@skjold.local", "password": strings.TrimSpace(string(oneTime)), "session": "token"}

	stop, answered := make(chan struct{}), make(chan int, 1000)
	var flood sync.WaitGroup
	for i := range 40 {
		flood.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				login := map[string]string{"email": fmt.Sprintf("nobody-%d-%d@example.com", i, n), "password": "guess-Number-1"}
				code, _ := s.callFrom(t, fmt.Sprintf("2001:db8:bad:1::%x", i+1), "POST", "/api/v1/auth/login", "", login)
				select {
				case answered <- code:
				default:
				}
			}
		})
	}
	<-answered // the flood is under way: the first check is done, the others are in
	for i := range 3 {
		if code, body := s.callFrom(t, "198.51.100.20", "POST", "/api/v1/auth/login", "", owner); code != 200 {
			t.Errorf("the owner's login %d during the flood: %d %s, want 200", i+1, code, body)
		}
	}
	close(stop)
	flood.Wait()

	var bans struct {
		Items []struct{ Addr, Reason string }
	}
	s.call(t, "GET", "/api/v1/bans", op, nil, &bans)
	if len(bans.Items) != 1 || bans.Items[0].Addr != "2001:db8:bad:1::/64" {
		t.Errorf("bans = %+v, want the flood's /64", bans.Items)
	}
	if code, _ := s.callFrom(t, "2001:db8:bad:1::ffff", "GET", "/healthz", "", nil); code != 403 {
		t.Errorf("another address of the banned /64 got %d, want 403", code)
	}
	_, metrics := s.callFrom(t, "198.51.100.20", "GET", "/metrics", op, nil)
	if !strings.Contains(metrics, `skjold_threat_events_total{kind="overload"}`) {
		t.Error("/metrics counts no overload refusals")
	}
	// An operator lifts the prefix ban by its CIDR, the slash escaped in the path.
	if code, body := s.callFrom(t, "198.51.100.20", "DELETE", "/api/v1/bans/2001:db8:bad:1::%2F64", op, nil); code != 204 {
		t.Fatalf("unban the /64: %d %s", code, body)
	}
	if code, _ := s.callFrom(t, "2001:db8:bad:1::ffff", "GET", "/healthz", "", nil); code != 200 {
		t.Errorf("after the unban the /64 got %d, want 200", code)
	}
}

// TestForwardedFor: an X-Forwarded-For element with a port or in brackets is the address it
// holds; one that does not parse is refused, not replaced by the proxy's own address.
func TestForwardedFor(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, map[string]string{"SKJOLD_TRUSTED_PROXIES": "127.0.0.1/32, ::1"})
	op := readToken(t, data)
	list := map[string]string{"text": "2001:db8::1\n203.0.113.8\n"}
	if code, _ := s.callFrom(t, "198.51.100.1", "PUT", "/api/v1/blocklist", op, list); code != 200 {
		t.Fatalf("PUT blocklist: %d", code)
	}
	tests := []struct {
		forwarded string
		want      int
	}{
		{"[2001:db8::1]:443", 403}, // the blocked address, with a port
		{"[2001:db8::1]", 403},
		{"203.0.113.8:51234", 403},
		{"198.51.100.9, 203.0.113.8", 403}, // the nearest hop counts
		{"198.51.100.9", 200},
		{"203.0.113.8,garbage", 400}, // the nearest hop is unknown: not the proxy
		{"garbage", 400},
		{"203.0.113.8,", 400},
		{"2001:db8::1%eth0", 400},
		{"2001:db8::1]:443", 400},
	}
	for _, tt := range tests {
		if code, body := s.callFrom(t, tt.forwarded, "GET", "/healthz", "", nil); code != tt.want {
			t.Errorf("X-Forwarded-For %q: %d %s, want %d", tt.forwarded, code, body, tt.want)
		}
	}
}
