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

// inflight allows one password or code check per account at a time on this node, so that a
// burst of concurrent guesses cannot all pass the lockout check before the first failure is
// counted: each check sees the failures before it.
type inflight struct {
	mu  sync.Mutex
	ids map[string]bool
}

var errBusy = skjold.Errorf(skjold.ETOOMANY, "another attempt for this account is in progress: try again in a moment")

// begin claims id, or returns errBusy; the returned function releases it.
func (f *inflight) begin(id string) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids[id] {
		return nil, errBusy
	}
	if f.ids == nil {
		f.ids = make(map[string]bool)
	}
	f.ids[id] = true
	return func() {
		f.mu.Lock()
		delete(f.ids, id)
		f.mu.Unlock()
	}, nil
}

// attempt counts one more failure for key unless it is locked out at now, atomically, and
// reports whether the attempt may go on.
func (t *throttle) attempt(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.entries[key].until) {
		return false
	}
	if t.entries == nil || len(t.entries) >= maxThrottled {
		t.entries = make(map[string]throttled)
	}
	e := t.entries[key]
	e.failed++
	if d := skjold.LockoutDelay(e.failed); d > 0 {
		e.until = now.Add(d)
	}
	t.entries[key] = e
	return true
}
