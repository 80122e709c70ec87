package http

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/skjold-project/skjold"
)

// loginBody is the answer of POST /api/v1/auth/login and GET /api/v1/auth/session.
type loginBody struct {
	Session skjold.Session `json:"session"`
	User    skjold.User    `json:"user"`
	Stage   string         `json:"stage"`
	Token   string         `json:"token"`
}

// loginReply asks for a bearer session token, with a second-factor code unless code is "".
func (e *env) loginReply(t *testing.T, email, password, code string) *reply {
	t.Helper()
	body := map[string]string{"email": email, "password": password, "session": skjold.SessionToken}
	if code != "" {
		body["code"] = code
	}
	return e.do(t, "", "POST", "/api/v1/auth/login", body)
}

// login logs in and returns the session token and the stage the session is in.
func (e *env) login(t *testing.T, email, password, code string) (string, string) {
	t.Helper()
	var b loginBody
	e.loginReply(t, email, password, code).want(t, 200).decode(t, &b)
	if !strings.HasPrefix(b.Token, "skjold_s_") || b.Session.ID == "" || b.User.Email != email {
		t.Fatalf("login answered %+v", b)
	}
	return b.Token, b.Stage
}

// freshSession logs s in again, with a fresh code when s has a second factor, and returns
// the token of the new, active session.
func (e *env) freshSession(t *testing.T, s *staff) string {
	t.Helper()
	code := ""
	if s.secret != "" {
		code = e.freshCode(t, s.secret)
	}
	tok, stage := e.login(t, s.user.Email, s.password, code)
	if stage != skjold.StageActive {
		t.Fatalf("%s logged in to stage %s, want active", s.user.Email, stage)
	}
	return tok
}

// session returns what GET /api/v1/auth/session says about a session.
func (e *env) session(t *testing.T, token string) loginBody {
	t.Helper()
	var b loginBody
	e.do(t, token, "GET", "/api/v1/auth/session", nil).want(t, 200).decode(t, &b)
	return b
}

// wantStage fails the test unless the session is in stage.
func (e *env) wantStage(t *testing.T, token, stage string) {
	t.Helper()
	if got := e.session(t, token).Stage; got != stage {
		t.Fatalf("session in stage %s, want %s", got, stage)
	}
}

// wrongCode returns a code of the right shape that secret does not give in any time step
// the server may accept now.
func (e *env) wrongCode(t *testing.T, secret string) string {
	t.Helper()
	valid := map[string]bool{}
	for _, d := range []time.Duration{-time.Minute, -30 * time.Second, 0, 30 * time.Second, time.Minute} {
		code, err := pqtotp.GenerateCode(secret, e.clock.Now().Add(d))
		if err != nil {
			t.Fatal(err)
		}
		valid[code] = true
	}
	for i := 0; ; i++ {
		if code := fmt.Sprintf("%06d", i); !valid[code] {
			return code
		}
	}
}

