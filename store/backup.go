package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/skjold-project/skjold"
)

// Snapshot formats: what a backup file holds once decrypted and decompressed.
const (
	FormatSQLite = "sqlite"         // a SQLite database file
	FormatDump   = "skjold-dump-v1" // PostgreSQL rows as JSON lines: see DumpPostgres
)

// Snapshot is one consistent copy of the database, taken while the server serves [E1], in a
// file the caller owns and removes. The counts and sequence numbers are read from the copy
// itself, so they describe exactly what it holds.
type Snapshot struct {
	Path           string
	Format         string
	Engine         string
	Time           time.Time
	SchemaVersion  int
	Rows           map[string]int64 // table → rows
	JournalSeq     int64            // the erasure journal's last seq in the copy
	AuditSeq       int64            // the audit chain's length in the copy
	KeyFingerprint string           // the primary master key's id
}

// Snapshot writes a consistent copy of the database into dir, which the caller keeps private
// (0700) and removes: SQLite with VACUUM INTO, PostgreSQL as a dump (DumpPostgres) in one
// repeatable-read transaction. Writes go on while it runs; the copy holds every write
// committed before it started and none after.
func (db *DB) Snapshot(ctx context.Context, dir string) (*Snapshot, error) {
	s := &Snapshot{Engine: db.engine, Time: db.now().UTC(), KeyFingerprint: db.keys.PrimaryKeyID()}
	var err error
	if db.engine == Postgres {
		s.Format, s.Path = FormatDump, filepath.Join(dir, "skjold.dump")
		err = db.snapshotPostgres(ctx, s)
	} else {
		s.Format, s.Path = FormatSQLite, filepath.Join(dir, "skjold.db")
		err = db.snapshotSQLite(ctx, s)
	}
	if err != nil {
		os.Remove(s.Path)
		return nil, err
	}
	return s, nil
}

// snapshotSQLite runs VACUUM INTO on a connection of its own: the reader pool is query-only,
// and the writer must stay free for the server's writes (WAL lets them go on meanwhile).
func (db *DB) snapshotSQLite(ctx context.Context, s *Snapshot) error {
	var seq int
	var name, file string
	if err := db.read.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
		return fmt.Errorf("store: snapshot: find the database file: %w", err)
	}
	conn, err := sql.Open("sqlite", "file:"+(&url.URL{Path: file}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", s.Path); err != nil {
		return fmt.Errorf("store: snapshot: VACUUM INTO: %w", err)
	}
	info, err := InspectSQLite(ctx, s.Path)
	if err != nil {
		return err
	}
	s.SchemaVersion, s.Rows, s.JournalSeq, s.AuditSeq = info.SchemaVersion, info.Rows, info.JournalSeq, info.AuditSeq
	return nil
}

// SQLiteInfo is what InspectSQLite reads from a SQLite database file.
type SQLiteInfo struct {
	SchemaVersion        int
	Rows                 map[string]int64
	JournalSeq, AuditSeq int64
}

// InspectSQLite opens a SQLite database file read-only and counts the rows of every table
// (SQLite's own sqlite_* tables aside), and reads its schema version and the last seq of the
// erasure journal and the audit chain. It changes nothing in the file.
func InspectSQLite(ctx context.Context, path string) (*SQLiteInfo, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("store: inspect: %w", err)
	}
	conn, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("store: inspect: %w", err)
	}
	defer conn.Close()
	tables, err := sqliteTables(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("store: inspect: not a Skjold database: %w", err)
	}
	info := &SQLiteInfo{Rows: make(map[string]int64, len(tables))}
	for _, t := range tables {
		var n int64
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+t+`"`).Scan(&n); err != nil {
			return nil, fmt.Errorf("store: inspect: count %s: %w", t, err)
		}
		info.Rows[t] = n
	}
	err = readSeqs(ctx, conn, info.Rows, &info.SchemaVersion, &info.JournalSeq, &info.AuditSeq)
	return info, err
}

// sqliteTables lists a SQLite database's tables, SQLite's own aside.
func sqliteTables(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return nil, err
	}
	return collect(rows, func(s scanner) (string, error) {
		var n string
		return n, s.Scan(&n)
	})
}

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common for reads.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// readSeqs reads the schema version, the journal's last seq and the audit chain's length,
// each only where its table exists (an older schema has no erasure journal).
func readSeqs(ctx context.Context, q querier, rows map[string]int64, schema *int, journal, audit *int64) error {
	var v, j, a sql.NullInt64
	if _, ok := rows["schema_migrations"]; !ok {
		return errors.New("store: not a Skjold database: no schema_migrations table")
	}
	if err := q.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if _, ok := rows["erasure_journal"]; ok {
		if err := q.QueryRowContext(ctx, "SELECT MAX(seq) FROM erasure_journal").Scan(&j); err != nil {
			return fmt.Errorf("store: read the erasure journal: %w", err)
		}
	}
	if _, ok := rows["audit_head"]; ok {
		if err := q.QueryRowContext(ctx, "SELECT seq FROM audit_head WHERE id = 1").Scan(&a); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: read the audit head: %w", err)
		}
	}
	*schema, *journal, *audit = int(v.Int64), j.Int64, a.Int64
	return nil
}

// WriteJournal writes the whole erasure journal, oldest first, to w as JSON lines of
// skjold.JournalEntry, and returns how many entries it wrote. The backups keep it beside
// them on every target, for ReplayJournal after a restore [D4]. It holds pseudonymous ids
// only.
func (db *DB) WriteJournal(ctx context.Context, w io.Writer) (int, error) {
	rows, err := db.read.QueryContext(ctx, db.rebind(`SELECT seq, time, tenant_id, subject_id, kind, reason
		FROM erasure_journal ORDER BY seq`))
	if err != nil {
		return 0, fmt.Errorf("store: read the erasure journal: %w", err)
	}
	defer rows.Close()
	enc := json.NewEncoder(w)
	n := 0
	for rows.Next() {
		e, err := scanJournalEntry(rows)
		if err != nil {
			return n, err
		}
		if err := enc.Encode(e); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// ReadJournal reads the JSON lines WriteJournal writes. It refuses a line that is not an
// entry, and entries out of order, rather than replay a damaged journal partly.
func ReadJournal(r io.Reader) ([]*skjold.JournalEntry, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var out []*skjold.JournalEntry
	for {
		var e skjold.JournalEntry
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("store: erasure journal entry %d: %w", len(out)+1, err)
		}
		if err := checkJournalEntry(&e, out); err != nil {
			return nil, err
		}
		out = append(out, &e)
	}
}

func checkJournalEntry(e *skjold.JournalEntry, before []*skjold.JournalEntry) error {
	switch {
	case e.Seq <= 0 || (len(before) > 0 && e.Seq <= before[len(before)-1].Seq):
		return fmt.Errorf("store: erasure journal entry %d is out of order", e.Seq)
	case e.Kind != "subject" && e.Kind != "tenant":
		return fmt.Errorf("store: erasure journal entry %d has an unknown kind", e.Seq)
	case !skjold.ValidID(e.TenantID) || (e.Kind == "subject" && !skjold.ValidID(e.SubjectID)):
		return fmt.Errorf("store: erasure journal entry %d names no valid id", e.Seq)
	}
	return nil
}
