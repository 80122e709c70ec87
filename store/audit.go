package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// chainHead is the last link of the audit chain: its sequence number and hash.
type chainHead struct {
	seq  int64
	hash []byte
}

// readHead reads the chain head at the start of a write transaction. On PostgreSQL the row
// is locked, so that writers on several nodes extend the chain one after another.
func readHead(tx *Tx) (chainHead, error) {
	q := "SELECT seq, hash FROM audit_head WHERE id = 1"
	if tx.db.engine == Postgres {
		q += " FOR UPDATE"
	}
	var h chainHead
	if err := tx.queryRow(q).Scan(&h.seq, &h.hash); err != nil {
		return h, fmt.Errorf("store: read audit head: %w", err)
	}
	return h, nil
}

// chainEvents chains the transaction's queued events onto head: each gets its seq, time,
// previous hash and hash, in order. The writer inserts them, with the other events of its
// transaction, by insertEvents before it commits: the answer still waits for the commit.
func (tx *Tx) chainEvents(head *chainHead) {
	now := tx.db.now().UTC().Truncate(1000) // microseconds: what both engines store
	for _, e := range tx.events {
		e.Seq, e.Time, e.PrevHash = head.seq+1, now, head.hash
		e.Hash = tx.db.audit.hash(e)
		head.seq, head.hash = e.Seq, e.Hash
	}
}

// maxEventRows bounds the rows of one audit insert: 12 values a row stay far below either
// engine's limit on parameters, and one statement text per row count stays few enough to
// prepare each once.
const maxEventRows = 32

// insertEventQueries[n] inserts n audit events in one statement.
var insertEventQueries = func() [maxEventRows + 1]string {
	var qs [maxEventRows + 1]string
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	for n := 1; n <= maxEventRows; n++ {
		qs[n] = `INSERT INTO audit_events
	(seq, time, actor, tenant_id, subject_id, record_id, action, fields, purpose, source, prev_hash, hash)
	VALUES ` + row + strings.Repeat(", "+row, n-1)
	}
	return qs
}()

// insertEvents inserts chained events in their order, as multi-row inserts of up to
// maxEventRows each: a group commit of many audited reads costs a few statements, not one
// per read.
func (tx *Tx) insertEvents(events []*skjold.AuditEvent) error {
	for len(events) > 0 {
		n := min(len(events), maxEventRows)
		args := make([]any, 0, 12*n)
		for _, e := range events[:n] {
			args = append(args, e.Seq, micros(e.Time), e.Actor, e.TenantID, e.SubjectID, e.RecordID,
				e.Action, strings.Join(e.Fields, ","), e.Purpose, e.Source, e.PrevHash, e.Hash)
		}
		if _, err := tx.exec(insertEventQueries[n], args...); err != nil {
			return fmt.Errorf("store: append audit events: %w", err)
		}
		events = events[n:]
	}
	return nil
}

// hash is HMAC-SHA-256 under the audit key (SHA-256 for the events before k.from, made before
// the chain was keyed) over the previous hash and every field of the event, each length-
// prefixed, so that no change to any field, nor a move of the event, keeps the same hash, and
// nobody without the master key can make a hash that verifies.
func (k *auditKey) hash(e *skjold.AuditEvent) []byte {
	var h hash.Hash
	if e.Seq >= k.from {
		h = hmac.New(sha256.New, k.chain)
	} else {
		h = sha256.New()
	}
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put(string(e.PrevHash))
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(micros(e.Time)))
	h.Write(n[:])
	for _, s := range []string{e.Actor, e.TenantID, e.SubjectID, e.RecordID, e.Action,
		strings.Join(e.Fields, ","), e.Purpose, e.Source} {
		put(s)
	}
	return h.Sum(nil)
}

// event returns an audit event for the caller in ctx.
func event(c *skjold.Caller, action, subjectID, recordID string, fields []string) *skjold.AuditEvent {
	if fields == nil {
		fields = []string{}
	}
	return &skjold.AuditEvent{Actor: c.Actor, TenantID: c.TenantID, SubjectID: subjectID, RecordID: recordID,
		Action: action, Fields: fields, Purpose: c.Purpose, Source: c.Source}
}

// auditOnly durably appends events that record reads, before the data is handed out.
func (db *DB) auditOnly(ctx context.Context, events ...*skjold.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	return db.enqueue(ctx, &job{plain: true, done: make(chan error, 1), fn: func(tx *Tx) error {
		tx.events = append(tx.events, events...)
		return nil
	}})
}

const selectEvents = `SELECT seq, time, actor, tenant_id, subject_id, record_id, action, fields, purpose, source,
	prev_hash, hash FROM audit_events`

func scanEvent(rows scanner) (*skjold.AuditEvent, error) {
	var e skjold.AuditEvent
	var t int64
	var fields string
	err := rows.Scan(&e.Seq, &t, &e.Actor, &e.TenantID, &e.SubjectID, &e.RecordID, &e.Action, &fields,
		&e.Purpose, &e.Source, &e.PrevHash, &e.Hash)
	e.Time, e.Fields = fromMicros(t), []string{}
	if fields != "" {
		e.Fields = strings.Split(fields, ",")
	}
	return &e, err
}

