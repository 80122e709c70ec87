package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// retentionActor is who the sweep acts as in the audit chain.
const retentionActor = "system:retention"

// MaxSweepBatch bounds the rows one sweep transaction deletes.
const MaxSweepBatch = 10_000

// subjectsPerWrite bounds the subjects one sweep transaction erases: an erasure also
// deletes the subject's records, consents and copies, so it weighs more than a record.
const subjectsPerWrite = 50

// holdFree is the condition that no legal hold in force at the first parameter covers the
// record r: not a hold on its tenant, its subject or its category; and that its subject has
// not restricted processing. A subject restricts instead of erasing when it needs the data
// kept (GDPR Art. 18(1)(b) and (c)), so a restriction pauses retention like a hold. The
// restriction an erasure leaves on what it keeps does not: that data goes when its hold ends.
const holdFree = `NOT EXISTS (SELECT 1 FROM holds h WHERE h.tenant_id = r.tenant_id AND h.released_at IS NULL
	AND (h.until IS NULL OR h.until > ?) AND (h.subject_id IS NULL OR h.subject_id = r.subject_id)
	AND (h.category IS NULL OR h.category = '' OR h.category = r.category))
	AND NOT EXISTS (SELECT 1 FROM subjects rs WHERE rs.id = r.subject_id AND rs.restricted_at IS NOT NULL
	AND rs.erasure_pending_at IS NULL)`

// subjectHoldFree is the condition that no legal hold in force at the first parameter covers
// the whole of subject s (a hold of every category on it or on its tenant), and that s has
// not restricted processing (see holdFree).
const subjectHoldFree = `NOT EXISTS (SELECT 1 FROM holds h WHERE h.tenant_id = s.tenant_id AND h.released_at IS NULL
	AND (h.until IS NULL OR h.until > ?) AND (h.subject_id IS NULL OR h.subject_id = s.id)
	AND (h.category IS NULL OR h.category = '' OR h.category = 'subject'))
	AND (s.restricted_at IS NULL OR s.erasure_pending_at IS NOT NULL)`

// Sweep erases what retention says must go, in every tenant that is active or frozen (a
// terminated tenant has nothing left): first each category's records whose period has ended
// and that no legal hold covers; then subjects — an ended relationship whose subject
// category period has passed and that has no record left, a prospect older than
// skjold.DefaultProspectDays [A6], and a pending erasure that nothing holds any more; then
// expired hand-over copies [D3] and consent receipts. Each transaction deletes at most batch rows (1 to
// MaxSweepBatch), and the sweep yields between them, so that the API's writes are never
// queued behind more than one batch. One audit event, retention.sweep, carries the report.
// A failure in one tenant does not stop the others; the errors are returned together with
// the report of what was done.
func (db *DB) Sweep(ctx context.Context, batch int) (*skjold.SweepReport, error) {
	if batch < 1 || batch > MaxSweepBatch {
		return nil, skjold.FieldError("batch", "range", "batch must be between 1 and %d", MaxSweepBatch)
	}
	s := &sweep{db: db, batch: batch, now: db.now().UTC().Truncate(time.Microsecond)}
	s.rep = &skjold.SweepReport{Started: s.now, ByCategory: map[string]int{}}
	tenants, err := s.tenants(ctx)
	if err != nil {
		return nil, err
	}
	restore, err := db.tuneWriterForSweep(ctx)
	if err != nil {
		return nil, err
	}
	defer restore()
	errs := s.run(ctx, tenants)
	s.rep.Finished = db.now().UTC()
	// The report is written even when the sweep was cancelled: it says what was erased.
	// Its commit checkpoints the log once more, in case a cancelled batch was the last.
	err = db.write(context.WithoutCancel(ctx), func(tx *Tx) error {
		tx.audit(&skjold.AuditEvent{Actor: retentionActor, Action: "retention.sweep", Source: "local", Fields: sweepFields(s.rep)})
		tx.erased = s.rep.ErasedRecords+s.rep.ErasedSubjects+s.rep.Downloads > 0
		return nil
	})
	return s.rep, errors.Join(append(errs, err)...)
}

