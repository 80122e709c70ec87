package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const plainMsg = "serving plain HTTP for a TLS-terminating proxy"

// TestPlainHTTPListener: http_addr serves the API in plain HTTP on a loopback address or a
// unix socket, for a TLS-terminating proxy on the same host, and stops with the server.
func TestPlainHTTPListener(t *testing.T) {
	livez := func(t *testing.T, c *http.Client, url string) {
		t.Helper()
		resp, err := c.Get(url + "/livez")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "ok") {
			t.Errorf("plain GET /livez: %d %s", resp.StatusCode, body)
		}
	}
	t.Run("loopback", func(t *testing.T) {
		s := startServer(t, filepath.Join(t.TempDir(), "data"), map[string]string{"SKJOLD_HTTP_ADDR": "127.0.0.1:0"})
		addr := loggedAddr(t, s, plainMsg)
		livez(t, &http.Client{Timeout: 10 * time.Second}, "http://"+addr)
		if code := s.call(t, "GET", "/livez", "", nil, nil); code != 200 {
			t.Errorf("HTTPS /livez beside it: %d", code)
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			t.Error("the plain-HTTP port still accepts connections after shutdown")
		}
	})
	t.Run("unix socket", func(t *testing.T) {
		dir, err := os.MkdirTemp("", "sk")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		sock := filepath.Join(dir, "http.sock")
		s := startServer(t, filepath.Join(t.TempDir(), "data"), map[string]string{"SKJOLD_HTTP_ADDR": "unix:" + sock})
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			}}}
		livez(t, c, "http://skjold")
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(sock); err == nil {
			t.Error("the socket file is left after shutdown")
		}
	})
}

// TestPlainHTTPRefusedOffLoopback: plain HTTP on every interface or on a network address
// would carry passwords and tokens in the clear; the start is refused with a clear error.
func TestPlainHTTPRefusedOffLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.0.2.10:8080", "10.0.0.5:80",
		"[2001:db8::1]:8080", "skjold.example.org:80", "unix:relative.sock", "127.0.0.1"} {
		if err := checkHTTPAddr(addr); err == nil {
			t.Errorf("http_addr %q accepted", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "127.0.0.2:0", "[::1]:8080", "localhost:8080", "unix:/run/skjold/http.sock"} {
		if err := checkHTTPAddr(addr); err != nil {
			t.Errorf("http_addr %q refused: %v", addr, err)
		}
	}
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.10:0"} {
		data := filepath.Join(t.TempDir(), "data")
		err := startRefused(t, map[string]string{"SKJOLD_HTTP_ADDR": addr}, "--data", data)
		if err == nil || !strings.Contains(err.Error(), "http_addr") || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("http_addr %s: got %v, want the start refused naming http_addr and loopback", addr, err)
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("http_addr %s: the refused start made the data directory", addr)
		}
	}
}
