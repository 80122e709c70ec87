package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.RetentionService = (*DB)(nil)

// neverDue is the due time of what no period can expire: a category whose period does not
// parse (Validate refuses those, so only a damaged definition has one).
var neverDue = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// retentionDue returns when a record of cat anchored at retainFrom (its retain_from) is due
// for erasure: retainFrom moved forward by the category's period, in calendar terms.
func retentionDue(cat *skjold.Category, retainFrom time.Time) time.Time {
	p, err := skjold.ParsePeriod(cat.Retention.Period)
	if err != nil {
		return neverDue
	}
	return p.AddTo(retainFrom.UTC())
}

// retentionCutoff returns the newest anchor whose period has ended at t: a record of cat is
// due at t when its retain_from is at or before the cutoff. It moves t back by the period,
// which for the inequality is the same as moving each anchor forward (up to the day a
// month-end clamps to). ok is false for a period that does not parse: nothing is due.
func retentionCutoff(cat *skjold.Category, t time.Time) (cutoff int64, ok bool) {
	p, err := skjold.ParsePeriod(cat.Retention.Period)
	if err != nil {
		return 0, false
	}
	return micros(t.UTC().AddDate(-p.Years, -p.Months, -p.Days)), true
}

// anchorField returns the date field cat's retention counts from, or "" when it counts from
// creation or the end of the relationship.
func anchorField(cat *skjold.Category) string {
	name, ok := strings.CutPrefix(cat.Retention.From, skjold.RetentionFromFieldPrefix)
	if !ok {
		return ""
	}
	return name
}

// fieldAnchor returns the retain_from of a record whose category counts from a date field:
// the field's value, a date (YYYY-MM-DD, taken as midnight UTC) or a date and time (RFC
// 3339). A record that leaves the field empty counts from its creation, so that it still
// expires.
func fieldAnchor(data map[string]any, field string, created time.Time) int64 {
	s, _ := data[field].(string)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return micros(t)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return micros(t)
	}
	return micros(created)
}

// anchorRecord sets the retain_from of a record just inserted in this transaction: its
// creation time, its date field's value, or the end of its subject's relationship (NULL
// while the relationship lasts). The category is read again inside the transaction, so
// that a concurrent change of its trigger cannot leave the record with a stale anchor.
func (tx *Tx) anchorRecord(ctx context.Context, tenantID string, r *skjold.Record) error {
	cat, err := tx.db.category(ctx, tx.rowFunc, tenantID, r.Category)
	if err != nil {
		return err
	}
	switch field := anchorField(cat); {
	case field != "":
		_, err = tx.exec("UPDATE records SET retain_from = ? WHERE id = ?", fieldAnchor(r.Data, field, r.CreatedAt), r.ID)
	case cat.Retention.From == skjold.RetentionFromRelationship:
		_, err = tx.exec(`UPDATE records SET retain_from = (SELECT relationship_ended_at FROM subjects s
			WHERE s.id = records.subject_id) WHERE id = ?`, r.ID)
	default:
		_, err = tx.exec("UPDATE records SET retain_from = created_at WHERE id = ?", r.ID)
	}
	return err
}

// reanchorRecord moves a changed record's retain_from when its category counts from a date
// field that the change touched. rec holds the record as stored after the change.
func (tx *Tx) reanchorRecord(cat *skjold.Category, rec *skjold.Record, change map[string]any) error {
	field := anchorField(cat)
	if _, touched := change[field]; field == "" || !touched {
		return nil
	}
	_, err := tx.exec("UPDATE records SET retain_from = ? WHERE id = ?", fieldAnchor(rec.Data, field, rec.CreatedAt), rec.ID)
	return err
}

// maxReanchorInWrite is how many records of a category PutCategory opens inside its own
// write when the category starts counting from a date field. A larger category has its
// anchors cleared instead, and the next retention sweep fills them in, batch by batch,
// before it judges them: one write never opens more than this many records.
const maxReanchorInWrite = 10_000

// reanchorCategory recomputes retain_from for every record of a category whose trigger
// changed from old to cat. It runs inside PutCategory's write.
func (tx *Tx) reanchorCategory(ctx context.Context, tenantID string, old, cat *skjold.Category) error {
	if old.Retention.From == cat.Retention.From || cat.Name == skjold.SubjectCategory {
		return nil
	}
	var err error
	switch field := anchorField(cat); {
	case field != "":
		return tx.reanchorField(ctx, tenantID, cat.Name, field)
	case cat.Retention.From == skjold.RetentionFromRelationship:
		_, err = tx.exec(`UPDATE records SET retain_from = (SELECT relationship_ended_at FROM subjects s
			WHERE s.id = records.subject_id) WHERE tenant_id = ? AND category = ?`, tenantID, cat.Name)
	default:
		_, err = tx.exec("UPDATE records SET retain_from = created_at WHERE tenant_id = ? AND category = ?", tenantID, cat.Name)
	}
	return err
}

