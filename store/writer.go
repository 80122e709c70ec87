package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skjold-project/skjold"
)

// maxBatch bounds how many writes one transaction commits.
const maxBatch = 512

// keyringLock is the PostgreSQL advisory lock taken by every transaction that wraps a tenant
// key, so that a master key rotation on another node never misses a new tenant.
const keyringLock = 0x6b657972696e67 // "keyring"

// Tx is the transaction a write runs in, with the audit events it will append.
type Tx struct {
	tx     *sql.Tx
	db     *DB
	events []*skjold.AuditEvent
	erased bool // the write erased personal data: see writer.afterErasure
	// replaying: the write re-applies erasure journal lines, which it appends itself with
	// their original seq; the erasures it runs add none.
	replaying bool
	journaled []skjold.JournalEntry // the erasure journal lines the write appended (no seq)
}

func (tx *Tx) exec(q string, args ...any) (sql.Result, error) {
	if s := tx.stmt(q); s != nil {
		return s.Exec(args...)
	}
	return tx.tx.Exec(tx.db.rebind(q), args...)
}

func (tx *Tx) queryRow(q string, args ...any) *sql.Row {
	if s := tx.stmt(q); s != nil {
		return s.QueryRow(args...)
	}
	return tx.tx.QueryRow(tx.db.rebind(q), args...)
}

func (tx *Tx) query(q string, args ...any) (*sql.Rows, error) {
	if s := tx.stmt(q); s != nil {
		return s.Query(args...)
	}
	return tx.tx.Query(tx.db.rebind(q), args...)
}

// stmt returns q's cached prepared statement bound to the transaction, or nil: then q runs
// unprepared this time and is prepared after the transaction (see stmtCache.want).
func (tx *Tx) stmt(q string) *sql.Stmt {
	cache := tx.db.writeStmts
	if cache == nil {
		return nil
	}
	s := cache.get(q)
	if s == nil {
		cache.want(q)
		return nil
	}
	return tx.tx.Stmt(s) // reuses the statement prepared on this connection
}

// audit queues an event; it is chained and inserted when the write succeeds.
func (tx *Tx) audit(e *skjold.AuditEvent) { tx.events = append(tx.events, e) }

// lockKeyring serialises tenant key wraps with master key rotation across nodes. SQLite
// needs nothing: its write transactions are exclusive.
func (tx *Tx) lockKeyring() error {
	if tx.db.engine != Postgres {
		return nil
	}
	_, err := tx.tx.Exec("SELECT pg_advisory_xact_lock($1)", keyringLock)
	return err
}

type job struct {
	fn   func(*Tx) error
	done chan error
	// plain marks a job with nothing of its own that can fail, such as appending the audit
	// events of a read: it runs without a savepoint, and an error in it (which can only come
	// from the database itself) fails the whole transaction.
	plain bool
}

// writer runs every write of the process on one goroutine. Writes that arrive while a
// transaction commits wait and are committed together in the next one, so that many
// requests share one fsync (group commit), and SQLite never reports "database is locked".
type writer struct {
	db    *DB
	jobs  chan *job
	quit  chan struct{}
	ended chan struct{}

	// mu guards stopped: enqueue sends under a read lock, so that once stop has set stopped,
	// no job can land in the channel after the writer's last drain and wait forever.
	mu       sync.RWMutex
	stopped  bool
	stopOnce sync.Once
}

func startWriter(db *DB) *writer {
	w := &writer{db: db, jobs: make(chan *job, maxBatch), quit: make(chan struct{}), ended: make(chan struct{})}
	go w.loop()
	return w
}

func (w *writer) stop() {
	w.stopOnce.Do(func() {
		w.mu.Lock()
		w.stopped = true
		w.mu.Unlock()
		close(w.quit)
	})
	<-w.ended
}

// write runs fn in a write transaction and returns once that transaction is durably
// committed (or failed). fn's audit events are committed with it, or not at all.
// A write that appended erasure journal lines calls Options.OnErasure with them once it
// has committed, before it returns.
func (db *DB) write(ctx context.Context, fn func(*Tx) error) error {
	var erased []skjold.JournalEntry
	err := db.enqueue(ctx, &job{fn: func(tx *Tx) error {
		err := fn(tx)
		erased = tx.journaled // read below only after the job is done
		return err
	}, done: make(chan error, 1)})
	if err == nil && len(erased) > 0 && db.onErasure != nil {
		db.onErasure(ctx, erased)
	}
	return err
}

