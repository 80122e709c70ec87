package backup

import (
	"context"
	"errors"
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

func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct{ times, zone, want string }{
		{DefaultTimes, "UTC", "14:00,19:00 UTC"},
		{" 19:00 ,14:00,14:00", "Europe/Oslo", "14:00,19:00 Europe/Oslo"},
		{"00:00,23:59", "UTC", "00:00,23:59 UTC"},
	} {
		s, err := ParseSchedule(tc.times, tc.zone)
		if err != nil || s.String() != tc.want {
			t.Errorf("ParseSchedule(%q, %q) = %v, %v; want %s", tc.times, tc.zone, s, err, tc.want)
		}
	}
	for _, tc := range []struct{ times, zone string }{
		{"", "UTC"}, {"24:00", "UTC"}, {"14:60", "UTC"}, {"2pm", "UTC"}, {"14:00,", "UTC"}, {"4:00", "UTC"},
		{"-1:00", "UTC"}, {"14:00", "Mars/Olympus"}, {"14:00:00", "UTC"},
	} {
		if s, err := ParseSchedule(tc.times, tc.zone); err == nil {
			t.Errorf("ParseSchedule(%q, %q) = %v, want an error", tc.times, tc.zone, s)
		}
	}
}

func TestScheduleNext(t *testing.T) {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	ny, _ := time.LoadLocation("America/New_York")
	def, _ := ParseSchedule(DefaultTimes, "Europe/Oslo")
	night, _ := ParseSchedule("02:30", "Europe/Oslo")
	both, _ := ParseSchedule("02:30,03:00", "Europe/Oslo")
	nyNight, _ := ParseSchedule("01:30", "America/New_York")
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, tc := range []struct {
		name  string
		s     *Schedule
		after time.Time
		want  time.Time
	}{
		{"morning", def, time.Date(2026, 11, 23, 9, 0, 0, 0, oslo), time.Date(2026, 11, 23, 14, 0, 0, 0, oslo)},
		{"exactly at a time is the next one", def, time.Date(2026, 11, 23, 14, 0, 0, 0, oslo), time.Date(2026, 11, 23, 19, 0, 0, 0, oslo)},
		{"evening rolls to tomorrow", def, time.Date(2026, 11, 23, 19, 0, 1, 0, oslo), time.Date(2026, 11, 24, 14, 0, 0, 0, oslo)},
		{"end of year", def, time.Date(2026, 12, 31, 20, 0, 0, 0, oslo), time.Date(2027, 1, 1, 14, 0, 0, 0, oslo)},
		{"after given in UTC", def, utc("2026-11-23T12:30:00Z"), utc("2026-11-23T13:00:00Z")}, // 14:00 CET
		{"summer time offset", def, utc("2026-07-01T11:00:00Z"), utc("2026-07-01T12:00:00Z")}, // 14:00 CEST
		// 29 March 2026: Oslo's clocks jump from 02:00 to 03:00; 02:30 does not exist.
		{"skipped hour runs when the clocks jump", night, time.Date(2026, 3, 28, 12, 0, 0, 0, oslo), utc("2026-03-29T01:30:00Z")},
		{"skipped hour and the next time run once", both, utc("2026-03-29T00:00:00Z"), utc("2026-03-29T01:00:00Z")},
		{"day after the jump", night, utc("2026-03-29T01:30:00Z"), utc("2026-03-30T00:30:00Z")},
		{"14:00 on the spring day", def, time.Date(2026, 3, 29, 0, 0, 0, 0, oslo), utc("2026-03-29T12:00:00Z")},
		// 25 October 2026: 03:00 becomes 02:00 again; 02:30 happens twice but runs once.
		{"repeated hour runs once", night, time.Date(2026, 10, 24, 12, 0, 0, 0, oslo), time.Date(2026, 10, 25, 2, 30, 0, 0, oslo)},
		{"after the repeated hour, the next day", night, utc("2026-10-25T01:30:00Z"), utc("2026-10-26T01:30:00Z")},
		{"14:00 on the autumn day", def, time.Date(2026, 10, 25, 0, 0, 0, 0, oslo), utc("2026-10-25T13:00:00Z")},
		// New York changes on other days (8 March, 1 November 2026).
		{"New York autumn", nyNight, time.Date(2026, 10, 31, 12, 0, 0, 0, ny), time.Date(2026, 11, 1, 1, 30, 0, 0, ny)},
		{"New York spring", nyNight, time.Date(2026, 3, 7, 12, 0, 0, 0, ny), utc("2026-03-08T06:30:00Z")},
	} {
		if got := tc.s.Next(tc.after); !got.Equal(tc.want) {
			t.Errorf("%s: Next(%v) = %v, want %v", tc.name, tc.after, got.UTC(), tc.want.UTC())
		}
	}
	// Whatever instant on the autumn day, Next never returns the same 02:30 twice.
	seen := map[time.Time]int{}
	for at := utc("2026-10-24T22:00:00Z"); at.Before(utc("2026-10-26T00:00:00Z")); at = at.Add(5 * time.Minute) {
		seen[night.Next(at).UTC()]++
	}
	if len(seen) != 2 {
		t.Errorf("over the autumn day Next gave %d distinct instants (%v), want 2", len(seen), seen)
	}
}

