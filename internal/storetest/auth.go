package storetest

import (
	"context"
	"errors"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/skjold-project/skjold"
)

// Passwords that every default policy accepts.
const (
	goodPassword  = "violet-Harbour-crane-47"
	goodPassword2 = "amber-Tractor-lagoon-93"
	goodPassword3 = "quiet-Meadow-falcon-58"
)

// staff returns the context of the operator's owner, who may manage every account.
func (e *env) staff() context.Context {
	return skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{Actor: "user:owner", Operator: true,
		Source: "127.0.0.1", Role: skjold.RoleOwner, Scopes: skjold.RoleScopes(true, skjold.RoleOwner)})
}

// tenantOwner returns the context of a tenant's owner, who may manage all its accounts.
func (e *env) tenantOwner(tenantID string) context.Context {
	return skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{Actor: "user:tenant-owner", TenantID: tenantID,
		Source: "127.0.0.1", Role: skjold.RoleOwner, Scopes: skjold.RoleScopes(false, skjold.RoleOwner)})
}

// anon is the context of a request before login, from one address.
func (e *env) anon() context.Context {
	return skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{Actor: "anonymous", Source: "192.0.2.7"})
}

// newUser creates a user and returns it with its one-time password. For a tenant's account
// the operator's owner (e.staff) hands over to the tenant's own owner: operators create only
// a tenant's first user.
func (e *env) newUser(ctx context.Context, u *skjold.User) (*skjold.User, string) {
	e.t.Helper()
	if c := skjold.CallerFromContext(ctx); c.Actor == "user:owner" && u.TenantID != "" {
		ctx = e.tenantOwner(u.TenantID)
	}
	pw, err := e.db.CreateUser(ctx, u)
	if err != nil {
		e.t.Fatalf("CreateUser(%s): %v", u.Role, err)
	}
	if u.Pending {
		e.confirmEmail(u, pw)
	}
	return u, pw
}

// confirmEmail confirms a pending account's address as its person would: a login with the
// one-time password, the code from the e-mail, a logout.
func (e *env) confirmEmail(u *skjold.User, otp string) {
	e.t.Helper()
	id, uctx := e.login(u.Email, otp, "")
	if id.Stage != skjold.StageConfirmEmail {
		e.t.Fatalf("a pending account logs in to stage %s", id.Stage)
	}
	must(e.t, e.db.ConfirmEmail(uctx, e.requestCode(u.Email)))
	must(e.t, e.db.Logout(uctx))
	u.Pending = false
}

// login logs in and returns the identity with a context acting as it.
func (e *env) login(email, password, code string) (*skjold.Identity, context.Context) {
	e.t.Helper()
	_, id, err := e.db.Login(e.anon(), skjold.Login{Email: email, Password: password, Code: code, Kind: skjold.SessionToken})
	if err != nil {
		e.t.Fatalf("Login: %v", err)
	}
	return id, e.userCtx(id)
}

func (e *env) userCtx(id *skjold.Identity) context.Context {
	u := id.User
	return skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{Actor: "user:" + u.ID, TenantID: u.TenantID,
		Operator: u.Operator(), Scopes: u.Scopes, Source: "192.0.2.7", UserID: u.ID, Role: u.Role, SessionID: id.Session.ID})
}

// stageOf re-authenticates a session secret and returns its stage.
func (e *env) stageOf(secret string) string {
	e.t.Helper()
	id, err := e.db.AuthenticateSession(e.t.Context(), secret)
	if err != nil {
		e.t.Fatalf("AuthenticateSession: %v", err)
	}
	return id.Stage
}

// activeUser creates a user and takes it through its first login: password changed to
// goodPassword, and a second factor enrolled when the role needs one. It returns the TOTP
// secret ("" without) and the recovery codes.
func (e *env) activeUser(ctx context.Context, u *skjold.User) (secret string, codes []string) {
	e.t.Helper()
	_, otp := e.newUser(ctx, u)
	id, uctx := e.login(u.Email, otp, "")
	must(e.t, e.db.ChangePassword(uctx, otp, goodPassword))
	if e.stageOf(id.Session.Secret) == skjold.StageEnrolTwoFactor {
		enr, err := e.db.BeginTwoFactor(uctx)
		must(e.t, err)
		codes, err = e.db.ConfirmTwoFactor(uctx, e.code(enr.Secret))
		must(e.t, err)
		secret = enr.Secret
		e.secrets[u.Email] = secret
	}
	if st := e.stageOf(id.Session.Secret); st != skjold.StageActive {
		e.t.Fatalf("after the first login, stage = %s", st)
	}
	return secret, codes
}

