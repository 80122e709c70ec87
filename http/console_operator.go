package http

import (
	"net/http"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// The console's operator pages [I1 item 5]: tenants and their lifecycle, the operator
// person's support grants (and working in a tenant under one), bans and the block list,
// backups, the operator's own staff, and the health page. Each calls the same service as
// the API route that does the same, behind the same operator scope.

func init() {
	const (
		opRead, opManage, opStaff = skjold.ScopeOperatorRead, skjold.ScopeOperatorManage, skjold.ScopeOperatorStaff
	)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/operator/tenants", operator(opRead), s.handleOpTenants()},
			{"POST /console/operator/tenants", operator(opManage), s.handleOpTenantCreate()},
			{"GET /console/operator/tenants/{tenant}", operator(opRead), s.handleOpTenant()},
			{"POST /console/operator/tenants/{tenant}/freeze", operator(opManage), s.handleOpTenantFreeze()},
			{"POST /console/operator/tenants/{tenant}/reactivate", operator(opManage), s.handleOpTenantReactivate()},
			{"POST /console/operator/tenants/{tenant}/terminate", operator(opManage), s.handleOpTenantTerminate()},

			{"GET /console/operator/grants", operator(opRead), s.handleOpGrants()},
			{"POST /console/operator/grants/{grant}/revoke", operator(opRead), s.handleOpGrantRevoke()},
			{"POST /console/operator/grants/{grant}/enter", operator(opRead), s.handleOpGrantEnter()},
			{"POST /console/operator/leave", self, s.handleOpLeave()},

			{"GET /console/operator/network", operator(opRead), s.handleOpNetwork()},
			{"POST /console/operator/bans", operator(opManage), s.handleOpBan()},
			{"POST /console/operator/bans/lift", operator(opManage), s.handleOpUnban()},
			{"POST /console/operator/blocklist", operator(opManage), s.handleOpBlockList()},

			{"GET /console/operator/backups", operator(opRead), s.handleOpBackups()},
			{"POST /console/operator/backups", operator(opManage), s.handleOpBackupRun()},
			{"POST /console/operator/backups/verify", operator(opManage), s.handleOpBackupVerify()},

			{"GET /console/operator/staff", operator(opStaff), s.handleOpStaff()},
			{"GET /console/operator/health", operator(opRead), s.handleOpHealth()},
		}
	},
		navItem{90, "/console/operator/tenants", "nav.op_tenants", operator(opRead)},
		navItem{91, "/console/operator/grants", "nav.op_grants", operator(opRead)},
		navItem{92, "/console/operator/network", "nav.op_network", operator(opRead)},
		navItem{93, "/console/operator/backups", "nav.op_backups", operator(opRead)},
		navItem{94, "/console/operator/staff", "nav.op_staff", operator(opStaff)},
		navItem{95, "/console/operator/health", "nav.op_health", operator(opRead)},
	)
}

// opTenantsData is what the tenants page shows: every tenant, and once after creating one,
// the new tenant's first API token with its secret (shown this once only).
type opTenantsData struct {
	Tenants []*skjold.Tenant
	Created *skjold.Tenant
	Token   *skjold.Token
}

func (s *Server) opTenantsPage(w http.ResponseWriter, r *http.Request, status int, v *opView, d *opTenantsData) {
	tenants, err := s.svc.Tenants.FindTenants(r.Context(), skjold.Page{Limit: skjold.MaxPageLimit})
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	d.Tenants = tenants
	v.Data = d
	s.render(w, r, status, "operator.tenants", v.View)
}

func (s *Server) handleOpTenants() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.opTenantsPage(w, r, http.StatusOK, newOpView(r, "operator.tenants.title"), &opTenantsData{})
	})
}

func (s *Server) handleOpTenantCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.tenants.title")
		t := &skjold.Tenant{Name: strings.TrimSpace(r.PostForm.Get("name"))}
		v.Form["name"] = t.Name
		tok, err := s.svc.Tenants.CreateTenant(r.Context(), t)
		if err != nil {
			v.fail(err, "name")
			s.opTenantsPage(w, r, statusOf(err), v, &opTenantsData{})
			return
		}
		v.Form["name"] = ""
		s.opTenantsPage(w, r, http.StatusCreated, v, &opTenantsData{Created: t, Token: tok})
	})
}

