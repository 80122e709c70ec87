package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/skjold-project/skjold"
)

// LoadDump loads a skjold-dump-v1 (see DumpPostgres) into the EMPTY PostgreSQL database dsn:
// it refuses a database that has any table (but first drops every table and function of one
// that holds only an interrupted restore, marked restore-pending, which it says in
// DumpInfo.Cleaned: a rerun completes [D4]), marks the database restore-pending (see
// FinishRestore), builds the schema at the dump's version with the migrations, then loads
// every table with COPY in the dump's order, all in one transaction, and moves identity
// sequences (the erasure journal's seq) past the loaded rows. A damaged or truncated dump
// loads nothing. Migrating further, to the newest schema, is Open's job (with
// Options.Restoring); until FinishRestore, Open refuses the database, so that a restore cut
// off before the erasure journal was replayed [D4] is never served.
func LoadDump(ctx context.Context, dsn string, r io.Reader, log *slog.Logger) (*DumpInfo, error) {
	if log == nil {
		log = slog.Default()
	}
	d, err := newDumpReader(r)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	cleaned, err := clearInterrupted(ctx, conn)
	if err != nil {
		return nil, err
	}
	if cleaned {
		log.Warn("an interrupted restore was cleaned up: the restore-pending database's tables were dropped", "component", "store")
	}
	if err := refuseNonEmpty(ctx, conn); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE "+restorePending+" (since TIMESTAMPTZ NOT NULL DEFAULT now())"); err != nil {
		return nil, fmt.Errorf("store: mark the database restore-pending: %w", err)
	}
	if err := migrateEmpty(ctx, dsn, d.header.SchemaVersion, log); err != nil {
		return nil, err
	}
	if err := loadRows(ctx, conn, d); err != nil {
		return nil, fmt.Errorf("%w (no rows were loaded; the database holds the empty schema, marked restore-pending: "+
			"another \"skjold restore\" into it starts over)", err)
	}
	d.info.Cleaned = cleaned
	return &d.info, nil
}

// clearInterrupted drops, in one transaction, every table and function of the current
// schema when the database is marked restore-pending: it then holds only what a restore that
// was cut off loaded, which may include data erased after the backup. It reports whether it
// did; an unmarked database is left alone.
func clearInterrupted(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var pending bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", restorePending).Scan(&pending); err != nil {
		return false, fmt.Errorf("store: inspect the target database: %w", err)
	}
	if !pending {
		return false, nil
	}
	var drops []string
	rows, err := conn.Query(ctx, `SELECT 'DROP TABLE IF EXISTS ' || quote_ident(table_name) || ' CASCADE'
		FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
		UNION ALL SELECT 'DROP FUNCTION IF EXISTS ' || p.oid::regprocedure::text || ' CASCADE'
		FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace`)
	if err != nil {
		return false, fmt.Errorf("store: clean up an interrupted restore: %w", err)
	}
	if drops, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return false, fmt.Errorf("store: clean up an interrupted restore: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("store: clean up an interrupted restore: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, q := range drops {
		if _, err := tx.Exec(ctx, q); err != nil {
			return false, fmt.Errorf("store: clean up an interrupted restore: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("store: clean up an interrupted restore: %w", err)
	}
	return true, nil
}

// restorePending is the table whose presence marks a PostgreSQL database a restore has
// loaded but not yet finished: migrated, replayed and verified. It is outside the schema's
// migrations, and FinishRestore drops it. (A SQLite restore needs none: it does all of that
// in a file beside the database and renames it into place last.)
const restorePending = "skjold_restore_pending"

// ErrRestorePending is returned (wrapped) by Open for a PostgreSQL database whose restore
// did not finish: it may hold subjects and tenants erased after the backup.
var ErrRestorePending = errors.New("store: a restore into this database did not finish, so it may still hold " +
	"data erased after the backup: run \"skjold restore\" into it again (it starts over), or drop it")

// refuseRestorePending returns ErrRestorePending when the database is marked restore-pending.
func refuseRestorePending(ctx context.Context, q *sql.DB) error {
	var pending bool
	if err := q.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", restorePending).Scan(&pending); err != nil {
		return fmt.Errorf("store: inspect the database: %w", err)
	}
	if pending {
		return ErrRestorePending
	}
	return nil
}

// FinishRestore ends the restore-pending state LoadDump began, once the restore has migrated
// the database, replayed the erasure journal and verified the audit chain: from then on Open
// accepts the database. It does nothing on SQLite, or on a database that was never pending.
// Only operators (the restore) call it. Errors: EUNAUTHORIZED, EFORBIDDEN.
func (db *DB) FinishRestore(ctx context.Context) error {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return err
	}
	if db.engine != Postgres {
		return nil
	}
	if _, err := db.wdb.ExecContext(ctx, "DROP TABLE IF EXISTS "+restorePending); err != nil {
		return fmt.Errorf("store: finish the restore: %w", err)
	}
	return nil
}

