package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeNamedCertificate writes a certificate for 127.0.0.1 named cn and its key; with
// otherKey the key file holds a different key than the certificate's, a broken pair.
func writeNamedCertificate(t *testing.T, certFile, keyFile, cn string, otherKey bool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if otherKey {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// servedName returns the common name of the certificate a new TLS handshake with addr gets.
func servedName(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestCertReloadKeepsOldOnBadPair calls the reload itself: a good new pair is served from the
// next handshake on; a broken one (mismatched key, missing file, a key open to others) is
// refused with an error and a log line, and the previous certificate stays.
func TestCertReloadKeepsOldOnBadPair(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Addr: "127.0.0.1:0", Data: dir, TLSCertFile: filepath.Join(dir, "c.pem"), TLSKeyFile: filepath.Join(dir, "k.pem")}
	writeNamedCertificate(t, cfg.TLSCertFile, cfg.TLSKeyFile, "first", false)
	var logs syncBuffer
	r, selfSigned, err := newCertReloader(cfg, slog.New(slog.NewJSONHandler(&logs, nil)), time.Now())
	if err != nil || selfSigned {
		t.Fatalf("newCertReloader: %v, self-signed %v", err, selfSigned)
	}
	name := func() string {
		c, err := r.getCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		return leaf.Subject.CommonName
	}
	writeNamedCertificate(t, cfg.TLSCertFile, cfg.TLSKeyFile, "second", false)
	if name() != "first" {
		t.Fatal("the new files were served before a reload")
	}
	if err := r.reload(time.Now()); err != nil || name() != "second" {
		t.Fatalf("reload: %v, serving %q; want second", err, name())
	}
	broken := map[string]func(){
		"mismatched key": func() { writeNamedCertificate(t, cfg.TLSCertFile, cfg.TLSKeyFile, "third", true) },
		"missing key":    func() { os.Remove(cfg.TLSKeyFile) },
		"loose key": func() {
			writeNamedCertificate(t, cfg.TLSCertFile, cfg.TLSKeyFile, "third", false)
			os.Chmod(cfg.TLSKeyFile, 0o644)
		},
	}
	for what, breakIt := range broken {
		breakIt()
		before := strings.Count(logs.String(), "reload refused")
		if err := r.reload(time.Now()); err == nil {
			t.Errorf("%s: reload accepted", what)
		}
		if name() != "second" {
			t.Errorf("%s: serving %q after a refused reload, want the previous certificate", what, name())
		}
		if strings.Count(logs.String(), "reload refused") != before+1 {
			t.Errorf("%s: no log line for the refused reload: %s", what, logs.String())
		}
	}
	// After a year, a still valid pair but expired by the clock is refused as well.
	writeNamedCertificate(t, cfg.TLSCertFile, cfg.TLSKeyFile, "old", false)
	if err := r.reload(time.Now().AddDate(1, 0, 0)); err == nil || name() != "second" {
		t.Errorf("expired certificate: reload %v, serving %q", err, name())
	}
}

// TestCertReloadOnSIGHUP sends SIGHUP to the test process, as an operator (or certbot's
// deploy hook) would to the server: the running server serves the new certificate on new
// handshakes, keeps the open connection, and keeps the old certificate when the new pair is
// broken. `skjold serve` catches SIGHUP only while it runs, so the signal does not end the
// test binary; other servers running in this process at the time merely reload their own files.
func TestCertReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	writeNamedCertificate(t, certFile, keyFile, "before", false)
	data := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(data, 0o700)
	os.WriteFile(filepath.Join(data, "tls.crt"), mustRead(t, certFile), 0o644) // for startServer's client
	s := startServer(t, data, map[string]string{"SKJOLD_TLS_CERT_FILE": certFile, "SKJOLD_TLS_KEY_FILE": keyFile})
	addr := hostPort(t, s.url)
	if got := servedName(t, addr); got != "before" {
		t.Fatalf("serving %q, want before", got)
	}
	keep := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func() (reused bool) {
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, _ := http.NewRequest("GET", s.url+"/livez", nil)
		resp, err := keep.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/livez: %d", resp.StatusCode)
		}
		return reused
	}
	get()

	hangup := func(logLine string) {
		t.Helper()
		before := strings.Count(s.stderr.String(), logLine)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); strings.Count(s.stderr.String(), logLine) == before; {
			if time.Now().After(deadline) {
				t.Fatalf("no %q within 10 s after SIGHUP:\n%s", logLine, s.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	writeNamedCertificate(t, certFile, keyFile, "after", false)
	hangup("TLS certificate reloaded")
	if got := servedName(t, addr); got != "after" {
		t.Errorf("after SIGHUP serving %q, want after", got)
	}
	if !get() {
		t.Error("the open connection did not survive the reload")
	}
	writeNamedCertificate(t, certFile, keyFile, "broken", true)
	hangup("reload refused")
	if got := servedName(t, addr); got != "after" {
		t.Errorf("after a broken pair serving %q, want the previous certificate", got)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