// code returns the TOTP code of secret now, by the test clock.
func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := totp.GenerateCode(secret, e.clock.Now())
	must(e.t, err)
	return c
}

// TestAuth checks the skjold.AuthService: accounts and the hierarchy, first login,
// passwords, lockout, second factor, idle lock, reset by e-mail and suspension.
func TestAuth(t *testing.T, h Harness) {
	t.Run("UsersAndHierarchy", func(t *testing.T) { testUsers(t, newEnv(t, h)) })
	t.Run("FirstLogin", func(t *testing.T) { testFirstLogin(t, newEnv(t, h)) })
	t.Run("Lockout", func(t *testing.T) { testLockout(t, newEnv(t, h)) })
	t.Run("PasswordPolicyAndHistory", func(t *testing.T) { testPasswordPolicy(t, newEnv(t, h)) })
	t.Run("SecondFactor", func(t *testing.T) { testSecondFactor(t, newEnv(t, h)) })
	t.Run("IdleLockAndLifetime", func(t *testing.T) { testIdleLock(t, newEnv(t, h)) })
	t.Run("Reset", func(t *testing.T) { testReset(t, newEnv(t, h)) })
	t.Run("Suspension", func(t *testing.T) { testSuspension(t, newEnv(t, h)) })
	t.Run("Offboarding", func(t *testing.T) { testOffboarding(t, newEnv(t, h)) })
	t.Run("ReviewFixes", func(t *testing.T) { testReviewFixes(t, newEnv(t, h)) })
	t.Run("CodeGuessing", func(t *testing.T) { testCodeGuessing(t, newEnv(t, h)) })
	t.Run("ConcurrentEnumeration", func(t *testing.T) { testConcurrentEnumeration(t, newEnv(t, h)) })
	t.Run("SuspendedPassword", func(t *testing.T) { testSuspendedPassword(t, newEnv(t, h)) })
	t.Run("OnboardingBeforeData", func(t *testing.T) { testOnboardingBeforeData(t, newEnv(t, h)) })
	t.Run("PendingAccounts", func(t *testing.T) { testPendingAccounts(t, newEnv(t, h)) })
}

// testPendingAccounts: an account a tenant's admin creates waits for its address to be
// confirmed with a mailed code; an address with an account in another tenant is created
// alike, and the clash shows only at the confirmation, to the code's holder.
func testPendingAccounts(t *testing.T, e *env) {
	a, b := e.newTenant("Fjord Travel AS"), e.newTenant("Vistula Clinic")
	inB := &skjold.User{TenantID: b.ID, Email: "kari@fjord.example", Name: "Kari", Role: skjold.RoleAgent}
	e.activeUser(e.staff(), inB)
	actx := e.tenantOwner(a.ID)
	twin := &skjold.User{Email: "KARI@fjord.example", Name: "Kari", Role: skjold.RoleAgent}
	otp, err := e.db.CreateUser(actx, twin)
	must(t, err)
	if !twin.Pending || twin.Email != inB.Email {
		t.Fatalf("created %+v", twin)
	}
	_, err = e.db.CreateUser(actx, &skjold.User{Email: "kari@fjord.example", Name: "Kari", Role: skjold.RoleAgent})
	wantCode(t, err, skjold.ECONFLICT) // twice in one tenant
	listed, err := e.db.FindUserByID(actx, twin.ID)
	must(t, err)
	if !listed.Pending || listed.Email != inB.Email {
		t.Errorf("the pending account reads as %+v", listed)
	}

	// The one-time password leads to the confirmation only; the password leads to B's account.
	id, uctx := e.login(inB.Email, otp, "")
	if id.Stage != skjold.StageConfirmEmail || id.User.ID != twin.ID {
		t.Fatalf("login with the one-time password: stage %s, user %s", id.Stage, id.User.ID)
	}
	code := e.requestCode(inB.Email)
	wantCode(t, e.db.ConfirmEmail(uctx, "12"), skjold.EINVALID)
	wantCode(t, e.db.ConfirmEmail(uctx, code), skjold.ECONFLICT)
	wantCode(t, e.db.ConfirmEmail(uctx, code), skjold.EINVALID) // the code is spent
	if st := e.stageOf(id.Session.Secret); st != skjold.StageConfirmEmail {
		t.Errorf("after the clash, stage %s", st)
	}
	bid, _ := e.login(inB.Email, goodPassword, "")
	if bid.User.ID != inB.ID {
		t.Errorf("B's person logs in as %s", bid.User.ID)
	}
	events, err := e.db.FindAuditEvents(actx, skjold.AuditFilter{Limit: 500})
	must(t, err)
	for _, ev := range events {
		if ev.Action == "user.email_taken" {
			t.Errorf("tenant A's log tells of the clash: %+v", ev)
		}
	}

	// A fresh address confirms, with the newest code only.
	fresh := &skjold.User{Email: "ola@fjord.example", Name: "Ola", Role: skjold.RoleAgent}
	otp, err = e.db.CreateUser(actx, fresh)
	must(t, err)
	id, uctx = e.login(fresh.Email, otp, "")
	first := e.requestCode(fresh.Email)
	must(t, e.db.SendEmailConfirmation(uctx))
	second := e.requestCode(fresh.Email)
	if first != second {
		wantCode(t, e.db.ConfirmEmail(uctx, first), skjold.EINVALID)
	}
	must(t, e.db.ConfirmEmail(uctx, second))
	if st := e.stageOf(id.Session.Secret); st != skjold.StageChangePassword {
		t.Errorf("after the confirmation, stage %s", st)
	}
	wantCode(t, e.db.ConfirmEmail(uctx, second), skjold.ECONFLICT) // nothing left to confirm
}

