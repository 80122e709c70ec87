package store_test

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/internal/pgtest"
	"github.com/skjold-project/skjold/internal/storetest"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// quiet drops the store's log lines (one per migration, per database), which would bury
// the test output.
var quiet = slog.New(slog.DiscardHandler)

func TestSQLite(t *testing.T) {
	runSuite(t, newHarness(store.SQLite, func(t *testing.T) string {
		return filepath.Join(t.TempDir(), "skjold.db")
	}))
}

func TestPostgres(t *testing.T) {
	srv := pgtest.Require(t)
	runSuite(t, newHarness(store.Postgres, func(t *testing.T) string { return srv.NewDatabase(t) }))
}

// runSuite runs every conformance test, and the store's own schema tests, on one engine.
func runSuite(t *testing.T, h *harness) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, storetest.Harness)
	}{
		{"Tenants", storetest.TestTenants},
		{"Tokens", storetest.TestTokens},
		{"Categories", storetest.TestCategories},
		{"Subjects", storetest.TestSubjects},
		{"Records", storetest.TestRecords},
		{"Audit", storetest.TestAudit},
		{"Keys", storetest.TestKeys},
		{"Concurrency", storetest.TestConcurrency},
		{"Auth", storetest.TestAuth},
		{"Preferences", storetest.TestPreferences},
		{"MailLanguages", storetest.TestMailLanguages},
		{"Network", storetest.TestNetwork},
		{"Approvals", storetest.TestApprovals},
		{"Register", storetest.TestRegister},
		{"Export", storetest.TestExport},
		{"Import", storetest.TestImport},
		{"Requests", storetest.TestRequests},
		{"Lifecycle", storetest.TestLifecycle},
		{"Erasure", storetest.TestErasure},
		{"Retention", storetest.TestRetention},
		{"Purposes", storetest.TestPurposes},
		{"BackupRuns", storetest.TestBackupRuns},
		{"Compliance", storetest.TestCompliance},
		{"DPA", storetest.TestDPA},
		{"ReadBudget", storetest.TestReadBudget},
		{"AlertSettings", storetest.TestAlertSettings},
		{"GrantRequests", storetest.TestGrantRequests},
		{"Incidents", storetest.TestIncidents},
		{"PrivacyCenter", storetest.TestPrivacyCenter},
		{"PrivacySelf", storetest.TestPrivacySelf},

		{"SharedState", storetest.TestSharedState},

		{"Banner", storetest.TestBanner},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, h.Harness) })
	}
	t.Run("Schema", func(t *testing.T) { testSchema(t, h) })
	t.Run("ConcurrentOpen", func(t *testing.T) { testConcurrentOpen(t, h) })
	t.Run("Observe", func(t *testing.T) { testObserve(t, h) })
}

// harness builds a storetest.Harness for one engine and remembers the DSN of every
// database it opened, so that Reopen and Raw reach the same database.
type harness struct {
	storetest.Harness
	newDSN func(t *testing.T) string

	mu   sync.Mutex
	dsns map[*store.DB]string
}

func newHarness(engine string, newDSN func(t *testing.T) string) *harness {
	h := &harness{newDSN: newDSN, dsns: map[*store.DB]string{}}
	h.Harness = storetest.Harness{
		Engine: engine,
		Open: func(t *testing.T, opts store.Options) *store.DB {
			opts.Logger = quiet
			return h.open(t, h.newDSN(t), opts)
		},
		Reopen: func(t *testing.T, db *store.DB, opts store.Options) *store.DB {
			opts.Logger = quiet
			return h.open(t, h.dsn(db), opts)
		},
		DSN: func(db *store.DB) string { return h.dsn(db) },
		Raw: func(t *testing.T, db *store.DB) *sql.DB {
			return h.raw(t, h.dsn(db))
		},
		RawFiles: func(db *store.DB) []string {
			if engine != store.SQLite {
				return nil
			}
			path := h.dsn(db)
			return []string{path, path + "-wal", path + "-shm"}
		},
	}
	return h
}

// open opens a store on dsn and closes it when the test ends.
func (h *harness) open(t *testing.T, dsn string, opts store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	h.mu.Lock()
	h.dsns[db] = dsn
	h.mu.Unlock()
	return db
}

func (h *harness) dsn(db *store.DB) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	dsn, ok := h.dsns[db]
	if !ok {
		panic("storetest harness: a *store.DB it did not open")
	}
	return dsn
}