// opTenantData is one tenant's page: its state, the four-eyes requests filed about it, and
// for a terminated tenant its deletion certificate.
type opTenantData struct {
	Tenant      *skjold.Tenant
	Pending     []*skjold.Approval
	Certificate *skjold.DeletionCertificate
	// Filed lists the actions that wait for a second person, so that they are not offered again.
	Filed    map[string]bool
	MinUntil string // the freeze form's earliest end date (tomorrow), as yyyy-mm-dd
}

func (s *Server) opTenantPage(w http.ResponseWriter, r *http.Request, status int, v *opView) {
	ctx := r.Context()
	t, err := s.svc.Tenants.FindTenantByID(ctx, r.PathValue("tenant"))
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	d := &opTenantData{Tenant: t, Filed: map[string]bool{}, MinUntil: time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)}
	if t.Status == skjold.TenantTerminated {
		if d.Certificate, err = s.svc.Tenants.FindDeletionCertificate(ctx, t.ID); err != nil &&
			skjold.ErrorCode(err) != skjold.ENOTFOUND {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
	}
	// The operator's approvals are few; the newest page is enough to show what waits.
	if list, err := s.svc.Approvals.FindApprovals(ctx, skjold.Page{Limit: skjold.MaxPageLimit}); err == nil {
		for _, a := range list {
			if a.Target == t.ID && a.Status == skjold.ApprovalPending {
				d.Pending = append(d.Pending, a)
				d.Filed[a.Action] = true
			}
		}
	}
	v.Data = d
	v.Title = "operator.tenant.title"
	s.render(w, r, status, "operator.tenant", v.View)
}

func (s *Server) handleOpTenant() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.opTenantPage(w, r, http.StatusOK, newOpView(r, "operator.tenant.title"))
	})
}

// opTenantPath is the page of the tenant a form was posted for.
func opTenantPath(r *http.Request) string {
	return "/console/operator/tenants/" + r.PathValue("tenant")
}

func (s *Server) handleOpTenantFreeze() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.tenant.title")
		raw := strings.TrimSpace(r.PostForm.Get("until"))
		v.Form["until"] = raw
		var err error
		if raw == "" {
			err = skjold.FieldError("until", "required", "until is required")
		} else if day, perr := time.Parse(time.DateOnly, raw); perr != nil {
			err = skjold.FieldError("until", "date", "until must be a date")
		} else {
			// The freeze lasts through the chosen day, in UTC as the API's times are.
			until := day.Add(24*time.Hour - time.Second)
			err = s.svc.Approvals.RequestApproval(r.Context(), &skjold.Approval{Action: skjold.ActionTenantFreeze,
				Target: r.PathValue("tenant"), Until: &until})
		}
		if err != nil {
			if skjold.ErrorCode(err) == skjold.ENOTFOUND {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			v.conflict = "operator.tenant.err_not_active"
			v.fail(err, "until")
			s.opTenantPage(w, r, statusOf(err), v)
			return
		}
		http.Redirect(w, r, opTenantPath(r)+"?m=op_freeze_filed", http.StatusSeeOther)
	})
}

func (s *Server) handleOpTenantReactivate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.svc.Tenants.ReactivateTenant(r.Context(), r.PathValue("tenant")); err != nil {
			if skjold.ErrorCode(err) == skjold.ENOTFOUND {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			v := newOpView(r, "operator.tenant.title")
			v.conflict = "operator.tenant.err_not_frozen"
			v.fail(err)
			s.opTenantPage(w, r, statusOf(err), v)
			return
		}
		http.Redirect(w, r, opTenantPath(r)+"?m=op_reactivated", http.StatusSeeOther)
	})
}

func (s *Server) handleOpTenantTerminate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.tenant.title")
		id := r.PathValue("tenant")
		t, err := s.svc.Tenants.FindTenantByID(r.Context(), id)
		switch {
		case err != nil:
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		case r.PostForm.Get("confirm") != t.Name:
			// Typing the name is the guard against terminating the wrong tenant by a slip.
			err = skjold.FieldError("confirm", "confirm", "type the tenant's name")
		default:
			err = s.svc.Approvals.RequestApproval(r.Context(), &skjold.Approval{Action: skjold.ActionTenantDeletion,
				Target: id, OverrideHolds: r.PostForm.Get("override_holds") == "on"})
		}
		if err != nil {
			v.conflict = "operator.tenant.err_holds"
			v.fail(err, "confirm")
			s.opTenantPage(w, r, statusOf(err), v)
			return
		}
		http.Redirect(w, r, opTenantPath(r)+"?m=op_termination_filed", http.StatusSeeOther)
	})
}
