package http

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// inStage returns a person and a fresh session token of theirs in stage st.
func (e *env) inStage(t *testing.T, st string) (*staff, string) {
	t.Helper()
	var s *staff
	switch st {
	case skjold.StageChangePassword:
		s = e.newStaff(t, e.a.id, skjold.RoleAgent, "")
		s.session, _ = e.login(t, s.user.Email, s.password, "")
	case skjold.StageEnrolTwoFactor:
		s = e.newStaff(t, e.a.id, skjold.RoleAdmin, "")
		s.session, _ = e.login(t, s.user.Email, s.password, "")
		e.changePassword(t, s)
	case skjold.StageSecondFactor:
		s = e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
		s.session, _ = e.login(t, s.user.Email, s.password, "")
	case skjold.StageConfirmEmail:
		s = e.pendingStaff(t, e.a.id, skjold.RoleAgent, "")
		s.session, _ = e.login(t, s.user.Email, s.password, "")
		e.requestCode(t, s.user.Email) // the code mailed at login, out of the way of the step's own
	case skjold.StageLocked:
		s = e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
		e.clock.Advance(16 * time.Minute) // the default idle limit is 15 minutes
	default:
		t.Fatalf("no way to a session in stage %s", st)
	}
	e.wantStage(t, s.session, st)
	return s, s.session
}

// TestSessionStages calls every route with a session in each login stage: the routes that
// list the stage do their step; every other route refuses, with 401 for a locked session
// (the password opens it again) and 403 otherwise.
func TestSessionStages(t *testing.T) {
	e := newEnv(t)
	requests := e.authzRequests(e.authzFixtures(t))
	for _, st := range loginStages { // the locked stage last: the clock jumps to get there
		s, token := e.inStage(t, st)
		c := &caller{name: st, token: token, authed: true, person: s}
		for _, rt := range testRoutes() {
			if rt.perm.public {
				continue
			}
			t.Run(st+"/"+rt.pattern, func(t *testing.T) {
				if slices.Contains(rt.perm.stages, st) {
					e.stageStep(t, rt.pattern, st)
					return
				}
				b := requests[rt.pattern]
				o := noObject
				if b.objects {
					o = own
				}
				req := b.build(t, c, o)
				method, _, _ := strings.Cut(rt.pattern, " ")
				got := e.do(t, token, method, req.path, req.body)
				if st == skjold.StageLocked {
					got.wantError(t, 401, skjold.EUNAUTHORIZED)
				} else {
					got.wantError(t, 403, skjold.EFORBIDDEN)
				}
			})
		}
	}
}

// stageStep takes the step a route offers in stage st, with a fresh session in that stage.
func (e *env) stageStep(t *testing.T, pattern, st string) {
	s, token := e.inStage(t, st)
	s.session = token
	switch pattern {
	case "POST /api/v1/auth/logout":
		e.do(t, token, "POST", "/api/v1/auth/logout", nil).want(t, 204)
		e.do(t, token, "GET", "/api/v1/auth/session", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	case "GET /api/v1/auth/session":
		if b := e.session(t, token); b.Stage != st || b.User.ID != s.user.ID || b.Token != "" {
			t.Errorf("session in stage %s reads as %+v", st, b)
		}
	case "POST /api/v1/auth/second-factor":
		e.do(t, token, "POST", pattern[5:], map[string]string{"code": e.freshCode(t, s.secret)}).want(t, 204)
		e.wantStage(t, token, skjold.StageActive)
	case "POST /api/v1/auth/unlock":
		e.do(t, token, "POST", pattern[5:], map[string]string{"password": newPassword()}).wantError(t, 401, skjold.EUNAUTHORIZED)
		e.wantStage(t, token, skjold.StageLocked)
		e.do(t, token, "POST", pattern[5:], map[string]string{"password": s.password}).want(t, 204)
		e.wantStage(t, token, skjold.StageActive)
	case "POST /api/v1/auth/password":
		e.changePassword(t, s)
		next := skjold.StageActive
		if st == skjold.StageEnrolTwoFactor {
			next = st // the second factor is still missing
		}
		e.wantStage(t, token, next)
	case "POST /api/v1/auth/email-confirmation/code":
		e.do(t, token, "POST", pattern[5:], nil).want(t, 202)
		e.requestCode(t, s.user.Email)
		e.wantStage(t, token, st)
	case "POST /api/v1/auth/email-confirmation":
		e.do(t, token, "POST", pattern[5:], map[string]string{"code": "00000000"}).wantError(t, 400, skjold.EINVALID)
		e.wantStage(t, token, st)
		e.do(t, token, "POST", "/api/v1/auth/email-confirmation/code", nil).want(t, 202)
		e.do(t, token, "POST", pattern[5:], map[string]string{"code": e.requestCode(t, s.user.Email)}).want(t, 204)
		e.wantStage(t, token, skjold.StageChangePassword)
	case "POST /api/v1/auth/two-factor", "POST /api/v1/auth/two-factor/confirm":
		e.enrol(t, s)
		e.wantStage(t, token, skjold.StageActive)
	default:
		t.Errorf("%s is open in stage %s, and nothing here checks what it does there", pattern, st)
	}
}

// TestCookieSessions checks a browser's session: a cookie alone reads, but every request that
// may change something also needs the session's CSRF token.
func TestCookieSessions(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	c := e.cookieLogin(t, s)
	other := e.cookieLogin(t, s)
	e.send(t, "GET", "/api/v1/subjects", c.header(false), nil).want(t, 200)
	e.send(t, "GET", "/api/v1/auth/session", c.header(false), nil).want(t, 200)

	for _, rt := range testRoutes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if rt.perm.public || method == "GET" {
			continue
		}
		path = strings.NewReplacer("{id}", missingID, "{name}", "contact").Replace(path)
		for name, h := range map[string]http.Header{
			"no CSRF token":                 c.header(false),
			"a wrong CSRF token":            {"Cookie": {sessionCookie + "=" + c.secret}, csrfHeader: {c.csrf + "x"}},
			"another session's CSRF token":  {"Cookie": {sessionCookie + "=" + c.secret}, csrfHeader: {other.csrf}},
			"the CSRF token without cookie": {csrfHeader: {c.csrf}},
		} {
			want := 403
			if name == "the CSRF token without cookie" {
				want = 401
			}
			h.Set("Content-Type", "application/json")
			e.unchanged(t, func() {
				if r := e.send(t, method, path, h, []byte(`{}`)); r.status != want {
					t.Errorf("%s %s with %s: %d %s, want %d", method, path, name, r.status, r.body, want)
				}
			})
		}
	}

	h := c.header(true)
	h.Set("Content-Type", "application/json")
	e.send(t, "POST", "/api/v1/subjects", h, []byte(`{"name":"Bo"}`)).want(t, 201)

	// A session token is a bearer token: as a cookie it is refused, CSRF token or not.
	token := http.Header{"Cookie": {sessionCookie + "=" + s.session}}
	e.send(t, "GET", "/api/v1/subjects", token, nil).wantError(t, 401, skjold.EUNAUTHORIZED)

	r := e.send(t, "POST", "/api/v1/auth/logout", c.header(true), nil).want(t, 204)
	resp := http.Response{Header: r.header}
	if cks := resp.Cookies(); len(cks) != 1 || cks[0].Name != sessionCookie || cks[0].Value != "" || cks[0].MaxAge >= 0 {
		t.Errorf("logout set cookies %v, want the session cookie cleared", cks)
	}
	e.send(t, "GET", "/api/v1/subjects", c.header(false), nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.send(t, "GET", "/api/v1/subjects", other.header(false), nil).want(t, 200)
}
