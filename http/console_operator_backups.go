package http

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
)

// opRun is a backup run or drill as the backups page lists it, with its duration.
type opRun struct {
	*skjold.BackupRun
	Seconds float64 // 0 while it runs
}

func opRuns(runs []*skjold.BackupRun) []*opRun {
	out := make([]*opRun, len(runs))
	for i, r := range runs {
		out[i] = &opRun{BackupRun: r, Seconds: float64(r.Took().Milliseconds()) / 1000}
	}
	return out
}

// opBackupsData is the backups page: every target's backups, the recorded runs and drills,
// and after a verification its outcome per target.
type opBackupsData struct {
	Available bool // false: the server runs without backups
	Targets   []*skjold.TargetBackups
	Runs      []*opRun
	Made      *skjold.Manifest
	Checked   string
	Checks    []*skjold.BackupCheck
}

func (s *Server) opBackupsPage(w http.ResponseWriter, r *http.Request, status int, v *opView, d *opBackupsData) {
	v.Data = d
	if s.svc.Backups != nil {
		d.Available = true
		targets, err := s.svc.Backups.List(r.Context())
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		runs, err := s.svc.Backups.Runs(r.Context(), skjold.DefaultPageLimit)
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		d.Targets, d.Runs = targets, opRuns(runs)
	}
	s.render(w, r, status, "operator.backups", v.View)
}

func (s *Server) handleOpBackups() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.opBackupsPage(w, r, http.StatusOK, newOpView(r, "operator.backups.title"), &opBackupsData{})
	})
}

// handleOpBackupRun makes a backup now on every target, as POST /api/v1/backups does; the
// page then shows it among the runs.
func (s *Server) handleOpBackupRun() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.backups.title")
		d := &opBackupsData{}
		b, err := s.backups()
		if err == nil {
			d.Made, err = b.Run(r.Context())
		}
		if err != nil {
			v.FormError = v.T("operator.backups.failed")
			var failed *backup.TargetError // unavailable because every target failed, not unset
			if skjold.ErrorCode(err) == skjold.EUNAVAILABLE && !errors.As(err, &failed) {
				v.FormError = v.T("operator.backups.none")
			} else {
				s.log.Error("backup from the console failed", "err", err)
			}
			if d.Made == nil {
				s.opBackupsPage(w, r, statusOf(err), v, d)
				return
			}
		}
		s.opBackupsPage(w, r, http.StatusCreated, v, d)
	})
}

func (s *Server) handleOpBackupVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.backups.title")
		d := &opBackupsData{Checked: r.PostForm.Get("id")}
		b, err := s.backups()
		if err == nil {
			d.Checks, err = b.Verify(r.Context(), d.Checked)
		}
		if err != nil {
			d.Checked = ""
			v.fail(err)
			if skjold.ErrorCode(err) == skjold.ENOTFOUND {
				v.FormError = v.T("operator.backups.not_found")
			}
			s.opBackupsPage(w, r, statusOf(err), v, d)
			return
		}
		s.opBackupsPage(w, r, http.StatusOK, v, d)
	})
}

// handleOpStaff lists the operator's own staff with what the register of authorised
// persons records of each [B15]: role, two factors, offboarding, training and agreement.
func (s *Server) handleOpStaff() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		users, err := s.svc.Auth.FindUsers(r.Context(), skjold.Page{Limit: skjold.MaxPageLimit})
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		v := newOpView(r, "operator.staff.title")
		v.Data = users
		s.render(w, r, http.StatusOK, "operator.staff", v.View)
	})
}

// schemaVersioner is the store's report of its newest applied migration; the health page
// shows it when the tenant service (the store) has one.
type schemaVersioner interface {
	SchemaVersion(ctx context.Context) (int, error)
}

// opHealthData is the health page: what this node runs and what the shared database holds.
type opHealthData struct {
	OK              bool
	Version, Engine string
	Schema          int // 0: unknown
	ChainLength     int64
	LastSweep       time.Time
	LastBackup      *opRun
	LastDrill       *opRun
	Nodes           []string       // the nodes that recorded backup runs: several share the database
	Cluster         []*skjold.Node // the node registry; nil without one
}

func (s *Server) handleOpHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		d := &opHealthData{OK: true, Version: s.version, Engine: s.engine, ChainLength: -1}
		if s.svc.Health != nil {
			if err := s.svc.Health(ctx); err != nil {
				s.log.Error("health check failed", "err", err)
				d.OK = false
			}
		}
		if sv, ok := s.svc.Tenants.(schemaVersioner); ok {
			d.Schema, _ = sv.SchemaVersion(ctx)
		}
		d.ChainLength, d.LastSweep = s.metrics.healthFacts()
		if s.svc.Backups != nil {
			if runs, err := s.svc.Backups.Runs(ctx, skjold.MaxPageLimit); err == nil {
				d.facts(opRuns(runs))
			}
		}
		if s.svc.Cluster != nil {
			if nodes, err := s.svc.Cluster.FindNodes(ctx); err == nil {
				d.Cluster = nodes
			}
		}
		v := newOpView(r, "operator.health.title")
		v.Data = d
		s.render(w, r, http.StatusOK, "operator.health", v.View)
	})
}

// facts picks the newest backup and drill from runs (newest first) and the nodes that ran them.
func (d *opHealthData) facts(runs []*opRun) {
	for _, run := range runs {
		switch {
		case d.LastBackup == nil && (run.Kind == skjold.RunBackup || run.Kind == skjold.RunManual):
			d.LastBackup = run
		case d.LastDrill == nil && run.Kind == skjold.RunDrill:
			d.LastDrill = run
		}
		if run.Node != "" && !slices.Contains(d.Nodes, run.Node) {
			d.Nodes = append(d.Nodes, run.Node)
		}
	}
	slices.Sort(d.Nodes)
}

// healthFacts reads the audit chain's length and the last retention sweep's end from the
// metrics (-1 and zero when unknown): the numbers /metrics shows, for the health page.
func (m *Metrics) healthFacts() (chain int64, sweep time.Time) {
	chain = -1
	if m == nil {
		return chain, sweep
	}
	families, err := m.reg.Gather()
	if err != nil {
		return chain, sweep
	}
	for _, f := range families {
		if len(f.GetMetric()) == 0 || f.GetMetric()[0].GetGauge() == nil {
			continue
		}
		val := f.GetMetric()[0].GetGauge().GetValue()
		switch {
		case f.GetName() == "skjold_audit_chain_length":
			chain = int64(val)
		case f.GetName() == "skjold_retention_last_sweep_timestamp_seconds" && val > 0:
			sweep = time.Unix(0, int64(val*1e9)).UTC()
		}
	}
	return chain, sweep
}
