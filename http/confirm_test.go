package http

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// userCreated is the answer of POST /api/v1/users.
type userCreated struct {
	skjold.User
	OneTimePassword string `json:"one_time_password"`
}

// TestEmailConfirmationHidesOtherTenants creates, as tenant A's admin, a user whose address
// already has an account in tenant B, and one whose address is new: both answers are alike,
// so the admin learns nothing of tenant B. The clash shows only to the address's owner, at
// the code from the e-mail, and only in the operator's audit log.
func TestEmailConfirmationHidesOtherTenants(t *testing.T) {
	e := newEnv(t)
	inB := e.activeStaff(t, e.b.id, skjold.RoleAgent, "")
	create := func(email string) (*reply, userCreated) {
		var u userCreated
		r := e.do(t, e.a.token, "POST", "/api/v1/users", map[string]string{"email": email, "name": "Kari Nordmann", "role": "agent"})
		if r.status == 201 {
			r.decode(t, &u)
		}
		return r, u
	}
	takenReply, taken := create(inB.user.Email)
	freshReply, fresh := create("new-person@staff.example")
	takenReply.want(t, 201)
	freshReply.want(t, 201)
	shape := func(r *reply) []string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	if !slices.Equal(shape(takenReply), shape(freshReply)) || !taken.Pending || !fresh.Pending ||
		taken.Email != inB.user.Email || taken.MustChangePassword != fresh.MustChangePassword {
		t.Fatalf("answers differ: %s / %s", takenReply.body, freshReply.body)
	}
	// In its own tenant the admin sees its people anyway: a second account is refused.
	r, _ := create(inB.user.Email)
	r.wantError(t, 409, skjold.ECONFLICT)
	r, _ = create(fresh.Email)
	r.wantError(t, 409, skjold.ECONFLICT)

	// The admin, who knows the one-time password, gets only as far as the confirmation.
	tok, stage := e.login(t, taken.Email, taken.OneTimePassword, "")
	if stage != skjold.StageConfirmEmail {
		t.Fatalf("stage %s, want %s", stage, skjold.StageConfirmEmail)
	}
	e.do(t, tok, "GET", "/api/v1/subjects", nil).wantError(t, 403, skjold.EFORBIDDEN)
	code := e.requestCode(t, inB.user.Email) // in the mailbox of tenant B's person
	got := e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": code})
	got.wantError(t, 409, skjold.ECONFLICT)
	if !strings.Contains(string(got.body), "already has an account") {
		t.Errorf("the address's owner is not told why: %s", got.body)
	}
	e.wantStage(t, tok, skjold.StageConfirmEmail)

	// Tenant A's log holds no trace of the clash; the operator's does.
	for _, ev := range e.auditEvents(t, e.a.token, "") {
		if ev.Action == "user.email_taken" || strings.Contains(strings.Join(ev.Fields, " "), inB.user.ID) {
			t.Errorf("tenant A's audit log tells of tenant B: %+v", ev)
		}
	}
	found := false
	for _, ev := range e.auditEvents(t, e.operator, "") {
		if ev.Action == "user.email_taken" && ev.TenantID == "" && slices.Contains(ev.Fields, "user:"+taken.ID) {
			found = true
		}
	}
	if !found {
		t.Error("no user.email_taken event in the operator's audit log")
	}
	// Tenant B's person is untouched, and the pending account stays pending in A's list.
	e.freshSession(t, inB)
	var list struct{ Items []skjold.User }
	e.do(t, e.a.token, "GET", "/api/v1/users", nil).want(t, 200).decode(t, &list)
	for _, u := range list.Items {
		if u.ID == taken.ID && (!u.Pending || u.Email != inB.user.Email) {
			t.Errorf("the pending account lists as %+v", u)
		}
	}

	// The fresh address confirms, and its person goes on to the password change.
	tok, _ = e.login(t, fresh.Email, fresh.OneTimePassword, "")
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": e.requestCode(t, fresh.Email)}).want(t, 204)
	e.wantStage(t, tok, skjold.StageChangePassword)
	if b := e.session(t, tok); b.User.Pending || b.User.Email != fresh.Email {
		t.Errorf("after confirmation the user reads as %+v", b.User)
	}
	// Confirmed, the address is an account like any: the one-time password logs in as usual
	// and a second confirmation has nothing to confirm.
	tok, stage = e.login(t, fresh.Email, fresh.OneTimePassword, "")
	if stage != skjold.StageChangePassword {
		t.Errorf("confirmed account logs in to stage %s", stage)
	}
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": "12345678"}).wantError(t, 403, skjold.EFORBIDDEN)
}

