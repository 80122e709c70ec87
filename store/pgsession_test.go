package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/internal/pgtest"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// openLimited opens dsn twice with the given session limits: two nodes of one cluster.
func openLimited(t *testing.T, dsn string, lim store.PostgresLimits) (*store.DB, *store.DB) {
	t.Helper()
	ring, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	open := func() *store.DB {
		db, err := store.Open(t.Context(), dsn, store.Options{Keys: keys.NewService(ring), Logger: quiet, Postgres: &lim})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return open(), open()
}

func createTenant(db *store.DB, name string) error {
	op := skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "test", Operator: true})
	_, err := db.CreateTenant(op, &skjold.Tenant{Name: name})
	return err
}

// TestPostgresStalledNodeIsEnded stalls one node inside a write, holding the audit chain's
// head that every write locks, as a SIGSTOPped or partitioned node does. The server must
// end the stalled session after idle_in_transaction_session_timeout, and the other node's
// writes must neither hang nor fail with an internal error: they wait at most the lock
// timeout per attempt and then succeed, or answer EUNAVAILABLE with a Retry-After.
func TestPostgresStalledNodeIsEnded(t *testing.T) {
	srv := pgtest.Require(t)
	t.Run("retry outlasts the stall", func(t *testing.T) {
		// The writer's second attempt (after one lock timeout) comes after the server has
		// ended the stalled session: the write succeeds.
		lim := store.PostgresLimits{IdleInTransaction: time.Second, Lock: 800 * time.Millisecond, Statement: 10 * time.Second}
		stalled, other := openLimited(t, srv.NewDatabase(t), lim)
		held, err := stalled.HoldHead()
		if err != nil {
			t.Fatal(err)
		}
		defer held.Rollback()
		start := time.Now()
		if err := createTenant(other, "During the stall"); err != nil {
			t.Fatalf("write during the stall: %v", err)
		}
		if d := time.Since(start); d > 2*lim.Lock+time.Second {
			t.Errorf("write during the stall took %v, more than two lock timeouts", d)
		}
		if _, err := held.Exec("SELECT 1"); err == nil {
			t.Error("the stalled session still runs statements: the server did not end it")
		}
		// The stalled node recovers on its own: its pool drops the ended connection.
		if err := createTenant(stalled, "After the stall"); err != nil {
			t.Errorf("the stalled node's next write: %v", err)
		}
	})
	t.Run("answer unavailable while it lasts", func(t *testing.T) {
		lim := store.PostgresLimits{IdleInTransaction: 4 * time.Second, Lock: 200 * time.Millisecond, Statement: 10 * time.Second}
		stalled, other := openLimited(t, srv.NewDatabase(t), lim)
		held, err := stalled.HoldHead()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = createTenant(other, "During the stall")
		var de *skjold.Error
		if !errors.As(err, &de) || de.Code != skjold.EUNAVAILABLE || de.RetryAfter <= 0 {
			t.Fatalf("write during the stall: %v, want EUNAVAILABLE with a Retry-After", err)
		}
		if d := time.Since(start); d > 2*lim.Lock+time.Second {
			t.Errorf("the refusal took %v", d)
		}
		held.Rollback() // the stalled node comes back before the server ends it
		if err := createTenant(other, "After the stall"); err != nil {
			t.Errorf("write after the stall: %v", err)
		}
	})
}
