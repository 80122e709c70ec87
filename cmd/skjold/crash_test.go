package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKillDuringWritesLosesNoAcknowledgedWrite kills the server with SIGKILL while clients
// write, restarts it, and checks that every write it acknowledged is there and the audit
// chain is whole.
func TestKillDuringWritesLosesNoAcknowledgedWrite(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	cmd, s := startProcess(t, data, nil)
	var tenant struct{ Token created }
	if code := s.call(t, "POST", "/api/v1/tenants", readToken(t, data), map[string]string{"name": "Crash AS"}, &tenant); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	tok := tenant.Token.Secret

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if id, ok := s.tryCreate(fmt.Sprintf("K-%d-%d", c, i), tok); ok {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}(c)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}

	_, s2 := startProcess(t, data, nil)
	for _, id := range acked {
		if code := s2.call(t, "GET", "/api/v1/subjects/"+id, tok, nil, nil); code != 200 {
			t.Fatalf("acknowledged subject %s is gone after SIGKILL: %d", id, code)
		}
	}
	out, err := runCLI(t, nil, "audit", "verify", "--data", data)
	if err != nil || !strings.HasPrefix(out, "audit chain OK") {
		t.Fatalf("audit chain after SIGKILL: %v %s", err, out)
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}

// tryCreate creates a subject and reports its id when the server acknowledged it with 201.
// Transport errors (the server was killed) are expected and not acknowledgements.
func (s *server) tryCreate(ref, token string) (string, bool) {
	body := strings.NewReader(fmt.Sprintf(`{"ref":%q,"name":"Crash Test"}`, ref))
	req, _ := newJSONRequest("POST", s.url+"/api/v1/subjects", token, body)
	resp, err := s.client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var out created
	if resp.StatusCode != 201 || decodeBody(resp, &out) != nil {
		return "", false
	}
	return out.ID, true
}

// TestSIGTERMShutsDownGracefully checks that SIGTERM ends the server with exit status 0.
func TestSIGTERMShutsDownGracefully(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	cmd, s := startProcess(t, data, nil)
	if code := s.call(t, "GET", "/healthz", "", nil, nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, cmd.Stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop within 30 s of SIGTERM")
	}
	if !strings.Contains(fmt.Sprint(cmd.Stderr), `"msg":"shutting down"`) {
		t.Errorf("no shutdown log line:\n%s", cmd.Stderr)
	}
}
