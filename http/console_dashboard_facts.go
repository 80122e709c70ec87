package http

import (
	"context"
	"net/http"
	"time"

	"github.com/skjold-project/skjold"
)

// The overview's safety facts for a tenant's auditors and administrators: the security
// events of the last seven days, the last retention sweep, and the last backup and restore
// drill. Nothing here names a person: an event is shown by its time and action only.

const (
	securityWindow = 7 * 24 * time.Hour
	securityShown  = 5 // how many of the newest security events the overview lists
)

// dashboardFacts is the overview's safety card.
type dashboardFacts struct {
	SecurityCount int
	SecurityMore  bool // more events than were counted
	Security      []securityEvent
	LastSweep     time.Time // zero: none since this node started
	LastBackup    *runFact
	LastDrill     *runFact
}

// securityEvent is a security event as the overview shows it: when, and what.
type securityEvent struct {
	Time   time.Time
	Action string
}

// runFact is a backup run or drill as the overview shows it: when, and whether it went well.
type runFact struct {
	StartedAt time.Time
	Status    string
}

// dashboardFacts reads the safety facts for a tenant caller who may read its audit log;
// for anyone else, or when the audit log cannot be read, it answers nil. The sweep time is
// the one the health page shows (this node's metrics).
func (s *Server) dashboardFacts(r *http.Request) *dashboardFacts {
	c := skjold.CallerFromContext(r.Context())
	if tenant(skjold.ScopeAudit).allows(c) != nil || s.svc.Audit == nil {
		return nil
	}
	f := skjold.AuditFilter{Security: true, Since: time.Now().Add(-securityWindow), Newest: true, Limit: skjold.MaxPageLimit}
	events, err := s.svc.Audit.FindAuditEvents(r.Context(), f)
	if err != nil {
		s.log.Warn("dashboard: security events", "err", err)
		return nil
	}
	d := &dashboardFacts{SecurityCount: len(events), SecurityMore: len(events) == f.Limit}
	for _, ev := range events[:min(len(events), securityShown)] {
		d.Security = append(d.Security, securityEvent{Time: ev.Time, Action: ev.Action})
	}
	_, d.LastSweep = s.metrics.healthFacts()
	d.LastBackup, d.LastDrill = s.lastRuns(r.Context())
	return d
}

// lastRuns returns the newest backup and the newest drill. Backup runs are the operator's
// records, so they are read as the system and reduced to their time and outcome, which say
// nothing of any tenant: the tenant learns only that its data is backed up and rehearsed.
func (s *Server) lastRuns(ctx context.Context) (backup, drill *runFact) {
	if s.svc.Backups == nil {
		return nil, nil
	}
	sys := skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "system:dashboard", Operator: true,
		Scopes: []string{skjold.ScopeOperatorRead}})
	runs, err := s.svc.Backups.Runs(sys, skjold.MaxPageLimit)
	if err != nil {
		s.log.Warn("dashboard: backup runs", "err", err)
		return nil, nil
	}
	for _, run := range runs {
		fact := &runFact{StartedAt: run.StartedAt, Status: run.Status}
		switch {
		case backup == nil && (run.Kind == skjold.RunBackup || run.Kind == skjold.RunManual):
			backup = fact
		case drill == nil && run.Kind == skjold.RunDrill:
			drill = fact
		}
	}
	return backup, drill
}
