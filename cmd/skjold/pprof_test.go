package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The profiler refuses to listen beyond loopback unless told to, and refuses before the
// server creates or opens anything.
func TestPprofRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "[::]:6060", "192.0.2.10:6060", "example.com:6060", "6060"} {
		data := filepath.Join(t.TempDir(), "data")
		var stderr syncBuffer
		err := run(t.Context(), []string{"skjold", "serve", "--data", data, "--addr", "127.0.0.1:0", "--pprof-addr", addr},
			func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), "pprof-addr") {
			t.Errorf("--pprof-addr %s: %v, want a refusal naming pprof-addr", addr, err)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("--pprof-addr %s: the data directory was created before the refusal", addr)
		}
	}
	for _, ok := range []string{"127.0.0.1:0", "[::1]:6060", "localhost:6060"} {
		if err := checkPprofAddr(ok, false); err != nil {
			t.Errorf("checkPprofAddr(%s): %v", ok, err)
		}
	}
	if err := checkPprofAddr("0.0.0.0:6060", true); err != nil {
		t.Errorf("with --pprof-allow-remote: %v", err)
	}
}

var pprofRE = regexp.MustCompile(`pprof is listening on (http://\S+)`)

// skjold serve --pprof-addr 127.0.0.1:0 serves the profiler's index and a heap profile there,
// and nothing of the API.
func TestPprofServesOnLoopback(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"skjold", "serve", "--data", data, "--addr", "127.0.0.1:0", "--pprof-addr", "127.0.0.1:0"},
			func(string) string { return "" }, strings.NewReader(""), stdout, stderr)
	}()
	t.Cleanup(func() { cancel(); <-done })
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == ""; {
		if m := pprofRE.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no pprof listener within 30 s: %s\n%s", stdout, stderr)
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve stopped: %v\n%s", err, stderr)
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(url); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("GET %s: %d %.300s", url, code, body)
	}
	if code, body := get(url + "heap?debug=1"); code != 200 || !strings.Contains(body, "heap profile") {
		t.Errorf("GET heap: %d %.200s", code, body)
	}
	if code, _ := get(strings.TrimSuffix(url, "debug/pprof/") + "api/v1/health"); code != 404 {
		t.Errorf("the profiler's port answers the API: %d", code)
	}
}
