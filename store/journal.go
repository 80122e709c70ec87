package store

import (
	"context"

	"github.com/skjold-project/skjold"
)

// journal appends one line to the erasure journal in the write's transaction: the erasure
// and its journal line commit together or not at all. subjectID is "" for a whole tenant.
func (tx *Tx) journal(tenantID, subjectID, kind, reason string) error {
	if tx.replaying {
		return nil
	}
	now := tx.db.now()
	if _, err := tx.exec(`INSERT INTO erasure_journal (time, tenant_id, subject_id, kind, reason) VALUES (?, ?, ?, ?, ?)`,
		micros(now), tenantID, subjectID, kind, reason); err != nil {
		return err
	}
	tx.journaled = append(tx.journaled, skjold.JournalEntry{Time: now, TenantID: tenantID, SubjectID: subjectID, Kind: kind, Reason: reason})
	return nil
}

func scanJournalEntry(s scanner) (*skjold.JournalEntry, error) {
	var e skjold.JournalEntry
	var t int64
	if err := s.Scan(&e.Seq, &t, &e.TenantID, &e.SubjectID, &e.Kind, &e.Reason); err != nil {
		return nil, err
	}
	e.Time = fromMicros(t)
	return &e, nil
}

// FindJournal returns erasure journal entries after seq, oldest first. Only operators read
// it: it spans every tenant, and the backups replay it.
func (db *DB) FindJournal(ctx context.Context, after int64, limit int) ([]*skjold.JournalEntry, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > skjold.MaxPageLimit || after < 0 {
		return nil, skjold.Errorf(skjold.EINVALID, "after must be 0 or more and limit between 1 and %d", skjold.MaxPageLimit)
	}
	return queryAll(ctx, db, scanJournalEntry, `SELECT seq, time, tenant_id, subject_id, kind, reason
		FROM erasure_journal WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
}

// JournalSeq returns the erasure journal's last sequence number, 0 when it is empty. It is
// what a node compares to decide whether the targets' copy of the journal is behind.
func (db *DB) JournalSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := db.queryRow(ctx, "SELECT COALESCE(MAX(seq), 0) FROM erasure_journal").Scan(&seq)
	return seq, err
}
