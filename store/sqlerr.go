package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/skjold-project/skjold"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// isUniqueViolation reports whether err is a unique-constraint violation on either engine.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (in any of its extended forms): another
// connection holds a lock this one needs.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isForeignKeyViolation reports whether err is a foreign-key violation on either engine.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// notFound maps sql.ErrNoRows to an ENOTFOUND error about what, and passes other errors on.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound(what)
	}
	return err
}

// notFoundAs maps sql.ErrNoRows to as, and passes other errors on.
func notFoundAs(err error, as error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return as
	}
	return err
}

// retryAfter is what a client is told to wait after the database was unavailable: about
// as long as a stalled session takes to be ended, or a failover to be noticed.
const retryAfter = 5 * time.Second

// errUnavailable is what a request learns when the database could not be reached or gave
// up on its statement for a reason a retry may cure; the cause stays in the chain for the log.
var errUnavailable = &skjold.Error{Code: skjold.EUNAVAILABLE, Message: "the database is unavailable; try again shortly",
	RetryAfter: retryAfter}

// transient reports whether err says the database is out of reach or ended a statement for a
// reason a retry may cure: a connection refused, lost or timed out, a server shutting down
// or a standby not accepting writes (a failover under way), a lock, statement or idle
// timeout, a serialization failure or deadlock, too many connections; on SQLite, a lock held
// past the busy timeout.
func transient(err error) bool {
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "57P"),      // admin_shutdown, crash_shutdown, cannot_connect_now
			strings.HasPrefix(pe.Code, "53"),       // insufficient resources: too many connections, out of memory
			pe.Code == "40001", pe.Code == "40P01", // serialization failure, deadlock
			pe.Code == "55P03", pe.Code == "57014", // lock_timeout, statement_timeout (query_canceled)
			pe.Code == "25P03", pe.Code == "25006": // idle_in_transaction timeout, read-only (a standby)
			return true
		}
		return false
	}
	if isBusy(err) {
		return true
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded)
}

// classify turns a transient database error into an EUNAVAILABLE error with a Retry-After
// that keeps err as its cause, and passes any other error on unchanged.
func classify(err error) error {
	var de *skjold.Error
	if !transient(err) || errors.As(err, &de) {
		return err
	}
	return fmt.Errorf("%w: %w", errUnavailable, err)
}

// row is a *sql.Row whose Scan classifies transient errors: see classify.
type row struct{ *sql.Row }

func (r row) Scan(dest ...any) error { return classify(r.Row.Scan(dest...)) }
