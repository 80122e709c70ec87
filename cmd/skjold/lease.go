package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

// leaseStore is where singleton jobs take their leases: *store.DB.
type leaseStore interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	LeaseRan(ctx context.Context, name, holder string, at time.Time) error
	LeaseLastRun(ctx context.Context, name string) (time.Time, error)
}

// jobLease makes a job a singleton: of several nodes on one database, only the holder of the
// job's lease runs its passes. The holder renews the lease every period/3; when it dies,
// another node takes the lease within one period and runs the next pass when it is due by
// the job's last run on any node (job_leases.last_run), so a handover neither skips nor
// repeats a pass.
type jobLease struct {
	db     leaseStore
	holder string
	period time.Duration
	held   func(name string, held bool) // reports the lease's state (metrics); may be nil
}

// singletonJobs are the jobs that run on one node at a time: their work is the database's,
// so one node doing it is enough, and several doing it at once is N times the work. The
// heartbeat, the guard's sync, audit checkpoints, the outbox and the journal sync stay on
// every node: they concern the node itself.
var singletonJobs = map[string]bool{"retention": true, "offboarding": true, "lapsed-freezes": true,
	"training-reminders": true, "maintenance-announcements": true, "optimize": true, "overdue-requests": true,
	"shared-state-prune": true, "incident-deadlines": true, "subprocessor-announcements": true, "copy-reminders": true}

// leaseJobs puts the singleton jobs among jobs under l.
func leaseJobs(jobs []*job, l *jobLease) {
	for _, j := range jobs {
		if singletonJobs[j.name] {
			j.lease = l
		}
	}
}

// leaseHolder names this process as a lease holder: the node id and the process id, so
// that a restarted node is a new holder.
func leaseHolder(cfg Config) string {
	return fmt.Sprintf("%s pid %d", nodeID(cfg), os.Getpid())
}

// runLeased is Run for a job with a lease: it wakes every min(every, period/3), renews or
// takes the lease, and runs a pass when it holds the lease and the job's last pass (on any
// node) is every ago or more.
func (j *job) runLeased(ctx context.Context) error {
	l := j.lease
	log := j.log.With("component", "job", "job", j.name)
	t := time.NewTicker(min(j.every, l.period/3))
	defer t.Stop()
	held := false
	defer func() {
		if held { // a clean stop hands the job over at once
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := l.db.ReleaseLease(rctx, j.name, l.holder); err != nil {
				log.Warn("releasing the job's lease failed", "err", err)
			}
		}
	}()
	for {
		ok, err := l.db.AcquireLease(ctx, j.name, l.holder, l.period)
		if err != nil && ctx.Err() == nil {
			log.Error("job lease failed", "err", err)
		}
		if ok != held {
			held = ok
			if held {
				log.Info("this node runs the job now (lease taken)")
			}
			if l.held != nil {
				l.held(j.name, held)
			}
		}
		if held {
			if err := j.passIfDue(ctx); err != nil && ctx.Err() == nil {
				log.Error("job pass failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// passIfDue runs a pass when the job's last pass, on any node, is every ago or more, and
// records it. A pass that lasts longer than the lease does not lose it: the lease is renewed
// meanwhile.
func (j *job) passIfDue(ctx context.Context) error {
	l := j.lease
	last, err := l.db.LeaseLastRun(ctx, j.name)
	if err != nil {
		return err
	}
	if !last.IsZero() && time.Since(last) < j.every {
		return nil
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(l.period / 3)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				l.db.AcquireLease(pctx, j.name, l.holder, l.period)
			}
		}
	}()
	err = j.pass(ctx)
	stop()
	if rerr := l.db.LeaseRan(context.WithoutCancel(ctx), j.name, l.holder, time.Now()); rerr != nil && err == nil {
		err = rerr
	}
	return err
}
