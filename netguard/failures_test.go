package netguard

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is one call in a Tracker script: a failure of key at t0+at, and the ban it must give
// (0 for none).
type step struct {
	key string
	at  time.Duration
	ban time.Duration
}

// runSteps plays steps against tr and fails the test at the first wrong answer.
func runSteps(t *testing.T, tr *Tracker, steps []step) {
	t.Helper()
	for i, s := range steps {
		ban, banned := tr.Fail(s.key, t0.Add(s.at))
		if ban != s.ban || banned != (s.ban != 0) {
			t.Fatalf("step %d: Fail(%q, t0+%v) = %v, %v; want %v", i, s.key, s.at, ban, banned, s.ban)
		}
	}
}

func TestTrackerDefaults(t *testing.T) {
	got := NewTracker(Config{Threshold: -1, Window: -time.Second}).Config()
	want := Config{Threshold: 10, Window: 10 * time.Minute, BaseBan: 15 * time.Minute, MaxBan: 24 * time.Hour, Remember: 24 * time.Hour, MaxKeys: 100_000}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if got := NewTracker(Config{BaseBan: 48 * time.Hour}).Config().MaxBan; got != 48*time.Hour {
		t.Errorf("MaxBan below BaseBan = %v, want it raised to BaseBan", got)
	}
}

func TestTrackerThreshold(t *testing.T) {
	tr := NewTracker(Config{Threshold: 3})
	runSteps(t, tr, []step{
		{"a", 0, 0},
		{"b", 0, 0},
		{"a", time.Second, 0},
		{"b", time.Second, 0},
		{"a", 2 * time.Second, 15 * time.Minute},
		// The count starts again after a ban.
		{"a", 3 * time.Second, 0},
		{"a", 4 * time.Second, 0},
		{"b", 5 * time.Second, 15 * time.Minute},
	})
	if n := tr.Count("a", t0.Add(4*time.Second)); n != 2 {
		t.Errorf("Count(a) = %d, want 2", n)
	}
	if n := tr.Count("nobody", t0); n != 0 {
		t.Errorf("Count(nobody) = %d, want 0", n)
	}
}

// TestTrackerWindow checks that the window slides: with a 16-minute window a slot is one
// minute, and a failure counts for at least 15 minutes and less than 16.
func TestTrackerWindow(t *testing.T) {
	tr := NewTracker(Config{Threshold: 3, Window: 16 * time.Minute})
	// t0 is on a minute boundary, so t0 starts a slot.
	runSteps(t, tr, []step{
		{"a", 0, 0},
		{"a", 10 * time.Minute, 0},
		{"a", 16 * time.Minute, 0}, // the first failure has left the window
		{"a", 17 * time.Minute, 15 * time.Minute},
	})

	tr.Fail("b", t0)
	tr.Fail("c", t0.Add(time.Minute-time.Nanosecond)) // the end of the same slot
	for _, tc := range []struct {
		key  string
		at   time.Duration
		want int
	}{
		{"b", 16*time.Minute - time.Nanosecond, 1},
		{"b", 16 * time.Minute, 0},
		{"c", 16*time.Minute - time.Nanosecond, 1},
		{"c", 16 * time.Minute, 0}, // counted for 15 min + 1 ns: a 15/16 window at least
	} {
		if n := tr.Count(tc.key, t0.Add(tc.at)); n != tc.want {
			t.Errorf("Count(%s, t0+%v) = %d, want %d", tc.key, tc.at, n, tc.want)
		}
	}

	// Slots are cleared as time moves on, including after a long pause.
	runSteps(t, tr, []step{
		{"d", 0, 0},
		{"d", 5 * time.Minute, 0},
		{"d", 100 * time.Hour, 0},
		{"d", 100*time.Hour + 15*time.Minute, 0},
		{"d", 100*time.Hour + 16*time.Minute, 0}, // the failure at 100 h has left
	})
	if n := tr.Count("d", t0.Add(100*time.Hour+16*time.Minute)); n != 2 {
		t.Errorf("Count(d) = %d, want 2", n)
	}
}

func TestTrackerClockBackwards(t *testing.T) {
	tr := NewTracker(Config{Threshold: 3})
	runSteps(t, tr, []step{
		{"a", time.Hour, 0},
		{"a", 0, 0}, // counts as t0+1h
		{"a", -time.Hour, 15 * time.Minute},
	})
}

func TestTrackerBefore1970(t *testing.T) {
	tr := NewTracker(Config{Threshold: 2, Window: 16 * time.Minute})
	old := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.Fail("a", old)
	if ban, ok := tr.Fail("a", old.Add(15*time.Minute)); !ok || ban != 15*time.Minute {
		t.Errorf("second failure before 1970 = %v, %v; want a ban", ban, ok)
	}
	// Slots run from one minute to the next before 1970 too, not from the minute towards 1970.
	tr.Fail("b", old.Add(time.Nanosecond))
	if n := tr.Count("b", old.Add(16*time.Minute)); n != 0 {
		t.Errorf("Count 16 min later = %d, want 0", n)
	}
}