// run sweeps every tenant, then the downloads, and returns the errors met; it stops early
// only when ctx ends.
func (s *sweep) run(ctx context.Context, tenants []string) []error {
	var errs []error
	for _, id := range tenants {
		if err := s.tenant(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
		}
		if ctx.Err() != nil {
			return append(errs, ctx.Err())
		}
	}
	n, err := s.downloads(ctx)
	s.rep.Downloads = n
	if err != nil {
		errs = append(errs, err)
	}
	n, err = s.consentReceipts(ctx)
	s.rep.ConsentReceipts = n
	if err != nil {
		errs = append(errs, err)
	}
	return errs
}

// Writer settings during a sweep (SQLite). A batch dirties much the same pages as the batch
// before (the next entries of the same index pages), so checkpointing the write-ahead log
// every sweepCheckpointPages rather than every 1,000 pages (SQLite's default) writes each
// of them back once per several batches instead of once per batch, which nearly halves the
// sweep's disk writes; the category's last batch still truncates the log (see records). A
// larger page cache keeps the index pages a batch revisits in memory.
const (
	sweepCheckpointPages = 10_000 // about 40 MB of log
	sweepCachePages      = 16_384 // 64 MB
	defaultCheckpoint    = 1000
	defaultCachePages    = 2000 // SQLite's default cache_size (-2000: 2,000 KiB)
)

// tuneWriterForSweep applies the sweep's settings to the writer's connection and returns a
// function that puts SQLite's defaults back. PostgreSQL needs neither.
func (db *DB) tuneWriterForSweep(ctx context.Context) (restore func(), err error) {
	if db.engine != SQLite {
		return func() {}, nil
	}
	set := func(ctx context.Context, checkpoint, cache int) error {
		return db.write(ctx, func(tx *Tx) error {
			var n int
			if err := tx.tx.QueryRow("PRAGMA wal_autocheckpoint = " + strconv.Itoa(checkpoint)).Scan(&n); err != nil {
				return err
			}
			_, err := tx.tx.Exec("PRAGMA cache_size = " + strconv.Itoa(cache))
			return err
		})
	}
	if err := set(ctx, sweepCheckpointPages, sweepCachePages); err != nil {
		return nil, err
	}
	return func() {
		// Put them back even when the sweep was cancelled.
		if err := set(context.WithoutCancel(ctx), defaultCheckpoint, -defaultCachePages); err != nil {
			db.log.Warn("retention sweep could not restore the writer's settings", "err", err)
		}
	}, nil
}

// sweep is one run of Sweep.
type sweep struct {
	db    *DB
	batch int
	now   time.Time
	rep   *skjold.SweepReport
}

// sweepFields are the report's counts as audit fields: totals, then tenant/category:n.
func sweepFields(rep *skjold.SweepReport) []string {
	fields := []string{"erased_records:" + strconv.Itoa(rep.ErasedRecords), "erased_subjects:" + strconv.Itoa(rep.ErasedSubjects),
		"expired_downloads:" + strconv.Itoa(rep.Downloads)}
	var cats []string
	for k, n := range rep.ByCategory {
		cats = append(cats, k+":"+strconv.Itoa(n))
	}
	slices.Sort(cats)
	return append(fields, cats...)
}

func (s *sweep) tenants(ctx context.Context) ([]string, error) {
	return queryAll(ctx, s.db, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, "SELECT id FROM tenants WHERE status IN ('active', 'frozen') ORDER BY id")
}

// tenant sweeps one tenant: its records category by category, then its subjects.
func (s *sweep) tenant(ctx context.Context, tenantID string) error {
	cats, err := queryAll(ctx, s.db, scanCategory, "SELECT definition FROM categories WHERE tenant_id = ? ORDER BY name", tenantID)
	if err != nil {
		return err
	}
	var profile *skjold.Category
	for _, cat := range cats {
		if cat.Name == skjold.SubjectCategory {
			profile = cat
			continue
		}
		if err := s.fillAnchors(ctx, tenantID, cat); err != nil {
			return err
		}
		n, err := s.records(ctx, tenantID, cat)
		s.rep.ErasedRecords += n
		if n > 0 {
			s.rep.ByCategory[tenantID+"/"+cat.Name] += n
		}
		if err != nil {
			return err
		}
	}
	return s.subjects(ctx, tenantID, profile)
}

// yieldPause is how long the sweep waits between two batches: long enough for the writer
// to pick up the API's writes that queued behind the last batch and commit them on their
// own, rather than together with the next batch, so that no request waits for two.
const yieldPause = time.Millisecond

