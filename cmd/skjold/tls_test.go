package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTLSHandshake(t *testing.T) {
	rsaData := filepath.Join(t.TempDir(), "data")
	servers := map[string]*server{
		"ecdsa": startServer(t, filepath.Join(t.TempDir(), "data"), nil), // the self-signed default
		"rsa":   startServer(t, rsaData, writeRSACertificate(t, rsaData)),
	}
	const (
		badVersion = "remote error: tls: protocol version not supported"
		noSuite    = "remote error: tls: handshake failure"
	)
	tests := []struct {
		name     string
		cert     string // which server: "ecdsa" or "rsa"
		min, max uint16
		suites   []uint16
		curves   []tls.CurveID
		refused  string // the client's error when the server refuses; "" when it accepts
	}{
		{"TLS 1.0", "ecdsa", tls.VersionTLS10, tls.VersionTLS10, nil, nil, badVersion},
		{"TLS 1.1", "ecdsa", tls.VersionTLS11, tls.VersionTLS11, nil, nil, badVersion},
		{"TLS 1.0 with an RSA certificate", "rsa", tls.VersionTLS10, tls.VersionTLS10, nil, nil, badVersion},
		{"TLS 1.1 with an RSA certificate", "rsa", tls.VersionTLS11, tls.VersionTLS11, nil, nil, badVersion},
		{"TLS 1.2 RSA key exchange, CBC", "rsa", tls.VersionTLS12, tls.VersionTLS12,
			[]uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}, nil, noSuite},
		{"TLS 1.2 RSA key exchange, GCM", "rsa", tls.VersionTLS12, tls.VersionTLS12,
			[]uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}, nil, noSuite},
		{"TLS 1.2 ECDHE-RSA, CBC", "rsa", tls.VersionTLS12, tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}, nil, noSuite},
		{"TLS 1.2 ECDHE-ECDSA, CBC", "ecdsa", tls.VersionTLS12, tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}, nil, noSuite},
		{"TLS 1.2 ECDHE over P-384 only", "ecdsa", tls.VersionTLS12, tls.VersionTLS12,
			nil, []tls.CurveID{tls.CurveP384}, noSuite},
		{"TLS 1.2 ECDHE-ECDSA, AES-GCM", "ecdsa", tls.VersionTLS12, tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, nil, ""},
		{"TLS 1.2 ECDHE-ECDSA, ChaCha20-Poly1305", "ecdsa", tls.VersionTLS12, tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, nil, ""},
		{"TLS 1.2 ECDHE-RSA, AES-GCM over P-256", "rsa", tls.VersionTLS12, tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, []tls.CurveID{tls.CurveP256}, ""},
		{"TLS 1.3", "ecdsa", tls.VersionTLS13, tls.VersionTLS13, nil, nil, ""},
		{"TLS 1.3 with an RSA certificate", "rsa", tls.VersionTLS13, tls.VersionTLS13, nil, nil, ""},
		{"TLS 1.3 over X25519", "ecdsa", tls.VersionTLS13, tls.VersionTLS13, nil, []tls.CurveID{tls.X25519}, ""},
		{"TLS 1.3 over X25519MLKEM768", "ecdsa", tls.VersionTLS13, tls.VersionTLS13, nil, []tls.CurveID{tls.X25519MLKEM768}, ""},
		{"TLS 1.3 over P-384 only", "ecdsa", tls.VersionTLS13, tls.VersionTLS13, nil, []tls.CurveID{tls.CurveP384}, noSuite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := servers[tt.cert]
			cfg := s.client.Transport.(*http.Transport).TLSClientConfig.Clone()
			cfg.MinVersion, cfg.MaxVersion, cfg.CipherSuites, cfg.CurvePreferences = tt.min, tt.max, tt.suites, tt.curves
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", hostPort(t, s.url), cfg)
			if tt.refused != "" {
				if err == nil {
					conn.Close()
					t.Fatalf("the handshake succeeded (%s), want it refused", tls.CipherSuiteName(conn.ConnectionState().CipherSuite))
				}
				if !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("got %v, want the server to refuse with %q", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			st := conn.ConnectionState()
			if st.Version != tt.max {
				t.Errorf("negotiated %s, want %s", tls.VersionName(st.Version), tls.VersionName(tt.max))
			}
			if tt.suites != nil && st.CipherSuite != tt.suites[0] {
				t.Errorf("negotiated %s, want %s", tls.CipherSuiteName(st.CipherSuite), tls.CipherSuiteName(tt.suites[0]))
			}
			if tt.curves != nil && st.CurveID != tt.curves[0] {
				t.Errorf("key exchange over %v, want %v", st.CurveID, tt.curves[0])
			}
		})
	}
}

