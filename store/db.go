// Package store keeps Skjold's data in SQLite (embedded, the default) or PostgreSQL, through
// one implementation of the domain services with the few engine differences kept here. It
// seals and opens personal values through a skjold.KeyService and appends the audit chain
// in the same transaction as each change.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/skjold-project/skjold"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Engines.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is an open Skjold database. Reads run concurrently on a pool; every write goes through a
// single writer that commits many requests in one transaction (group commit).
type DB struct {
	engine string
	read   *sql.DB // concurrent readers
	wdb    *sql.DB // the writer's connection(s)

	readStmts, writeStmts *stmtCache // SQLite only: see stmtCache
	keys                  skjold.KeyService
	now                   func() time.Time
	log                   *slog.Logger
	w                     *writer

	tenantKeys sync.Map                 // tenant id → skjold.TenantKey, unwrapped once per process
	tokens     recent[*skjold.Token]    // by secret hash: see Authenticate
	categories recent[*skjold.Category] // by tenant id and name: see cachedCategory
	settings   recent[*tenantSettings]
	budgets    recent[*skjold.ReadBudget] // by tenant id ("" for the operator): see readBudgetFor
	attempts   inflight                   // one password or code check per account at a time
	tokenUse   sync.Map                   // token id → when this node last recorded its use
	resetSlots chan struct{}              // bounds the reset e-mails being made at once  // by tenant id ("" for the operator)
	auth       AuthOptions
	bg         sync.WaitGroup // background sends (reset e-mails), waited for by Close
	closeOnce  sync.Once
	observe    func(op string, d time.Duration)
	onAudit    func(e *skjold.AuditEvent)
	onErasure  func(ctx context.Context, erased []skjold.JournalEntry)
	packager   skjold.Packager
	publicURL  string

	processorHosts    []skjold.ProcessorHost // see SetProcessorHosts
	subprocNoticeDays int                    // see SetSubprocessorNoticeDays

	purge           *purger // SQLite only: see afterErasure
	purgeAlertAfter time.Duration
	audit           *auditKey                 // see loadAuditKey
	committed       atomic.Pointer[chainHead] // the chain head this process last committed
	// keysChecked is when Health last found every tenant key opening (Unix µs), 0 before.
	keysChecked atomic.Int64
}

// Options configure Open. Keys is required.
type Options struct {
	Keys    skjold.KeyService
	Now     func() time.Time                 // defaults to time.Now
	Logger  *slog.Logger                     // defaults to slog.Default
	Observe func(op string, d time.Duration) // called with the duration of each store operation
	Auth    AuthOptions                      // needed by the skjold.AuthService methods
	OnAudit func(e *skjold.AuditEvent)       // called with each committed audit event; must not block
	// Packager writes access packages; requests for access or portability need it.
	Packager skjold.Packager
	// PublicURL is the server's https:// base address, which download links start with.
	PublicURL string
	// PurgeAlertAfter is how long erased data may wait in SQLite's write-ahead log before
	// erasure.purge_blocked is raised; 0 for PurgeAlertAfter.
	PurgeAlertAfter time.Duration
	// OnErasure is called after each write that erased subjects or tenants has committed,
	// with the erasure journal lines it appended (without their seq), in the erasing
	// request before it is answered: what must follow an erasure outside the database (the
	// journal copied to the backup targets [D4], mail to the subject removed) runs there.
	OnErasure func(ctx context.Context, erased []skjold.JournalEntry)
	// Restoring opens a PostgreSQL database that a restore has loaded but not finished (see
	// LoadDump): only the restore itself sets it. Without it, Open refuses such a database.
	Restoring bool
	// Postgres bounds PostgreSQL sessions' waits; nil for DefaultPostgresLimits.
	Postgres *PostgresLimits
}

