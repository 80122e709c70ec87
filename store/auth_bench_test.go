package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/mail"
	"github.com/skjold-project/skjold/password"
	"github.com/skjold-project/skjold/store"
	"github.com/skjold-project/skjold/totp"
)

// The benchmarks below measure what a login costs above its argon2id hash, with the real
// parameters (password.DefaultParams) on a SQLite store: BenchmarkLogin less
// BenchmarkPasswordVerify is the store's share. BenchmarkLoginOverhead compares each login with
// the hash inside it, and BenchmarkLoginTestHasher measures the store's share with almost no
// hash, as cross-checks.
// docs/performance.md records the figures.

const benchPassword = "violet-Harbour-crane-47"

// loginBench is a SQLite store with one active tenant agent whose password is benchPassword.
type loginBench struct {
	db     *store.DB
	hasher skjold.PasswordHasher
	email  string
	hash   string // the agent's stored password hash
}

// realHasher returns a Hasher with the production parameters.
func realHasher(b *testing.B) *password.Hasher {
	b.Helper()
	h, err := password.NewHasher(password.DefaultParams, 0)
	if err != nil {
		b.Fatalf("NewHasher: %v", err)
	}
	return h
}

// newLoginBench opens the store and takes the agent through its first login: the one-time
// password is changed once, so that each benchmarked login is an ordinary one.
func newLoginBench(b *testing.B, hasher skjold.PasswordHasher) *loginBench {
	b.Helper()
	dir := b.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	if err != nil {
		b.Fatalf("CreateKeyring: %v", err)
	}
	// NewOutbox creates the directory 0700; b.TempDir itself may be open to others.
	outbox, err := mail.NewOutbox(filepath.Join(dir, "outbox"), "skjold@bench.example")
	if err != nil {
		b.Fatalf("NewOutbox: %v", err)
	}
	path := filepath.Join(dir, "skjold.db")
	db, err := store.Open(b.Context(), path, store.Options{Keys: keys.NewService(ring), Logger: quiet,
		Auth: store.AuthOptions{Hasher: hasher, Checker: password.NewChecker(nil), OTP: totp.TOTP{}, Mailer: outbox,
			ResetURL: "https://skjold.bench/reset#token="}})
	if err != nil {
		b.Fatalf("store.Open: %v", err)
	}
	b.Cleanup(func() { db.Close() })

	staff := skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "user:owner", Operator: true,
		Source: "127.0.0.1", Role: skjold.RoleOwner, Scopes: skjold.RoleScopes(true, skjold.RoleOwner)})
	tn := &skjold.Tenant{Name: "Fjord Travel AS"}
	if _, err := db.CreateTenant(staff, tn); err != nil {
		b.Fatalf("CreateTenant: %v", err)
	}
	u := &skjold.User{TenantID: tn.ID, Email: "agent@fjord.example", Name: "Agnes", Role: skjold.RoleAgent}
	otp, err := db.CreateUser(staff, u)
	if err != nil {
		b.Fatalf("CreateUser: %v", err)
	}
	_, id, err := db.Login(anonymous(b), skjold.Login{Email: u.Email, Password: otp, Kind: skjold.SessionToken})
	if err != nil {
		b.Fatalf("first Login: %v", err)
	}
	uctx := skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "user:" + u.ID, TenantID: u.TenantID,
		Scopes: id.User.Scopes, Source: "192.0.2.7", UserID: u.ID, Role: u.Role, SessionID: id.Session.ID})
	if err := db.ChangePassword(uctx, otp, benchPassword); err != nil {
		b.Fatalf("ChangePassword: %v", err)
	}

	lb := &loginBench{db: db, hasher: hasher, email: u.Email}
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatalf("raw open: %v", err)
	}
	defer raw.Close()
	if err := raw.QueryRow("SELECT password_hash FROM users WHERE id = ?", u.ID).Scan(&lb.hash); err != nil {
		b.Fatalf("read the hash: %v", err)
	}
	return lb
}

