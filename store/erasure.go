package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// EraseSubject erases a subject of the caller's tenant, keeping only what a legal hold or a
// statutory retention still covers; see eraseSubject.
func (db *DB) EraseSubject(ctx context.Context, id, reason string) (*skjold.ErasureReport, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidName(reason) {
		return nil, skjold.FieldError("reason", "name", "reason must be a short name such as %q", skjold.ErasedOnRequest)
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("subject")
	}
	var rep *skjold.ErasureReport
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.checkIfMatch(ctx, "subjects", "subject", c.TenantID, id); err != nil {
			return err
		}
		rep, err = tx.eraseSubject(c, c.TenantID, id, reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	rep.PurgePending = db.PurgePending() > 0 // the writer tried the checkpoint before answering
	return rep, nil
}

// eraseSubject erases a subject of tenantID inside the write, for an erasure request, the
// retention sweep or anything else that must erase a person [C3, D2, D4]. Every record is
// deleted but those a legal hold in force covers or whose category is kept under a legal
// obligation that has not ended; consents, contact sends and hand-over copies go too.
//
// When nothing is kept, the subject's row, with its wrapped data key, is deleted (the
// sealed values can never be opened again), the erasure is journalled, and the report is
// Complete. When something is kept, the row and its key stay for the kept records, but the
// profile is emptied, its lookups cleared, the subject restricted and marked as pending
// erasure, and the erasure journalled too; calling eraseSubject again once nothing is held
// any more finishes the job. Replaying a journal line after a restore means calling
// eraseSubject again: it erases what the line's erasure erased, and keeps what is held.
// Either way the audit chain gets a subject.erase receipt with counts and the reason.
// c is who erases (a system caller for the sweep); the receipt is filed under tenantID.
// Errors: ENOTFOUND, ECONFLICT (the subject is the guardian of others).
func (tx *Tx) eraseSubject(c *skjold.Caller, tenantID, subjectID, reason string) (*skjold.ErasureReport, error) {
	now := tx.db.now().UTC().Truncate(time.Microsecond)
	if err := tx.checkErasable(tenantID, subjectID); err != nil {
		return nil, err
	}
	recs, err := tx.erasureRecords(tenantID, subjectID)
	if err != nil {
		return nil, err
	}
	rules, err := tx.newKeepRules(tenantID, subjectID, now)
	if err != nil {
		return nil, err
	}
	rep := &skjold.ErasureReport{SubjectID: subjectID, Kept: []skjold.Kept{}, Time: now}
	var keptIDs, erasedIDs []string
	for _, r := range recs {
		k, err := rules.keep(r)
		if err != nil {
			return nil, err
		}
		if k == nil {
			erasedIDs = append(erasedIDs, r.id)
			continue
		}
		keptIDs = append(keptIDs, r.id)
		rep.Kept = addKept(rep.Kept, k)
	}
	rep.Erased, rep.Complete = len(erasedIDs), len(keptIDs) == 0
	if rep.Complete {
		err = tx.deleteSubject(tenantID, subjectID, reason)
	} else {
		err = tx.keepRemains(tenantID, subjectID, reason, erasedIDs, keptIDs, now)
	}
	if err != nil {
		return nil, err
	}
	ev := event(c, "subject.erase", subjectID, "", []string{"erased:" + strconv.Itoa(rep.Erased),
		"kept:" + strconv.Itoa(len(keptIDs)), "reason:" + reason, "complete:" + strconv.FormatBool(rep.Complete)})
	ev.TenantID = tenantID
	tx.audit(ev)
	tx.erased = true
	return rep, nil
}

// checkErasable returns ENOTFOUND for a subject that is not the tenant's, and ECONFLICT for
// the guardian of other subjects, who would be left without one.
func (tx *Tx) checkErasable(tenantID, subjectID string) error {
	var one int
	err := tx.queryRow("SELECT 1 FROM subjects WHERE id = ? AND tenant_id = ?", subjectID, tenantID).Scan(&one)
	if err != nil {
		return notFound(err, "subject")
	}
	var n int
	if err := tx.queryRow("SELECT COUNT(*) FROM subjects WHERE guardian_id = ? AND tenant_id = ?", subjectID, tenantID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return skjold.Errorf(skjold.ECONFLICT, "this subject is the guardian of %d subjects: give them another guardian or erase them first", n)
	}
	return nil
}

// erasureRecord is what an erasure needs to know of a record to decide whether it stays.
type erasureRecord struct {
	id, category string
	retainFrom   sql.NullInt64
}

func (tx *Tx) erasureRecords(tenantID, subjectID string) ([]erasureRecord, error) {
	rows, err := tx.query("SELECT id, category, retain_from FROM records WHERE subject_id = ? AND tenant_id = ? ORDER BY id",
		subjectID, tenantID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(s scanner) (erasureRecord, error) {
		var r erasureRecord
		err := s.Scan(&r.id, &r.category, &r.retainFrom)
		return r, err
	})
}

// heldBy is a legal hold in force, as an erasure weighs it.
type heldBy struct {
	category string // "" for every category
	reason   string
	until    *time.Time
}

// keepRules decide which of one subject's records an erasure keeps.
type keepRules struct {
	tx         *Tx
	tenantID   string
	now        time.Time
	holds      []heldBy
	categories map[string]*skjold.Category
}

// newKeepRules reads the legal holds in force on the subject or its whole tenant.
func (tx *Tx) newKeepRules(tenantID, subjectID string, now time.Time) (*keepRules, error) {
	rows, err := tx.query(`SELECT category, reason, until FROM holds WHERE tenant_id = ?
		AND (subject_id IS NULL OR subject_id = ?) AND released_at IS NULL AND (until IS NULL OR until > ?)`,
		tenantID, subjectID, micros(now))
	if err != nil {
		return nil, err
	}
	holds, err := collect(rows, func(s scanner) (heldBy, error) {
		var h heldBy
		var category sql.NullString
		var until sql.NullInt64
		err := s.Scan(&category, &h.reason, &until)
		h.category, h.until = category.String, optTime(until)
		return h, err
	})
	if err != nil {
		return nil, err
	}
	return &keepRules{tx: tx, tenantID: tenantID, now: now, holds: holds, categories: map[string]*skjold.Category{}}, nil
}

// keep returns why r must be kept, or nil when it may be erased. Of several reasons, the one
// that keeps it longest is given: an open-ended hold, else the latest end.
func (k *keepRules) keep(r erasureRecord) (*skjold.Kept, error) {
	var best *skjold.Kept
	consider := func(c *skjold.Kept) {
		if best == nil || (best.Until != nil && (c.Until == nil || c.Until.After(*best.Until))) {
			best = c
		}
	}
	for _, h := range k.holds {
		if h.category == "" || h.category == r.category {
			consider(&skjold.Kept{Category: r.category, Count: 1, Reason: "legal_hold: " + h.reason, Until: h.until})
		}
	}
	statutory, err := k.statutory(r)
	if err != nil {
		return nil, err
	}
	if statutory != nil {
		consider(statutory)
	}
	return best, nil
}

// statutory returns the retention a legal obligation still imposes on r, or nil. A record
// whose retention has not started (retain_from unknown, as when it counts from the end of a
// relationship the erasure itself ends) counts from now.
func (k *keepRules) statutory(r erasureRecord) (*skjold.Kept, error) {
	cat, ok := k.categories[r.category]
	if !ok {
		var err error
		cat, err = k.tx.db.category(context.Background(), k.tx.rowFunc, k.tenantID, r.category)
		if err != nil && skjold.ErrorCode(err) != skjold.ENOTFOUND {
			return nil, err
		}
		k.categories[r.category] = cat
	}
	if cat == nil || cat.LegalBasis != skjold.BasisLegalObligation {
		return nil, nil
	}
	p, err := skjold.ParsePeriod(cat.Retention.Period)
	if err != nil {
		return nil, fmt.Errorf("store: category %s has a bad retention period: %w", cat.Name, err)
	}
	from := k.now
	if r.retainFrom.Valid {
		from = fromMicros(r.retainFrom.Int64)
	}
	due := p.AddTo(from)
	if !due.After(k.now) {
		return nil, nil
	}
	reason := fmt.Sprintf("%s: kept %s from %s", skjold.BasisLegalObligation, cat.Retention.Period, describeTrigger(cat.Retention.From))
	return &skjold.Kept{Category: r.category, Count: 1, Reason: reason, Until: &due}, nil
}

// describeTrigger names a retention trigger for a person reading an erasure report.
func describeTrigger(from string) string {
	switch {
	case from == skjold.RetentionFromCreated:
		return "creation"
	case from == skjold.RetentionFromRelationship:
		return "the end of the relationship"
	case strings.HasPrefix(from, skjold.RetentionFromFieldPrefix):
		return strings.TrimPrefix(from, skjold.RetentionFromFieldPrefix)
	}
	return from
}

// addKept counts k into the group of the same category, reason and end.
func addKept(groups []skjold.Kept, k *skjold.Kept) []skjold.Kept {
	for i := range groups {
		g := &groups[i]
		if g.Category == k.Category && g.Reason == k.Reason && sameTime(g.Until, k.Until) {
			g.Count++
			return groups
		}
	}
	return append(groups, *k)
}

func sameTime(a, b *time.Time) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(*b))
}

