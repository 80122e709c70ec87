package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// preloadBatch is how many subjects one write of the pre-load creates.
const preloadBatch = 1000

// preload grows the bench tenant from p.seeded to size subjects (counting the create
// phase's) with the store's bulk insert, CreateSubjects: each subject is validated, sealed
// under its own key, indexed for look-ups and audited exactly as through the API, but
// without an HTTP request each. It opens the server's database beside the running server;
// both write through SQLite's lock (or PostgreSQL's), and every write reads the audit
// chain's head afresh, so the chain stays whole. It returns the pre-load as a phase.
func preload(ctx context.Context, cfg config, tenantID string, p *population, size int) (result, error) {
	r := result{Name: "preload", Subjects: size}
	want := size - p.created - p.seeded
	if want <= 0 {
		return r, nil
	}
	ring, err := keys.OpenKeyring(filepath.Join(cfg.data, "master.key"))
	if err != nil {
		return r, fmt.Errorf("pre-load: %w", err)
	}
	dsn := cfg.database
	if dsn == "" {
		dsn = filepath.Join(cfg.data, "skjold.db")
	}
	start := time.Now()
	db, err := store.Open(ctx, dsn, store.Options{Keys: keys.NewService(ring), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return r, fmt.Errorf("pre-load: %w", err)
	}
	defer db.Close()
	tctx := skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "cli:skjold-bench", TenantID: tenantID,
		Scopes: skjold.AllScopes, Source: "local"})
	for done := 0; done < want; {
		n := min(preloadBatch, want-done)
		batch := make([]*skjold.Subject, n)
		for k := range batch {
			i := p.seeded + k
			batch[k] = &skjold.Subject{Ref: fmt.Sprintf("seed-%s-%d", p.run, i), Email: p.seedEmail(i), Phone: seedPhone(i), Name: "Seed Person"}
		}
		if err := db.CreateSubjects(tctx, batch); err != nil {
			return r, fmt.Errorf("pre-load: %w", err)
		}
		p.seeded += n
		done += n
	}
	r.Planned, r.Ops, r.Duration = want, want, time.Since(start)
	return r, nil
}