// anonymous is the context of a request before login.
func anonymous(b *testing.B) context.Context {
	return skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "anonymous", Source: "192.0.2.7"})
}

func (lb *loginBench) login(ctx context.Context) error {
	_, _, err := lb.db.Login(ctx, skjold.Login{Email: lb.email, Password: benchPassword, Kind: skjold.SessionToken})
	return err
}

// BenchmarkLogin is one successful login: look-ups, the argon2id verification, the address
// check, and the session and audit event committed by the writer.
func BenchmarkLogin(b *testing.B) {
	lb := newLoginBench(b, realHasher(b))
	ctx := anonymous(b)
	for b.Loop() {
		if err := lb.login(ctx); err != nil {
			b.Fatalf("Login: %v", err)
		}
	}
}

// timedHasher times the Verify calls of the hasher it wraps.
type timedHasher struct {
	skjold.PasswordHasher
	verify time.Duration // the sum over every call
	calls  int
}

func (h *timedHasher) Verify(ctx context.Context, encoded, password string) (bool, bool, error) {
	t := time.Now()
	ok, rehash, err := h.PasswordHasher.Verify(ctx, encoded, password)
	h.verify += time.Since(t)
	h.calls++
	return ok, rehash, err
}

// BenchmarkLoginOverhead is BenchmarkLogin with the hash inside each login timed too, so that
// (Login − Verify) / Verify compares a login with its own hash: on a shared virtual machine
// argon2id's time drifts from one minute to the next by as much as the overhead measured,
// which blurs the difference of two separate benchmarks. It reports the mean login, the mean
// hash within it, and the overhead in per cent.
func BenchmarkLoginOverhead(b *testing.B) {
	th := &timedHasher{PasswordHasher: realHasher(b)}
	lb := newLoginBench(b, th)
	ctx := anonymous(b)
	th.verify, th.calls = 0, 0
	start := time.Now()
	for b.Loop() {
		if err := lb.login(ctx); err != nil {
			b.Fatalf("Login: %v", err)
		}
	}
	login := time.Since(start)
	if th.calls != b.N {
		b.Fatalf("%d hashes in %d logins", th.calls, b.N)
	}
	b.ReportMetric(float64(th.verify.Nanoseconds())/float64(b.N), "verify-ns/op")
	b.ReportMetric(100*float64(login-th.verify)/float64(th.verify), "overhead-%")
}

// BenchmarkLoginTestHasher is BenchmarkLogin with password.NewTestHasher's cheap parameters:
// the store's share of a login with almost no hash, a cross-check of BenchmarkLogin less
// BenchmarkPasswordVerify that the argon2id timing's noise does not blur.
func BenchmarkLoginTestHasher(b *testing.B) {
	lb := newLoginBench(b, password.NewTestHasher())
	ctx := anonymous(b)
	for b.Loop() {
		if err := lb.login(ctx); err != nil {
			b.Fatalf("Login: %v", err)
		}
	}
}

// BenchmarkPasswordVerify is the argon2id verification alone, on the hash BenchmarkLogin
// checks.
func BenchmarkPasswordVerify(b *testing.B) {
	lb := newLoginBench(b, realHasher(b))
	ctx := b.Context()
	for b.Loop() {
		ok, rehash, err := lb.hasher.Verify(ctx, lb.hash, benchPassword)
		if err != nil || !ok || rehash {
			b.Fatalf("Verify = %t, %t, %v; want true, false, nil", ok, rehash, err)
		}
	}
}

// BenchmarkLoginParallel is BenchmarkLogin from GOMAXPROCS goroutines: its ns/op is wall
// time per login, so 1e9 / ns/op is logins per second on this machine.
func BenchmarkLoginParallel(b *testing.B) {
	lb := newLoginBench(b, realHasher(b))
	ctx := anonymous(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := lb.login(ctx); err != nil {
				b.Errorf("Login: %v", err)
				return
			}
		}
	})
}