// raw opens a plain database/sql connection to dsn, closed when the test ends.
func (h *harness) raw(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, name := "pgx", dsn
	if h.Engine == store.SQLite {
		// The store's writer may hold the write lock for a moment: wait for it.
		driver, name = "sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)"
	}
	raw, err := sql.Open(driver, name)
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// testSchema checks migrations: applied once, a reopen changes nothing, and a database
// whose schema is newer than the binary is refused.
func testSchema(t *testing.T, h *harness) {
	ring, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	opts := store.Options{Keys: keys.NewService(ring), Logger: quiet}
	dsn := h.newDSN(t)
	db := h.open(t, dsn, opts)
	if db.Engine() != h.Engine {
		t.Errorf("Engine = %q, want %q", db.Engine(), h.Engine)
	}
	want, err := db.SchemaVersion(t.Context())
	if err != nil || want < 1 {
		t.Fatalf("SchemaVersion = %d, %v", want, err)
	}
	op := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", Operator: true})
	tn := &skjold.Tenant{Name: "Tenant A"}
	if _, err := db.CreateTenant(op, tn); err != nil {
		t.Fatal(err)
	}

	raw := h.raw(t, dsn)
	count := func() int {
		t.Helper()
		var n int
		if err := raw.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != want {
		t.Errorf("%d rows in schema_migrations, want %d", n, want)
	}
	for range 2 {
		again := h.open(t, dsn, opts)
		if v, err := again.SchemaVersion(t.Context()); err != nil || v != want {
			t.Errorf("after reopening, SchemaVersion = %d, %v; want %d", v, err, want)
		}
		if got, err := again.FindTenantByID(op, tn.ID); err != nil || got.Name != tn.Name {
			t.Errorf("after reopening, FindTenantByID = %+v, %v", got, err)
		}
		if _, err := again.VerifyAuditChain(t.Context()); err != nil {
			t.Errorf("after reopening: %v", err)
		}
	}
	if n := count(); n != want {
		t.Errorf("after reopening, %d rows in schema_migrations, want %d", n, want)
	}

	ins := "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"
	if h.Engine == store.Postgres {
		ins = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"
	}
	if _, err := raw.Exec(ins, want+1, "9999_future.sql", 0); err != nil {
		t.Fatal(err)
	}
	newer, err := store.Open(t.Context(), dsn, opts)
	if err == nil {
		newer.Close()
		t.Fatal("store.Open accepted a database with a newer schema")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("store.Open error %q does not say the schema is newer", err)
	}
}

// testObserve checks that operation durations are measured with the wall clock, not the
// injected one: a test clock stopped in the past must not make them years long.
func testObserve(t *testing.T, h *harness) {
	ring, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]time.Duration{}
	past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	db := h.open(t, h.newDSN(t), store.Options{
		Keys:   keys.NewService(ring),
		Logger: quiet,
		Now:    func() time.Time { return past },
		Observe: func(op string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			seen[op] = max(seen[op], d)
		},
	})
	op := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", Operator: true})
	tok, err := db.CreateTenant(op, &skjold.Tenant{Name: "Tenant A"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate(t.Context(), tok.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindAuditEvents(op, skjold.AuditFilter{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"commit", "token.authenticate", "audit.find"} {
		d, ok := seen[name]
		if !ok {
			t.Errorf("no duration observed for %s", name)
		} else if d < 0 || d > time.Hour {
			t.Errorf("%s observed as taking %v: measured with the injected clock", name, d)
		}
	}
}

// testConcurrentOpen starts several processes' worth of stores on one fresh database at
// once, and then again on the migrated one: every open must succeed, and each migration must
// be applied exactly once.
func testConcurrentOpen(t *testing.T, h *harness) {
	ring, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	var applied atomic.Int64
	logger := slog.New(&countHandler{msg: "applied migration", n: &applied})
	opts := store.Options{Keys: keys.NewService(ring), Logger: logger}
	dsn := h.newDSN(t)
	for _, round := range []string{"fresh", "migrated"} {
		const n = 8
		var wg sync.WaitGroup
		start := make(chan struct{}) // so that the opens race rather than follow one another
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				<-start
				db, err := store.Open(t.Context(), dsn, opts)
				if err == nil {
					err = db.Close()
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s database: store.Open %d: %v", round, i, err)
			}
		}
	}
	var versions int
	if err := h.raw(t, dsn).QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions < 1 || applied.Load() != int64(versions) {
		t.Errorf("%d migrations applied for %d versions: each must be applied exactly once", applied.Load(), versions)
	}
}

// countHandler counts the log records with one message and drops every record.
type countHandler struct {
	msg string
	n   *atomic.Int64
}

func (c *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *countHandler) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *countHandler) WithGroup(string) slog.Handler            { return c }
func (c *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == c.msg {
		c.n.Add(1)
	}
	return nil
}