func testUsers(t *testing.T, e *env) {
	a, b := e.newTenant("Fjord Travel AS"), e.newTenant("Vistula Clinic")
	admin := &skjold.User{TenantID: a.ID, Email: "Admin@Fjord.example", Name: "Ada", Role: skjold.RoleAdmin}
	e.activeUser(e.staff(), admin)
	if admin.Email != "admin@fjord.example" {
		t.Errorf("e-mail stored as %q, want it normalised", admin.Email)
	}
	_, _, err := e.db.Login(e.anon(), skjold.Login{Email: "ADMIN@fjord.example", Password: goodPassword})
	must(t, err)                  // addresses compare without case
	e.clock.Add(30 * time.Second) // each TOTP step's code is accepted once
	_, actx := e.login(admin.Email, goodPassword, e.code(mustSecret(t, e, admin)))

	// A tenant admin creates agents of its own tenant, whatever tenant it names.
	agent, _ := e.newUser(actx, &skjold.User{TenantID: b.ID, Email: "agent@fjord.example", Name: "Agnes", Role: skjold.RoleAgent})
	if agent.TenantID != a.ID {
		t.Errorf("a tenant admin created a user in tenant %s", agent.TenantID)
	}
	// …but not an owner, above its own rank, nor an address already taken (in any case).
	_, err = e.db.CreateUser(actx, &skjold.User{Email: "boss@fjord.example", Name: "Bo", Role: skjold.RoleOwner})
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.CreateUser(actx, &skjold.User{Email: "AGENT@fjord.example", Name: "Twin", Role: skjold.RoleAgent})
	wantCode(t, err, skjold.ECONFLICT)
	// An admin cannot mint a second admin account to approve its own requests, and operator
	// staff, having onboarded the tenant's first user, manage none of its people.
	_, err = e.db.CreateUser(actx, &skjold.User{Email: "deputy@fjord.example", Name: "Dep", Role: skjold.RoleAdmin})
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.CreateUser(e.staff(), &skjold.User{TenantID: a.ID, Email: "spy@op.example", Name: "Spy", Role: skjold.RoleOwner})
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.FindUserByID(e.staff(), admin.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.CreateUser(actx, &skjold.User{Email: "support@fjord.example", Name: "S", Role: skjold.RoleSupport})
	wantCode(t, err, skjold.EINVALID) // an operator role in a tenant

	users, err := e.db.FindUsers(actx, skjold.Page{})
	must(t, err)
	if len(users) != 2 {
		t.Errorf("tenant A lists %d users, want its admin and agent", len(users))
	}
	// Tenant B's admin sees none of A's users and cannot change them.
	bAdmin := &skjold.User{TenantID: b.ID, Email: "admin@vistula.example", Name: "Bea", Role: skjold.RoleAdmin}
	e.activeUser(e.staff(), bAdmin)
	e.clock.Add(30 * time.Second)
	_, bctx := e.login(bAdmin.Email, goodPassword, e.code(mustSecret(t, e, bAdmin)))
	_, err = e.db.FindUserByID(bctx, agent.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	name := "Mallory"
	_, err = e.db.UpdateUser(bctx, agent.ID, skjold.UserUpdate{Name: &name})
	wantCode(t, err, skjold.ENOTFOUND)
	wantCode(t, e.db.SuspendUser(bctx, agent.ID, true), skjold.ENOTFOUND)

	// Elevation above one's own rank is refused; a custom profile takes its scopes.
	owner := skjold.RoleOwner
	_, err = e.db.UpdateUser(actx, agent.ID, skjold.UserUpdate{Role: &owner})
	wantCode(t, err, skjold.EINVALID)
	e.rawExec(e.raw(), "INSERT INTO profiles (tenant_id, name, scopes) VALUES (?, ?, ?)", a.ID, "exporter", "read,export")
	custom, profile := skjold.RoleCustom, "exporter"
	got, err := e.db.UpdateUser(actx, agent.ID, skjold.UserUpdate{Role: &custom, Profile: &profile})
	must(t, err)
	if strings.Join(got.Scopes, ",") != "read,export" {
		t.Errorf("custom profile scopes = %v", got.Scopes)
	}
}

// mustSecret returns the TOTP secret that activeUser enrolled for u.
func mustSecret(t *testing.T, e *env, u *skjold.User) string {
	t.Helper()
	s, ok := e.secrets[u.Email]
	if !ok {
		t.Fatalf("no TOTP secret kept for %s", u.Email)
	}
	return s
}

func testFirstLogin(t *testing.T, e *env) {
	u, otp := e.newUser(e.staff(), &skjold.User{Email: "owner@op.example", Name: "Olav", Role: skjold.RoleOwner})
	if !u.MustChangePassword || len(otp) < 16 {
		t.Fatalf("new user: must change = %v, one-time password of %d characters", u.MustChangePassword, len(otp))
	}
	id, uctx := e.login(u.Email, otp, "")
	if id.Stage != skjold.StageChangePassword {
		t.Fatalf("first login stage = %s, want change_password", id.Stage)
	}
	err := e.db.ChangePassword(uctx, "wrong-Password-12", goodPassword)
	wantCode(t, err, skjold.EUNAUTHORIZED)
	must(t, e.db.ChangePassword(uctx, otp, goodPassword))
	if st := e.stageOf(id.Session.Secret); st != skjold.StageEnrolTwoFactor {
		t.Fatalf("an owner without a second factor is in stage %s, want enrol_two_factor", st)
	}
	enr, err := e.db.BeginTwoFactor(uctx)
	must(t, err)
	if !strings.HasPrefix(enr.URI, "otpauth://totp/") || len(enr.QRPNG) == 0 {
		t.Errorf("enrolment = %q with %d bytes of PNG", enr.URI, len(enr.QRPNG))
	}
	_, err = e.db.ConfirmTwoFactor(uctx, "000000")
	wantCode(t, err, skjold.EUNAUTHORIZED)
	codes, err := e.db.ConfirmTwoFactor(uctx, e.code(enr.Secret))
	must(t, err)
	if len(codes) != 10 {
		t.Errorf("%d recovery codes, want 10", len(codes))
	}
	if st := e.stageOf(id.Session.Secret); st != skjold.StageActive {
		t.Errorf("after enrolment stage = %s, want active", st)
	}
	_, err = e.db.BeginTwoFactor(uctx)
	wantCode(t, err, skjold.ECONFLICT)
	// The one-time password no longer works; the sealed secret is not stored in clear.
	_, _, err = e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: otp})
	wantCode(t, err, skjold.EUNAUTHORIZED)
	e.noPlaintext(t, enr.Secret, otp, goodPassword)
}