func TestHSTSOnEveryResponse(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, nil)
	tok := readToken(t, data)
	tests := []struct {
		method, path string
		token        bool
		body         string
		status       int
	}{
		{"GET", "/healthz", false, "", 200},
		{"GET", "/api/v1/tenants", true, "", 200},
		{"GET", "/api/v1/tenants", false, "", 401},
		{"POST", "/api/v1/tenants", true, "{not json", 400},
		{"GET", "/metrics", false, "", 401},
		{"GET", "/no/such/route", false, "", 404},
		{"GET", "/api/v1/subjects", true, "", 403}, // an operator token reads no personal data
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+strconv.Itoa(tt.status), func(t *testing.T) {
			token := ""
			if tt.token {
				token = tok
			}
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, _ := newJSONRequest(tt.method, s.url+tt.path, token, body)
			resp, err := s.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			hsts := resp.Header.Get("Strict-Transport-Security")
			if age := hstsMaxAge(hsts); age < 365*24*60*60 {
				t.Errorf("Strict-Transport-Security %q: want a max-age of at least a year", hsts)
			}
		})
	}
}

func TestPlainHTTPOnlyRedirects(t *testing.T) {
	tests := []struct {
		name      string
		publicURL string
		base      string // the Location's start; "" for https://127.0.0.1:<HTTPS port>
	}{
		{"to the listen address", "", ""},
		{"to the public URL", "https://skjold.example.org/", "https://skjold.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			s := startServer(t, data, map[string]string{"SKJOLD_REDIRECT_ADDR": "127.0.0.1:0", "SKJOLD_PUBLIC_URL": tt.publicURL})
			plain := "http://" + loggedAddr(t, s, "redirecting")
			base := tt.base
			if base == "" {
				base = s.url
			}
			tok := readToken(t, data)
			for _, method := range []string{"GET", "POST", "PUT", "DELETE", "HEAD"} {
				for _, path := range []string{"/api/v1/tenants?x=1", "/healthz", "/metrics", "/a%2Fb/c?q=%20&r"} {
					resp, body := plainRequest(t, method, plain+path, tok, `{"name":"Acme"}`, 0)
					if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != base+path || len(body) > 0 {
						t.Errorf("%s %s: %d, Location %q, body %q; want 308 to %s and no body",
							method, path, resp.StatusCode, resp.Header.Get("Location"), body, base+path)
					}
				}
			}
			// The Host header is the client's to choose: it never picks the target.
			req, _ := http.NewRequest("GET", plain+"/healthz", nil)
			req.Host = "evil.example"
			if resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req); err != nil {
				t.Fatal(err)
			} else if resp.Body.Close(); resp.Header.Get("Location") != base+"/healthz" {
				t.Errorf("with Host: evil.example, Location %q, want %s", resp.Header.Get("Location"), base+"/healthz")
			}
			if tt.publicURL == "" {
				// The redirect leads to the API itself.
				if code := s.call(t, "GET", "/api/v1/tenants?x=1", tok, nil, nil); code != 200 {
					t.Errorf("following the redirect: %d", code)
				}
			}
			if resp, _ := plainRequest(t, "GET", plain+"/healthz", "", "", 16<<10); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("16 KiB of headers: %d, want 431", resp.StatusCode)
			}
			if err := s.stop(); err != nil {
				t.Fatalf("graceful shutdown: %v", err)
			}
			if _, err := net.DialTimeout("tcp", strings.TrimPrefix(plain, "http://"), time.Second); err == nil {
				t.Error("the redirect port still accepts connections after shutdown")
			}
		})
	}
}

