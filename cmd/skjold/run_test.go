package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold/internal/browsertest"
	"github.com/skjold-project/skjold/internal/pgtest"
)

// TestMain runs the tests with the shared PostgreSQL server and browser, stopping both after.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	browsertest.Close()
	os.Exit(code)
}

// syncBuffer is an io.Writer safe for the server's goroutines and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running `skjold serve` started through run, as main would.
type server struct {
	url            string
	data           string
	stdout, stderr *syncBuffer
	client         *http.Client
	stop           func() error
}

var listenRE = regexp.MustCompile(`listening on (https://\S+)`)

// startServer runs `skjold serve` with the given extra environment and waits for it to listen.
func startServer(t *testing.T, data string, environ map[string]string) *server {
	t.Helper()
	s := &server{data: data, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	getenv := func(k string) string { return environ[k] }
	go func() {
		done <- run(ctx, []string{"skjold", "serve", "--data", data, "--addr", "127.0.0.1:0"}, getenv,
			strings.NewReader(""), s.stdout, s.stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for s.url == "" {
		if m := listenRE.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = m[1]
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("server stopped before listening: %v\n%s", err, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not listen within 30 s:\n%s", s.stderr)
		}
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() { s.stop() })
	s.client = httpsClient(t, filepath.Join(data, "tls.crt"))
	return s
}

// httpsClient trusts only the server's self-signed certificate, as the README's curl does.
func httpsClient(t *testing.T, certFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("tls.crt holds no certificate")
	}
	return &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

// call sends a JSON request and decodes the JSON answer into out (if not nil); it returns the status.
func (s *server) call(t *testing.T, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := newJSONRequest(method, s.url+path, token, rd)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// runCLI runs one command-line invocation and returns its stdout.
func runCLI(t *testing.T, environ map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut syncBuffer
	err := run(context.Background(), append([]string{"skjold"}, args...), func(k string) string { return environ[k] },
		strings.NewReader(""), &out, &errOut)
	return out.String(), err
}

func mustMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
	}
}

func readToken(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "initial-operator-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestFirstStartCreatesDataDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	mustMode(t, data, 0o700)
	mustMode(t, filepath.Join(data, "master.key"), 0o600)
	mustMode(t, filepath.Join(data, "initial-operator-token"), 0o600)
	mustMode(t, filepath.Join(data, "tls.key"), 0o600)
	mustMode(t, filepath.Join(data, "skjold.db"), 0o600)
	tok := readToken(t, data)
	// Not a terminal: the output names the file, never the secret (journald and container
	// logs keep what a service prints).
	if out := s.stdout.String() + s.stderr.String(); strings.Contains(out, tok) || !strings.Contains(out, filepath.Join(data, "initial-operator-token")) {
		t.Errorf("the bootstrap token is printed, or its file not named:\n%s", out)
	}
	var health map[string]string
	if code := s.call(t, "GET", "/healthz", "", nil, &health); code != 200 || health["status"] != "ok" || health["engine"] != "sqlite" {
		t.Fatalf("healthz: %d %v", code, health)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	// A second start keeps the token, the key and the certificate, and prints no new token.
	s2 := startServer(t, data, nil)
	if strings.Contains(s2.stderr.String(), "bootstrap operator API token") || readToken(t, data) != tok {
		t.Error("a second start made a new bootstrap token")
	}
	if code := s2.call(t, "GET", "/api/v1/tenants", tok, nil, nil); code != 200 {
		t.Errorf("the bootstrap token does not work after a restart: %d", code)
	}
}

func newJSONRequest(method, url, token string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

func decodeBody(resp *http.Response, out any) error {
	return json.NewDecoder(resp.Body).Decode(out)
}
