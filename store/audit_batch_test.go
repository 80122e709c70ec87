package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/skjold-project/skjold"
)

// The audit events of one write, and of many writes committed together, go in as multi-row
// inserts (up to maxEventRows a statement) in chain order: the chain verifies, every event
// is there once, and a refused write in the same group commit leaves none of its own.
func TestAuditEventsBatched(t *testing.T) {
	db := planDB(t, filepath.Join(t.TempDir(), "skjold.db"))
	op := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", Operator: true, Source: "127.0.0.1"})
	tn := &skjold.Tenant{Name: "Batch AS"}
	if _, err := db.CreateTenant(op, tn); err != nil {
		t.Fatal(err)
	}
	ctx := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:t", TenantID: tn.ID, Scopes: skjold.AllScopes, Source: "127.0.0.1"})
	before, err := db.VerifyAuditChain(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]*skjold.Subject, 2*maxEventRows+5) // one write: three statements
	for i := range batch {
		batch[i] = &skjold.Subject{Ref: fmt.Sprintf("B-%d", i), Name: "Batch Person"}
	}
	if err := db.CreateSubjects(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// Many writes at once, some refused (a ref taken), grouped by the writer.
	var wg sync.WaitGroup
	refused := make([]error, 40)
	for i := range refused {
		wg.Go(func() {
			ref := fmt.Sprintf("C-%d", i)
			if i%4 == 0 {
				ref = "B-0"
			}
			refused[i] = db.CreateSubject(ctx, &skjold.Subject{Ref: ref, Name: "Concurrent"})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range refused {
		if i%4 == 0 && skjold.ErrorCode(err) != skjold.ECONFLICT || i%4 != 0 && err != nil {
			t.Errorf("create %d: %v", i, err)
		} else if err == nil {
			ok++
		}
	}
	rep, err := db.VerifyAuditChain(t.Context())
	if err != nil {
		t.Fatalf("the chain does not verify: %v", err)
	}
	if want := before.Length + int64(len(batch)+ok); rep.Length != want {
		t.Errorf("chain of %d events, want %d", rep.Length, want)
	}
	var n int
	if err := db.read.QueryRow("SELECT COUNT(*) FROM audit_events WHERE action = 'subject.create'").Scan(&n); err != nil || n != len(batch)+ok {
		t.Errorf("%d subject.create events, %v; want %d", n, err, len(batch)+ok)
	}
}
