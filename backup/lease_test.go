package backup

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// leaseClock is a clock shared by the store and the jobs of a test.
type leaseClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *leaseClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *leaseClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// leaseStores opens one database twice, as two nodes would, both on clock.
func leaseStores(t *testing.T, clock *leaseClock) []*store.DB {
	path, ring := filepath.Join(t.TempDir(), "skjold.db"), schedRing(t)
	var dbs []*store.DB
	for range 2 {
		db, err := store.Open(context.Background(), path, store.Options{Keys: keys.NewService(ring),
			Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	return dbs
}

func TestSchedulePrev(t *testing.T) {
	s, _ := ParseSchedule("03:00,15:00", "UTC")
	for at, want := range map[string]string{
		"2026-11-23T10:00:00Z": "2026-11-23T03:00:00Z",
		"2026-11-23T15:00:00Z": "2026-11-23T15:00:00Z",
		"2026-11-23T02:59:00Z": "2026-11-22T15:00:00Z",
	} {
		a, _ := time.Parse(time.RFC3339, at)
		if got := s.Prev(a).Format(time.RFC3339); got != want {
			t.Errorf("Prev(%s) = %s, want %s", at, got, want)
		}
	}
}

// A slot missed while every node was down runs once when the nodes start again, whichever
// starts first; a new database does not run the slot before its first start.
func TestJobCatchUpOnce(t *testing.T) {
	clock := &leaseClock{now: time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)}
	dbs := leaseStores(t, clock)
	s, _ := ParseSchedule("03:00,15:00", "UTC")
	var passes atomic.Int32
	job := func(db *store.DB) *Job {
		return &Job{Kind: skjold.RunBackup, Schedule: s, Claims: db, Log: slog.New(slog.DiscardHandler), Now: clock.Now,
			Pass: func(ctx context.Context) (*skjold.BackupRun, error) { passes.Add(1); return &skjold.BackupRun{}, nil }}
	}
	log := slog.New(slog.DiscardHandler)
	clock.Add(time.Hour)
	job(dbs[0]).catchUp(context.Background(), clock.Now(), log)
	if n := passes.Load(); n != 0 {
		t.Fatalf("a new database caught up %d runs, want none", n)
	}
	if err := job(dbs[0]).RunSlot(context.Background(), time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	// Every node down from 17:00 to 09:00: the 03:00 slot was missed.
	clock.Add(16 * time.Hour)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() { job(dbs[i%2]).catchUp(context.Background(), clock.Now(), log) })
	}
	wg.Wait()
	if n := passes.Load(); n != 2 {
		t.Fatalf("%d passes; want the 15:00 run and one catch-up of 03:00", n)
	}
	runs, err := dbs[1].FindBackupRuns(schedOperator, 10)
	if err != nil || len(runs) != 2 || runs[0].Slot != "backup@2026-11-23T03:00:00Z" || runs[0].Status != skjold.RunOK {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
	// Started again later the same day: nothing more to catch up.
	job(dbs[1]).catchUp(context.Background(), clock.Now().Add(time.Hour), log)
	if n := passes.Load(); n != 2 {
		t.Errorf("a second start caught up again: %d passes", n)
	}
}

// A run whose node died mid-pass (its claim no longer renewed) is run again by another node,
// once, with backup.stalled recorded; a run in progress that renews its claim is left alone.
func TestJobTakesOverStalledRun(t *testing.T) {
	clock := &leaseClock{now: time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)}
	dbs := leaseStores(t, clock)
	slot, manual := "backup@2026-11-23T03:00:00Z", "manual@2026-11-23T03:00:00Z-0000abcd"
	for _, s := range []string{slot, manual} {
		if ok, err := dbs[0].ClaimBackupRun(context.Background(), s); err != nil || !ok {
			t.Fatalf("claim %s: %v %v", s, ok, err)
		}
	}
	var passes atomic.Int32
	log := slog.New(slog.DiscardHandler)
	other := &Job{Kind: skjold.RunBackup, Claims: dbs[1], Log: log, Now: clock.Now,
		Pass: func(ctx context.Context) (*skjold.BackupRun, error) { passes.Add(1); return &skjold.BackupRun{}, nil }}
	clock.Add(time.Minute)
	other.takeOverStalled(context.Background(), log)
	if n := passes.Load(); n != 0 {
		t.Fatalf("a run still leased was taken over (%d passes)", n)
	}
	clock.Add(2 * time.Minute) // the claiming node died: no renewal for three minutes
	other.takeOverStalled(context.Background(), log)
	other.takeOverStalled(context.Background(), log)
	if n := passes.Load(); n != 2 {
		t.Fatalf("the stalled scheduled and manual runs were run again %d times, want once each", n)
	}
	runs, err := dbs[0].FindBackupRuns(schedOperator, 10)
	if err != nil || len(runs) != 2 || runs[0].Status != skjold.RunOK || runs[1].Status != skjold.RunOK {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
	evs, err := dbs[0].FindAuditEvents(schedOperator, skjold.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	if len(actions) != 4 || actions[0] != "backup.stalled" || actions[1] != "backup.completed" ||
		actions[2] != "backup.stalled" || actions[3] != "backup.completed" {
		t.Errorf("audit actions = %v, want backup.stalled, then backup.completed, for each run", actions)
	}
}