// loadRows loads every table of the dump in one transaction.
func loadRows(ctx context.Context, conn *pgx.Conn, d *dumpReader) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: load dump: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, t := range d.header.Tables {
		if err := loadTable(ctx, tx, d, t); err != nil {
			return err
		}
	}
	if err := d.end(); err != nil {
		return err
	}
	if err := resetIdentities(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: load dump: commit: %w", err)
	}
	return nil
}

// refuseNonEmpty refuses a PostgreSQL database whose current schema has any table.
func refuseNonEmpty(ctx context.Context, conn *pgx.Conn) error {
	var n int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables
		WHERE table_schema = current_schema()`).Scan(&n); err != nil {
		return fmt.Errorf("store: inspect the target database: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("store: the target PostgreSQL database is not empty (%d tables): restore into a new, empty database", n)
	}
	return nil
}

// migrateEmpty builds the schema of version on the empty database dsn.
func migrateEmpty(ctx context.Context, dsn string, version int, log *slog.Logger) error {
	if version <= 0 {
		return errors.New("store: the dump names no schema version")
	}
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("store: open PostgreSQL: %w", err)
	}
	defer pool.Close()
	db := &DB{engine: Postgres, read: pool, wdb: pool, log: log}
	return db.migrateTo(ctx, version)
}

// loadTable replaces what the migrations seeded in table (the audit head, the migrations
// list) with the dump's rows, by COPY.
func loadTable(ctx context.Context, tx pgx.Tx, d *dumpReader, table string) error {
	cols, err := d.table(table)
	if err != nil {
		return err
	}
	var seeded bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+quoteIdent(table)+")").Scan(&seeded); err != nil {
		return fmt.Errorf("store: load %s: the target has no such table at this schema version: %w", table, err)
	}
	if seeded {
		if _, err := tx.Exec(ctx, "DELETE FROM "+quoteIdent(table)); err != nil {
			return fmt.Errorf("store: load %s: %w", table, err)
		}
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	src := &copySource{d: d, table: table, cols: cols}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, names, src)
	if err == nil {
		err = src.err
	}
	if err != nil {
		return fmt.Errorf("store: load %s: %w", table, err)
	}
	if n != d.info.Rows[table] {
		return fmt.Errorf("store: load %s: %d rows loaded of %d", table, n, d.info.Rows[table])
	}
	return nil
}

// copySource feeds one table's rows from the dump to COPY.
type copySource struct {
	d     *dumpReader
	table string
	cols  []dumpColumn
	vals  []any
	err   error
}

func (s *copySource) Next() bool {
	raw, err := s.d.row(s.table, s.cols)
	if err != nil || raw == nil {
		s.err = err
		return false
	}
	s.vals = make([]any, len(raw))
	for i, r := range raw {
		if s.vals[i], err = decodeValue(r, s.cols[i].Type); err != nil {
			s.err = fmt.Errorf("store: the dump is damaged: column %s: %w", s.cols[i].Name, err)
			return false
		}
	}
	return true
}

func (s *copySource) Values() ([]any, error) { return s.vals, nil }
func (s *copySource) Err() error             { return s.err }

// resetIdentities moves every identity column's sequence past the rows COPY loaded, so that
// the next erasure journal entry gets the next seq.
func resetIdentities(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return err
	}
	type ident struct{ table, column string }
	var ids []ident
	for rows.Next() {
		var i ident
		if err := rows.Scan(&i.table, &i.column); err != nil {
			return err
		}
		ids = append(ids, i)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, i := range ids {
		q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT MAX(%s) AS m FROM %s) x WHERE m IS NOT NULL",
			quoteIdent(i.column), quoteIdent(i.table))
		if _, err := tx.Exec(ctx, q, i.table, i.column); err != nil {
			return fmt.Errorf("store: reset the sequence of %s.%s: %w", i.table, i.column, err)
		}
	}
	return nil
}

// ReplayJournal re-applies after a restore [D4] every entry of entries (a copy of the erasure
// journal kept beside the backups) newer than both after (the backup's last journal seq) and
// the database's own journal: a subject is erased again as eraseSubject erases (its data key
// goes with its row unless a hold or legal obligation in the restored data keeps records), a tenant goes as termination deletes it, with its key. Each entry is appended
// to the journal under its original seq and time, and the audit chain records the replay
// (backup.erasure_replay, with the backup's id). It is one write: all or nothing. It returns
// how many entries it applied; run before the server accepts requests. Only operators (the
// restore, the command line) replay. Errors: EUNAUTHORIZED, EFORBIDDEN.
func (db *DB) ReplayJournal(ctx context.Context, entries []*skjold.JournalEntry, after int64, backupID string) (int, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return 0, err
	}
	n := 0
	err := db.write(ctx, func(tx *Tx) error {
		n = 0
		var last sql.NullInt64
		if err := tx.queryRow("SELECT MAX(seq) FROM erasure_journal").Scan(&last); err != nil {
			return err
		}
		from := max(after, last.Int64)
		for _, e := range entries {
			if e.Seq <= from {
				continue
			}
			if err := tx.replay(e); err != nil {
				return fmt.Errorf("store: replay erasure journal entry %d: %w", e.Seq, err)
			}
			n++
		}
		if n > 0 {
			tx.erased = true
			tx.audit(&skjold.AuditEvent{Actor: "system:restore", Action: "backup.erasure_replay", Source: "local",
				Fields: []string{"backup:" + backupID, "after:" + strconv.FormatInt(from, 10), "replayed:" + strconv.Itoa(n)}})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > 0 && db.engine == Postgres {
		_, err = db.wdb.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('erasure_journal', 'seq'), MAX(seq)) FROM erasure_journal`)
	}
	db.tokens.clear()
	return n, err
}