func testLockout(t *testing.T, e *env) {
	u := &skjold.User{Email: "agent@op.example", Name: "Agnes", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), u)
	_, _, unknown := e.db.Login(e.anon(), skjold.Login{Email: "nobody@op.example", Password: goodPassword})
	_, _, wrong := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: "not-the-Password-1"})
	if skjold.ErrorCode(unknown) != skjold.EUNAUTHORIZED || skjold.ErrorMessage(unknown) != skjold.ErrorMessage(wrong) {
		t.Fatalf("unknown address answers %v, wrong password %v: they must be identical", unknown, wrong)
	}
	for range 3 {
		_, _, err := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: "not-the-Password-1"})
		wantCode(t, err, skjold.EUNAUTHORIZED)
	}
	_, _, err := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: "not-the-Password-1"})
	wantCode(t, err, skjold.EUNAUTHORIZED) // the fifth failure locks
	_, _, err = e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: goodPassword})
	wantCode(t, err, skjold.ETOOMANY) // even the right password waits
	// An unknown address locks out the same way, so that 429 tells nothing about accounts.
	for i := range 5 {
		_, _, err := e.db.Login(e.anon(), skjold.Login{Email: "nobody@op.example", Password: "not-the-Password-1"})
		if want := skjold.EUNAUTHORIZED; i < 4 && skjold.ErrorCode(err) != want {
			t.Fatalf("unknown address, failure %d: %v", i+2, err)
		}
	}
	_, _, err = e.db.Login(e.anon(), skjold.Login{Email: "nobody@op.example", Password: goodPassword})
	wantCode(t, err, skjold.ETOOMANY)
	e.clock.Add(skjold.LockoutDelay(5) + time.Second)
	e.login(u.Email, goodPassword, "")
	if n := e.countActions("auth.lockout"); n != 1 {
		t.Errorf("%d lockout events, want 1", n)
	}
	if n := e.countActions("auth.login_failed"); n != 10 {
		t.Errorf("%d failed-login events, want 10 (5 for the account, 5 for the unknown address)", n)
	}
}