// AuthOptions are what logins, passwords and second factors need. A store opened without
// them (by the command-line tools) refuses those methods with EINTERNAL.
type AuthOptions struct {
	Hasher  skjold.PasswordHasher
	Checker skjold.PasswordChecker
	OTP     skjold.OTP
	Mailer  skjold.Mailer
	// SMS sends verification codes to subjects with a phone number but no e-mail address on
	// file; nil: such subjects cannot be sent a code.
	SMS    skjold.SMSSender
	Issuer string // the name authenticator apps show; default "Skjold"
	// ResetURL is the start of the link in reset e-mails; the token is appended to it.
	ResetURL string
}

// Open opens the database named by dsn — "postgres://…" or "postgresql://…" for PostgreSQL,
// otherwise a SQLite file path (optionally prefixed "sqlite:") — and migrates it to the
// newest schema.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if opts.Keys == nil {
		return nil, errors.New("store: no key service")
	}
	db := &DB{keys: opts.Keys, now: opts.Now, log: opts.Logger, observe: opts.Observe, auth: opts.Auth,
		resetSlots: make(chan struct{}, maxResetsInFlight)}
	if db.auth.Issuer == "" {
		db.auth.Issuer = "Skjold"
	}
	if db.now == nil {
		db.now = time.Now
	}
	if db.log == nil {
		db.log = slog.Default()
	}
	if db.observe == nil {
		db.observe = func(string, time.Duration) {}
	}
	db.packager, db.publicURL = opts.Packager, strings.TrimSuffix(opts.PublicURL, "/")
	if db.purgeAlertAfter = opts.PurgeAlertAfter; db.purgeAlertAfter <= 0 {
		db.purgeAlertAfter = PurgeAlertAfter
	}
	db.onErasure = opts.OnErasure
	if db.onAudit = opts.OnAudit; db.onAudit == nil {
		db.onAudit = func(*skjold.AuditEvent) {}
	}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		lim := DefaultPostgresLimits
		if opts.Postgres != nil {
			lim = *opts.Postgres
		}
		err = db.openPostgres(dsn, lim)
	} else {
		err = db.openSQLite(strings.TrimPrefix(dsn, "sqlite:"))
	}
	if err == nil && db.engine == Postgres && !opts.Restoring {
		err = refuseRestorePending(ctx, db.read)
	}
	if err != nil {
		if db.read != nil {
			db.closeConns()
		}
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.closeConns()
		return nil, err
	}
	if err := db.Optimize(ctx); err != nil {
		db.closeConns()
		return nil, err
	}
	if !opts.Restoring {
		if err := db.checkMasterKeys(ctx); err != nil {
			db.closeConns()
			return nil, err
		}
	}
	if err := db.loadAuditKey(ctx); err != nil {
		db.closeConns()
		return nil, err
	}
	db.w = startWriter(db)
	if err := db.recordMasterKeys(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) openSQLite(path string) error {
	if path == "" || strings.ContainsAny(path, "?#") {
		return fmt.Errorf("store: SQLite path %q must be a plain file path", path)
	}
	db.engine = SQLite
	// Create the file owner-only before SQLite does, so that it and its -wal and -shm files
	// (which SQLite gives the database file's mode) are not readable by others.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
	// synchronous=FULL makes every commit durable (group commit keeps that affordable);
	// secure_delete overwrites deleted content, so that erased rows and destroyed keys do not
	// linger in free pages. WAL is switched on by enableWAL, not here: see there.
	dsn := func(busy time.Duration) string {
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(" + strconv.Itoa(int(busy/time.Millisecond)) + ")" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=secure_delete(1)"
	}
	base := dsn(sqliteBusyTimeout)
	var err error
	if db.wdb, err = sql.Open("sqlite", base+"&_txlock=immediate"); err != nil {
		return fmt.Errorf("store: open SQLite: %w", err)
	}
	db.wdb.SetMaxOpenConns(1) // one writer: SQLite allows no more, and we never wait on its lock
	if err := enableWAL(db.wdb, sqliteBusyTimeout); err != nil {
		db.wdb.Close()
		return fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	if db.read, err = sql.Open("sqlite", base+"&_pragma=query_only(1)"); err != nil {
		db.wdb.Close()
		return fmt.Errorf("store: open SQLite: %w", err)
	}
	db.read.SetMaxOpenConns(8)
	db.read.SetMaxIdleConns(8)
	db.read.SetConnMaxIdleTime(0)
	// The purger's checkpoints wait only briefly for readers and the writer: see purger.
	if db.purge, err = newPurger(db, dsn(purgeBusyTimeout)); err != nil {
		db.wdb.Close()
		db.read.Close()
		return err
	}
	db.readStmts, db.writeStmts = newStmtCache(db.read), newStmtCache(db.wdb)
	return nil
}

// sqliteBusyTimeout is how long a SQLite connection waits for another connection's lock,
// in this process or another, before it answers SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// enableWAL puts the database into WAL mode, which lets readers run beside the writer. The mode
// is kept in the file, so only the first open of a new database changes anything.
//
// That first change is the one statement SQLite's busy timeout does not cover: the switch reads
// page 1 and then upgrades its read lock to a write lock, and SQLite answers SQLITE_BUSY at once,
// without calling the busy handler, when a connection holding a read lock cannot get the write
// lock (waiting could deadlock two such connections). Several processes opening one new file
// at once therefore race here, and all but one would fail immediately. The losers release their
// read lock by failing, so trying again after a short pause succeeds — by then the winner has
// usually switched the file to WAL and the statement has nothing left to do. The wait is bounded
// by the same timeout as every other lock wait.
func enableWAL(conn *sql.DB, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for {
		var mode string
		err := conn.QueryRow("PRAGMA journal_mode=WAL").Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("SQLite kept journal mode %q: WAL is needed (is the file on a network file system?)", mode)
		case !isBusy(err) || time.Now().After(deadline):
			return fmt.Errorf("switch to WAL: %w", err)
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// Engine returns SQLite or Postgres.
func (db *DB) Engine() string { return db.engine }

// Close stops the writer after the queued writes are committed, then closes the connections.
func (db *DB) Close() error {
	db.bg.Wait() // a reset e-mail being sent still writes nothing, but must not be cut off
	if db.w != nil {
		db.w.stop()
	}
	var err error
	db.closeOnce.Do(func() { err = db.closeConns() })
	return err
}

func (db *DB) closeConns() error {
	db.purge.stop()
	db.readStmts.close()
	db.writeStmts.close()
	err := db.read.Close()
	if db.wdb != db.read {
		err = errors.Join(err, db.wdb.Close())
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return classify(db.read.PingContext(ctx)) }

// rebind turns the "?" placeholders every query is written with into "$1, $2, …" for
// PostgreSQL. Queries hold no literal question marks.
func (db *DB) rebind(q string) string {
	if db.engine != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
		} else {
			b.WriteByte(q[i])
		}
	}
	return b.String()
}

// query and queryRow run a read on the reader pool.
// A database out of reach makes their errors EUNAVAILABLE: see classify.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	var err error
	if s := db.readStmts.prepare(q); s != nil {
		rows, err = s.QueryContext(ctx, args...)
	} else {
		rows, err = db.read.QueryContext(ctx, db.rebind(q), args...)
	}
	return rows, classify(err)
}

func (db *DB) queryRow(ctx context.Context, q string, args ...any) row {
	if s := db.readStmts.prepare(q); s != nil {
		return row{s.QueryRowContext(ctx, args...)}
	}
	return row{db.read.QueryRowContext(ctx, db.rebind(q), args...)}
}

// timed reports the duration of an operation to the observer.
func (db *DB) timed(op string, start time.Time) { db.observe(op, time.Since(start)) }

// micros and fromMicros convert times to and from the stored form.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// queryAll runs a read on the reader pool and scans every row with scan.
func queryAll[T any](ctx context.Context, db *DB, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scan)
}

// collect scans every row with scan and closes rows. It returns an empty slice, not nil, for
// no rows, so that lists encode as [].
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, v)
	}
	return out, classify(rows.Err())
}
