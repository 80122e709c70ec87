package store

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/internal/pgtest"
	"github.com/skjold-project/skjold/keys"
)

// Every query on a request path (hotQueries) is answered from its index on both engines:
// no walk of a table, and no walk of a whole tenant through another index, whether the
// planner has statistics or not. The failure names the query and shows its plan.
func TestHotQueryPlansSQLite(t *testing.T) {
	db := planDB(t, filepath.Join(t.TempDir(), "skjold.db"))
	checkPlans(t, db, "without statistics")
	seedForPlans(t, db)
	if _, err := db.wdb.ExecContext(t.Context(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	checkPlans(t, db, "after ANALYZE")
}

func TestHotQueryPlansPostgres(t *testing.T) {
	db := planDB(t, pgtest.Require(t).NewDatabase(t))
	// Never analysed, with sequential scans priced out: the plan shows the index PostgreSQL
	// would use on a large table. (After ANALYZE of a few hundred rows it rightly prefers
	// walking the primary key of a tiny table, which says nothing about a large one.)
	checkPlans(t, db, "enable_seqscan off")
}

func planDB(t *testing.T, dsn string) *DB {
	t.Helper()
	ring, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), dsn, Options{Keys: keys.NewService(ring), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// seedForPlans gives the planner something to count: two tenants, subjects with e-mail
// addresses that share a domain, records and audit events.
func seedForPlans(t *testing.T, db *DB) {
	t.Helper()
	op := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", Operator: true, Source: "127.0.0.1"})
	for _, name := range []string{"Plan AS", "Other AS"} {
		tn := &skjold.Tenant{Name: name}
		if _, err := db.CreateTenant(op, tn); err != nil {
			t.Fatal(err)
		}
		ctx := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:t", TenantID: tn.ID, Scopes: skjold.AllScopes, Source: "127.0.0.1"})
		batch := make([]*skjold.Subject, 300)
		for i := range batch {
			batch[i] = &skjold.Subject{Ref: fmt.Sprintf("P-%d", i), Name: "Plan Person", Email: fmt.Sprintf("p%d@example.com", i),
				Phone: fmt.Sprintf("+47 9%07d", i)}
		}
		if err := db.CreateSubjects(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for _, s := range batch[:20] {
			if _, err := db.FindSubjectByID(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func checkPlans(t *testing.T, db *DB, when string) {
	t.Helper()
	names := make([]string, 0, len(hotQueries))
	for name := range hotQueries {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		h := hotQueries[name]
		plan, err := db.explain(t.Context(), h.q)
		if err != nil {
			t.Errorf("%s (%s): explain: %v", name, when, err)
			continue
		}
		if why := badPlan(db.engine, plan, h.index); why != "" {
			t.Errorf("%s (%s): %s\nquery: %s\nplan:\n%s", name, when, why, h.q, strings.Join(plan, "\n"))
		}
	}
}

// explain returns the engine's plan for q, one line per step. PostgreSQL is asked for the
// generic plan (the one a prepared statement reuses) with sequential scans priced out, so
// that it shows the index it would use on a table of any size.
func (db *DB) explain(ctx context.Context, q string) ([]string, error) {
	conn, err := db.read.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	n := strings.Count(q, "?")
	var rows interface {
		Next() bool
		Scan(...any) error
		Close() error
		Err() error
	}
	if db.engine == SQLite {
		r, err := conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, make([]any, n)...)
		if err != nil {
			return nil, err
		}
		rows = r
	} else {
		for _, s := range []string{"SET enable_seqscan = off", "SET plan_cache_mode = force_generic_plan",
			"PREPARE hot AS " + db.rebind(q)} {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return nil, err
			}
		}
		r, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE hot("+strings.TrimSuffix(strings.Repeat("NULL, ", n), ", ")+")")
		if err != nil {
			return nil, err
		}
		rows = r
		defer conn.ExecContext(context.WithoutCancel(ctx), "DEALLOCATE hot")
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		var err error
		if db.engine == SQLite {
			var id, parent, unused int
			err = rows.Scan(&id, &parent, &unused, &line)
		} else {
			err = rows.Scan(&line)
		}
		if err != nil {
			return nil, err
		}
		plan = append(plan, line)
	}
	return plan, rows.Err()
}

var (
	sqliteScan = regexp.MustCompile(`^SCAN (\S+)`)
	pgSeqScan  = regexp.MustCompile(`Seq Scan on (\S+)`)
)

// badPlan says what is wrong with plan, or "" when it reads the data through index.
func badPlan(engine string, plan []string, index string) string {
	want := index
	if table, ok := strings.CutPrefix(index, "pk:"); ok {
		// One row by its id: the primary key, or an index (tenant_id, id) with both equal.
		want = "(" + table + "_pkey|" + table + "_tenant)"
		if engine == SQLite {
			want = "(sqlite_autoindex_" + table + "_1|" + table + "_tenant)"
		}
	}
	used := false
	for _, line := range plan {
		if m := sqliteScan.FindStringSubmatch(line); engine == SQLite && m != nil && m[1] != "CONSTANT" {
			return "walks " + m[1] + " whole"
		}
		if m := pgSeqScan.FindStringSubmatch(line); engine == Postgres && m != nil {
			return "walks " + m[1] + " whole"
		}
		if engine == SQLite && regexp.MustCompile(`INDEX `+want+`\b`).MatchString(line) ||
			engine == Postgres && regexp.MustCompile(`(using|on) `+want+`\b`).MatchString(line) {
			used = true
		}
	}
	if !used {
		return "does not use index " + want
	}
	return ""
}