// countActions counts audit events with this action.
func (e *env) countActions(action string) int {
	n := 0
	for _, ev := range e.events(0) {
		if ev.Action == action {
			n++
		}
	}
	return n
}

func testPasswordPolicy(t *testing.T, e *env) {
	u := &skjold.User{Email: "karin.nordmann@op.example", Name: "Karin Nordmann", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), u)
	id, uctx := e.login(u.Email, goodPassword, "")
	for _, c := range []struct{ pw, rule string }{
		{"Short-1a", "length"},
		{"alllowercaseletterswithoutanything", "classes"},
		{"Password123!", "common"},
		{"Nordmann-Karin-2025!", "personal"},
		{goodPassword, "history"},
	} {
		err := e.db.ChangePassword(uctx, goodPassword, c.pw)
		var de *skjold.Error
		if !asError(err, &de) || de.Rule != c.rule || strings.Contains(de.Message, c.pw) {
			t.Errorf("ChangePassword(%q) = %v, want rule %s without the password in the message", c.pw, err, c.rule)
		}
	}
	must(t, e.db.ChangePassword(uctx, goodPassword, goodPassword2))
	must(t, e.db.ChangePassword(uctx, goodPassword2, goodPassword3))
	var de *skjold.Error
	if err := e.db.ChangePassword(uctx, goodPassword3, goodPassword); !asError(err, &de) || de.Rule != "history" {
		t.Errorf("reusing the password before last: %v, want rule history", err)
	}
	// Expiry: after max_age_days the session can only change its password.
	e.clock.Add(91 * 24 * time.Hour)
	id, _ = e.login(u.Email, goodPassword3, "")
	if id.Stage != skjold.StageChangePassword {
		t.Errorf("expired password: stage %s, want change_password", id.Stage)
	}
	// A tenant that follows NIST SP 800-63B turns expiry off.
	set, err := e.db.SessionSettings(e.staff())
	must(t, err)
	set.Password.MaxAgeDays = 0
	must(t, e.db.PutSessionSettings(e.staff(), set))
	if id, _ = e.login(u.Email, goodPassword3, ""); id.Stage != skjold.StageActive {
		t.Errorf("without expiry: stage %s, want active", id.Stage)
	}
	set.Password.MinLength = 7
	wantCode(t, e.db.PutSessionSettings(e.staff(), set), skjold.EINVALID)
}

