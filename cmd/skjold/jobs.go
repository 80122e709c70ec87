package main

import (
	"context"
	"log/slog"
	"time"

	skjoldhttp "github.com/skjold-project/skjold/http"
	"github.com/skjold-project/skjold/store"
)

// job is background work that runs every interval until its context ends. A failed pass
// is logged and tried again at the next tick.
type job struct {
	name  string
	every time.Duration
	pass  func(ctx context.Context) error
	log   *slog.Logger
	// lease, when set, runs the job on one node at a time (see jobLease).
	lease *jobLease
}

// Run runs a first pass at once, then one per interval.
func (j *job) Run(ctx context.Context) error {
	if j.lease != nil {
		return j.runLeased(ctx)
	}
	log := j.log.With("component", "job", "job", j.name)
	t := time.NewTicker(j.every)
	defer t.Stop()
	for {
		if err := j.pass(ctx); err != nil && ctx.Err() == nil {
			log.Error("job pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// offboardEvery is how often users past their access_until are suspended. The promise is
// 24 hours [B8]; every five minutes keeps it within the hour with room for failed passes.
const offboardEvery = 5 * time.Minute

// journalSyncEvery is how often a node copies a grown erasure journal to the backup
// targets, so that a restore re-applies erasures made after the newest backup [D4].
const journalSyncEvery = time.Minute

// guardSyncEvery is how often a node on PostgreSQL reloads bans and the block list from the
// database, so that a ban made on one node holds on all of them within a second. SQLite
// serves one node, which applies its own bans at once: it reloads every guardSyncAlone, for
// the changes made by the command line.
const (
	guardSyncEvery = time.Second
	guardSyncAlone = 5 * time.Second
)

// backgroundJobs are the server's periodic jobs: offboarding, and the guard's sync.
func backgroundJobs(log *slog.Logger, db *store.DB, shield *skjoldhttp.Shield) []*job {
	guardSync := guardSyncAlone
	if db.Engine() == store.Postgres {
		guardSync = guardSyncEvery
	}
	return []*job{
		{name: "offboarding", every: offboardEvery, log: log, pass: func(ctx context.Context) error {
			n, err := db.SuspendExpiredUsers(ctx)
			if n > 0 {
				log.Info("suspended users past their access end", "count", n)
			}
			return err
		}},
		{name: "guard-sync", every: guardSync, log: log, pass: shield.Sync},
		// Lockout counts of unknown addresses and detector windows idle long enough to
		// hold nothing are forgotten.
		{name: "shared-state-prune", every: time.Hour, log: log, pass: func(ctx context.Context) error {
			_, err := db.PruneSharedState(ctx)
			return err
		}},
		{name: "lapsed-freezes", every: time.Hour, log: log, pass: func(ctx context.Context) error {
			n, err := db.FlagLapsedFreezes(ctx)
			if n > 0 {
				log.Info("tenant freezes past their agreed end", "tenants", n)
			}
			return err
		}},
		{name: "training-reminders", every: time.Hour, log: log, pass: func(ctx context.Context) error {
			n, err := db.RemindTraining(ctx)
			if n > 0 {
				log.Info("annual data-protection training due", "people", n)
			}
			return err
		}},
		// Maintenance windows are e-mailed to tenant owners three days ahead [E6].
		{name: "maintenance-announcements", every: time.Hour, log: log, pass: func(ctx context.Context) error {
			n, err := db.AnnounceMaintenance(ctx)
			if n > 0 {
				log.Info("maintenance windows announced", "windows", n)
			}
			return err
		}},
		// The breach register's 72-hour clock raises incident.deadline_near 12 hours before
		// the deadline and incident.overdue after it, once each [F2]; hourly keeps both
		// within the hour they are due.
		{name: "incident-deadlines", every: time.Hour, log: log, pass: func(ctx context.Context) error {
			n, err := db.FlagIncidentDeadlines(ctx)
			if n > 0 {
				log.Info("incident notification deadlines near or passed", "alerts", n)
			}
			return err
		}},
		// New sub-processors are e-mailed to tenant owners the notice period ahead [G2]; copies
		// handed over are reminded of the day before they are due for deletion [D3].
		{name: "subprocessor-announcements", every: time.Hour, log: log, pass: func(ctx context.Context) error {
			n, err := db.AnnounceSubprocessors(ctx)
			if n > 0 {
				log.Info("new sub-processors announced", "entries", n)
			}
			return err
		}},
		{name: "copy-reminders", every: time.Hour, log: log, pass: func(ctx context.Context) error {
			n, err := db.RemindCopies(ctx)
			if n > 0 {
				log.Info("copies due for deletion reminded", "copies", n)
			}
			return err
		}},
		// A data-subject request past its due date raises request.overdue once [C9]; the
		// alert dispatcher forwards it. Hourly keeps the alert within the day it is due.
		// Fresh planner statistics for SQLite as the tables grow (see store.DB.Optimize).
		{name: "optimize", every: time.Hour, log: log, pass: db.Optimize},
		{name: "overdue-requests", every: time.Hour, log: log, pass: func(ctx context.Context) error {
			n, err := db.FlagOverdueRequests(ctx)
			if n > 0 {
				log.Info("data-subject requests overdue", "count", n)
			}
			return err
		}},
	}
}