// TestFirstLogin takes a new admin from the one-time password an admin token gave it,
// through the password change and the second-factor enrolment, to an active session. Each
// step opens only the step itself.
func TestFirstLogin(t *testing.T) {
	e := newEnv(t)
	var created struct {
		skjold.User
		OneTimePassword string `json:"one_time_password"`
	}
	e.do(t, e.a.token, "POST", "/api/v1/users", map[string]string{"email": "Ada@Fjord.example", "name": "Ada", "role": "admin"}).
		want(t, 201).decode(t, &created)
	if created.TenantID != e.a.id || created.Email != "ada@fjord.example" || !created.MustChangePassword ||
		created.TwoFactor || len(created.OneTimePassword) < 16 {
		t.Fatalf("created %+v", created)
	}
	if !created.Pending {
		t.Fatalf("an account a tenant's admin creates is confirmed at once: %+v", created)
	}
	otp := created.OneTimePassword
	var first loginBody
	e.loginReply(t, " ADA@fjord.example", otp, "").want(t, 200).decode(t, &first) // addresses compare as normalised
	if first.Stage != skjold.StageConfirmEmail || first.User.ID != created.ID {
		t.Fatalf("first login: %+v", first)
	}
	tok := first.Token
	// The address comes first: the code mailed to it, which the admin who knows the
	// one-time password does not see.
	e.do(t, tok, "POST", "/api/v1/auth/password", map[string]string{"old_password": otp, "new_password": newPassword()}).
		wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": "1234"}).wantError(t, 400, skjold.EINVALID)
	e.do(t, tok, "POST", "/api/v1/auth/email-confirmation", map[string]string{"code": e.requestCode(t, "ada@fjord.example")}).
		want(t, 204)
	e.wantStage(t, tok, skjold.StageChangePassword)
	e.do(t, tok, "GET", "/api/v1/subjects", nil).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, tok, "POST", "/api/v1/auth/two-factor", nil).wantError(t, 403, skjold.EFORBIDDEN) // the password comes first

	change := func(old, new string) *reply {
		return e.do(t, tok, "POST", "/api/v1/auth/password", map[string]string{"old_password": old, "new_password": new})
	}
	wantRefusal(t, change("wrong-Password-12", newPassword()).wantError(t, 401, skjold.EUNAUTHORIZED), "old_password", "wrong")
	wantRefusal(t, change(otp, "password").wantError(t, 400, skjold.EINVALID), "password", "length")
	wantRefusal(t, change(otp, "Fjord-Ada-2024!").wantError(t, 400, skjold.EINVALID), "password", "personal")
	pw := newPassword()
	change(otp, pw).want(t, 204)
	e.loginReply(t, "ada@fjord.example", otp, "").wantError(t, 401, skjold.EUNAUTHORIZED)

	// An admin must enrol a second factor before anything else.
	e.wantStage(t, tok, skjold.StageEnrolTwoFactor)
	e.do(t, tok, "GET", "/api/v1/subjects", nil).wantError(t, 403, skjold.EFORBIDDEN)
	var begin struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
		QRPNG  []byte `json:"qr_png"`
	}
	e.do(t, tok, "POST", "/api/v1/auth/two-factor", nil).want(t, 200).decode(t, &begin)
	if begin.Secret == "" || !strings.HasPrefix(begin.URI, "otpauth://totp/") || !bytes.HasPrefix(begin.QRPNG, []byte("\x89PNG")) {
		t.Fatalf("enrolment %+v", begin)
	}
	code := e.code(t, begin.Secret)
	e.do(t, tok, "POST", "/api/v1/auth/two-factor/confirm", map[string]string{"code": e.wrongCode(t, begin.Secret)}).
		wantError(t, 401, skjold.EUNAUTHORIZED)
	e.wantStage(t, tok, skjold.StageEnrolTwoFactor)
	var confirm struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	e.do(t, tok, "POST", "/api/v1/auth/two-factor/confirm", map[string]string{"code": code}).want(t, 200).decode(t, &confirm)
	if len(confirm.RecoveryCodes) != 10 {
		t.Errorf("%d recovery codes, want 10", len(confirm.RecoveryCodes))
	}
	e.wantStage(t, tok, skjold.StageActive)
	e.do(t, tok, "GET", "/api/v1/subjects", nil).want(t, 200)
	e.do(t, tok, "POST", "/api/v1/auth/two-factor", nil).wantError(t, 409, skjold.ECONFLICT)

	// From now on a login without a code waits for the second factor.
	if _, stage := e.login(t, "ada@fjord.example", pw, ""); stage != skjold.StageSecondFactor {
		t.Errorf("login after enrolment in stage %s, want second_factor", stage)
	}
}

// TestLoginFailuresLookAlike checks that a wrong password, an unknown address and a
// malformed one get the very same answer, so that logins do not tell which accounts exist.
func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	wrong := e.loginReply(t, s.user.Email, "wrong-Password-12", "")
	wrong.wantError(t, 401, skjold.EUNAUTHORIZED)
	for _, email := range []string{"nobody@staff.example", "not an address", ""} {
		other := e.loginReply(t, email, "wrong-Password-12", "")
		if other.status != wrong.status || !bytes.Equal(other.body, wrong.body) ||
			other.header.Get("WWW-Authenticate") != wrong.header.Get("WWW-Authenticate") {
			t.Errorf("login as %q answered %d %s; a wrong password answered %d %s", email, other.status, other.body,
				wrong.status, wrong.body)
		}
	}
}

// TestLockout checks that the fifth failed login in a row locks the account for a while:
// then even the right password answers 429.
func TestLockout(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	for range 5 {
		e.loginReply(t, s.user.Email, "wrong-Password-12", "").wantError(t, 401, skjold.EUNAUTHORIZED)
	}
	locked := e.loginReply(t, s.user.Email, s.password, "").wantError(t, 429, skjold.ETOOMANY)
	if got := e.loginReply(t, s.user.Email, "wrong-Password-12", "").wantError(t, 429, skjold.ETOOMANY); got != locked {
		t.Errorf("a locked account answers the right password with %+v, a wrong one with %+v", locked, got)
	}
	e.clock.Advance(time.Minute + time.Second)
	e.login(t, s.user.Email, s.password, "")
	// The login succeeded, so the count starts over.
	for range 4 {
		e.loginReply(t, s.user.Email, "wrong-Password-12", "").wantError(t, 401, skjold.EUNAUTHORIZED)
	}
	e.login(t, s.user.Email, s.password, "")
}