// reanchorField sets retain_from from a date field for every record of a category, opening
// them; above maxReanchorInWrite records it leaves that to the sweep (see there).
func (tx *Tx) reanchorField(ctx context.Context, tenantID, category, field string) error {
	var n int
	if err := tx.queryRow("SELECT COUNT(*) FROM records WHERE tenant_id = ? AND category = ?", tenantID, category).Scan(&n); err != nil {
		return err
	}
	if n > maxReanchorInWrite {
		_, err := tx.exec("UPDATE records SET retain_from = NULL WHERE tenant_id = ? AND category = ?", tenantID, category)
		return err
	}
	rows, err := tx.query(selectRecords+" WHERE r.tenant_id = ? AND r.category = ?", tenantID, category)
	if err != nil {
		return err
	}
	stored, err := collect(rows, scanRecordRow)
	if err != nil {
		return err
	}
	return tx.setFieldAnchors(ctx, tenantID, field, stored)
}

// setFieldAnchors opens stored records and sets each one's retain_from from field.
func (tx *Tx) setFieldAnchors(ctx context.Context, tenantID, field string, stored []recordRow) error {
	if len(stored) == 0 {
		return nil
	}
	tk, err := tx.db.tenantKey(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, row := range stored {
		rec, _, err := row.open(tk)
		if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE records SET retain_from = ? WHERE id = ?", fieldAnchor(rec.Data, field, rec.CreatedAt), rec.ID); err != nil {
			return err
		}
	}
	return nil
}

var relationships = []string{skjold.RelationshipProspect, skjold.RelationshipActive, skjold.RelationshipEnded}

// SetRelationship moves a subject between prospect, active and ended. Ending it stamps
// relationship_ended_at and anchors the subject's records of every category counted from
// the relationship's end at that moment; any other state clears both. Setting the state a
// subject already has changes nothing (an ended relationship keeps its first end time).
func (db *DB) SetRelationship(ctx context.Context, subjectID, state string) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(relationships, state) {
		return skjold.FieldError("state", "relationship", "state must be one of %v", relationships)
	}
	if !skjold.ValidID(subjectID) {
		return errNotFound("subject")
	}
	return db.write(ctx, func(tx *Tx) error {
		var current string
		err := tx.queryRow("SELECT relationship FROM subjects WHERE id = ? AND tenant_id = ?", subjectID, c.TenantID).Scan(&current)
		if err != nil {
			return notFound(err, "subject")
		}
		if current == state {
			return nil
		}
		if err := tx.checkNotPendingErasure(c.TenantID, subjectID); err != nil {
			return err // moving its relationship would move the anchors of what an erasure keeps
		}
		now := micros(db.now())
		var endedAt sql.NullInt64
		if state == skjold.RelationshipEnded {
			endedAt = sql.NullInt64{Int64: now, Valid: true}
		}
		_, err = tx.exec("UPDATE subjects SET relationship = ?, relationship_ended_at = ?, updated_at = ? WHERE id = ?",
			state, endedAt, now, subjectID)
		if err != nil {
			return err
		}
		tx.audit(event(c, "subject.relationship", subjectID, "", []string{"relationship:" + state}))
		return tx.anchorRelationship(c.TenantID, subjectID, endedAt)
	})
}

// anchorRelationship sets retain_from to endedAt (NULL: not ended) for a subject's records
// of every category counted from the end of the relationship.
func (tx *Tx) anchorRelationship(tenantID, subjectID string, endedAt sql.NullInt64) error {
	cats, err := tx.categories(tenantID)
	if err != nil {
		return err
	}
	for _, cat := range cats {
		if cat.Retention.From != skjold.RetentionFromRelationship || cat.Name == skjold.SubjectCategory {
			continue
		}
		_, err := tx.exec("UPDATE records SET retain_from = ? WHERE subject_id = ? AND tenant_id = ? AND category = ?",
			endedAt, subjectID, tenantID, cat.Name)
		if err != nil {
			return err
		}
	}
	return nil
}

// categories returns every category of a tenant, read inside the transaction.
func (tx *Tx) categories(tenantID string) ([]*skjold.Category, error) {
	rows, err := tx.query("SELECT definition FROM categories WHERE tenant_id = ? ORDER BY name", tenantID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanCategory)
}

func scanCategory(s scanner) (*skjold.Category, error) {
	var def string
	if err := s.Scan(&def); err != nil {
		return nil, err
	}
	return decodeCategory(def)
}

// validNewRelationship checks the relationship a subject is created with: prospect or
// active, and active when it is left empty.
func validNewRelationship(s *skjold.Subject) error {
	switch s.Relationship {
	case "":
		s.Relationship = skjold.RelationshipActive
	case skjold.RelationshipProspect, skjold.RelationshipActive:
	default:
		return skjold.FieldError("relationship", "relationship", "a new subject's relationship must be %q or %q",
			skjold.RelationshipProspect, skjold.RelationshipActive)
	}
	return nil
}