// schedStore opens a store on path with a fresh key file beside it.
func schedStore(t *testing.T, path string, ring *keys.Keyring) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path, store.Options{Keys: keys.NewService(ring), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func schedRing(t *testing.T) *keys.Keyring {
	t.Helper()
	ring, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

var schedOperator = skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "test", Operator: true})

// Two nodes on one database wake for the same time: the pass runs once.
func TestJobOneRunAcrossNodes(t *testing.T) {
	path, ring := filepath.Join(t.TempDir(), "skjold.db"), schedRing(t)
	nodes := []*store.DB{schedStore(t, path, ring), schedStore(t, path, ring)}
	s, _ := ParseSchedule(DefaultTimes, "UTC")
	var passes atomic.Int32
	at := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 8 {
		j := &Job{Kind: skjold.RunBackup, Schedule: s, Claims: nodes[i%2], Log: slog.New(slog.DiscardHandler),
			Pass: func(ctx context.Context) (*skjold.BackupRun, error) {
				passes.Add(1)
				return &skjold.BackupRun{ManifestID: "20261123T140000Z-0000abcd"}, nil
			}}
		wg.Go(func() {
			if err := j.RunSlot(context.Background(), at); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := passes.Load(); n != 1 {
		t.Fatalf("%d backups made for one slot by two nodes, want 1", n)
	}
	runs, err := nodes[1].FindBackupRuns(schedOperator, 10)
	if err != nil || len(runs) != 1 || runs[0].Status != skjold.RunOK || runs[0].Slot != "backup@2026-11-23T14:00:00Z" ||
		runs[0].ManifestID != "20261123T140000Z-0000abcd" {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
}

// Job.Run wakes at each scheduled time (on a fake clock), records failures as failed runs
// with their alert event, and stops with its context.
func TestJobRun(t *testing.T) {
	db := schedStore(t, filepath.Join(t.TempDir(), "skjold.db"), schedRing(t))
	s, _ := ParseSchedule(DefaultTimes, "UTC")
	var mu sync.Mutex
	now := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ran []time.Time
	j := &Job{Kind: skjold.RunDrill, Schedule: s, Claims: db, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Wait: func(d time.Duration) <-chan time.Time {
			mu.Lock()
			now = now.Add(d)
			mu.Unlock()
			c := make(chan time.Time, 1)
			c <- now
			return c
		},
		Pass: func(ctx context.Context) (*skjold.BackupRun, error) {
			mu.Lock()
			ran = append(ran, now)
			mu.Unlock()
			if len(ran) == 2 {
				return &skjold.BackupRun{Note: "checksum only"}, errors.New("restore failed: checksum mismatch")
			}
			if len(ran) == 3 {
				cancel()
			}
			return &skjold.BackupRun{}, nil
		}}
	done := make(chan error)
	go func() { done <- j.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Job.Run did not stop with its context")
	}
	want := []time.Time{time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)}
	if len(ran) != 3 || !ran[0].Equal(want[0]) || !ran[1].Equal(want[1]) || !ran[2].Equal(want[2]) {
		t.Errorf("passes ran at %v, want %v", ran, want)
	}
	runs, err := db.FindBackupRuns(schedOperator, 10)
	if err != nil || len(runs) != 3 || runs[1].Status != skjold.RunFailed || runs[1].Error != "restore failed: checksum mismatch" ||
		runs[1].Note != "checksum only" || runs[0].Status != skjold.RunOK {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
	evs, err := db.FindAuditEvents(schedOperator, skjold.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	if len(actions) < 3 || actions[0] != "drill.completed" || actions[1] != "drill.failed" || actions[2] != "drill.completed" {
		t.Errorf("audit actions = %v, want drill.completed, drill.failed, drill.completed", actions)
	}
}

func TestAction(t *testing.T) {
	for _, tc := range []struct {
		kind string
		ok   bool
		want string
	}{
		{skjold.RunBackup, true, "backup.completed"}, {skjold.RunBackup, false, "backup.failed"},
		{skjold.RunManual, false, "backup.failed"}, {skjold.RunOffsite, true, "backup.completed"},
		{skjold.RunOffsite, false, "backup.copy_failed"}, {skjold.RunDrill, true, "drill.completed"},
		{skjold.RunDrill, false, "drill.failed"},
	} {
		if got := action(tc.kind, tc.ok); got != tc.want {
			t.Errorf("action(%s, %v) = %s, want %s", tc.kind, tc.ok, got, tc.want)
		}
	}
}