func (db *DB) enqueue(ctx context.Context, j *job) error {
	w := db.w
	w.mu.RLock()
	if w.stopped {
		w.mu.RUnlock()
		return skjold.Errorf(skjold.EUNAVAILABLE, "the server is shutting down")
	}
	select { // the writer runs until stopped is set, so a full channel drains
	case w.jobs <- j:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued, the write may commit: wait for its outcome even if ctx ends, so that a
	// caller never reports failure for a write that was made.
	return <-j.done
}

func (w *writer) loop() {
	defer close(w.ended)
	for {
		select {
		case j := <-w.jobs:
			w.commit(w.collect(j))
			w.db.writeStmts.prepareWanted() // the connection is free between transactions
		case <-w.quit:
			for { // commit what was queued before the stop
				select {
				case j := <-w.jobs:
					w.commit(w.collect(j))
				default:
					return
				}
			}
		}
	}
}

// collect returns first with every job already waiting, up to maxBatch.
func (w *writer) collect(first *job) []*job {
	batch := []*job{first}
	for len(batch) < maxBatch {
		select {
		case j := <-w.jobs:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

// commit runs a batch in one transaction. Each job runs inside a savepoint, so that one
// refused write does not undo the others; then the chain head is stored and all commit.
func (w *writer) commit(batch []*job) {
	start := time.Now()
	errs, erased, err := w.run(batch)
	if err == nil && erased {
		w.afterErasure()
	}
	for i, j := range batch {
		if err != nil {
			j.done <- classify(err)
		} else {
			j.done <- classify(errs[i])
		}
	}
	w.db.timed("commit", start)
}

func (w *writer) run(batch []*job) (errs []error, erased bool, err error) {
	db := w.db
	sqlTx, head, err := w.begin()
	if err != nil {
		return nil, false, err
	}
	defer sqlTx.Rollback()
	errs = make([]error, len(batch))
	var committed []*skjold.AuditEvent
	for i, j := range batch {
		var jobErased bool
		if errs[i], jobErased, err = w.runJob(sqlTx, &head, j, len(batch) > 1 && !j.plain, &committed); err != nil {
			return nil, false, err
		}
		erased = erased || jobErased
	}
	if err := (&Tx{tx: sqlTx, db: db}).insertEvents(committed); err != nil {
		return nil, false, err
	}
	if _, err := (&Tx{tx: sqlTx, db: db}).exec("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", head.seq, head.hash); err != nil {
		return nil, false, fmt.Errorf("store: update audit head: %w", err)
	}
	if err := sqlTx.Commit(); err != nil {
		return nil, false, fmt.Errorf("store: commit: %w", err)
	}
	db.committed.Store(&head)
	for _, e := range committed {
		db.onAudit(e)
	}
	return errs, erased, nil
}

// beginAttempts is how often the writer tries to begin a transaction and lock the chain head
// before it fails the batch: once more after a lock timeout gives the server time to end a
// stalled session that held the head (idle_in_transaction_session_timeout is longer than
// lock_timeout), so that a stall costs the waiting writes some seconds, not an error.
const beginAttempts = 2

// begin starts the batch's transaction and reads (on PostgreSQL, locks) the audit chain's
// head. Nothing of the batch has run yet, so a transient failure here is safe to try again.
func (w *writer) begin() (*sql.Tx, chainHead, error) {
	var err error
	for range beginAttempts {
		var sqlTx *sql.Tx
		if sqlTx, err = w.db.wdb.BeginTx(context.Background(), nil); err != nil {
			err = fmt.Errorf("store: begin write: %w", err)
			continue
		}
		head, herr := readHead(&Tx{tx: sqlTx, db: w.db})
		if herr == nil {
			return sqlTx, head, nil
		}
		sqlTx.Rollback()
		if err = herr; !transient(err) {
			break
		}
	}
	return nil, chainHead{}, err
}

// afterErasure runs after a commit that erased personal data. SQLite's secure_delete
// overwrites freed content in the database file, but earlier versions of the changed pages
// stay in the write-ahead log until it is reset: the purger checkpoints it, on its own
// connection, and retries in the background while readers block that [D4].
func (w *writer) afterErasure() {
	if w.db.engine != SQLite {
		return // PostgreSQL reclaims dead rows with VACUUM: see the README's security model
	}
	w.db.purge.erased()
}

// runJob runs one job. Its own error is returned first, then whether it erased personal
// data; the last error is one that spoils the whole transaction.
func (w *writer) runJob(sqlTx *sql.Tx, head *chainHead, j *job, savepoint bool, committed *[]*skjold.AuditEvent) (error, bool, error) {
	tx := &Tx{tx: sqlTx, db: w.db}
	if savepoint {
		if _, err := tx.exec("SAVEPOINT job"); err != nil {
			return nil, false, fmt.Errorf("store: savepoint: %w", err)
		}
	}
	saved := *head
	err := safeRun(j.fn, tx)
	if err == nil {
		tx.chainEvents(head) // inserted with the batch's other events: see run
		*committed = append(*committed, tx.events...)
	}
	switch {
	case err == nil && savepoint:
		_, rerr := tx.exec("RELEASE SAVEPOINT job")
		return nil, tx.erased, rerr
	case err == nil:
		return nil, tx.erased, nil
	case !savepoint:
		return nil, false, err // without a savepoint, the failure spoils the transaction
	}
	*head = saved
	if _, rerr := tx.exec("ROLLBACK TO SAVEPOINT job"); rerr != nil {
		return nil, false, errors.Join(err, rerr)
	}
	_, rerr := tx.exec("RELEASE SAVEPOINT job")
	return err, false, rerr
}

// safeRun turns a panic in a write into an error, so that one bad request cannot stop the
// writer that every request depends on.
func safeRun(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: write panicked: %v", r)
		}
	}()
	return fn(tx)
}
