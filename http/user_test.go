package http

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/skjold-project/skjold"
)

// staff is a person with an account, as the tests drive it through the API.
type staff struct {
	user     *skjold.User
	password string   // the current password (the one-time password until it is changed)
	session  string   // a bearer session token, in stage active once activated
	secret   string   // the TOTP secret, once enrolled
	recovery []string // recovery codes not used yet
}

var staffSeq atomic.Int64

// pendingStaff creates a user of tenantID ("" for operator staff) through the store, as the
// tenant's owner (or, for operator staff, an operator owner) would; the user has only its
// one-time password, and a tenant's user waits for its address to be confirmed.
func (e *env) pendingStaff(t *testing.T, tenantID, role, profile string) *staff {
	t.Helper()
	n := staffSeq.Add(1)
	u := &skjold.User{TenantID: tenantID, Email: fmt.Sprintf("%s-%d@staff.example", role, n), Name: fmt.Sprintf("Person %d", n),
		Role: role, Profile: profile}
	ctx := operatorContext()
	if tenantID != "" { // operators onboard only a tenant's first user; its owner adds the rest
		ctx = skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "user:tenant-owner",
			TenantID: tenantID, Role: skjold.RoleOwner, Scopes: skjold.RoleScopes(false, skjold.RoleOwner)})
	}
	otp, err := e.db.CreateUser(ctx, u)
	if err != nil {
		t.Fatalf("create %s: %v", role, err)
	}
	return &staff{user: u, password: otp}
}

// newStaff creates a user as pendingStaff does, and confirms its address if it is pending.
func (e *env) newStaff(t *testing.T, tenantID, role, profile string) *staff {
	t.Helper()
	s := e.pendingStaff(t, tenantID, role, profile)
	if s.user.Pending {
		e.confirmEmail(t, s)
	}
	return s
}

// confirmEmail takes a pending account through its address's confirmation, as its person
// would: a login with the one-time password, the code from the e-mail, a logout.
func (e *env) confirmEmail(t *testing.T, s *staff) {
	t.Helper()
	tok, stage := e.login(t, s.user.Email, s.password, "")
	if stage != skjold.StageConfirmEmail {
		t.Fatalf("a pending account logs in to stage %s, want %s", stage, skjold.StageConfirmEmail)
	}
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": e.requestCode(t, s.user.Email)}).want(t, 204)
	e.do(t, tok, "POST", "/api/v1/auth/logout", nil).want(t, 204)
	s.user.Pending = false
}

// activeStaff creates a user and takes it through its first login over the API: the
// one-time password is changed, and a second factor enrolled where the role needs one.
func (e *env) activeStaff(t *testing.T, tenantID, role, profile string) *staff {
	t.Helper()
	s := e.newStaff(t, tenantID, role, profile)
	var stage string
	s.session, stage = e.login(t, s.user.Email, s.password, "")
	if stage != skjold.StageChangePassword {
		t.Fatalf("a new %s logs in to stage %s, want %s", role, stage, skjold.StageChangePassword)
	}
	e.changePassword(t, s)
	if skjold.NeedsTwoFactor(role, s.user.Scopes) {
		e.wantStage(t, s.session, skjold.StageEnrolTwoFactor)
		e.enrol(t, s)
	}
	e.wantStage(t, s.session, skjold.StageActive)
	return s
}

// newPassword returns a fresh password that any policy here accepts.
func newPassword() string {
	// Letters only: a run of digits could match the number in a person's name ("Person
	// 234"), which the policy refuses as personal.
	letters := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, rand.Text()+rand.Text())
	return "pw-" + letters[:20] + "-7x"
}

// changePassword replaces s's password with a fresh one through s's session.
func (e *env) changePassword(t *testing.T, s *staff) {
	t.Helper()
	pw := newPassword()
	e.do(t, s.session, "POST", "/api/v1/auth/password", map[string]string{"old_password": s.password, "new_password": pw}).
		want(t, 204)
	s.password = pw
}

// enrol enrols a TOTP second factor for s through s's session.
func (e *env) enrol(t *testing.T, s *staff) {
	t.Helper()
	var begin struct {
		Secret string `json:"secret"`
	}
	e.do(t, s.session, "POST", "/api/v1/auth/two-factor", nil).want(t, 200).decode(t, &begin)
	var confirm struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	e.do(t, s.session, "POST", "/api/v1/auth/two-factor/confirm", map[string]string{"code": e.code(t, begin.Secret)}).
		want(t, 200).decode(t, &confirm)
	if len(confirm.RecoveryCodes) != 10 {
		t.Fatalf("enrolment gave %d recovery codes, want 10", len(confirm.RecoveryCodes))
	}
	s.secret, s.recovery = begin.Secret, confirm.RecoveryCodes
}

