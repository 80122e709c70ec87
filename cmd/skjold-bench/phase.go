package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// maxErrorMessages is how many distinct error messages a phase keeps.
const maxErrorMessages = 5

// op performs operation i of a phase as client w; it returns the first error, after which
// the operation counts as failed.
type op func(ctx context.Context, w *worker, i int) error

// phase is a named number of operations.
type phase struct {
	name  string
	total int
	op    op
}

// worker is one bench client. It belongs to one goroutine: no locking.
type worker struct {
	api      *api
	samples  []time.Duration // one per finished HTTP request
	ops      int             // operations that succeeded
	errors   int             // requests that failed (non-2xx or transport)
	messages []string        // the first distinct error messages
	cut      bool            // the end of ctx cut a request short
}

// call is api.call, timed and counted. A request cut short by the end of ctx is neither
// timed nor counted as an error: the duration limit ended it, not the server.
func (w *worker) call(ctx context.Context, route, method, path string, body, out any) error {
	start := time.Now()
	err := w.api.call(ctx, route, method, path, body, out)
	if ctx.Err() != nil {
		w.cut = true
		return ctx.Err()
	}
	w.samples = append(w.samples, time.Since(start))
	if err != nil {
		w.errors++
		w.messages = addMessage(w.messages, err.Error())
	}
	return err
}

// addMessage appends msg to msgs unless it is there already or msgs is full.
func addMessage(msgs []string, msg string) []string {
	if len(msgs) >= maxErrorMessages {
		return msgs
	}
	for _, m := range msgs {
		if m == msg {
			return msgs
		}
	}
	return append(msgs, msg)
}

// runPhase runs p's operations on n concurrent clients sharing one api, each client taking
// the next operation number until all are taken or ctx ends.
func runPhase(ctx context.Context, a *api, n int, p phase) result {
	var next atomic.Int64
	workers := make([]*worker, n)
	var wg sync.WaitGroup
	start := time.Now()
	for k := range workers {
		w := &worker{api: a, samples: make([]time.Duration, 0, 2*p.total/n+2)}
		workers[k] = w
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= p.total {
					return
				}
				if p.op(ctx, w, i) == nil {
					w.ops++
				}
			}
		})
	}
	wg.Wait()
	untaken := next.Load() < int64(p.total) // a worker left the loop before taking them all
	return collect(p, workers, time.Since(start), untaken)
}

// collect merges the workers' counts and samples into the phase's result.
func collect(p phase, workers []*worker, d time.Duration, stopped bool) result {
	r := result{Name: p.name, Planned: p.total, Duration: d, Stopped: stopped}
	var samples []time.Duration
	for _, w := range workers {
		r.Ops += w.ops
		r.Errors += w.errors
		r.Stopped = r.Stopped || w.cut
		samples = append(samples, w.samples...)
		for _, m := range w.messages {
			r.Messages = addMessage(r.Messages, m)
		}
	}
	r.Requests = len(samples)
	r.Latency = summarize(samples)
	return r
}
