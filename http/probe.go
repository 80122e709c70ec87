package http

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/skjold-project/skjold"
)

// probeStatus is the body of a passed /livez or /readyz.
type probeStatus struct {
	Status string `json:"status"`
}

// handleLive answers while the process runs and serves HTTP, whatever the database does: a
// load balancer or supervisor restarts a process that stops answering it, and must not
// restart every node because their shared database is down.
func (s *Server) handleLive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respond(w, http.StatusOK, probeStatus{Status: "ok"})
	})
}

// readyTimeout bounds one readiness check, and readyFor how long its outcome is reused:
// /readyz is public, and each check commits a write, so callers share checks.
const (
	readyTimeout = 5 * time.Second
	readyFor     = time.Second
)

// handleReady answers 200 when the node can do its work now — commit a write to the
// database and unwrap a tenant key — and 503 with Retry-After otherwise, so that a load
// balancer sends no requests to a node that would fail them.
func (s *Server) handleReady() http.Handler {
	check := s.svc.Ready
	if check == nil {
		check = s.svc.Health
	}
	p := &readiness{check: check}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.ready(r.Context()); err != nil {
			s.log.Warn("not ready", "err", err)
			fail(w, r, s.log, skjold.Errorf(skjold.EUNAVAILABLE, "this node cannot serve now: it cannot write to its database or unwrap tenant keys"))
			return
		}
		respond(w, http.StatusOK, probeStatus{Status: "ok"})
	})
}

// readiness runs at most one check at a time and reuses its outcome for readyFor.
type readiness struct {
	check func(context.Context) error

	mu      sync.Mutex
	running chan struct{} // closed when the check under way ends; nil when none runs
	at      time.Time
	err     error
}

func (p *readiness) ready(ctx context.Context) error {
	p.mu.Lock()
	if p.running == nil && !p.at.IsZero() && time.Since(p.at) < readyFor {
		defer p.mu.Unlock()
		return p.err
	}
	if p.running == nil {
		done := make(chan struct{})
		p.running = done
		go func() { // not tied to one caller: others wait for the same outcome
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
			err := p.check(cctx)
			cancel()
			p.mu.Lock()
			p.err, p.at, p.running = err, time.Now(), nil
			p.mu.Unlock()
			close(done)
		}()
	}
	done := p.running
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(readyTimeout):
		return skjold.Errorf(skjold.EUNAVAILABLE, "the readiness check did not finish in time")
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