// TestPasswordReset resets a password by e-mail: the request answers the same for any
// address, the link works once, and the reset ends the user's sessions.
func TestPasswordReset(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	unknown := e.do(t, "", "POST", "/api/v1/auth/reset", map[string]string{"email": "nobody@staff.example"}).want(t, 202)
	known := e.do(t, "", "POST", "/api/v1/auth/reset", map[string]string{"email": strings.ToUpper(s.user.Email)}).want(t, 202)
	if !bytes.Equal(unknown.body, known.body) {
		t.Errorf("reset answers %s for an unknown address, %s for a known one", unknown.body, known.body)
	}
	e.do(t, "", "POST", "/api/v1/auth/reset", map[string]string{"email": "not an address"}).wantError(t, 400, skjold.EINVALID)
	token := e.waitResetToken(t, s.user.Email, 1)
	if files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml")); len(files) != 1 {
		t.Errorf("%d e-mails in the outbox, want only the known address's", len(files))
	}

	complete := func(token, password string) *reply {
		return e.do(t, "", "POST", "/api/v1/auth/reset/complete", map[string]string{"token": token, "password": password})
	}
	// A password the policy refuses does not use the link up.
	wantRefusal(t, complete(token, "password").wantError(t, 400, skjold.EINVALID), "password", "length")
	e.do(t, s.session, "GET", "/api/v1/auth/session", nil).want(t, 200)
	pw := newPassword()
	complete(token, pw).want(t, 204)
	e.do(t, s.session, "GET", "/api/v1/auth/session", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	complete(token, newPassword()).wantError(t, 401, skjold.EUNAUTHORIZED)
	complete("skjold_r_"+strings.Repeat("A", 43), newPassword()).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.loginReply(t, s.user.Email, s.password, "").wantError(t, 401, skjold.EUNAUTHORIZED)
	e.login(t, s.user.Email, pw, "")
}

// resetTokens returns the tokens in the reset e-mails to addr in the outbox, oldest first.
func (e *env) resetTokens(t *testing.T, addr string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files) // the names start with the time
	var tokens []string
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := netmail.ReadMessage(f)
		if err != nil {
			f.Close()
			t.Fatalf("%s: %v", name, err)
		}
		if msg.Header.Get("To") != addr {
			f.Close()
			continue
		}
		if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("%s: Content-Transfer-Encoding %q", name, cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, after, ok := strings.Cut(string(body), "token=")
		if !ok || len(strings.Fields(after)) == 0 {
			t.Fatalf("%s: no token in the link:\n%s", name, body)
		}
		tokens = append(tokens, strings.Fields(after)[0])
	}
	return tokens
}

// waitResetToken waits for the n-th reset e-mail to addr, which is sent in the background,
// and returns its token.
func (e *env) waitResetToken(t *testing.T, addr string, n int) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if tokens := e.resetTokens(t, addr); len(tokens) >= n {
			return tokens[n-1]
		}
	}
	t.Fatalf("no reset e-mail number %d within 10 s", n)
	return ""
}

// TestSecondFactorLogin logs in with a second factor: a wrong code and a replayed code are
// refused, a recovery code works once.
func TestSecondFactorLogin(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	tok, stage := e.login(t, s.user.Email, s.password, "")
	if stage != skjold.StageSecondFactor {
		t.Fatalf("login without a code in stage %s", stage)
	}
	e.do(t, tok, "GET", "/api/v1/subjects", nil).wantError(t, 403, skjold.EFORBIDDEN)
	second := func(token, code string) *reply {
		return e.do(t, token, "POST", "/api/v1/auth/second-factor", map[string]string{"code": code})
	}
	code := e.freshCode(t, s.secret)
	second(tok, e.wrongCode(t, s.secret)).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.wantStage(t, tok, skjold.StageSecondFactor)
	second(tok, code).want(t, 204)
	e.wantStage(t, tok, skjold.StageActive)
	e.do(t, tok, "GET", "/api/v1/subjects", nil).want(t, 200)

	// The same code again, in a new session or at login, is a replay.
	again, _ := e.login(t, s.user.Email, s.password, "")
	second(again, code).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.loginReply(t, s.user.Email, s.password, code).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.wantStage(t, again, skjold.StageSecondFactor)

	// A recovery code (typed in any case, with spaces) works once.
	recovery := s.recovery[0]
	second(again, " "+strings.ToLower(recovery)+" ").want(t, 204)
	e.wantStage(t, again, skjold.StageActive)
	third, _ := e.login(t, s.user.Email, s.password, "")
	second(third, recovery).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.wantStage(t, third, skjold.StageSecondFactor)

	// A fresh code at login opens an active session at once.
	if _, stage := e.login(t, s.user.Email, s.password, e.freshCode(t, s.secret)); stage != skjold.StageActive {
		t.Errorf("login with a code in stage %s", stage)
	}
}

