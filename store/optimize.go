package store

import (
	"context"
	"fmt"
)

// Optimize lets SQLite refresh the planner statistics of the tables that changed much since
// it last looked (PRAGMA optimize, bounded by analysis_limit so that a large table costs
// milliseconds, not a full pass). The hot queries are written so that their plan does not
// depend on statistics (see plan.go), but the statistics keep every other query honest as a
// tenant grows. It runs after migrations and from the server's hourly job. PostgreSQL's
// autovacuum does the same by itself, so there it does nothing.
func (db *DB) Optimize(ctx context.Context) error {
	if db.engine != SQLite {
		return nil
	}
	conn, err := db.wdb.Conn(ctx) // waits for the writer to be between transactions
	if err != nil {
		return fmt.Errorf("store: optimize: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA analysis_limit = 1000"); err != nil {
		return fmt.Errorf("store: optimize: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA optimize"); err != nil {
		return fmt.Errorf("store: optimize: %w", err)
	}
	return nil
}
