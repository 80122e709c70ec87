package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestBackupRuns checks the record of backup runs [E1, E4]: a slot is claimed by exactly one
// of several nodes that try at once, and a finished run keeps its outcome as evidence with
// an audit event beside it.
func TestBackupRuns(t *testing.T, h Harness) {
	t.Run("OneClaimAcrossNodes", func(t *testing.T) { testClaimAcrossNodes(t, h) })
	t.Run("Finish", func(t *testing.T) { testFinishBackupRun(t, h) })
	t.Run("Refusals", func(t *testing.T) { testBackupRunRefusals(t, h) })
}

// testClaimAcrossNodes opens the database twice, as two nodes would, and lets both claim the
// same slots at once from many goroutines: each slot goes to exactly one of them.
func testClaimAcrossNodes(t *testing.T, h Harness) {
	e := newEnv(t, h)
	second := h.Reopen(t, e.db, e.options(e.keys))
	for i := range 5 {
		slot := fmt.Sprintf("backup@2026-11-23T%02d:00:00Z", 10+i)
		var won atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			db := e.db
			if g%2 == 1 {
				db = second
			}
			wg.Go(func() {
				ok, err := db.ClaimBackupRun(t.Context(), slot)
				if err != nil {
					errs <- err
				}
				if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("ClaimBackupRun(%s): %v", slot, err)
		}
		if n := won.Load(); n != 1 {
			t.Errorf("slot %s was claimed %d times, want exactly once", slot, n)
		}
	}
	runs, err := e.db.FindBackupRuns(e.op, 100)
	must(t, err)
	if len(runs) != 5 {
		t.Fatalf("%d runs recorded, want 5", len(runs))
	}
	for _, r := range runs {
		if r.Status != skjold.RunRunning || r.Kind != skjold.RunBackup || r.Node == "" || !r.FinishedAt.IsZero() {
			t.Errorf("claimed run = %+v, want a running backup with its node", r)
		}
	}
}

func testFinishBackupRun(t *testing.T, h Harness) {
	e := newEnv(t, h)
	base := e.lastSeq()
	slot := "drill@2026-11-23T04:00:00Z"
	ok, err := e.db.ClaimBackupRun(t.Context(), slot)
	must(t, err)
	if !ok {
		t.Fatal("the first claim of a slot was refused")
	}
	e.clock.Add(90 * time.Second)
	run := &skjold.BackupRun{Status: skjold.RunOK, ManifestID: "20261123T040000Z-abc", Note: "checksum and manifest only"}
	must(t, e.db.FinishBackupRun(t.Context(), slot, "drill.completed", run))
	if again, err := e.db.ClaimBackupRun(t.Context(), slot); err != nil || again {
		t.Errorf("a finished slot was claimed again: %v, %v", again, err)
	}
	runs, err := e.db.FindBackupRuns(e.op, 10)
	must(t, err)
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	got := runs[0]
	if got.Slot != slot || got.Kind != skjold.RunDrill || got.Status != skjold.RunOK || got.ManifestID != run.ManifestID ||
		got.Note != run.Note || got.Took() != 90*time.Second {
		t.Errorf("finished run = %+v (took %v)", got, got.Took())
	}
	evs := e.events(base)
	if len(evs) != 1 || evs[0].Action != "drill.completed" || evs[0].Actor != "system:backup" || len(evs[0].Fields) != 1 ||
		evs[0].Fields[0] != "run:"+slot {
		t.Errorf("events after finishing = %+v, want one drill.completed by system:backup", evs)
	}

	must(t, e.db.AuditBackupEvent(e.op, "backup.copy_failed", "s3:bucket/prefix"))
	evs = e.events(base)
	if last := evs[len(evs)-1]; last.Action != "backup.copy_failed" || last.Actor != "test" || last.Fields[0] != "s3:bucket/prefix" {
		t.Errorf("AuditBackupEvent appended %+v", last)
	}
	if _, err := e.db.VerifyAuditChain(t.Context()); err != nil {
		t.Errorf("the chain does not verify after backup events: %v", err)
	}
}

func testBackupRunRefusals(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	base := e.lastSeq()
	for _, slot := range []string{"", "nokind", "@2026-11-23T04:00:00Z"} {
		if _, err := e.db.ClaimBackupRun(t.Context(), slot); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("ClaimBackupRun(%q) = %v, want EINVALID", slot, err)
		}
	}
	err := e.db.FinishBackupRun(t.Context(), "backup@never", "backup.completed", &skjold.BackupRun{Status: skjold.RunOK})
	wantCode(t, err, skjold.ENOTFOUND)
	err = e.db.FinishBackupRun(t.Context(), "backup@never", "backup.completed", &skjold.BackupRun{Status: "great"})
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.FindBackupRuns(t.Context(), 10)
	wantCode(t, err, skjold.EUNAUTHORIZED)
	_, err = e.db.FindBackupRuns(e.as(tn, ""), 10)
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.FindBackupRuns(e.op, 0)
	wantCode(t, err, skjold.EINVALID)
	if n := e.lastSeq(); n != base {
		t.Errorf("refused calls changed the audit chain: %d events, want %d", n, base)
	}
	runs, err := e.db.FindBackupRuns(e.op, 10)
	must(t, err)
	if len(runs) != 0 {
		t.Errorf("refused calls recorded runs: %+v", runs)
	}
}
