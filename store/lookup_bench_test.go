package store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
)

// BenchmarkLookup measures the audited look-up path (FindSubjects by e-mail, phone and ref,
// FindSubjectByID) on SQLite in a tenant of 100,000 subjects beside a second tenant of 10,000:
// the guard against a look-up that grows with the tenant again. Each look-up finds one
// subject and durably audits the read. Seeding (CreateSubjects, about half a minute) is not
// timed. .ci/run runs it once per look-up as a smoke test; docs/performance.md records it:
//
//	go test ./store -run XXX -bench BenchmarkLookup -benchtime 2000x -count 3
func BenchmarkLookup(b *testing.B) {
	const subjects, batch = 100_000, 5_000
	dir := b.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	db, err := Open(context.Background(), filepath.Join(dir, "skjold.db"), Options{Keys: keys.NewService(ring), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	op := skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "bench", Operator: true, Source: "127.0.0.1"})
	var ctx context.Context
	ids := make([]string, 0, subjects)
	start := time.Now()
	for _, size := range []int{10_000, subjects} { // the other tenant first, the measured one last
		tn := &skjold.Tenant{Name: fmt.Sprintf("Tenant of %d", size)}
		if _, err := db.CreateTenant(op, tn); err != nil {
			b.Fatal(err)
		}
		ctx = skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "token:bench", TenantID: tn.ID,
			Scopes: skjold.AllScopes, Source: "127.0.0.1"})
		ids = ids[:0]
		for i := 0; i < size; i += batch {
			list := make([]*skjold.Subject, 0, batch)
			for j := i; j < i+batch; j++ {
				list = append(list, &skjold.Subject{Ref: fmt.Sprintf("K-%06d", j), Name: "Kunde",
					Email: fmt.Sprintf("kunde%d@example.com", j), Phone: fmt.Sprintf("+47 9%07d", j)})
			}
			if err := db.CreateSubjects(ctx, list); err != nil {
				b.Fatal(err)
			}
			for _, s := range list {
				ids = append(ids, s.ID)
			}
		}
	}
	b.Logf("seeded %d + 10,000 subjects in %v", subjects, time.Since(start).Round(time.Millisecond))
	find := func(f func(j int) skjold.SubjectFilter) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				found, err := db.FindSubjects(ctx, f(rand.IntN(subjects)))
				if err != nil || len(found) != 1 {
					b.Fatalf("found %d, %v", len(found), err)
				}
			}
		}
	}
	b.Run("email", find(func(j int) skjold.SubjectFilter {
		return skjold.SubjectFilter{Email: fmt.Sprintf("kunde%d@example.com", j)}
	}))
	b.Run("phone", find(func(j int) skjold.SubjectFilter { return skjold.SubjectFilter{Phone: fmt.Sprintf("+47 9%07d", j)} }))
	b.Run("ref", find(func(j int) skjold.SubjectFilter { return skjold.SubjectFilter{Ref: fmt.Sprintf("K-%06d", j)} }))
	b.Run("id", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.FindSubjectByID(ctx, ids[rand.IntN(len(ids))]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
