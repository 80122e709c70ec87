package http

import (
	"net/http"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
	"github.com/skjold-project/skjold/web"
)

// The console's compliance page: the same report as GET /api/v1/compliance and
// `skjold compliance check`, and the form that changes the tenant's compliance profile
// (PUT /api/v1/compliance/profile).

func init() {
	see := either(skjold.ScopeAdmin, skjold.ScopeOperatorRead)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/compliance", see, s.handleConsoleCompliance()},
			{"POST /console/compliance/profile", either(skjold.ScopeAdmin, skjold.ScopeOperatorManage), s.handleConsoleComplianceProfile()},
		}
	}, navItem{75, "/console/compliance", "nav.compliance", see})
}

type complianceData struct {
	Report  *skjold.ComplianceReport
	Profile *skjold.ComplianceProfile
	Failed  int
	cat     *i18n.Catalogue
}

// Evidence is ch's evidence in the page's language, a line per item (the English lines when
// the check carries no keys).
func (d *complianceData) Evidence(ch skjold.ComplianceCheck) []string {
	if len(ch.Details) == 0 {
		return ch.Evidence
	}
	out := make([]string, len(ch.Details))
	for i, e := range ch.Details {
		out[i] = e.Render(d.cat.T)
	}
	return out
}

var complianceFields = []string{"backup_times", "backup_zone", "daily_copies", "min_password_length", "max_idle_minutes"}

func (s *Server) complianceLoad(r *http.Request) func(v *web.View) error {
	return func(v *web.View) error {
		rep, err := s.complianceReport(r.Context())
		if err != nil {
			return err
		}
		p, err := s.svc.Compliance.ComplianceProfile(r.Context())
		if err != nil {
			return err
		}
		d := &complianceData{Report: rep, Profile: p, cat: v.Cat}
		for _, sc := range rep.Scopes {
			for _, ch := range sc.Checks {
				if ch.Status == skjold.CheckFail {
					d.Failed++
				}
			}
		}
		v.Data = d
		return nil
	}
}

func (s *Server) handleConsoleCompliance() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfgPage(w, r, http.StatusOK, "compliance", consoleOf(r).newView("compliance.title"), s.complianceLoad(r))
	})
}

func (s *Server) handleConsoleComplianceProfile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := s.complianceProfileForm(r)
		if err == nil {
			http.Redirect(w, r, "/console/compliance?m=compliance_saved", http.StatusSeeOther)
			return
		}
		s.cfgRefused(w, r, "compliance", "compliance.title", err, complianceFields, s.complianceLoad(r))
	})
}

// complianceProfileForm applies the form to the current profile and saves it.
func (s *Server) complianceProfileForm(r *http.Request) error {
	svc, err := s.compliance()
	if err != nil {
		return err
	}
	p, err := svc.ComplianceProfile(r.Context())
	if err != nil {
		return err
	}
	p.BackupTimes = cfgList(r, "backup_times")
	p.BackupZone = strings.TrimSpace(r.PostForm.Get("backup_zone"))
	for _, f := range []struct {
		name string
		dst  *int
	}{{"daily_copies", &p.DailyCopies}, {"min_password_length", &p.MinPasswordLength}, {"max_idle_minutes", &p.MaxIdleMinutes}} {
		if *f.dst, err = cfgInt(r, f.name); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"offsite", &p.Offsite}, {"drill", &p.Drill}, {"admin_two_factor", &p.AdminTwoFactor}, {"offboarding", &p.Offboarding},
		{"training", &p.Training}, {"retention", &p.Retention}, {"audit_chain", &p.AuditChain}, {"dpa", &p.DPA}} {
		*f.dst = r.PostForm.Get(f.name) == "on"
	}
	return svc.PutComplianceProfile(r.Context(), p)
}