func testSecondFactor(t *testing.T, e *env) {
	u := &skjold.User{Email: "admin@op.example", Name: "Ada", Role: skjold.RoleAdmin}
	secret, codes := e.activeUser(e.staff(), u)
	id, uctx := e.login(u.Email, goodPassword, "")
	if id.Stage != skjold.StageSecondFactor {
		t.Fatalf("login without a code: stage %s, want second_factor", id.Stage)
	}
	wantCode(t, e.db.SecondFactor(uctx, "123456"), skjold.EUNAUTHORIZED)
	e.clock.Add(30 * time.Second) // the enrolment used this step's code
	code := e.code(secret)
	must(t, e.db.SecondFactor(uctx, code))
	if st := e.stageOf(id.Session.Secret); st != skjold.StageActive {
		t.Errorf("after the code: stage %s", st)
	}
	// The same code, replayed in another login, is refused; a recovery code works once.
	_, _, err := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: goodPassword, Code: code})
	wantCode(t, err, skjold.EUNAUTHORIZED)
	e.login(u.Email, goodPassword, strings.ToUpper(codes[0]))
	_, _, err = e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: goodPassword, Code: codes[0]})
	wantCode(t, err, skjold.EUNAUTHORIZED)
	if e.countActions("auth.recovery_code_used") != 1 {
		t.Error("the recovery code's use is not audited")
	}
}

func testIdleLock(t *testing.T, e *env) {
	u := &skjold.User{Email: "agent@op.example", Name: "Agnes", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), u)
	id, uctx := e.login(u.Email, goodPassword, "")
	e.clock.Add(14 * time.Minute)
	if st := e.stageOf(id.Session.Secret); st != skjold.StageActive {
		t.Fatalf("after 14 idle minutes: %s", st)
	}
	e.clock.Add(15*time.Minute + time.Second)
	if st := e.stageOf(id.Session.Secret); st != skjold.StageLocked {
		t.Fatalf("after 15 idle minutes: %s, want locked", st)
	}
	wantCode(t, e.db.Unlock(uctx, "not-the-Password-1"), skjold.EUNAUTHORIZED)
	must(t, e.db.Unlock(uctx, goodPassword))
	if st := e.stageOf(id.Session.Secret); st != skjold.StageActive {
		t.Errorf("after unlocking: %s", st)
	}
	// The absolute lifetime ends the session however busy it is.
	for range 12 * 4 {
		e.clock.Add(15 * time.Minute)
		if _, err := e.db.AuthenticateSession(t.Context(), id.Session.Secret); err != nil {
			return // ended within the lifetime
		}
	}
	t.Errorf("a session token lived past %d hours", 12)
}

func testReset(t *testing.T, e *env) {
	u := &skjold.User{Email: "agent@op.example", Name: "Agnes", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), u)
	id, _ := e.login(u.Email, goodPassword, "")
	must(t, e.db.RequestReset(e.anon(), "nobody@op.example"))
	must(t, e.db.RequestReset(e.anon(), "AGENT@op.example"))
	wantCode(t, e.db.RequestReset(e.anon(), "not an address"), skjold.EINVALID)
	token := e.resetToken(u.Email)
	wantCode(t, e.db.CompleteReset(e.anon(), token, "Password123!"), skjold.EINVALID)
	must(t, e.db.CompleteReset(e.anon(), token, goodPassword2))
	if _, err := e.db.AuthenticateSession(t.Context(), id.Session.Secret); err == nil {
		t.Error("a session outlived the password reset")
	}
	wantCode(t, e.db.CompleteReset(e.anon(), token, goodPassword3), skjold.EUNAUTHORIZED) // single use
	e.login(u.Email, goodPassword2, "")

	// A link expires after 30 minutes, and resets are capped per hour.
	must(t, e.db.RequestReset(e.anon(), u.Email))
	token = e.resetToken(u.Email)
	e.clock.Add(31 * time.Minute)
	wantCode(t, e.db.CompleteReset(e.anon(), token, goodPassword3), skjold.EUNAUTHORIZED)
	e.noPlaintext(t, token)
}

