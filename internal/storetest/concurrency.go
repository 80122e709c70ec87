package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// Sizes of the concurrency test: enough goroutines to keep the writer's queue full while
// readers run, few enough operations to stay quick under the race detector.
const (
	workers      = 32
	opsPerWorker = 50
)

// TestConcurrency runs many goroutines of mixed reads and writes on one database: none may
// fail (SQLite must never report "database is locked"), and the audit chain must hold
// exactly one event per operation.
func TestConcurrency(t *testing.T, h Harness) {
	t.Run("Mixed", func(t *testing.T) { testConcurrentMix(t, h) })
	t.Run("Conflicts", func(t *testing.T) { testConcurrentConflicts(t, h) })
	t.Run("TwoHandles", func(t *testing.T) { testTwoHandles(t, h) })
	t.Run("WritesDuringClose", func(t *testing.T) { testWritesDuringClose(t, h) })
}

func testConcurrentMix(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tenants := []*tenant{e.newTenant("Tenant A"), e.newTenant("Tenant B")}
	base := e.lastSeq()

	var events atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := e.as(tenants[w%len(tenants)], "credit_check")
			if err := worker(e, ctx, w, &events); err != nil {
				errs <- fmt.Errorf("worker %d: %w", w, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	rep, err := e.db.VerifyAuditChain(t.Context())
	must(t, err)
	if got, want := rep.Length-base, events.Load(); got != want {
		t.Errorf("the audit chain grew by %d events, want %d (one per operation)", got, want)
	}
	if want := int64(workers * opsPerWorker); events.Load() != want {
		t.Errorf("%d operations counted, want %d", events.Load(), want)
	}
}

// worker runs opsPerWorker operations of a mix of kinds, each appending one audit event.
func worker(e *env, ctx context.Context, w int, events *atomic.Int64) error {
	var subjects []*skjold.Subject
	var records []*skjold.Record
	for i := range opsPerWorker {
		var err error
		switch {
		case len(subjects) == 0 || i%6 == 0:
			s := &skjold.Subject{Ref: fmt.Sprintf("W%d-%d", w, i), Email: fmt.Sprintf("w%d.%d@example.com", w, i),
				Name: "Worker Subject", BirthDate: adultBorn}
			if err = e.db.CreateSubject(ctx, s); err == nil {
				subjects = append(subjects, s)
			}
		case i%6 == 1:
			_, err = e.db.FindSubjectByID(ctx, subjects[i%len(subjects)].ID)
		case i%6 == 2:
			_, err = e.db.UpdateSubject(ctx, subjects[i%len(subjects)].ID, skjold.SubjectUpdate{Name: ptr(fmt.Sprintf("Renamed %d", i))})
		case i%6 == 3 || len(records) == 0:
			r := &skjold.Record{SubjectID: subjects[i%len(subjects)].ID, Category: "travel_booking", Data: booking()}
			if err = e.db.CreateRecord(ctx, r); err == nil {
				records = append(records, r)
			}
		case i%6 == 4:
			_, err = e.db.FindRecordByID(ctx, records[i%len(records)].ID)
		default:
			var found []*skjold.Subject
			found, err = e.db.FindSubjects(ctx, skjold.SubjectFilter{Email: subjects[i%len(subjects)].Email})
			if err == nil && len(found) != 1 {
				err = fmt.Errorf("lookup found %d subjects, want 1", len(found))
			}
		}
		if err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
		events.Add(1)
	}
	return nil
}

// testConcurrentConflicts races writes that are refused inside the write transaction
// (duplicate refs) against writes that succeed: the refused ones must not take the others
// down with them, nor leave events.
func testConcurrentConflicts(t *testing.T, h Harness) {
	const goroutines, refs = 16, 8
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	base := e.lastSeq()
	var created, conflicts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*refs)
	for g := range goroutines {
		wg.Go(func() {
			for i := range refs {
				// Every goroutine tries every shared ref, and one ref of its own.
				for _, ref := range []string{fmt.Sprintf("SHARED-%d", (i+g)%refs), fmt.Sprintf("OWN-%d-%d", g, i)} {
					err := e.db.CreateSubject(ctx, &skjold.Subject{Ref: ref, Name: "Racer"})
					switch skjold.ErrorCode(err) {
					case "":
						created.Add(1)
					case skjold.ECONFLICT:
						conflicts.Add(1)
					default:
						errs <- fmt.Errorf("goroutine %d, ref %s: %w", g, ref, err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if want := int64(refs + goroutines*refs); created.Load() != want {
		t.Errorf("%d subjects created, want %d (each shared ref once, every own ref)", created.Load(), want)
	}
	if want := int64(goroutines*refs - refs); conflicts.Load() != want {
		t.Errorf("%d conflicts, want %d", conflicts.Load(), want)
	}
	rep, err := e.db.VerifyAuditChain(t.Context())
	must(t, err)
	if rep.Length-base != created.Load() {
		t.Errorf("the audit chain grew by %d events for %d creations", rep.Length-base, created.Load())
	}
	all, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Page: skjold.Page{Limit: skjold.MaxPageLimit}})
	must(t, err)
	if int64(len(all)) != created.Load() {
		t.Errorf("%d subjects stored, %d reported created", len(all), created.Load())
	}
}

// testTwoHandles writes through two *store.DB on one database at once, as two processes (a
// server and an admin command, or two nodes) would: the chain must stay whole.
func testTwoHandles(t *testing.T, h Harness) {
	const goroutines, ops = 8, 15
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	other := h.Reopen(t, e.db, e.options(e.keys))
	base := e.lastSeq()
	var wg sync.WaitGroup
	errs := make(chan error, 2*goroutines)
	for g := range 2 * goroutines {
		db := e.db
		if g%2 == 1 {
			db = other
		}
		wg.Go(func() {
			ctx := e.as(tn, "")
			for i := range ops {
				s := &skjold.Subject{Ref: fmt.Sprintf("H%d-%d", g, i), Name: "Two Handles"}
				if err := db.CreateSubject(ctx, s); err != nil {
					errs <- fmt.Errorf("goroutine %d: create %d: %w", g, i, err)
					return
				}
				if _, err := db.FindSubjectByID(ctx, s.ID); err != nil {
					errs <- fmt.Errorf("goroutine %d: read %d: %w", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, db := range []*store.DB{e.db, other} {
		rep, err := db.VerifyAuditChain(t.Context())
		must(t, err)
		if want := int64(2 * goroutines * ops * 2); rep.Length-base != want {
			t.Errorf("the audit chain grew by %d events, want %d", rep.Length-base, want)
		}
	}
}

// testWritesDuringClose closes a store while writers keep writing: every write either
// succeeds or, once the close has begun, fails (refused as unavailable by the stopped writer,
// or by the closed connections of the reads a write starts with); none waits forever for a
// writer that has gone, and every acknowledged write is stored.
func testWritesDuringClose(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	db := h.Reopen(t, e.db, e.options(e.keys))
	ctx := e.as(tn, "")
	const goroutines = 8
	var written, refused atomic.Int64
	var closing atomic.Bool
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for { // until the close stops this writer
				err := db.CreateSubject(ctx, &skjold.Subject{Name: "Anna"})
				switch {
				case err == nil:
					written.Add(1)
					continue
				case !closing.Load():
					errs <- fmt.Errorf("before the close: %w", err)
				case skjold.ErrorCode(err) == skjold.EUNAVAILABLE:
					refused.Add(1)
				case !strings.Contains(err.Error(), "database is closed"):
					errs <- err
				}
				return
			}
		})
	}
	for deadline := time.Now().Add(30 * time.Second); written.Load() < goroutines && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	closing.Store(true)
	must(t, db.Close())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writes still waiting 30 s after the store closed")
	}
	close(errs)
	for err := range errs {
		t.Errorf("a write failed with %v, want success, or %s or a closed database once the close began", err, skjold.EUNAVAILABLE)
	}
	if written.Load() < goroutines {
		t.Errorf("only %d writes succeeded before the close", written.Load())
	}
	t.Logf("%d writes stored, %d refused as unavailable, the rest stopped by closed connections", written.Load(), refused.Load())
	// Every write acknowledged before the close is in the database.
	if got := e.rawCount(e.raw(), "SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", tn.ID); int64(got) != written.Load() {
		t.Errorf("%d subjects stored, %d writes acknowledged", got, written.Load())
	}
}
