package storetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// heldPassword is the password whose check a gatedHasher holds until released.
const heldPassword = "held-Password-check-1"

// gatedHasher holds every check of heldPassword until release is closed, after saying so on
// entered: a test can then make a second attempt while the first is certainly in progress.
type gatedHasher struct {
	skjold.PasswordHasher
	entered chan struct{}
	release chan struct{}
}

func (g *gatedHasher) Verify(ctx context.Context, encoded, pw string) (bool, bool, error) {
	if pw == heldPassword {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.PasswordHasher.Verify(ctx, encoded, pw)
}

// testConcurrentEnumeration: an attempt made while another for the same address is being
// checked gets the same answer whether or not the address has an account.
func testConcurrentEnumeration(t *testing.T, e *env) {
	gate := &gatedHasher{PasswordHasher: e.auth.Hasher, entered: make(chan struct{}), release: make(chan struct{})}
	e.auth.Hasher = gate
	e.db = e.h.Open(t, e.options(e.keys)) // a fresh database whose logins check through gate
	u := &skjold.User{Email: "agent@op.example", Name: "Agnes", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), u)
	var answers [2][2]error
	for i, addr := range []string{u.Email, "nobody@op.example"} {
		done := make(chan error)
		go func() {
			_, _, err := e.db.Login(e.anon(), skjold.Login{Email: addr, Password: heldPassword})
			done <- err
		}()
		<-gate.entered
		_, _, answers[i][0] = e.db.Login(e.anon(), skjold.Login{Email: strings.ToUpper(addr), Password: "not-the-Password-1"})
		gate.release <- struct{}{}
		answers[i][1] = <-done
	}
	for j, what := range []string{"the attempt made meanwhile", "the held attempt"} {
		known, unknown := answers[0][j], answers[1][j]
		if skjold.ErrorCode(known) != skjold.ErrorCode(unknown) || skjold.ErrorMessage(known) != skjold.ErrorMessage(unknown) {
			t.Errorf("%s: an account's address answers %v, an unknown one %v; they must be alike", what, known, unknown)
		}
	}
	wantCode(t, answers[1][0], skjold.ETOOMANY)
}

// testSuspendedPassword: a suspended account answers its right password as a wrong one,
// and counts it.
func testSuspendedPassword(t *testing.T, e *env) {
	u := &skjold.User{Email: "agent@op.example", Name: "Agnes", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), u)
	must(t, e.db.SuspendUser(e.staff(), u.ID, true))
	before := e.countActions("auth.login_failed")
	_, _, right := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: goodPassword})
	_, _, wrong := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: "not-the-Password-1"})
	_, _, unknown := e.db.Login(e.anon(), skjold.Login{Email: "nobody@op.example", Password: goodPassword})
	for _, err := range []error{wrong, unknown} {
		if skjold.ErrorCode(right) != skjold.ErrorCode(err) || skjold.ErrorMessage(right) != skjold.ErrorMessage(err) {
			t.Errorf("a suspended account's right password answers %v, a wrong one or an unknown address %v", right, err)
		}
	}
	if n := e.countActions("auth.login_failed") - before; n != 3 {
		t.Errorf("%d failed logins counted, want 3 (the right password of a suspended account counts)", n)
	}
	for range 3 {
		_, _, err := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: goodPassword})
		wantCode(t, err, skjold.EUNAUTHORIZED)
	}
	_, _, err := e.db.Login(e.anon(), skjold.Login{Email: u.Email, Password: goodPassword})
	wantCode(t, err, skjold.ETOOMANY)                 // the fifth locked the account, as wrong passwords do
	must(t, e.db.SuspendUser(e.staff(), u.ID, false)) // resuming also unlocks
	e.login(u.Email, goodPassword, "")
}
