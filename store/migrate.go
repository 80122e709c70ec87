package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrations embed.FS

// migrationLock is the PostgreSQL advisory lock key that serialises migrations across nodes.
const migrationLock = 0x736b6a6f6c64 // "skjold"

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the engine's numbered migrations ("0001_init.sql", …) in order.
func loadMigrations(engine string) ([]migration, error) {
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: migration %s is not named NNNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migrations are not numbered 1, 2, 3, …: %s", m.name)
		}
	}
	return ms, nil
}

// migrate applies, each in its own transaction and once, every migration not yet recorded in
// schema_migrations. It refuses a database whose schema is newer than this binary knows.
func (db *DB) migrate(ctx context.Context) error { return db.migrateTo(ctx, 0) }

// migrateTo is migrate stopping after migration upTo (0 for all): a restore builds the schema
// its dump was taken at before it loads the rows (see LoadDump).
func (db *DB) migrateTo(ctx context.Context, upTo int) error {
	ms, err := loadMigrations(db.engine)
	if err != nil {
		return err
	}
	if upTo > len(ms) {
		return fmt.Errorf("store: schema version %d is newer than this binary knows (%d): upgrade Skjold", upTo, len(ms))
	} else if upTo > 0 {
		ms = ms[:upTo]
	}
	conn, err := db.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	// Another node may hold the migration lock while it migrates, and a migration may run
	// long: neither is a stall the session limits are there to end.
	restore, err := db.unlimitedConn(ctx, conn)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer restore()
	if db.engine == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("store: migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	current, err := db.schemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	if current > len(ms) {
		return fmt.Errorf("store: the database has schema version %d, newer than this binary knows (%d): upgrade Skjold", current, len(ms))
	}
	for _, m := range ms[current:] {
		applied, err := db.apply(ctx, conn, m)
		if err != nil {
			return err
		}
		if applied {
			db.log.Info("applied migration", "engine", db.engine, "migration", m.name)
		}
	}
	return nil
}

func (db *DB) schemaVersion(ctx context.Context, conn *sql.Conn) (int, error) {
	var v sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// apply applies m in one transaction and records it. It reports false, changing nothing, when
// another process applied m while this one waited for the write lock.
func (db *DB) apply(ctx context.Context, conn *sql.Conn, m migration) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	var done int
	q := db.rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?")
	if err := tx.QueryRowContext(ctx, q, m.version).Scan(&done); err != nil || done > 0 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	ins := db.rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
	if _, err := tx.ExecContext(ctx, ins, m.version, m.name, micros(time.Now())); err != nil {
		return false, fmt.Errorf("store: record migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: migration %s: commit: %w", m.name, err)
	}
	return true, nil
}

// SchemaVersion returns the newest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	conn, err := db.read.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return db.schemaVersion(ctx, conn)
}
