package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skjold-project/skjold/internal/pgtest"
)

// TestStoppedNodeDoesNotStopTheCluster runs two nodes on one PostgreSQL database, puts
// writes on node B and stops it with SIGSTOP while it is inside a write transaction (holding
// the audit chain's head that every write locks). Node A must go on answering writes without
// an error, each within the lock timeout, the idle timeout and a margin; the server must end
// B's stalled session; and B must serve again by itself after SIGCONT.
func TestStoppedNodeDoesNotStopTheCluster(t *testing.T) {
	dsn := pgtest.Require(t).NewDatabase(t)
	env := map[string]string{"SKJOLD_DATABASE": dsn, "SKJOLD_DB_IDLE_IN_TRANSACTION_TIMEOUT": "2s",
		"SKJOLD_DB_LOCK_TIMEOUT": "1500ms", "SKJOLD_LOG_LEVEL": "error"}
	dataA, dataB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	_, a := startProcess(t, dataA, env)
	tok := readToken(t, dataA)
	var created struct{ Token struct{ Secret string } }
	if code := a.call(t, "POST", "/api/v1/tenants", tok, map[string]string{"name": "T"}, &created); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	tenant := created.Token.Secret
	envB := map[string]string{"SKJOLD_MASTER_KEY_FILE": filepath.Join(dataA, "master.key")}
	for k, v := range env {
		envB[k] = v
	}
	procB, b := startProcess(t, dataB, envB)
	subject := map[string]string{"name": "Kari"}

	// Load on B, so that it is inside a write transaction most of the time.
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var loadErrs atomic.Int64
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := newJSONRequest("POST", b.url+"/api/v1/subjects", tenant, jsonBody(subject))
				if resp, err := b.client.Do(req.WithContext(ctx)); err == nil {
					resp.Body.Close()
				} else if ctx.Err() == nil {
					loadErrs.Add(1)
				}
			}
		}()
	}
	defer func() { stopLoad(); procB.Process.Signal(syscall.SIGCONT); wg.Wait() }()

	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	idleInTx := func() int {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state = 'idle in transaction'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	caught := false
	for range 60 {
		procB.Process.Signal(syscall.SIGSTOP)
		time.Sleep(150 * time.Millisecond)
		if idleInTx() > 0 {
			caught = true
			break
		}
		procB.Process.Signal(syscall.SIGCONT)
		time.Sleep(100 * time.Millisecond)
	}
	if !caught {
		t.Skip("node B was never stopped inside a write transaction in 60 tries")
	}
	stalledAt := time.Now()
	for i := range 5 {
		start := time.Now()
		if code := a.call(t, "POST", "/api/v1/subjects", tenant, subject, nil); code != 201 {
			t.Errorf("write %d on node A while B is stopped: %d", i, code)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("write %d on node A took %v while B is stopped", i, d)
		}
	}
	for idleInTx() > 0 {
		if time.Since(stalledAt) > 10*time.Second {
			t.Fatal("the stopped node's session is still idle in transaction after 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	procB.Process.Signal(syscall.SIGCONT)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code := b.call(t, "POST", "/api/v1/subjects", tenant, subject, nil); code == 201 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("node B after SIGCONT: %d", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}
