package http

import (
	"net/http"
	"slices"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// workCookie names the tenant an operator person works in under a support grant. It only
// names the tenant: every request checks again that a live grant lets this person in, so
// that access ends the moment the grant expires or is revoked, wherever the cookie is.
const workCookie = "skjold_work"

// opView is an operator page's view, with the way these pages show a refused request.
type opView struct {
	*web.View
	conflict string // the message key explaining a conflict on this page's forms
}

func newOpView(r *http.Request, title string) *opView {
	return &opView{View: consoleOf(r).newView(title)}
}

// fail shows why a request was refused: next to its field when the error names one of
// fields, else above the forms; a conflict with the page's own explanation.
func (v *opView) fail(err error, fields ...string) {
	field, _ := fieldOf(err)
	switch {
	case field != "" && slices.Contains(fields, field):
		v.Errors[field] = message(v.Cat, err)
	case skjold.ErrorCode(err) == skjold.ECONFLICT && v.conflict != "":
		v.FormError = v.T(v.conflict)
	default:
		v.FormError = message(v.Cat, err)
	}
}

// work is an operator person's request inside a tenant, under a live support grant.
type work struct {
	grant  *skjold.Grant
	caller *skjold.Caller // read-only, in the grant's tenant
	tenant string         // the tenant's name for the banner
}

// consoleWork returns the grant an operator person works under: in the tenant the work
// cookie names (or, as for the API, the Skjold-Tenant header), re-checked against a live
// grant on every request. A cookie whose grant ended is removed and the person is back on
// the operator's side; nil when they do not work in a tenant.
func (s *Server) consoleWork(w http.ResponseWriter, r *http.Request, c *skjold.Caller) (*work, error) {
	if !c.Operator || c.UserID == "" {
		return nil, nil
	}
	tenantID, cookie := "", false
	if ck, err := r.Cookie(workCookie); err == nil && ck.Value != "" {
		tenantID, cookie = ck.Value, true
	} else {
		tenantID = r.Header.Get(tenantHeader)
	}
	if tenantID == "" {
		return nil, nil
	}
	ctx := skjold.NewContextWithCaller(r.Context(), c)
	g, err := s.svc.Approvals.ActiveGrant(ctx, tenantID, c.UserID)
	if err != nil {
		if cookie && skjold.ErrorCode(err) == skjold.EFORBIDDEN {
			setWorkCookie(w, "")
			return nil, nil
		}
		return nil, err
	}
	wk := &work{grant: g, caller: grantCaller(c, g), tenant: g.TenantID}
	if t, err := s.svc.Tenants.FindTenantByID(ctx, g.TenantID); err == nil {
		wk.tenant = t.Name
	}
	return wk, nil
}

// show puts the banner on the page, and the menu of what the grant lets the person open.
func (wk *work) show(v *web.View, r *http.Request) {
	if wk == nil || v.Stage != "" {
		return
	}
	v.Work = &web.WorkBanner{Tenant: wk.tenant, Until: wk.grant.ExpiresAt}
	v.Nav = nil
	for _, item := range consoleNav {
		if item.perm.allows(wk.caller) == nil {
			v.Nav = append(v.Nav, web.NavItem{Href: item.href, Key: item.key, Current: item.href == r.URL.Path})
		}
	}
}

func setWorkCookie(w http.ResponseWriter, tenantID string) {
	ck := &http.Cookie{Name: workCookie, Value: tenantID, Path: "/console/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode}
	if tenantID == "" {
		ck.Expires, ck.MaxAge = time.Unix(0, 0), -1
	}
	http.SetCookie(w, ck)
}

// opGrant is one of the person's grants as the grants page lists it.
type opGrant struct {
	*skjold.Grant
	Tenant string
	Live   bool
}

func (s *Server) opGrantsPage(w http.ResponseWriter, r *http.Request, status int, v *opView) {
	ctx := r.Context()
	grants, err := s.svc.Approvals.FindGrants(ctx)
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	now := time.Now()
	var live, past []*opGrant
	for _, g := range slices.Backward(grants) { // newest first
		og := &opGrant{Grant: g, Tenant: g.TenantID, Live: g.RevokedAt == nil && g.ExpiresAt.After(now)}
		if t, err := s.svc.Tenants.FindTenantByID(ctx, g.TenantID); err == nil {
			og.Tenant = t.Name
		}
		if og.Live {
			live = append(live, og)
		} else if len(past) < 20 {
			past = append(past, og)
		}
	}
	v.Data = map[string]any{"Live": live, "Past": past, "UserID": consoleOf(r).id.User.ID}
	s.render(w, r, status, "operator.grants", v.View)
}

func (s *Server) handleOpGrants() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.opGrantsPage(w, r, http.StatusOK, newOpView(r, "operator.grants.title"))
	})
}

func (s *Server) handleOpGrantRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Approvals.RevokeGrant(r.Context(), r.PathValue("grant")); err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		http.Redirect(w, r, "/console/operator/grants?m=op_grant_revoked", http.StatusSeeOther)
	})
}

// handleOpGrantEnter starts working in a grant's tenant: the grant must be the person's own
// and live, which ActiveGrant checks again on every later request.
func (s *Server) handleOpGrantEnter() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		grants, err := s.svc.Approvals.FindGrants(ctx)
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		i := slices.IndexFunc(grants, func(g *skjold.Grant) bool { return g.ID == r.PathValue("grant") })
		if i < 0 {
			s.consoleFail(w, r, consoleOf(r).id, skjold.Errorf(skjold.ENOTFOUND, "no such grant"))
			return
		}
		c := skjold.CallerFromContext(ctx)
		if _, err := s.svc.Approvals.ActiveGrant(ctx, grants[i].TenantID, c.UserID); err != nil {
			v := newOpView(r, "operator.grants.title")
			v.FormError = v.T("operator.grants.not_live")
			s.opGrantsPage(w, r, http.StatusForbidden, v)
			return
		}
		setWorkCookie(w, grants[i].TenantID)
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
}

// handleOpLeave ends working in a tenant; it is open to every logged-in person, since
// inside a tenant the person is no operator caller.
func (s *Server) handleOpLeave() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setWorkCookie(w, "")
		http.Redirect(w, r, "/console/?m=op_left", http.StatusSeeOther)
	})
}
