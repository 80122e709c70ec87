package password

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// rangeServer stands in for the outside range API and records what it was sent.
type rangeServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

// newRangeServer serves respond's answer for the prefix in each request's path.
func newRangeServer(t *testing.T, respond func(prefix string) string) *rangeServer {
	t.Helper()
	s := &rangeServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs, s.body = append(s.reqs, r), append(s.body, body)
		s.mu.Unlock()
		io.WriteString(w, respond(strings.TrimPrefix(r.URL.Path, "/range/")))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *rangeServer) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

// digest returns the upper-case hex SHA-1 of password.
func digest(password string) string {
	sum := sha1.Sum([]byte(password))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// rangeBody returns a range response for prefix: other suffixes, padding, and password's
// suffix with count when its hash starts with prefix.
func rangeBody(password, prefix string, count int) string {
	lines := []string{
		"0018A45C4D1DEF81644B54AB7F969B88D65:1",
		"00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2",
		"011053FD0102E94D6AE2F8B83D76FAF94F6:0", // padding
	}
	if d := digest(password); d[:5] == prefix {
		lines = append(lines, fmt.Sprintf("%s:%d", d[5:], count))
	}
	return strings.Join(lines, "\r\n")
}

func TestBreached(t *testing.T) {
	const password = "correct horse battery staple"
	d := digest(password)
	tests := []struct {
		name   string
		status int
		body   string
		want   bool
		code   string // "" for no error
	}{
		{"breached", 200, rangeBody(password, d[:5], 3), true, ""},
		{"breached, LF and lower case", 200, strings.ToLower(strings.ReplaceAll(rangeBody(password, d[:5], 3)+"\n", "\r\n", "\n")), true, ""},
		{"not breached", 200, rangeBody("another password", d[:5], 3), false, ""},
		{"padding entry", 200, rangeBody(password, d[:5], 0), false, ""},
		{"empty", 200, "", false, ""},
		{"server error", 500, rangeBody(password, d[:5], 3), false, skjold.EUNAVAILABLE},
		{"rate limited", 429, "", false, skjold.EUNAVAILABLE},
		{"not the API", 200, "<html><body>Welcome</body></html>", false, skjold.EUNAVAILABLE},
		{"count missing", 200, d[5:], false, skjold.EUNAVAILABLE},
		{"negative count", 200, d[5:] + ":-1", false, skjold.EUNAVAILABLE},
		{"short suffix", 200, d[6:] + ":1", false, skjold.EUNAVAILABLE},
		{"oversized", 200, strings.Repeat(d[5:]+":0\r\n", maxRangeBody/39+1), false, skjold.EUNAVAILABLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			got, err := NewBreachChecker(srv.URL, srv.Client()).Breached(context.Background(), password)
			if skjold.ErrorCode(err) != tt.code || got != tt.want {
				t.Fatalf("Breached = %v, %v; want %v, code %q", got, err, tt.want, tt.code)
			}
		})
	}
}

// Only the 5-character prefix of the password's SHA-1 leaves the server.
func TestBreachedRequest(t *testing.T) {
	const password = "correct horse battery staple"
	d := digest(password)
	srv := newRangeServer(t, func(prefix string) string { return rangeBody(password, prefix, 1) })
	if breached, err := NewBreachChecker(srv.URL+"/", srv.Client()).Breached(context.Background(), password); !breached || err != nil {
		t.Fatalf("Breached = %v, %v; want true, nil", breached, err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodGet || r.RequestURI != "/range/"+d[:5] || len(srv.body[0]) != 0 {
		t.Errorf("request %s %s with %d bytes, want GET /range/%s without body", r.Method, r.RequestURI, len(srv.body[0]), d[:5])
	}
	if r.Header.Get("Add-Padding") != "true" {
		t.Errorf("Add-Padding header %q, want true", r.Header.Get("Add-Padding"))
	}
	sent := strings.ToUpper(fmt.Sprint(r.Header))
	for _, secret := range []string{d[5:], d[5:10], strings.ToUpper(password)} {
		if strings.Contains(sent, secret) {
			t.Errorf("headers %s carry more than the prefix", sent)
		}
	}
}

func TestBreachedUnreachable(t *testing.T) {
	const password = "correct horse battery staple"
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := NewBreachChecker(srv.URL, nil).Breached(context.Background(), password)
	wantCode(t, err, skjold.EUNAVAILABLE)
	if msg := skjold.ErrorMessage(err); msg != "the breached-password service cannot be reached; try again" {
		t.Errorf("message %q", msg)
	}
	if strings.Contains(strings.ToUpper(err.Error()), digest(password)[:5]) {
		t.Errorf("error %q carries the hash prefix", err)
	}
}

func TestBreachedTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	b := NewBreachChecker(srv.URL, srv.Client())
	b.timeout = time.Millisecond
	_, err := b.Breached(context.Background(), "correct horse battery staple")
	wantCode(t, err, skjold.EUNAVAILABLE)
}

func TestNewBreachChecker(t *testing.T) {
	b := NewBreachChecker("", nil)
	if b.base != DefaultBreachURL || b.client == nil || b.timeout != 5*time.Second {
		t.Errorf("defaults: %q, %v, %v", b.base, b.client, b.timeout)
	}
	_, err := NewBreachChecker("http://[::1", nil).Breached(context.Background(), "x")
	wantCode(t, err, skjold.EUNAVAILABLE)
}

func FuzzParseRange(f *testing.F) {
	suffix := digest("correct horse battery staple")[5:]
	f.Add([]byte(rangeBody("", "", 0)), suffix)
	f.Add([]byte(suffix+":3\r\n"+suffix+":0"), suffix)
	f.Add([]byte("<html>"), suffix)
	f.Fuzz(func(t *testing.T, body []byte, suffix string) {
		if _, err := parseRange(body, suffix); err != nil || len(suffix) != suffixLen ||
			strings.Trim(suffix, "0123456789ABCDEF") != "" {
			return
		}
		// Whatever else a valid response lists, a line with suffix and a count finds it.
		if breached, err := parseRange(append(body, "\n"+suffix+":1\n"...), suffix); !breached || err != nil {
			t.Errorf("suffix appended to %q: %v, %v", body, breached, err)
		}
	})
}