// replay applies one journal entry and appends it to the journal.
func (tx *Tx) replay(e *skjold.JournalEntry) error {
	switch e.Kind {
	case "subject":
		// A ward of the erased subject (given another guardian later) must not block it.
		if _, err := tx.exec("UPDATE subjects SET guardian_id = NULL WHERE guardian_id = ?", e.SubjectID); err != nil {
			return err
		}
		// The same erasure again, under the holds and legal obligations in the restored
		// data: a line may stand for an erasure that had to keep records, which must stay.
		sys := &skjold.Caller{Actor: "system:restore", Operator: true, Source: "local"}
		tx.replaying = true
		_, err := tx.eraseSubject(sys, e.TenantID, e.SubjectID, e.Reason)
		tx.replaying = false
		if err != nil && skjold.ErrorCode(err) != skjold.ENOTFOUND {
			return err
		}
	case "tenant":
		sys := &skjold.Caller{Actor: "system:restore", Operator: true, Source: "local"}
		if err := tx.destroyTenantKey(sys, e.TenantID); err != nil && skjold.ErrorCode(err) != skjold.ENOTFOUND {
			return err
		}
		if _, err := tx.deleteTenantRows(e.TenantID); err != nil {
			return err
		}
		tx.db.forgetTenant(e.TenantID)
	default:
		return fmt.Errorf("unknown kind %q", e.Kind)
	}
	q := "INSERT INTO erasure_journal (seq, time, tenant_id, subject_id, kind, reason) VALUES (?, ?, ?, ?, ?, ?)"
	if tx.db.engine == Postgres {
		q = "INSERT INTO erasure_journal (seq, time, tenant_id, subject_id, kind, reason) OVERRIDING SYSTEM VALUE VALUES (?, ?, ?, ?, ?, ?)"
	}
	_, err := tx.exec(q, e.Seq, micros(e.Time), e.TenantID, e.SubjectID, e.Kind, e.Reason)
	return err
}
