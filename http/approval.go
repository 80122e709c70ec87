package http

import (
	"net/http"
	"time"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleApprovalRequest() http.Handler {
	type request struct {
		Action  string  `json:"action"`
		Target  string  `json:"target"`
		Role    string  `json:"role"`
		Profile string  `json:"profile"`
		Until   *string `json:"until"` // a tenant freeze's end; parsed here, so that errors name the field
		// OverrideHolds lets a tenant deletion destroy what legal holds keep.
		OverrideHolds bool `json:"override_holds"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.Approval, error) {
		a := &skjold.Approval{Action: req.Action, Target: req.Target, Role: req.Role, Profile: req.Profile,
			OverrideHolds: req.OverrideHolds}
		if req.Until != nil {
			until, err := time.Parse(time.RFC3339Nano, *req.Until)
			if err != nil {
				return nil, skjold.FieldError("until", "datetime", "until must be a date and time in RFC 3339 form")
			}
			a.Until = &until
		}
		return a, s.svc.Approvals.RequestApproval(r.Context(), a)
	})
}

func (s *Server) handleApprovalList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, err := pageOf(r)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		items, err := s.svc.Approvals.FindApprovals(r.Context(), page)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, list(items, page, func(a *skjold.Approval) string { return a.ID }))
	})
}

func (s *Server) handleApprovalDecide(approve bool) http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.Approval, error) {
		return s.svc.Approvals.DecideApproval(r.Context(), r.PathValue("id"), approve)
	})
}

func (s *Server) handleGrantCreate() http.Handler {
	type request struct {
		UserID string `json:"user_id"`
		Hours  int    `json:"hours"`
		Reason string `json:"reason"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.Grant, error) {
		g := &skjold.Grant{UserID: req.UserID, Reason: req.Reason}
		return g, s.svc.Approvals.CreateGrant(r.Context(), g, req.Hours)
	})
}

func (s *Server) handleGrantList() http.Handler {
	type response struct {
		Items []*skjold.Grant `json:"items"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*response, error) {
		grants, err := s.svc.Approvals.FindGrants(r.Context())
		return &response{Items: grants}, err
	})
}

func (s *Server) handleGrantRevoke() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		return nil, s.svc.Approvals.RevokeGrant(r.Context(), r.PathValue("id"))
	})
}

// tenantHeader names the tenant an operator staff member reads under a support grant.
const tenantHeader = "Skjold-Tenant"

// supportCaller turns an operator user's caller into a read-only caller in the tenant named
// by the Skjold-Tenant header, when the tenant has granted that user access [A7, B13]; every
// read is then audited with the grant in the actor. Without the header the caller is
// unchanged; without a live grant the request is refused.
func (s *Server) supportCaller(r *http.Request, c *skjold.Caller) (*skjold.Caller, error) {
	tenantID := r.Header.Get(tenantHeader)
	if tenantID == "" || !c.Operator || c.UserID == "" {
		return c, nil
	}
	// The caller travels along, so that the tenant's allow list applies to its address.
	g, err := s.svc.Approvals.ActiveGrant(skjold.NewContextWithCaller(r.Context(), c), tenantID, c.UserID)
	if err != nil {
		return nil, err
	}
	return grantCaller(c, g), nil
}

// grantCaller is operator user c reading tenant g.TenantID under support grant g: read only,
// every read audited with the grant in the actor.
func grantCaller(c *skjold.Caller, g *skjold.Grant) *skjold.Caller {
	return &skjold.Caller{Actor: c.Actor + "/grant:" + g.ID, TenantID: g.TenantID, Scopes: []string{skjold.ScopeRead},
		Source: c.Source, UserID: c.UserID, Role: skjold.RoleSupport, SessionID: c.SessionID}
}
