package store

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresLimits bound how long Skjold's PostgreSQL sessions may wait and idle, so that one
// stalled or cut-off node cannot hold a lock that every other node's writes wait for: the
// server ends a session that sits idle inside a transaction, and a statement that waits for
// a lock, or runs, longer than allowed. A zero field turns that limit off.
type PostgresLimits struct {
	// IdleInTransaction is idle_in_transaction_session_timeout: a session idle this long
	// inside a transaction (a stopped or cut-off process) is ended by the server, which
	// rolls its transaction back and releases its locks.
	IdleInTransaction time.Duration
	// Lock is lock_timeout: a statement that waits this long for a lock (the audit chain's
	// head row, which every write takes) fails, and the request is answered 503.
	Lock time.Duration
	// Statement is statement_timeout: a statement running this long is cancelled. Whole-
	// database reads that legitimately take longer (backups, audit verification,
	// migrations) lift it for their own transaction.
	Statement time.Duration
}

// DefaultPostgresLimits are the limits a PostgreSQL session gets when Options leave them out.
var DefaultPostgresLimits = PostgresLimits{IdleInTransaction: 5 * time.Second, Lock: 3 * time.Second, Statement: 30 * time.Second}

// TCP keepalives on every PostgreSQL connection, on both ends, so that a peer that vanished
// without closing (a partitioned network, a powered-off machine) is noticed within about
// keepaliveIdle + keepaliveCount×keepaliveInterval instead of the system's two hours.
const (
	keepaliveIdle     = 15 * time.Second
	keepaliveInterval = 5 * time.Second
	keepaliveCount    = 3
	connectTimeout    = 10 * time.Second
)

// pgConfig parses dsn and adds the session limits and keepalives. The limits are sent as
// run-time parameters in the startup message, so that every connection the pool opens,
// including those opened again after a failure, has them from its first statement.
func pgConfig(dsn string, lim PostgresLimits) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = ms(lim.IdleInTransaction)
	cfg.RuntimeParams["lock_timeout"] = ms(lim.Lock)
	cfg.RuntimeParams["statement_timeout"] = ms(lim.Statement)
	// The server's end of the connection (ignored on a unix socket).
	cfg.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(int(keepaliveIdle / time.Second))
	cfg.RuntimeParams["tcp_keepalives_interval"] = strconv.Itoa(int(keepaliveInterval / time.Second))
	cfg.RuntimeParams["tcp_keepalives_count"] = strconv.Itoa(keepaliveCount)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: keepaliveIdle, Interval: keepaliveInterval, Count: keepaliveCount}}
	cfg.DialFunc = d.DialContext
	return cfg, nil
}

func (db *DB) openPostgres(dsn string, lim PostgresLimits) error {
	db.engine = Postgres
	cfg, err := pgConfig(dsn, lim)
	if err != nil {
		// pgx's parse errors repeat the URL, password included.
		return fmt.Errorf("store: open PostgreSQL: the database URL does not parse")
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(16)
	pool.SetMaxIdleConns(16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	db.read, db.wdb = pool, pool
	return nil
}

// unlimited lifts the statement and lock limits for the rest of tx, for the few reads of the
// whole database that may take longer than a request should (backups, audit verification).
// Nothing else waits on what such a transaction holds: it takes no row locks.
func (db *DB) unlimited(ctx context.Context, tx *sql.Tx) error {
	if db.engine != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0")
	return err
}

// unlimitedConn lifts the limits on a connection held for a migration, which may wait for
// another node's migration and run long; the returned function restores them before the
// connection goes back to the pool.
func (db *DB) unlimitedConn(ctx context.Context, conn *sql.Conn) (func(), error) {
	if db.engine != Postgres {
		return func() {}, nil
	}
	for _, q := range []string{"SET statement_timeout = 0", "SET lock_timeout = 0"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	return func() {
		ctx := context.WithoutCancel(ctx)
		conn.ExecContext(ctx, "RESET statement_timeout")
		conn.ExecContext(ctx, "RESET lock_timeout")
	}, nil
}
