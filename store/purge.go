package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/skjold-project/skjold"
)

const (
	// purgeBusyTimeout is how long one checkpoint waits for readers and the writer: short,
	// so that a reader holding an old snapshot never stalls the writer for long.
	purgeBusyTimeout = 200 * time.Millisecond
	// purgeRetryMax caps the pause between checkpoint attempts while one is owed.
	purgeRetryMax = 2 * time.Second
	// PurgeAlertAfter is how long erased data may wait in SQLite's write-ahead log before
	// the purger raises erasure.purge_blocked (an alert) [D4], unless Options say otherwise.
	PurgeAlertAfter = time.Minute
)

// purger removes erased data from SQLite's write-ahead log [D4]. secure_delete zeroes freed
// content in the database file, but the log keeps the earlier versions of the changed pages
// until a TRUNCATE checkpoint copies it into the database and empties it; a reader holding an
// older snapshot blocks that. The purger tries after every erasing commit and, while it is
// blocked, again in the background, with growing pauses up to purgeRetryMax, until it
// succeeds. After PurgeAlertAfter (Options.PurgeAlertAfter) it appends erasure.purge_blocked, which raises an alert,
// and keeps trying; PurgePending, a metric, says how long erased data has waited.
type purger struct {
	db   *DB
	conn *sql.DB // its own connection, with a short busy timeout
	kick chan struct{}
	quit chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	since time.Time // when the oldest erasure still in the log committed; zero for none
}

func newPurger(db *DB, dsn string) (*purger, error) {
	conn, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite: %w", err)
	}
	conn.SetMaxOpenConns(1)
	p := &purger{db: db, conn: conn, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p, nil
}

// checkpoint runs one TRUNCATE checkpoint and reports whether it emptied the log.
func (p *purger) checkpoint() bool {
	start := time.Now()
	defer p.db.timed("checkpoint", start)
	var busy, logFrames, checkpointed int
	err := p.conn.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed)
	return err == nil && busy == 0
}

// erased is called by the writer after a commit that erased personal data. It returns once
// the log is emptied or, if a reader blocks that, once the background retry is owed.
func (p *purger) erased() {
	if p == nil {
		return
	}
	if p.checkpoint() {
		p.settle()
		return
	}
	p.mu.Lock()
	if p.since.IsZero() {
		p.since = time.Now()
	}
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// settle records that the log holds no erased data any more.
func (p *purger) settle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.since.IsZero() {
		p.db.log.Info("erased data checkpointed out of the write-ahead log", "waited", time.Since(p.since).Round(time.Millisecond).String())
	}
	p.since = time.Time{}
}

// pending returns how long erased data has waited in the log; 0 for none.
func (p *purger) pending() time.Duration {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.since.IsZero() {
		return 0
	}
	return time.Since(p.since)
}

func (p *purger) loop() {
	defer close(p.done)
	for {
		select {
		case <-p.quit:
			return
		case <-p.kick:
		}
		if !p.retry() {
			return
		}
	}
}

// retry tries the checkpoint until it succeeds; it returns false when the purger stops.
func (p *purger) retry() bool {
	pause, alerted := 10*time.Millisecond, false
	for p.pending() > 0 {
		t := time.NewTimer(pause)
		select {
		case <-p.quit:
			t.Stop()
			return false
		case <-t.C:
		}
		if p.checkpoint() {
			p.settle()
			return true
		}
		pause = min(2*pause, purgeRetryMax)
		if waited := p.pending(); !alerted && waited >= p.db.purgeAlertAfter {
			alerted = true
			p.alert(waited)
		}
	}
	return true
}

// alert appends erasure.purge_blocked, which the alert dispatcher forwards.
func (p *purger) alert(waited time.Duration) {
	p.db.log.Error("erased data is still in the write-ahead log: a reader keeps the checkpoint from finishing",
		"waited", waited.Round(time.Second).String())
	ev := &skjold.AuditEvent{Actor: "system:purge", Action: "erasure.purge_blocked", Source: "local",
		Fields: []string{"waited_seconds:" + fmt.Sprint(int(waited.Seconds()))}}
	if err := p.db.auditOnly(context.Background(), ev); err != nil {
		p.db.log.Error("could not record erasure.purge_blocked", "err", err)
	}
}

// stop ends the background retries, trying one last checkpoint if one is owed.
func (p *purger) stop() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.quit)
		<-p.done
		if p.pending() > 0 && p.checkpoint() {
			p.settle()
		}
		p.conn.Close()
	})
}

// PurgePending returns how long erased data has waited in SQLite's write-ahead log for a
// checkpoint that a reader blocks; 0 when none waits (always, on PostgreSQL). For /metrics.
func (db *DB) PurgePending() time.Duration { return db.purge.pending() }