// code returns the TOTP code of secret at the store's time.
func (e *env) code(t *testing.T, secret string) string {
	t.Helper()
	c, err := pqtotp.GenerateCode(secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// freshCode moves the clock on by a TOTP time step and returns the code of the new step:
// each step's code is accepted once.
func (e *env) freshCode(t *testing.T, secret string) string {
	t.Helper()
	e.clock.Advance(30 * time.Second)
	return e.code(t, secret)
}

// createProfile stores a custom profile of a tenant, beside the store and its routes (which
// TestProfiles tries), so that callers of every kind can be made before any route is called.
func (e *env) createProfile(t *testing.T, tenantID, name, scopes string) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+e.dbPath+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("INSERT INTO profiles (tenant_id, name, scopes) VALUES (?, ?, ?)", tenantID, name, scopes); err != nil {
		t.Fatal(err)
	}
}

// TestSuspension suspends a user through the API: its sessions, cookie or token, and the API
// tokens it made stop working at once, and it cannot log in until resumed.
func TestSuspension(t *testing.T) {
	e := newEnv(t)
	owner := e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	cookie := e.cookieLogin(t, agent)
	tok := e.createToken(t, admin.session, "admin's script", skjold.ScopeRead)
	e.do(t, tok.Secret, "GET", "/api/v1/subjects", nil).want(t, 200)

	// Refused: by an agent, of oneself, and of someone above one's own rank.
	e.do(t, agent.session, "POST", "/api/v1/users/"+admin.user.ID+"/suspend", nil).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, admin.session, "POST", "/api/v1/users/"+admin.user.ID+"/suspend", nil).wantError(t, 400, skjold.EINVALID)
	e.do(t, admin.session, "POST", "/api/v1/users/"+owner.user.ID+"/suspend", nil).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, owner.session, "GET", "/api/v1/auth/session", nil).want(t, 200)

	e.do(t, admin.session, "POST", "/api/v1/users/"+agent.user.ID+"/suspend", nil).want(t, 204)
	e.do(t, agent.session, "GET", "/api/v1/auth/session", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.send(t, "GET", "/api/v1/auth/session", cookie.header(false), nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	// The right password of a suspended account answers exactly as a wrong one.
	right := e.loginReply(t, agent.user.Email, agent.password, "")
	right.wantError(t, 401, skjold.EUNAUTHORIZED)
	if wrong := e.loginReply(t, agent.user.Email, "not-the-Password-1", ""); !bytes.Equal(right.body, wrong.body) {
		t.Errorf("suspended account: right password answers %s, wrong one %s", right.body, wrong.body)
	}
	var u skjold.User
	e.do(t, admin.session, "GET", "/api/v1/users/"+agent.user.ID, nil).want(t, 200).decode(t, &u)
	if !u.Suspended {
		t.Errorf("the suspended user reads as %+v", u)
	}

	e.do(t, owner.session, "POST", "/api/v1/users/"+admin.user.ID+"/suspend", nil).want(t, 204)
	e.do(t, admin.session, "GET", "/api/v1/auth/session", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.do(t, tok.Secret, "GET", "/api/v1/subjects", nil).wantError(t, 401, skjold.EUNAUTHORIZED)

	// Resumed, the user logs in again; what suspension ended stays ended.
	e.do(t, owner.session, "POST", "/api/v1/users/"+agent.user.ID+"/resume", nil).want(t, 204)
	e.login(t, agent.user.Email, agent.password, "")
	e.do(t, agent.session, "GET", "/api/v1/auth/session", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.do(t, owner.session, "POST", "/api/v1/users/"+admin.user.ID+"/resume", nil).want(t, 204)
	e.do(t, tok.Secret, "GET", "/api/v1/subjects", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
}

// cookieSession is a browser's session: its cookie and CSRF token.
type cookieSession struct {
	id, secret, csrf string
}

// header returns the headers of a browser request with the session cookie, and the CSRF
// token when withCSRF.
func (c cookieSession) header(withCSRF bool) http.Header {
	h := http.Header{"Cookie": {sessionCookie + "=" + c.secret}}
	if withCSRF {
		h.Set(csrfHeader, c.csrf)
	}
	return h
}

// cookieLogin logs s in as a browser does and checks the cookie's attributes.
func (e *env) cookieLogin(t *testing.T, s *staff) cookieSession {
	t.Helper()
	r := e.do(t, "", "POST", "/api/v1/auth/login", map[string]string{"email": s.user.Email, "password": s.password,
		"session": skjold.SessionCookie}).want(t, 200)
	var body struct {
		Session skjold.Session `json:"session"`
		Token   string         `json:"token"`
		CSRF    string         `json:"csrf_token"`
	}
	r.decode(t, &body)
	resp := http.Response{Header: r.header}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			ck = c
		}
	}
	switch {
	case ck == nil:
		t.Fatalf("cookie login set no %s cookie: %v", sessionCookie, r.header)
	case !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/":
		t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/", ck)
	case body.Token != "" || body.CSRF == "" || body.Session.ID == "":
		t.Errorf("cookie login body: token %q, csrf %q, session %q", body.Token, body.CSRF, body.Session.ID)
	}
	return cookieSession{id: body.Session.ID, secret: ck.Value, csrf: body.CSRF}
}