// resetToken waits for the reset e-mail to u in the outbox, removes it, and returns the
// token in its link.
func (e *env) resetToken(email string) string {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
		if len(files) > 1 {
			e.t.Fatalf("%d e-mails in the outbox, want one", len(files))
		}
		if len(files) == 1 {
			raw, err := os.ReadFile(files[0])
			must(e.t, err)
			os.Remove(files[0])
			head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
			if !strings.Contains(head, "To: "+email) {
				e.t.Fatalf("reset e-mail headers %q, want To: %s", head, email)
			}
			plain, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
			must(e.t, err)
			_, after, ok := strings.Cut(string(plain), "#token=")
			if !ok {
				e.t.Fatalf("no reset link in %q", plain)
			}
			return strings.Fields(after)[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("no reset e-mail within 10 s")
	return ""
}

func testSuspension(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	admin := &skjold.User{TenantID: a.ID, Email: "admin@fjord.example", Name: "Ada", Role: skjold.RoleAdmin}
	e.activeUser(e.staff(), admin)
	e.clock.Add(30 * time.Second)
	_, actx := e.login(admin.Email, goodPassword, e.code(mustSecret(t, e, admin)))
	agent := &skjold.User{TenantID: a.ID, Email: "agent@fjord.example", Name: "Agnes", Role: skjold.RoleAgent}
	e.activeUser(actx, agent)
	id, gctx := e.login(agent.Email, goodPassword, "")
	tok := &skjold.Token{TenantID: a.ID, Name: "agent's script", Scopes: []string{skjold.ScopeRead}}
	must(t, e.db.CreateToken(gctx, tok))

	must(t, e.db.SuspendUser(actx, agent.ID, true))
	if _, err := e.db.AuthenticateSession(t.Context(), id.Session.Secret); err == nil {
		t.Error("the suspended user's session still works")
	}
	if _, err := e.db.Authenticate(t.Context(), tok.Secret); err == nil {
		t.Error("the suspended user's API token still works")
	}
	_, _, err := e.db.Login(e.anon(), skjold.Login{Email: agent.Email, Password: goodPassword})
	wantCode(t, err, skjold.EUNAUTHORIZED) // as a wrong password: see testSuspendedPassword
	must(t, e.db.SuspendUser(actx, agent.ID, false))
	e.login(agent.Email, goodPassword, "")
	if _, err := e.db.Authenticate(t.Context(), tok.Secret); err == nil {
		t.Error("resuming a user brought its revoked token back")
	}
}

func asError(err error, target **skjold.Error) bool { return errors.As(err, target) }

func testOffboarding(t *testing.T, e *env) {
	leaving := &skjold.User{Email: "leaving@op.example", Name: "Lars", Role: skjold.RoleSupport}
	staying := &skjold.User{Email: "staying@op.example", Name: "Stine", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), leaving)
	e.activeUser(e.staff(), staying)
	id, _ := e.login(leaving.Email, goodPassword, "")
	end := e.clock.Now().Add(2 * time.Hour)
	_, err := e.db.UpdateUser(e.staff(), leaving.ID, skjold.UserUpdate{AccessUntil: &end})
	must(t, err)

	n, err := e.db.SuspendExpiredUsers(t.Context())
	if err != nil || n != 0 {
		t.Fatalf("before the end date: suspended %d, %v", n, err)
	}
	e.clock.Add(2 * time.Hour)
	// From the end date on, the account is refused even before the job has run…
	_, _, err = e.db.Login(e.anon(), skjold.Login{Email: leaving.Email, Password: goodPassword})
	wantCode(t, err, skjold.EUNAUTHORIZED) // answered as a wrong password, as a suspension is
	// …and the job suspends it for good, ending its sessions.
	n, err = e.db.SuspendExpiredUsers(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("after the end date: suspended %d, %v; want 1", n, err)
	}
	if _, err := e.db.AuthenticateSession(t.Context(), id.Session.Secret); err == nil {
		t.Error("the offboarded user's session still works")
	}
	got, err := e.db.FindUserByID(e.staff(), leaving.ID)
	must(t, err)
	if !got.Suspended {
		t.Error("the offboarded user is not suspended")
	}
	e.login(staying.Email, goodPassword, "")
	if e.countActions("user.suspend") != 1 {
		t.Error("the suspension is not audited once")
	}
}

func skjoldCtx(t *testing.T, c *skjold.Caller) context.Context {
	return skjold.NewContextWithCaller(t.Context(), c)
}

// testReviewFixes pins what a security review found: concurrent guesses cannot outrun the
// lockout, overlong passwords answer alike for every address, tokens made by a person's
// token die with the person, role changes end the person's tokens, and nobody edits their
// own offboarding or training dates.
func testReviewFixes(t *testing.T, e *env) {
	u := &skjold.User{Email: "agent@op.example", Name: "Agnes", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), u)
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: "not-the-Password-1"})
			if skjold.ErrorCode(err) == skjold.EUNAUTHORIZED {
				mu.Lock()
				checked++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if checked > 5 {
		t.Errorf("%d concurrent wrong passwords were checked; the lockout allows 5", checked)
	}
	long := strings.Repeat("x", skjold.MaxPasswordLength+1)
	_, _, known := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: long})
	_, _, unknown := e.db.Login(e.anon(), skjold.Login{Email: "nobody@op.example", Password: long})
	if skjold.ErrorCode(known) != skjold.ErrorCode(unknown) || skjold.ErrorMessage(known) != skjold.ErrorMessage(unknown) {
		t.Errorf("overlong password: known address %v, unknown %v; they must be alike", known, unknown)
	}

	a := e.newTenant("Fjord Travel AS")
	admin := &skjold.User{TenantID: a.ID, Email: "admin@fjord.example", Name: "Ada", Role: skjold.RoleAdmin}
	e.activeUser(e.staff(), admin)
	e.clock.Add(30 * time.Second)
	_, actx := e.login(admin.Email, goodPassword, e.code(mustSecret(t, e, admin)))
	t1 := &skjold.Token{TenantID: a.ID, Name: "script", Scopes: []string{skjold.ScopeAdmin, skjold.ScopeRead}}
	must(t, e.db.CreateToken(actx, t1))
	viaToken := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:" + t1.ID, TenantID: a.ID, Scopes: t1.Scopes})
	t2 := &skjold.Token{TenantID: a.ID, Name: "script's script", Scopes: []string{skjold.ScopeRead}}
	must(t, e.db.CreateToken(viaToken, t2))
	agent := agentRole(e, a, actx)
	until := e.clock.Now().Add(time.Hour)
	_, err := e.db.UpdateUser(actx, admin.ID, skjold.UserUpdate{AccessUntil: &until, ClearAccessUntil: true})
	wantCode(t, err, skjold.EFORBIDDEN) // one's own offboarding date is set by someone else
	must(t, e.db.SuspendUser(e.tenantOwner(a.ID), admin.ID, true))
	for _, tok := range []*skjold.Token{t1, t2} {
		if _, err := e.db.Authenticate(t.Context(), tok.Secret); err == nil {
			t.Errorf("token %q outlived its maker's suspension", tok.Name)
		}
	}
	auditor := skjold.RoleAuditor
	_, err = e.db.UpdateUser(e.tenantOwner(a.ID), agent.user.ID, skjold.UserUpdate{Role: &auditor})
	must(t, err)
	if _, err := e.db.Authenticate(t.Context(), agent.token.Secret); err == nil {
		t.Error("a token kept its scopes after its maker's role changed")
	}
}