func TestTrackerEscalation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "doubling up to the cap",
			cfg:  Config{Threshold: 1, BaseBan: 15 * time.Minute, MaxBan: 2 * time.Hour},
			steps: []step{
				{"a", 0, 15 * time.Minute},
				{"a", time.Hour, 30 * time.Minute},
				{"a", 2 * time.Hour, time.Hour},
				{"a", 3 * time.Hour, 2 * time.Hour},
				{"a", 4 * time.Hour, 2 * time.Hour},
				{"b", 4 * time.Hour, 15 * time.Minute}, // each key escalates alone
			},
		},
		{
			name: "cap not a power of two",
			cfg:  Config{Threshold: 1, BaseBan: 15 * time.Minute, MaxBan: 50*time.Minute + time.Nanosecond},
			steps: []step{
				{"a", 0, 15 * time.Minute},
				{"a", 0, 30 * time.Minute},
				{"a", 0, 50*time.Minute + time.Nanosecond},
				{"a", 0, 50*time.Minute + time.Nanosecond},
			},
		},
		{
			name: "huge cap",
			cfg:  Config{Threshold: 1, BaseBan: time.Hour, MaxBan: math.MaxInt64},
			steps: func() []step {
				var s []step
				for i := range 22 {
					s = append(s, step{"a", 0, time.Hour << i})
				}
				return append(s, step{"a", 0, math.MaxInt64}, step{"a", 0, math.MaxInt64})
			}(),
		},
		{
			name: "remembered from the end of the last ban",
			cfg:  Config{Threshold: 1, BaseBan: time.Hour, Remember: 24 * time.Hour},
			steps: []step{
				{"a", 0, time.Hour},
				{"a", 25 * time.Hour, 2 * time.Hour},              // 24 h after the first ban ended
				{"a", 51 * time.Hour, 4 * time.Hour},              // likewise
				{"a", 79*time.Hour + 1, time.Hour},                // forgotten, by 1 ns
				{"a", 104*time.Hour + 2 + time.Minute, time.Hour}, // forgotten
				{"a", 129*time.Hour + 2 + time.Minute, 2 * time.Hour},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, NewTracker(tc.cfg), tc.steps)
		})
	}
}

func TestTrackerReset(t *testing.T) {
	tr := NewTracker(Config{Threshold: 2})
	runSteps(t, tr, []step{
		{"a", 0, 0},
		{"a", 0, 15 * time.Minute},
		{"a", 0, 0},
	})
	tr.Reset("a")
	tr.Reset("nobody")
	if tr.Count("a", t0) != 0 || tr.Len() != 0 {
		t.Fatal("Reset left the count")
	}
	runSteps(t, tr, []step{
		{"a", 0, 0},
		{"a", 0, 15 * time.Minute}, // the escalation is forgotten too
	})
}

func TestTrackerEviction(t *testing.T) {
	tr := NewTracker(Config{Threshold: 5, MaxKeys: 3})
	for _, k := range []string{"a", "b", "c", "a", "d"} {
		tr.Fail(k, t0)
	}
	if tr.Len() != 3 {
		t.Errorf("Len = %d, want 3", tr.Len())
	}
	for k, want := range map[string]int{"a": 2, "b": 0, "c": 1, "d": 1} {
		if n := tr.Count(k, t0); n != want {
			t.Errorf("Count(%s) = %d, want %d (b failed least recently and is evicted)", k, n, want)
		}
	}

	for i := range 1000 {
		tr.Fail(fmt.Sprint(i), t0)
	}
	if tr.Len() != 3 {
		t.Errorf("after 1000 keys Len = %d, want 3", tr.Len())
	}
}

func TestTrackerDropsStale(t *testing.T) {
	tr := NewTracker(Config{Threshold: 2, Window: time.Minute, BaseBan: time.Minute, Remember: time.Hour})
	runSteps(t, tr, []step{
		{"quiet", 0, 0},
		{"banned", 0, 0},
		{"banned", 0, time.Minute},
	})
	tr.Fail("x", t0.Add(2*time.Minute))
	if tr.Count("quiet", t0) != 0 || tr.Len() != 2 {
		t.Errorf("Len = %d, want 2: quiet has nothing in the window and is dropped", tr.Len())
	}
	tr.Fail("y", t0.Add(30*time.Minute))
	if tr.Len() != 3 {
		t.Errorf("Len = %d, want 3: banned still has an escalation to remember", tr.Len())
	}
	tr.Fail("z", t0.Add(62*time.Minute))
	if tr.Len() != 2 {
		t.Errorf("Len = %d, want 2 (y, z): banned is forgotten and x is stale", tr.Len())
	}
}

// TestTrackerConcurrent fails one key from many goroutines at once: with a threshold of 10,
// 1,000 failures must give exactly 100 bans.
func TestTrackerConcurrent(t *testing.T) {
	tr := NewTracker(Config{Threshold: 10, BaseBan: time.Minute, MaxBan: time.Minute})
	var bans atomic.Int64
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for range 100 {
				if _, ok := tr.Fail("a", t0); ok {
					bans.Add(1)
				}
				tr.Fail(fmt.Sprint(g), t0)
				tr.Count("a", t0)
			}
		})
	}
	wg.Wait()
	if n := bans.Load(); n != 100 {
		t.Errorf("%d bans, want 100", n)
	}
}

func TestDelay(t *testing.T) {
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{-1, 0}, {0, 0}, {1, 0}, {4, 0},
		{5, time.Minute}, {6, 2 * time.Minute}, {7, 4 * time.Minute}, {8, 8 * time.Minute},
		{9, 16 * time.Minute}, {10, 32 * time.Minute}, {11, time.Hour}, {12, time.Hour},
		{70, time.Hour}, {math.MaxInt, time.Hour},
	}
	for _, tc := range tests {
		if got := Delay(tc.failures); got != tc.want {
			t.Errorf("Delay(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}