// TestEmailConfirmationCodes checks the codes' limits: at most three mailed an hour, the
// fifth wrong guess voids the code, and a code ends after 30 minutes.
func TestEmailConfirmationCodes(t *testing.T) {
	e := newEnv(t)
	s := e.pendingStaff(t, e.a.id, skjold.RoleAgent, "")
	tok, _ := e.login(t, s.user.Email, s.password, "")
	first := e.requestCode(t, s.user.Email) // mailed at the login
	var latest string
	for range 2 {
		e.do(t, tok, "POST", "/api/v1/auth/email-confirmation/code", nil).want(t, 202)
		latest = e.requestCode(t, s.user.Email)
	}
	r := e.do(t, tok, "POST", "/api/v1/auth/email-confirmation/code", nil)
	r.wantError(t, 429, skjold.ETOOMANY)
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// A newer code voids the older ones; five wrong guesses void the newest.
	wrong := "00000000"
	if latest == wrong {
		wrong = "11111111"
	}
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": first}).wantError(t, 400, skjold.EINVALID)
	for range 4 {
		e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": wrong}).wantError(t, 400, skjold.EINVALID)
	}
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": latest}).wantError(t, 400, skjold.EINVALID)
	e.wantStage(t, tok, skjold.StageConfirmEmail)

	// An hour on, codes may be sent again: a new login mails one.
	e.clock.Advance(61 * time.Minute)
	tok, _ = e.login(t, s.user.Email, s.password, "")
	late := e.requestCode(t, s.user.Email)
	e.clock.Advance(14 * time.Minute)
	e.session(t, tok) // keeps the session from idling
	e.clock.Advance(14 * time.Minute)
	e.session(t, tok)
	e.clock.Advance(3 * time.Minute)
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": late}).wantError(t, 400, skjold.EINVALID)
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation/code", nil).want(t, 202)
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": e.requestCode(t, s.user.Email)}).want(t, 204)
	e.wantStage(t, tok, skjold.StageChangePassword)
}

// TestConsoleEmailConfirmation takes a pending account through the console's confirmation
// page: the login leads there, a wrong code is shown next to the field, and the mailed code
// leads on to the password change.
func TestConsoleEmailConfirmation(t *testing.T) {
	e := newEnv(t)
	s := e.pendingStaff(t, e.a.id, skjold.RoleAgent, "")
	c := e.consoleClient(t)
	c.get(t, "/console/login").want(t, 200)
	c.post(t, "/console/login", url.Values{"email": {s.user.Email}, "password": {s.password}}).wantRedirect(t, "/console/")
	c.get(t, "/console/").wantRedirect(t, "/console/confirm-email")
	code := e.requestCode(t, s.user.Email)
	page := c.get(t, "/console/confirm-email").want(t, 200)
	wantText(t, page, "Confirm your e-mail address", "Send a new code")
	wrong := "00000000"
	if code == wrong {
		wrong = "11111111"
	}
	r := c.post(t, "/console/confirm-email", url.Values{"code": {wrong}}).want(t, 400)
	wantText(t, r, "This code is wrong or no longer valid")
	c.post(t, "/console/confirm-email/code", url.Values{}).wantRedirect(t, "/console/confirm-email?m=code_sent")
	wantText(t, c.get(t, "/console/confirm-email?m=code_sent").want(t, 200), "A new code is on its way")
	c.post(t, "/console/confirm-email", url.Values{"code": {code}}).want(t, 400) // voided by the new one
	c.post(t, "/console/confirm-email", url.Values{"code": {e.requestCode(t, s.user.Email)}}).wantRedirect(t, "/console/")
	c.get(t, "/console/").wantRedirect(t, "/console/password")

	// The code's e-mail is in the language of the page the person logged in on.
	pl := e.pendingStaff(t, e.a.id, skjold.RoleAgent, "")
	c = e.consoleClient(t)
	c.header.Set("Accept-Language", "pl")
	c.get(t, "/console/login").want(t, 200)
	c.post(t, "/console/login", url.Values{"email": {pl.user.Email}, "password": {pl.password}}).wantRedirect(t, "/console/")
	if body := e.mailTo(t, pl.user.Email); !strings.Contains(body, "Ktoś podał Twój adres") || codeInMail.FindString(body) == "" {
		t.Errorf("the confirmation e-mail from a Polish page reads %q", body)
	}
}