type agentInfo struct {
	user  *skjold.User
	token *skjold.Token
}

// agentRole makes an active agent of a, logged in, with a token of its own.
func agentRole(e *env, a *tenant, actx context.Context) agentInfo {
	u := &skjold.User{TenantID: a.ID, Email: "agent@fjord.example", Name: "Agnes", Role: skjold.RoleAgent}
	e.activeUser(actx, u)
	_, ctx := e.login(u.Email, goodPassword, "")
	tok := &skjold.Token{TenantID: a.ID, Name: "agent's", Scopes: []string{skjold.ScopeRead}}
	must(e.t, e.db.CreateToken(ctx, tok))
	return agentInfo{user: u, token: tok}
}

// testOnboardingBeforeData: operator staff create a tenant's first user only while the
// tenant holds no personal data. The one-time password passes through their hands, so later
// it would let them log in as the tenant's owner and read its subjects without a grant [A7].
func testOnboardingBeforeData(t *testing.T, e *env) {
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	must(t, e.db.CreateSubject(e.as(a, ""), &skjold.Subject{Ref: "A-1", Name: "Astrid"}))
	_, err := e.db.CreateUser(e.staff(), &skjold.User{TenantID: a.ID, Email: "owner@a.example", Name: "O", Role: skjold.RoleOwner})
	wantCode(t, err, skjold.EFORBIDDEN)
	if n, err := e.db.FindUsers(e.tenantOwner(a.ID), skjold.Page{}); err != nil || len(n) != 0 {
		t.Errorf("tenant A has users %v (%v) after a refused onboarding", n, err)
	}
	_, err = e.db.CreateUser(e.staff(), &skjold.User{TenantID: b.ID, Email: "owner@b.example", Name: "O", Role: skjold.RoleOwner})
	must(t, err) // a tenant without data is onboarded as before
}
