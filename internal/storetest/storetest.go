// Package storetest is the conformance suite of Skjold's store: one exported function per
// service, each a set of subtests that every engine must pass. The store's own tests run it
// against SQLite and PostgreSQL through a Harness; nothing here mocks the store.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/mail"
	"github.com/skjold-project/skjold/password"
	"github.com/skjold-project/skjold/store"
	"github.com/skjold-project/skjold/totp"
)

// Harness opens a fresh, empty, migrated database for one test.
type Harness struct {
	Engine string
	// Open returns a fresh *store.DB opened with opts (key service, clock, login dependencies;
	// the harness may add a logger); it registers Close via t.Cleanup.
	Open func(t *testing.T, opts store.Options) *store.DB
	// Reopen returns a second *store.DB on the database of db, as a restarted process would
	// open it; it registers Close via t.Cleanup.
	Reopen func(t *testing.T, db *store.DB, opts store.Options) *store.DB
	// DSN returns the data source name db was opened with, for a test that opens it itself.
	DSN func(db *store.DB) string
	// Raw returns a plain database/sql connection to the database of db, beside the store,
	// for reading and tampering with rows; it registers Close via t.Cleanup.
	Raw func(t *testing.T, db *store.DB) *sql.DB
	// RawFiles returns paths of the files that hold the database of db on disk (SQLite: db,
	// -wal, -shm), or nil for PostgreSQL.
	RawFiles func(db *store.DB) []string
}

// epoch is where every test's clock starts.
var epoch = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

// Clock is a fake clock that tests move by hand; it is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one test's database with its real key hierarchy, its clock and an operator context.
type env struct {
	t       *testing.T
	h       Harness
	db      *store.DB
	keyPath string
	ring    *keys.Keyring
	keys    *keys.Service
	clock   *Clock
	op      context.Context
	local   context.Context // the command line on the server's host: the break-glass caller
	auth    store.AuthOptions
	outbox  string            // the directory reset e-mails go to
	secrets map[string]string // TOTP secrets enrolled by activeUser, by e-mail address
}

// options are the store options of the env's databases, with the given key service.
func (e *env) options(keys skjold.KeyService) store.Options {
	return store.Options{Keys: keys, Now: e.clock.Now, Auth: e.auth}
}

// newEnv opens a fresh database with a fresh master key file and a clock at epoch.
func newEnv(t *testing.T, h Harness) *env {
	t.Helper()
	e := &env{t: t, h: h, clock: &Clock{now: epoch}, secrets: map[string]string{}}
	e.keyPath = filepath.Join(t.TempDir(), "master.key")
	ring, err := keys.CreateKeyring(e.keyPath)
	if err != nil {
		t.Fatalf("CreateKeyring: %v", err)
	}
	e.ring, e.keys = ring, keys.NewService(ring)
	e.outbox = filepath.Join(t.TempDir(), "outbox")
	outbox, err := mail.NewOutbox(e.outbox, "skjold@test.example")
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	e.auth = store.AuthOptions{Hasher: password.NewTestHasher(), Checker: password.NewChecker(nil), OTP: totp.TOTP{},
		Mailer: outbox, ResetURL: "https://skjold.test/reset#token="}
	e.db = h.Open(t, e.options(e.keys))
	e.op = skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", Operator: true, Source: "127.0.0.1"})
	e.local = skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "cli", Operator: true, Source: "local", Local: true})
	return e
}

// tenant is a tenant made for a test, with the first token CreateTenant returned.
type tenant struct {
	*skjold.Tenant
	token *skjold.Token
}

// newTenant creates a tenant as the operator.
func (e *env) newTenant(name string) *tenant {
	e.t.Helper()
	tn := &skjold.Tenant{Name: name}
	tok, err := e.db.CreateTenant(e.op, tn)
	if err != nil {
		e.t.Fatalf("CreateTenant(%q): %v", name, err)
	}
	return &tenant{Tenant: tn, token: tok}
}

// as returns a context whose caller acts in tn with every scope, stating purpose.
func (e *env) as(tn *tenant, purpose string) context.Context {
	return skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{
		Actor: "token:x", TenantID: tn.ID, Scopes: skjold.AllScopes, Source: "127.0.0.1", Purpose: purpose,
	})
}

// raw returns a plain connection to the test's database.
func (e *env) raw() *sql.DB { return e.h.Raw(e.t, e.db) }

// rebind turns "?" placeholders into PostgreSQL's "$n" for raw queries.
func (e *env) rebind(q string) string {
	if e.h.Engine != store.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// rawExec runs a statement on a raw connection and fails the test on error.
func (e *env) rawExec(raw *sql.DB, q string, args ...any) {
	e.t.Helper()
	if _, err := raw.Exec(e.rebind(q), args...); err != nil {
		e.t.Fatalf("raw %q: %v", q, err)
	}
}

// rawCount returns the result of a raw COUNT query.
func (e *env) rawCount(raw *sql.DB, q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := raw.QueryRow(e.rebind(q), args...).Scan(&n); err != nil {
		e.t.Fatalf("raw %q: %v", q, err)
	}
	return n
}

// newSubject creates a subject and fails the test on error.
func (e *env) newSubject(ctx context.Context, s *skjold.Subject) *skjold.Subject {
	e.t.Helper()
	if err := e.db.CreateSubject(ctx, s); err != nil {
		e.t.Fatalf("CreateSubject: %v", err)
	}
	return s
}

// newRecord creates a record and fails the test on error.
func (e *env) newRecord(ctx context.Context, subjectID, category string, data map[string]any) *skjold.Record {
	e.t.Helper()
	r := &skjold.Record{SubjectID: subjectID, Category: category, Data: data}
	if err := e.db.CreateRecord(ctx, r); err != nil {
		e.t.Fatalf("CreateRecord(%s): %v", category, err)
	}
	return r
}

// auditor is the operator that reads the audit log for tests; its own audit.read events are
// left out of what events returns.
const auditor = "storetest-auditor"

// events returns every audit event after seq, leaving out the auditor's own reads.
func (e *env) events(after int64) []*skjold.AuditEvent {
	e.t.Helper()
	ctx := skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{Actor: auditor, Operator: true})
	var all []*skjold.AuditEvent
	for {
		page, err := e.db.FindAuditEvents(ctx, skjold.AuditFilter{After: after, Limit: skjold.MaxPageLimit})
		if err != nil {
			e.t.Fatalf("FindAuditEvents: %v", err)
		}
		for _, ev := range page {
			if ev.Actor != auditor {
				all = append(all, ev)
			}
			after = ev.Seq
		}
		if len(page) < skjold.MaxPageLimit {
			return all
		}
	}
}

// lastSeq returns the sequence number of the newest audit event.
func (e *env) lastSeq() int64 {
	e.t.Helper()
	rep, err := e.db.VerifyAuditChain(e.t.Context())
	if err != nil {
		e.t.Fatalf("VerifyAuditChain: %v", err)
	}
	return rep.Length
}

// wantCode fails the test unless err carries the domain error code want.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := skjold.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

// must fails the test on a non-nil error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ptr returns a pointer to v, for partial updates.
func ptr[T any](v T) *T { return &v }

// chainError returns the *skjold.ChainError in err, failing the test if there is none.
func chainError(t *testing.T, err error) *skjold.ChainError {
	t.Helper()
	var ce *skjold.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("VerifyAuditChain error = %v, want a *skjold.ChainError", err)
	}
	return ce
}
