package store_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/internal/pgtest"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// TestNodeRegistry checks the registry on both engines, two nodes on one database and a
// clock the test moves: a silent node is marked down once (one node.down, whichever node
// looks), it comes back up with node.up when it beats again, and only operators list nodes.
func TestNodeRegistry(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testNodeRegistry(t, filepath.Join(t.TempDir(), "skjold.db"), false) })
	t.Run("postgres", func(t *testing.T) { testNodeRegistry(t, pgtest.Require(t).NewDatabase(t), true) })
}

func testNodeRegistry(t *testing.T, dsn string, twoNodes bool) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ring, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	open := func() *store.DB {
		db, err := store.Open(t.Context(), dsn, store.Options{Keys: keys.NewService(ring), Logger: quiet, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a := open()
	b := a
	if twoNodes {
		b = open()
	}
	op := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", Operator: true})
	n1 := &skjold.Node{ID: "host1 :8443", Address: "https://one", Version: "v1", KeyIDs: ring.KeyIDs(), StartedAt: clock()}
	n2 := &skjold.Node{ID: "host2 :8443", Address: "https://two", Version: "v1", KeyIDs: ring.KeyIDs(), StartedAt: clock()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Heartbeat(op, n1))
	must(b.Heartbeat(op, n2))
	status := func() map[string]string {
		nodes, err := a.FindNodes(op)
		must(err)
		got := map[string]string{}
		for _, n := range nodes {
			got[n.ID] = n.Status
			if len(n.KeyIDs) != 1 || n.KeyIDs[0] != ring.PrimaryKeyID() || n.Version != "v1" {
				t.Errorf("node %+v: want the key and version it beat with", n)
			}
		}
		return got
	}
	if got := status(); got[n1.ID] != "up" || got[n2.ID] != "up" || len(got) != 2 {
		t.Fatalf("after both beat: %v", got)
	}
	advance(20 * time.Second)
	must(a.Heartbeat(op, n1))
	advance(20 * time.Second) // n2 silent for 40 s, n1 for 20 s
	if n, err := a.MarkSilentNodes(op, 30*time.Second); err != nil || n != 1 {
		t.Fatalf("MarkSilentNodes = %d, %v; want n2 only", n, err)
	}
	if n, err := b.MarkSilentNodes(op, 30*time.Second); err != nil || n != 0 {
		t.Fatalf("second look by the other node = %d, %v; want none: node.down is raised once", n, err)
	}
	if got := status(); got[n1.ID] != "up" || got[n2.ID] != "down" {
		t.Fatalf("after the silence: %v", got)
	}
	must(b.Heartbeat(op, n2))
	if got := status(); got[n2.ID] != "up" {
		t.Fatalf("after n2 beat again: %v", got)
	}
	count := func(action string) int {
		evs, err := a.FindAuditEvents(op, skjold.AuditFilter{Action: action})
		must(err)
		return len(evs)
	}
	if d, u := count("node.down"), count("node.up"); d != 1 || u != 1 {
		t.Errorf("audit: %d node.down and %d node.up, want one each", d, u)
	}
	tenant := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:x", TenantID: "t"})
	if _, err := a.FindNodes(tenant); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		t.Errorf("a tenant lists nodes: %v", err)
	}
}
