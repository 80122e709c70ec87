package store

import (
	"sync"
	"time"

	"github.com/skjold-project/skjold"
)

// maxThrottled bounds the addresses throttle remembers; when full it starts over.
const maxThrottled = 100_000

// throttle locks out unknown e-mail addresses exactly as known accounts are locked out
// (skjold.LockoutDelay), so that the answer after five failures — 429 instead of 401 —
// does not tell which addresses have accounts. Known accounts keep their count in the
// database; unknown ones only here, in memory: they own nothing worth sharing across nodes.
type throttle struct {
	mu      sync.Mutex
	entries map[string]throttled
}

type throttled struct {
	failed int
	until  time.Time
}

// locked reports whether key is locked out at now.
func (t *throttle) locked(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return now.Before(t.entries[key].until)
}

// fail counts a failure for key at now.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil || len(t.entries) >= maxThrottled {
		t.entries = make(map[string]throttled)
	}
	e := t.entries[key]
	e.failed++
	if d := skjold.LockoutDelay(e.failed); d > 0 {
		e.until = now.Add(d)
	}
	t.entries[key] = e
}