// FindAuditEvents returns audit events visible to the caller, and records that it did.
func (db *DB) FindAuditEvents(ctx context.Context, f skjold.AuditFilter) ([]*skjold.AuditEvent, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	q, args := auditQuery(c, f)
	events, err := db.findEvents(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return events, db.auditOnly(ctx, event(c, "audit.read", f.SubjectID, "", nil))
}

// auditQuery builds the query for FindAuditEvents. A tenant's caller filters by its tenant
// first, so that the look-ups by subject and by actor are answered from the indexes
// (tenant_id, subject_id, seq) and (tenant_id, actor, seq): see plan.go.
func auditQuery(c *skjold.Caller, f skjold.AuditFilter) (string, []any) {
	q, args := selectEvents+" WHERE ", []any{}
	if !c.Operator {
		q, args = q+"tenant_id = ? AND ", append(args, c.TenantID)
	}
	q, args = q+"seq > ?", append(args, f.After)
	if f.SubjectID != "" {
		q, args = q+" AND subject_id = ?", append(args, f.SubjectID)
	}
	if f.Actor != "" {
		q, args = q+" AND actor = ?", append(args, f.Actor)
	}
	if f.Action != "" {
		q, args = q+" AND action = ?", append(args, f.Action)
	}
	if f.Security {
		var or []string
		for _, p := range skjold.SecurityActionPrefixes {
			or, args = append(or, "action LIKE ?"), append(args, p+"%")
		}
		q += " AND (" + strings.Join(or, " OR ") + ")"
	}
	if !f.Since.IsZero() {
		q, args = q+" AND time >= ?", append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		q, args = q+" AND time < ?", append(args, micros(f.Until))
	}
	order := " ORDER BY seq LIMIT ?"
	if f.Newest {
		order = " ORDER BY seq DESC LIMIT ?"
	}
	return q + order, append(args, f.Limit)
}

func (db *DB) findEvents(ctx context.Context, q string, args ...any) ([]*skjold.AuditEvent, error) {
	defer db.timed("audit.find", time.Now()) // wall time: the injected clock may stand still
	return queryAll(ctx, db, scanEvent, q, args...)
}

// VerifyAuditChain walks the whole chain from the first event, recomputing every hash, and
// checks the stored chain head against the last event. It reads the events and the head in
// one read-only transaction, so that events appended meanwhile (on a running server) are
// neither seen nor mistaken for a truncation.
func (db *DB) VerifyAuditChain(ctx context.Context) (skjold.ChainReport, error) {
	check, err := db.audit.newCheck(nil)
	if err != nil {
		return skjold.ChainReport{}, err
	}
	return db.verifyChain(ctx, check)
}

func (db *DB) verifyChain(ctx context.Context, check *checkpointCheck) (skjold.ChainReport, error) {
	rep := skjold.ChainReport{KeyedFrom: db.audit.from}
	tx, err := db.snapshot(ctx)
	if err != nil {
		return rep, err
	}
	defer tx.Rollback()
	var head chainHead
	if err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&head.seq, &head.hash); err != nil {
		return rep, fmt.Errorf("store: read audit head: %w", err)
	}
	rows, err := tx.QueryContext(ctx, selectEvents+" ORDER BY seq")
	if err != nil {
		return rep, err
	}
	defer rows.Close()
	prev := make([]byte, sha256.Size)
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return rep, err
		}
		if err := db.audit.checkLink(e, rep.Length+1, prev); err != nil {
			return rep, err
		}
		if err := check.event(e); err != nil {
			return rep, err
		}
		rep.Length, prev = e.Seq, e.Hash
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}
	rep.Head = prev
	if head.seq > rep.Length {
		return rep, &skjold.ChainError{Seq: rep.Length + 1, Reason: fmt.Sprintf(
			"the chain head records %d events but only %d are present: events were removed from the end", head.seq, rep.Length)}
	} else if head.seq != rep.Length || !bytes.Equal(head.hash, prev) {
		return rep, &skjold.ChainError{Seq: rep.Length, Reason: "the stored chain head does not match the last event"}
	}
	err = check.end(rep.Length)
	rep.Checkpoints, rep.Superseded = check.checked, check.superseded
	return rep, err
}

// snapshot begins a read-only transaction that sees one consistent state of the database
// throughout: on PostgreSQL at REPEATABLE READ; on SQLite every read transaction does, as
// WAL mode keeps its snapshot from the first read until it ends.
func (db *DB) snapshot(ctx context.Context) (*sql.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.engine == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("store: begin read snapshot: %w", err)
	}
	if err := db.unlimited(ctx, tx); err != nil { // reading the whole chain may take a while
		tx.Rollback()
		return nil, fmt.Errorf("store: begin read snapshot: %w", err)
	}
	return tx, nil
}

func (k *auditKey) checkLink(e *skjold.AuditEvent, want int64, prev []byte) error {
	switch {
	case e.Seq != want:
		return &skjold.ChainError{Seq: want, Reason: fmt.Sprintf("event %d is missing (next present is %d)", want, e.Seq)}
	case !bytes.Equal(e.PrevHash, prev):
		return &skjold.ChainError{Seq: e.Seq, Reason: "its previous-hash does not match the event before it"}
	case !bytes.Equal(k.hash(e), e.Hash):
		return &skjold.ChainError{Seq: e.Seq, Reason: "its hash does not match its contents: the event was altered"}
	}
	return nil
}

var _ skjold.AuditService = (*DB)(nil)
