package http

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/skjold-project/skjold"
)

func init() {
	addConsoleSection(func(s *Server) []route {
		opRead, admin := skjold.ScopeOperatorRead, skjold.ScopeAdmin
		return []route{
			{"GET /console/operator/grant-requests", operator(opRead), s.handleOpGrantRequests()},
			{"POST /console/operator/grant-requests", operator(opRead), s.handleOpGrantRequestCreate()},
			{"GET /console/grant-requests", tenant(admin), s.handleGrantRequests()},
			{"POST /console/grant-requests/{id}/approve", tenant(admin), s.handleGrantRequestDecide(true)},
			{"POST /console/grant-requests/{id}/deny", tenant(admin), s.handleGrantRequestDecide(false)},
		}
	},
		navItem{81, "/console/grant-requests", "nav.grant_requests", tenant(skjold.ScopeAdmin)},
		navItem{91, "/console/operator/grant-requests", "nav.op_grant_requests", operator(skjold.ScopeOperatorRead)},
	)
}

// opGrantRequestsData is the operator's request page: the tenants one may ask, and the
// person's own requests with their outcome.
type opGrantRequestsData struct {
	Tenants  []*skjold.Tenant
	Requests []*skjold.GrantRequest
}

func (s *Server) opGrantRequestsPage(w http.ResponseWriter, r *http.Request, status int, v *opView) {
	ctx := r.Context()
	svc, err := s.grantRequests()
	d := &opGrantRequestsData{}
	if err == nil {
		d.Requests, err = svc.FindGrantRequests(ctx)
	}
	if err == nil {
		var all []*skjold.Tenant
		all, err = s.svc.Tenants.FindTenants(ctx, skjold.Page{Limit: skjold.MaxPageLimit})
		for _, t := range all {
			if t.Status == skjold.TenantActive {
				d.Tenants = append(d.Tenants, t)
			}
		}
	}
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	if v.Form["hours"] == "" {
		v.Form["hours"] = "2"
	}
	v.Data = d
	s.render(w, r, status, "operator.grant_requests", v.View)
}

func (s *Server) handleOpGrantRequests() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.opGrantRequestsPage(w, r, http.StatusOK, newOpView(r, "operator.grant_requests.title"))
	})
}

func (s *Server) handleOpGrantRequestCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.grant_requests.title")
		f := r.PostForm
		for _, k := range []string{"tenant_id", "reason", "hours"} {
			v.Form[k] = strings.TrimSpace(f.Get(k))
		}
		hours, err := strconv.Atoi(v.Form["hours"])
		if err != nil {
			err = skjold.FieldError("hours", "range", "hours must be a whole number")
		}
		if err == nil {
			var svc skjold.GrantRequestService
			if svc, err = s.grantRequests(); err == nil {
				err = svc.RequestGrant(r.Context(), &skjold.GrantRequest{TenantID: v.Form["tenant_id"], Reason: v.Form["reason"], Hours: hours})
			}
		}
		if err != nil {
			if skjold.ErrorCode(err) == skjold.ENOTFOUND {
				err = skjold.FieldError("tenant_id", "required", "choose the tenant to ask")
			}
			v.fail(err, "tenant_id", "reason", "hours")
			s.opGrantRequestsPage(w, r, statusOf(err), v)
			return
		}
		http.Redirect(w, r, "/console/operator/grant-requests?m=grant_request_filed", http.StatusSeeOther)
	})
}

// grantRequestsData is the tenant admins' page: what waits for them, and the rest.
type grantRequestsData struct {
	Pending, Done []*skjold.GrantRequest
}

func (s *Server) grantRequestsPage(w http.ResponseWriter, r *http.Request, status int, v *opView) {
	svc, err := s.grantRequests()
	var all []*skjold.GrantRequest
	if err == nil {
		all, err = svc.FindGrantRequests(r.Context())
	}
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	d := &grantRequestsData{}
	for _, gr := range all {
		if gr.Status == skjold.GrantRequestPending {
			d.Pending = append(d.Pending, gr)
		} else if len(d.Done) < 20 {
			d.Done = append(d.Done, gr)
		}
	}
	v.Data = d
	s.render(w, r, status, "grant_requests", v.View)
}

func (s *Server) handleGrantRequests() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.grantRequestsPage(w, r, http.StatusOK, newOpView(r, "grant_requests.title"))
	})
}

// handleGrantRequestDecide approves (creating the grant) or denies a request; a refused
// decision is shown above the list, a missing reason next to its field.
func (s *Server) handleGrantRequestDecide(approve bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		svc, err := s.grantRequests()
		if err == nil && approve {
			_, err = svc.ApproveGrantRequest(r.Context(), id)
		} else if err == nil {
			err = svc.DenyGrantRequest(r.Context(), id, strings.TrimSpace(r.PostForm.Get("reason")))
		}
		switch code := skjold.ErrorCode(err); {
		case err == nil && approve:
			http.Redirect(w, r, "/console/grant-requests?m=grant_request_approved", http.StatusSeeOther)
		case err == nil:
			http.Redirect(w, r, "/console/grant-requests?m=grant_request_denied", http.StatusSeeOther)
		case code == skjold.ENOTFOUND || code == skjold.EFORBIDDEN || code == skjold.EUNAUTHORIZED:
			s.consoleFail(w, r, consoleOf(r).id, err)
		default:
			v := newOpView(r, "grant_requests.title")
			v.conflict = "grant_requests.conflict"
			if f, _ := fieldOf(err); f == "reason" && !approve {
				v.Errors["reason-"+id] = message(v.Cat, err)
				v.Form["reason-"+id] = r.PostForm.Get("reason")
			} else {
				v.fail(err)
			}
			s.grantRequestsPage(w, r, statusOf(err), v)
		}
	})
}