// yield lets the API's queued work go first between two batches.
func yield(ctx context.Context) error {
	t := time.NewTimer(yieldPause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fillAnchors sets the missing retain_from of a category counted from a date field (records
// stored before schema 6, or before a large category's trigger changed), batch by batch,
// opening each record to read its date.
func (s *sweep) fillAnchors(ctx context.Context, tenantID string, cat *skjold.Category) error {
	field := anchorField(cat)
	if field == "" {
		return nil
	}
	for {
		n := 0
		err := s.db.write(ctx, func(tx *Tx) error {
			rows, err := tx.query(selectRecords+" WHERE r.tenant_id = ? AND r.category = ? AND r.retain_from IS NULL LIMIT ?",
				tenantID, cat.Name, s.batch)
			if err != nil {
				return err
			}
			stored, err := collect(rows, scanRecordRow)
			n = len(stored)
			if err != nil {
				return err
			}
			return tx.setFieldAnchors(ctx, tenantID, field, stored)
		})
		if err != nil || n < s.batch {
			return err
		}
		if err := yield(ctx); err != nil {
			return err
		}
	}
}

// records deletes a category's expired records that no hold covers, oldest anchor first,
// batch by batch, and returns how many it deleted. Each batch starts where the last one
// ended, so records a hold keeps are passed over once, not in every batch.
func (s *sweep) records(ctx context.Context, tenantID string, cat *skjold.Category) (int, error) {
	cutoff, ok := retentionCutoff(cat, s.now)
	if !ok {
		return 0, nil
	}
	total, from := 0, int64(math.MinInt64)
	for {
		var ids []string
		deleted := 0
		err := s.db.write(ctx, func(tx *Tx) error {
			var err error
			if ids, from, err = tx.expiredRecords(tenantID, cat.Name, from, cutoff, s.now, s.batch); err != nil {
				return err
			}
			// The category's last batch checkpoints the log (see writer.afterErasure), which
			// then holds no page of any batch before: once per category, not per batch,
			// which would double the sweep's time.
			tx.erased = len(ids) < s.batch && (len(ids) > 0 || total > 0)
			if len(ids) == 0 {
				return nil
			}
			deleted, err = tx.deleteRecords(ids)
			return err
		})
		if err != nil {
			return total, err
		}
		total += deleted // another node's sweep may have deleted some of them first
		if len(ids) < s.batch {
			return total, nil
		}
		if err := yield(ctx); err != nil {
			return total, err
		}
	}
}

// expiredRecords returns up to limit ids of a category's records anchored between from and
// cutoff that no hold in force at now covers, and the newest anchor among them.
func (tx *Tx) expiredRecords(tenantID, category string, from, cutoff int64, now time.Time, limit int) ([]string, int64, error) {
	rows, err := tx.query(`SELECT r.id, r.retain_from FROM records r WHERE r.tenant_id = ? AND r.category = ?
		AND r.retain_from >= ? AND r.retain_from <= ? AND `+holdFree+` ORDER BY r.retain_from LIMIT ?`,
		tenantID, category, from, cutoff, micros(now), limit)
	if err != nil {
		return nil, from, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id, &from); err != nil {
			return nil, from, err
		}
		ids = append(ids, id)
	}
	return ids, from, rows.Err()
}

// deleteRecords deletes records by id, many to a statement, and returns how many it deleted.
func (tx *Tx) deleteRecords(ids []string) (int, error) {
	const chunk = 500
	deleted := 0
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		res, err := tx.exec("DELETE FROM records WHERE id IN (?"+strings.Repeat(", ?", n-1)+")", args...)
		if err != nil {
			return deleted, err
		}
		affected, err := res.RowsAffected()
		if err != nil {
			return deleted, err
		}
		deleted += int(affected)
		ids = ids[n:]
	}
	return deleted, nil
}

// subjectDue is a subject the sweep erases, and why.
type subjectDue struct {
	id           string
	relationship string
	pending      bool
}

// subjects erases a tenant's subjects that retention says must go, subjectsPerWrite to a
// transaction. It walks the candidates by id, so that one it cannot finish (a pending
// erasure still held, the guardian of a minor) is passed over until the next sweep.
func (s *sweep) subjects(ctx context.Context, tenantID string, profile *skjold.Category) error {
	if profile == nil {
		return nil
	}
	after := ""
	for {
		due, err := s.dueSubjects(ctx, tenantID, profile, after, min(s.batch, subjectsPerWrite))
		if err != nil || len(due) == 0 {
			return err
		}
		erased := 0
		err = s.db.write(ctx, func(tx *Tx) error {
			erased = 0
			for _, d := range due {
				done, err := tx.retire(tenantID, d)
				if err != nil {
					return err
				}
				if done {
					erased++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.rep.ErasedSubjects += erased
		after = due[len(due)-1].id
		if err := yield(ctx); err != nil {
			return err
		}
	}
}

// dueSubjects returns up to limit subjects after the id after that retention erases now:
// (a) ended, with the subject category's period passed since the end and no record left;
// (b) prospects created more than skjold.DefaultProspectDays ago; (c) pending erasures.
// A hold on the whole subject or tenant leaves all three alone.
func (s *sweep) dueSubjects(ctx context.Context, tenantID string, profile *skjold.Category, after string, limit int) ([]subjectDue, error) {
	ended, ok := retentionCutoff(profile, s.now)
	if !ok {
		ended = math.MinInt64
	}
	prospect := micros(s.now.AddDate(0, 0, -skjold.DefaultProspectDays))
	return queryAll(ctx, s.db, func(sc scanner) (subjectDue, error) {
		var d subjectDue
		var pending sql.NullInt64
		err := sc.Scan(&d.id, &d.relationship, &pending)
		d.pending = pending.Valid
		return d, err
	}, `SELECT s.id, s.relationship, s.erasure_pending_at FROM subjects s WHERE s.tenant_id = ? AND s.id > ? AND (
		s.erasure_pending_at IS NOT NULL
		OR (s.relationship = 'ended' AND s.relationship_ended_at <= ?
			AND NOT EXISTS (SELECT 1 FROM records r WHERE r.subject_id = s.id))
		OR (s.relationship = 'prospect' AND s.created_at <= ?))
		AND `+subjectHoldFree+` ORDER BY s.id LIMIT ?`, tenantID, after, ended, prospect, micros(s.now), limit)
}

// retire erases one due subject through eraseSubject and reports whether it is gone. A
// prospect's erasure stands even when a hold or a legal obligation keeps some records (the
// enquiry itself must go [A6]; the rest becomes a pending erasure); a pending erasure that
// erased nothing more is undone, so that it does not leave a receipt in every sweep. A
// subject that cannot be erased (the guardian of others) is left alone.
func (tx *Tx) retire(tenantID string, d subjectDue) (bool, error) {
	events := len(tx.events)
	if _, err := tx.exec("SAVEPOINT retention_subject"); err != nil {
		return false, err
	}
	c := &skjold.Caller{Actor: retentionActor, TenantID: tenantID, Source: "local"}
	rep, err := tx.eraseSubject(c, tenantID, d.id, skjold.ErasedByRetention)
	var domain *skjold.Error
	if err != nil && !errors.As(err, &domain) {
		return false, err
	}
	if err == nil && (rep.Complete || rep.Erased > 0 || !d.pending) {
		_, err := tx.exec("RELEASE SAVEPOINT retention_subject")
		return rep.Complete, err
	}
	tx.events = tx.events[:events]
	if err != nil {
		tx.db.log.Warn("retention could not erase a subject", "tenant", tenantID, "subject", d.id, "err", err)
	}
	if _, err := tx.exec("ROLLBACK TO SAVEPOINT retention_subject"); err != nil {
		return false, err
	}
	_, err = tx.exec("RELEASE SAVEPOINT retention_subject")
	return false, err
}

// downloads deletes expired hand-over copies of every tenant, batch by batch [D3].
func (s *sweep) downloads(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := s.db.write(ctx, func(tx *Tx) error {
			res, err := tx.exec("DELETE FROM downloads WHERE id IN (SELECT id FROM downloads WHERE expires_at < ? LIMIT ?)",
				micros(s.now), s.batch)
			if err != nil {
				return err
			}
			affected, err := res.RowsAffected()
			n = int(affected)
			tx.erased = tx.erased || n > 0
			return err
		})
		total += n
		if err != nil || n < s.batch {
			return total, err
		}
		if err := yield(ctx); err != nil {
			return total, err
		}
	}
}