// deleteSubject deletes the subject's records and row, with its wrapped data key (the
// subject's other rows go with it by cascade), and journals the erasure.
func (tx *Tx) deleteSubject(tenantID, subjectID, reason string) error {
	if err := tx.deleteSubjectRows(tenantID, subjectID); err != nil {
		return err
	}
	return tx.journal(tenantID, subjectID, "subject", reason)
}

// deleteSubjectRows deletes the subject's records and row; its other rows go by cascade.
func (tx *Tx) deleteSubjectRows(tenantID, subjectID string) error {
	if _, err := tx.exec("DELETE FROM records WHERE subject_id = ? AND tenant_id = ?", subjectID, tenantID); err != nil {
		return err
	}
	_, err := tx.exec("DELETE FROM subjects WHERE id = ? AND tenant_id = ?", subjectID, tenantID)
	return err
}

// keepRemains erases all but the kept records (restrictRemains) and journals the erasure
// when it is new or erased more: a backup taken before it still holds the profile and the
// erased records, and replaying the line after a restore erases them again under the holds
// and obligations then in force. A retry that erases nothing more adds no line.
func (tx *Tx) keepRemains(tenantID, subjectID, reason string, erasedIDs, keptIDs []string, now time.Time) error {
	var pending sql.NullInt64
	if err := tx.queryRow("SELECT erasure_pending_at FROM subjects WHERE id = ?", subjectID).Scan(&pending); err != nil {
		return err
	}
	if err := tx.restrictRemains(subjectID, erasedIDs, keptIDs, now); err != nil {
		return err
	}
	if pending.Valid && len(erasedIDs) == 0 {
		return nil
	}
	return tx.journal(tenantID, subjectID, "subject", reason)
}