func TestNoPlainHTTPWithoutRedirect(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "data"), nil)
	if strings.Contains(s.stderr.String(), `"redirecting"`) {
		t.Error("a plain-HTTP redirect started without redirect_addr")
	}
	for _, method := range []string{"GET", "POST"} {
		resp, body := plainRequest(t, method, "http://"+hostPort(t, s.url)+"/api/v1/tenants?x=1", readToken(t, s.data), "{}", 0)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || strings.Contains(string(body), "{") {
			t.Errorf("plain %s to the HTTPS port: %d, Location %q, body %q; want Go's 400 and no API answer",
				method, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
}

func TestRedirectPortBusy(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = runCLI(t, map[string]string{"SKJOLD_REDIRECT_ADDR": busy.Addr().String()},
		"serve", "--data", filepath.Join(t.TempDir(), "data"), "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "redirect_addr") {
		t.Fatalf("got %v, want the start to fail on the busy redirect port", err)
	}
}

// TestRedirectTarget: the redirect goes to public_url, or to the host named in addr, whatever
// the request's Host header says: a client-chosen Host must not make an open redirect.
func TestRedirectTarget(t *testing.T) {
	tests := []struct {
		name, publicURL, addr, port string
		url, host                   string // the request
		want                        string
	}{
		{"listen host", "", "skjold.example.org:8443", "8443", "/api/v1/tenants?x=1", "evil.example:8080", "https://skjold.example.org:8443/api/v1/tenants?x=1"},
		{"no Host header", "", "192.0.2.7:8443", "8443", "/x", "", "https://192.0.2.7:8443/x"},
		{"default HTTPS port", "", "skjold.example.org:443", "443", "/a?b=c", "evil.example", "https://skjold.example.org/a?b=c"},
		{"IPv6", "", "[2001:db8::1]:8443", "8443", "/", "[2001:db8::66]:80", "https://[2001:db8::1]:8443/"},
		{"IPv6 on 443", "", "[2001:db8::1]:443", "443", "/", "evil.example", "https://[2001:db8::1]/"},
		{"port chosen at start", "", "127.0.0.1:0", "40123", "/", "evil.example", "https://127.0.0.1:40123/"},
		{"escaped path", "", "h:8443", "8443", "/a%2Fb/%C3%A6?q=%20", "evil.example", "https://h:8443/a%2Fb/%C3%A6?q=%20"},
		{"public URL", "https://skjold.example.org", ":8443", "8443", "/x?y", "evil.example:80", "https://skjold.example.org/x?y"},
		{"public URL with a slash", "https://skjold.example.org/", "0.0.0.0:8443", "8443", "/x", "h", "https://skjold.example.org/x"},
		{"public URL with a path", "https://example.org/skjold", "[::]:8443", "8443", "/x", "h", "https://example.org/skjold/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tt.url, strings.NewReader("body"))
			r.Host = tt.host
			w := httptest.NewRecorder()
			listener := &net.TCPAddr{IP: net.ParseIP("192.0.2.99"), Port: atoi(t, tt.port)}
			redirectHandler(redirectBase(Config{Addr: tt.addr, PublicURL: tt.publicURL}, listener)).ServeHTTP(w, r)
			if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tt.want || w.Body.Len() > 0 {
				t.Errorf("%d, Location %q, body %q; want 308 to %s", w.Code, w.Header().Get("Location"), w.Body, tt.want)
			}
		})
	}
}

// TestRedirectNeedsTarget: without public_url, a redirect from a server listening on every
// interface has no configured place to go, so the start is refused.
func TestRedirectNeedsTarget(t *testing.T) {
	for _, addr := range []string{":8443", "0.0.0.0:8443", "[::]:8443"} {
		_, err := runCLI(t, map[string]string{"SKJOLD_REDIRECT_ADDR": "127.0.0.1:0"},
			"serve", "--data", filepath.Join(t.TempDir(), "data"), "--addr", addr)
		if err == nil || !strings.Contains(err.Error(), "public_url") {
			t.Errorf("addr %s: got %v, want the start refused for want of public_url", addr, err)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// plainRequest sends a plain-HTTP request without following redirects; padding adds that
// many bytes of headers.
func plainRequest(t *testing.T, method, url, token, body string, padding int) (*http.Response, []byte) {
	t.Helper()
	req, err := newJSONRequest(method, url, token, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if padding > 0 {
		req.Header.Set("X-Padding", strings.Repeat("x", padding))
	}
	client := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// loggedAddr returns the "addr" of the server's first log line with message msg.
func loggedAddr(t *testing.T, s *server, msg string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg {
			return line.Addr
		}
	}
	t.Fatalf("no %q in the log:\n%s", msg, s.stderr)
	return ""
}

func hostPort(t *testing.T, url string) string {
	t.Helper()
	hp, ok := strings.CutPrefix(url, "https://")
	if !ok {
		t.Fatalf("%q is not an https URL", url)
	}
	return hp
}

// hstsMaxAge returns the max-age of a Strict-Transport-Security value, or -1.
func hstsMaxAge(v string) int {
	for _, d := range strings.Split(v, ";") {
		if age, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(d)), "max-age="); ok {
			if n, err := strconv.Atoi(strings.Trim(age, `"`)); err == nil {
				return n
			}
		}
	}
	return -1
}

// writeRSACertificate writes a self-signed RSA certificate for 127.0.0.1 to <data>/tls.crt
// and tls.key and returns the environment that configures it: with it the server could offer
// RSA key exchange, so refusing those suites shows the cipher list, not the key type.
func writeRSACertificate(t *testing.T, data string) map[string]string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Skjold RSA test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(data, "tls.crt"), filepath.Join(data, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	return map[string]string{"SKJOLD_TLS_CERT_FILE": certFile, "SKJOLD_TLS_KEY_FILE": keyFile}
}

// TestRefusesLooseFiles: like the master key, the data directory and the TLS key must not be
// open to group or others.
func TestRefusesLooseFiles(t *testing.T) {
	t.Run("data directory", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chmod(data, 0o755)
		err := startRefused(t, nil, "--data", data)
		if err == nil || !strings.Contains(err.Error(), "data directory") || !strings.Contains(err.Error(), "chmod 700") {
			t.Fatalf("got %v, want the start refused for the data directory's mode", err)
		}
		if entries, _ := os.ReadDir(data); len(entries) > 0 {
			t.Errorf("the refused start wrote %d files into the data directory", len(entries))
		}
	})
	t.Run("self-signed key", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		s := startServer(t, data, nil)
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(data, "tls.key"), 0o644)
		err := startRefused(t, nil, "--data", data)
		if err == nil || !strings.Contains(err.Error(), "TLS key file") {
			t.Fatalf("got %v, want the start refused for tls.key's mode", err)
		}
	})
	t.Run("configured key", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		env := writeRSACertificate(t, data)
		os.Chmod(env["SKJOLD_TLS_KEY_FILE"], 0o640)
		err := startRefused(t, env, "--data", data)
		if err == nil || !strings.Contains(err.Error(), "TLS key file") || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("got %v, want the start refused for the key file's mode", err)
		}
	})
}

func TestShowSecret(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for name, out := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "pipe": w, "/dev/null": null} {
		if isTerminal(out) {
			t.Errorf("%s counts as a terminal", name)
		}
	}
	var b bytes.Buffer
	showSecret(&b, "a thing", "skjold_o_very-secret", "/data/thing", "Use it.")
	if strings.Contains(b.String(), "very-secret") || !strings.Contains(b.String(), "/data/thing") {
		t.Errorf("shown where no terminal reads: %q", b.String())
	}
}

// startRefused runs `skjold serve` with args and returns its error, or fails the test if it
// is still running after 30 seconds rather than refusing to start.
func startRefused(t *testing.T, environ map[string]string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	err := run(ctx, append([]string{"skjold", "serve", "--addr", "127.0.0.1:0"}, args...), func(k string) string { return environ[k] },
		strings.NewReader(""), &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("serve started instead of refusing: %v", err)
	}
	return err
}
