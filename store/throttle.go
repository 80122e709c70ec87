package store

import (
	"sync"

	"github.com/skjold-project/skjold"
)

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