// TestSecondFactorGuessing makes 100 guesses at the second factor, each through a fresh
// password login (whose success used to reset the count): five are checked, then the account
// is locked, and even the right code is refused [B6, B11].
func TestSecondFactorGuessing(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	guessed, locked := 0, 0
	for i := range 100 {
		r := e.loginReply(t, s.user.Email, s.password, "")
		if r.status == 429 {
			locked++
			continue
		}
		var b loginBody
		r.want(t, 200).decode(t, &b)
		guess := e.wrongCode(t, s.secret)
		if i%2 == 1 {
			guess = "abcd-efgh-jkmn" // a recovery code's shape
		}
		e.do(t, b.Token, "POST", "/api/v1/auth/second-factor", map[string]string{"code": guess}).
			wantError(t, 401, skjold.EUNAUTHORIZED)
		guessed++
	}
	if guessed != 5 || locked != 95 {
		t.Fatalf("%d codes checked and %d logins refused out of 100, want 5 and 95", guessed, locked)
	}
	e.loginReply(t, s.user.Email, s.password, e.freshCode(t, s.secret)).wantError(t, 429, skjold.ETOOMANY)
}

// TestSessionListAndRevoke lists a user's sessions and ends them one by one: the user its
// own, an admin those of its tenant's users, nobody another tenant's.
func TestSessionListAndRevoke(t *testing.T) {
	e := newEnv(t)
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	other := e.activeStaff(t, e.b.id, skjold.RoleAgent, "")
	second, _ := e.login(t, agent.user.Email, agent.password, "")
	browser := e.cookieLogin(t, agent)
	ids := func(token, userID string) []string {
		t.Helper()
		path := "/api/v1/sessions"
		if userID != "" {
			path += "?user_id=" + userID
		}
		var list struct {
			Items []skjold.Session `json:"items"`
		}
		r := e.do(t, token, "GET", path, nil).want(t, 200)
		r.decode(t, &list)
		if bytes.Contains(r.body, []byte("skjold_s_")) || bytes.Contains(r.body, []byte(browser.csrf)) {
			t.Errorf("the session list shows secrets: %s", r.body)
		}
		var out []string
		for _, s := range list.Items {
			if s.UserID != agent.user.ID && s.UserID != admin.user.ID {
				t.Errorf("listed a session of user %s", s.UserID)
			}
			out = append(out, s.ID)
		}
		return out
	}
	mine := e.session(t, agent.session).Session.ID
	secondID := e.session(t, second).Session.ID
	if got := ids(agent.session, ""); len(got) != 3 || !slices.Contains(got, mine) || !slices.Contains(got, secondID) ||
		!slices.Contains(got, browser.id) {
		t.Fatalf("the agent's sessions are %v, want %s, %s and %s", got, mine, secondID, browser.id)
	}

	e.do(t, agent.session, "DELETE", "/api/v1/sessions/"+secondID, nil).want(t, 204)
	e.do(t, second, "GET", "/api/v1/auth/session", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.do(t, agent.session, "DELETE", "/api/v1/sessions/"+secondID, nil).wantError(t, 404, skjold.ENOTFOUND)

	// The admin sees and ends the agent's sessions; the agent sees none of the admin's, and
	// neither sees another tenant's.
	if got := ids(admin.session, agent.user.ID); len(got) != 2 {
		t.Errorf("the admin sees %d of the agent's sessions, want 2", len(got))
	}
	e.do(t, agent.session, "GET", "/api/v1/sessions?user_id="+admin.user.ID, nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, admin.session, "GET", "/api/v1/sessions?user_id="+other.user.ID, nil).wantError(t, 404, skjold.ENOTFOUND)
	otherID := e.session(t, other.session).Session.ID
	e.do(t, admin.session, "DELETE", "/api/v1/sessions/"+otherID, nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, other.session, "GET", "/api/v1/auth/session", nil).want(t, 200)
	e.do(t, agent.session, "DELETE", "/api/v1/sessions/"+e.session(t, admin.session).Session.ID, nil).
		wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, admin.session, "DELETE", "/api/v1/sessions/"+browser.id, nil).want(t, 204)
	e.send(t, "GET", "/api/v1/auth/session", browser.header(false), nil).wantError(t, 401, skjold.EUNAUTHORIZED)

	// Ending one's own session is logging out.
	e.do(t, agent.session, "DELETE", "/api/v1/sessions/"+mine, nil).want(t, 204)
	e.do(t, agent.session, "GET", "/api/v1/auth/session", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	if got := ids(admin.session, agent.user.ID); len(got) != 0 {
		t.Errorf("the agent has %d sessions left, want none", len(got))
	}
}
