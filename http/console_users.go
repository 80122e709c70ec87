package http

import (
	"net/http"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The console's People page: the caller's staff (a tenant's, or the operator's for operator
// staff), creating a user with a role or custom profile and an offboarding date (the
// one-time password shown once), suspending and resuming, and a two-factor reset, which
// always goes to a second person through the approvals queue [B6]. Each action calls the
// AuthService or ApprovalService exactly as the API's user routes do.

func init() {
	addConsoleSection(func(s *Server) []route {
		staff := either(skjold.ScopeAdmin, skjold.ScopeOperatorStaff)
		return []route{
			{"GET /console/users", staff, s.handleConsoleUsers()},
			{"POST /console/users", staff, s.handleConsoleUserCreate()},
			{"POST /console/users/{id}/suspend", staff, s.handleConsoleUserSuspend()},
			{"POST /console/users/{id}/two-factor-reset", staff, s.handleConsoleTwoFactorReset()},
		}
	}, navItem{70, "/console/users", "nav.users", either(skjold.ScopeAdmin, skjold.ScopeOperatorStaff)})
}

// usersPage is the People page's data.
type usersPage struct {
	Users    []*skjold.User
	Roles    []string
	Profiles []string
	Created  *skjold.User // the user just created, whose one-time password is shown once
	Password string
	Operator bool
}

// staffRoles lists the roles a tenant's (or the operator's) staff may have, highest first.
func staffRoles(operator bool) []string {
	if operator {
		return []string{skjold.RoleOwner, skjold.RoleAdmin, skjold.RoleSupport}
	}
	return []string{skjold.RoleOwner, skjold.RoleAdmin, skjold.RoleAgent, skjold.RoleAuditor, skjold.RoleCustom}
}

// usersView reads the People page's lists into v.
func (s *Server) usersView(r *http.Request, v *web.View) (*usersPage, error) {
	c := skjold.CallerFromContext(r.Context())
	p := &usersPage{Roles: staffRoles(c.Operator), Operator: c.Operator}
	var err error
	if p.Users, err = s.svc.Auth.FindUsers(r.Context(), skjold.Page{Limit: skjold.MaxPageLimit}); err != nil {
		return nil, err
	}
	if !c.Operator {
		profiles, err := s.svc.Auth.FindProfiles(r.Context())
		if err != nil {
			return nil, err
		}
		for _, pr := range profiles {
			p.Profiles = append(p.Profiles, pr.Name)
		}
	}
	if v.Form["role"] == "" {
		v.Form["role"] = skjold.RoleAgent // the lowest rank that works with subjects
		if c.Operator {
			v.Form["role"] = skjold.RoleSupport
		}
	}
	v.Data = p
	return p, nil
}

func (s *Server) handleConsoleUsers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("users.title")
		if _, err := s.usersView(r, v); err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		s.render(w, r, http.StatusOK, "users", v)
	})
}

// userFields are the create form's fields, in the order their errors are looked for.
var userFields = []string{"name", "email", "role", "profile", "access_until"}

func (s *Server) handleConsoleUserCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("users.title")
		for _, f := range userFields {
			v.Form[f] = strings.TrimSpace(r.PostForm.Get(f))
		}
		u := &skjold.User{Name: v.Form["name"], Email: v.Form["email"], Role: v.Form["role"], Profile: v.Form["profile"]}
		if u.Role != skjold.RoleCustom {
			u.Profile = "" // the form's profile list is for custom roles only
		}
		var err error
		if d := v.Form["access_until"]; d != "" {
			var t time.Time
			if t, err = time.Parse(time.DateOnly, d); err != nil {
				err = skjold.FieldError("access_until", "date", "access_until must be a date")
			} else {
				u.AccessUntil = &t
			}
		}
		password := ""
		if err == nil {
			password, err = s.svc.Auth.CreateUser(r.Context(), u)
		}
		if err != nil {
			if _, lerr := s.usersView(r, v); lerr != nil || !s.fieldFailure(v, err, func(f string) string { return f }) {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			s.render(w, r, statusOf(err), "users", v)
			return
		}
		v.Form = map[string]string{}
		p, err := s.usersView(r, v)
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		p.Created, p.Password = u, password
		s.render(w, r, http.StatusCreated, "users", v)
	})
}

func (s *Server) handleConsoleUserSuspend() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		suspend := r.PostForm.Get("suspend") == "true"
		if err := s.svc.Auth.SuspendUser(r.Context(), r.PathValue("id"), suspend); err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		m := "user_resumed"
		if suspend {
			m = "user_suspended"
		}
		http.Redirect(w, r, "/console/users?m="+m, http.StatusSeeOther)
	})
}

// handleConsoleTwoFactorReset files a two-factor reset for a second person to approve.
func (s *Server) handleConsoleTwoFactorReset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := &skjold.Approval{Action: skjold.ActionTwoFactorReset, Target: r.PathValue("id")}
		if err := s.svc.Approvals.RequestApproval(r.Context(), a); err != nil {
			if skjold.ErrorCode(err) == skjold.ECONFLICT || skjold.ErrorCode(err) == skjold.EINVALID {
				v := consoleOf(r).newView("users.title")
				if _, lerr := s.usersView(r, v); lerr != nil {
					s.consoleFail(w, r, consoleOf(r).id, lerr)
					return
				}
				v.FormError = fieldMessage(v, err)
				s.render(w, r, statusOf(err), "users", v)
				return
			}
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		http.Redirect(w, r, "/console/users?m=reset_requested", http.StatusSeeOther)
	})
}
