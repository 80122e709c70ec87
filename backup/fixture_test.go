package backup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/internal/pgtest"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// engines are the databases the round-trip tests run on.
var engines = []string{store.SQLite, store.Postgres}

// fixture is a live database with a real keyring, two local targets (a mirror) and an age
// identity, as a server's backups would have them.
type fixture struct {
	t        *testing.T
	engine   string
	keys     *keys.Service
	keyFile  string // the master key file keys was read from
	db       *store.DB
	op       context.Context // the operator
	ctx      context.Context // a tenant with every scope
	tenantID string
	id       *age.X25519Identity
	targets  []skjold.Target
	subjects []*skjold.Subject
}

var quiet = slog.New(slog.DiscardHandler)

func newFixture(t *testing.T, engine string) *fixture {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	ring, err := keys.CreateKeyring(keyFile)
	must(t, err)
	f := &fixture{t: t, engine: engine, keys: keys.NewService(ring), keyFile: keyFile}
	f.db = openDB(t, f.newDSN(), f.keys)
	f.op = skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", Operator: true, Source: "127.0.0.1"})
	tn := &skjold.Tenant{Name: "Fjord Reiser AS"}
	_, err = f.db.CreateTenant(f.op, tn)
	must(t, err)
	f.tenantID = tn.ID
	f.ctx = skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:test", TenantID: tn.ID,
		Scopes: skjold.AllScopes, Source: "127.0.0.1"})
	f.id, err = age.GenerateX25519Identity()
	must(t, err)
	for _, name := range []string{"mirror-a", "mirror-b"} {
		target, err := NewDir(filepath.Join(dir, name))
		must(t, err)
		f.targets = append(f.targets, target)
	}
	return f
}

// newDSN returns a fresh place for a database of the fixture's engine: a file path in a new
// data directory, or an empty PostgreSQL database.
func (f *fixture) newDSN() string {
	f.t.Helper()
	if f.engine == store.Postgres {
		return pgtest.Require(f.t).NewDatabase(f.t)
	}
	return filepath.Join(f.t.TempDir(), "data", "skjold.db")
}

func openDB(t *testing.T, dsn string, ks skjold.KeyService) *store.DB {
	t.Helper()
	if filepath.IsAbs(dsn) {
		must(t, os.MkdirAll(filepath.Dir(dsn), 0o700))
	}
	db, err := store.Open(t.Context(), dsn, store.Options{Keys: ks, Logger: quiet})
	must(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// seed adds n subjects with two travel bookings each.
func (f *fixture) seed(n int) {
	f.t.Helper()
	for i := range n {
		s := &skjold.Subject{Name: fmt.Sprintf("Ingrid Fjellheim %d", i), Email: fmt.Sprintf("ingrid%d@example.test", i)}
		must(f.t, f.db.CreateSubject(f.ctx, s))
		for k := range 2 {
			r := &skjold.Record{SubjectID: s.ID, Category: "travel_booking", Data: map[string]any{
				"booking_reference": fmt.Sprintf("FJR%04d%d", i, k), "kind": "flight", "departure_date": "2026-07-14",
				"destination": "Tromsø"}}
			must(f.t, f.db.CreateRecord(f.ctx, r))
		}
		f.subjects = append(f.subjects, s)
	}
}

func (f *fixture) backuper() *Backuper {
	return New(f.db, Options{Recipients: []age.Recipient{f.id.Recipient()}, Targets: f.targets, Log: quiet})
}

// backup makes a backup on both targets.
func (f *fixture) backup() *skjold.Manifest {
	f.t.Helper()
	m, err := f.backuper().Run(f.t.Context())
	must(f.t, err)
	return m
}

func (f *fixture) restoreOptions(from skjold.Target, dsn string) RestoreOptions {
	return RestoreOptions{From: from, Identities: []age.Identity{f.id}, DSN: dsn, Keys: f.keys, Log: quiet}
}

// objectBytes reads an object from a target.
func objectBytes(t *testing.T, target skjold.Target, name string) []byte {
	t.Helper()
	rc, err := target.Get(t.Context(), name)
	must(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	must(t, err)
	return b
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