// restrictRemains deletes what is not kept of a subject whose row must stay for its kept
// records: the erased records, consents, contact sends and hand-over copies. It empties the
// profile and its lookups (nobody finds the subject any more), restricts the subject, ends
// its relationship and marks its erasure pending; kept records whose retention had not
// started count from now.
func (tx *Tx) restrictRemains(subjectID string, erasedIDs, keptIDs []string, now time.Time) error {
	for _, id := range erasedIDs {
		if _, err := tx.exec("DELETE FROM records WHERE id = ?", id); err != nil {
			return err
		}
	}
	for _, q := range []string{"DELETE FROM consents WHERE subject_id = ?", "DELETE FROM contact_sends WHERE subject_id = ?",
		"DELETE FROM downloads WHERE subject_id = ?"} {
		if _, err := tx.exec(q, subjectID); err != nil {
			return err
		}
	}
	for _, id := range keptIDs {
		if _, err := tx.exec("UPDATE records SET retain_from = ? WHERE id = ? AND retain_from IS NULL", micros(now), id); err != nil {
			return err
		}
	}
	empty, err := sealValues(nil, "", nil) // no values: nothing is sealed, no key is needed
	if err != nil {
		return err
	}
	at := micros(now)
	_, err = tx.exec(`UPDATE subjects SET fields = ?, email_idx = NULL, phone_idx = NULL, ref_idx = NULL,
		guardian_id = NULL, restricted_at = COALESCE(restricted_at, ?), erasure_pending_at = COALESCE(erasure_pending_at, ?),
		relationship = ?, relationship_ended_at = COALESCE(relationship_ended_at, ?), updated_at = ? WHERE id = ?`,
		empty, at, at, skjold.RelationshipEnded, at, at, subjectID)
	return err
}
