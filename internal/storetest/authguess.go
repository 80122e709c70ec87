package storetest

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/alert"
)

// wrongCode returns a six-digit code that no TOTP step the server accepts now yields.
func (e *env) wrongCode(secret string) string {
	e.t.Helper()
	var near []string
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		c, err := totp.GenerateCode(secret, e.clock.Now().Add(d))
		must(e.t, err)
		near = append(near, c)
	}
	n, _ := strconv.Atoi(near[1])
	for {
		n = (n + 1) % 1_000_000
		if c := fmt.Sprintf("%06d", n); !slices.Contains(near, c) {
			return c
		}
	}
}

// testCodeGuessing: whoever holds the password cannot guess second-factor codes forever
// [B6, B11]. Each guess comes through a fresh password login, whose success used to reset
// the count; wrong TOTP and recovery codes now count on their own and lock the account.
func testCodeGuessing(t *testing.T, e *env) {
	u := &skjold.User{Email: "admin@op.example", Name: "Ada", Role: skjold.RoleAdmin}
	secret, codes := e.activeUser(e.staff(), u)
	e.clock.Add(30 * time.Second)                    // the enrolment used this step's code
	_, waiting := e.login(u.Email, goodPassword, "") // a session that will wait for its code
	guessed, locked := 0, 0
	for i := range 100 {
		_, id, err := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: goodPassword, Kind: skjold.SessionToken})
		if skjold.ErrorCode(err) == skjold.ETOOMANY {
			locked++
			continue
		}
		must(t, err)
		guess := e.wrongCode(secret)
		if i%2 == 1 {
			guess = "abcd-efgh-jkmn" // a recovery code's shape
		}
		wantCode(t, e.db.SecondFactor(e.userCtx(id), guess), skjold.EUNAUTHORIZED)
		guessed++
	}
	if guessed != 5 || locked != 95 {
		t.Fatalf("%d codes checked and %d logins locked out of 100, want 5 and 95", guessed, locked)
	}
	// While locked, even the right code is refused, in a login and in a waiting session.
	_, _, err := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: goodPassword, Code: e.code(secret)})
	wantCode(t, err, skjold.ETOOMANY)
	wantCode(t, e.db.SecondFactor(waiting, codes[0]), skjold.ETOOMANY)
	if n := e.countReason("auth.lockout", "reason:second_factor"); n != 1 {
		t.Fatalf("%d lockout events for wrong codes, want 1", n)
	}
	if !slices.Contains(alert.DefaultActions, "auth.lockout") {
		t.Error("a lockout raises no alert by default")
	}
	// After the lock, a password success does not reset the count: the next wrong code
	// locks again at once, for longer.
	e.clock.Add(skjold.LockoutDelay(5) + time.Second)
	_, ctx := e.login(u.Email, goodPassword, "")
	wantCode(t, e.db.SecondFactor(ctx, e.wrongCode(secret)), skjold.EUNAUTHORIZED)
	_, _, err = e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: goodPassword})
	wantCode(t, err, skjold.ETOOMANY)
	// A correct code resets it: afterwards one wrong code does not lock.
	e.clock.Add(skjold.LockoutDelay(6) + time.Second)
	e.login(u.Email, goodPassword, e.code(secret))
	_, ctx = e.login(u.Email, goodPassword, "")
	wantCode(t, e.db.SecondFactor(ctx, e.wrongCode(secret)), skjold.EUNAUTHORIZED)
	e.login(u.Email, goodPassword, "")
}

// countReason counts audit events with this action whose fields include field.
func (e *env) countReason(action, field string) int {
	n := 0
	for _, ev := range e.events(0) {
		if ev.Action == action && slices.Contains(ev.Fields, field) {
			n++
		}
	}
	return n
}
