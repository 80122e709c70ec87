package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/skjold-project/skjold"
)

const selectHolds = "SELECT id, subject_id, category, reason, until, created_by, created_at, released_at FROM holds"

func scanHold(s scanner) (*skjold.Hold, error) {
	var h skjold.Hold
	var subject, category sql.NullString
	var until, released sql.NullInt64
	var created int64
	if err := s.Scan(&h.ID, &subject, &category, &h.Reason, &until, &h.CreatedBy, &created, &released); err != nil {
		return nil, err
	}
	h.SubjectID, h.Category, h.Until = subject.String, category.String, optTime(until)
	h.CreatedAt, h.ReleasedAt = fromMicros(created), optTime(released)
	return &h, nil
}

// PlaceHold places a legal hold on one subject of the caller's tenant, or (SubjectID "") on
// the whole tenant, of one category or (Category "") all [D2]. While it is in force no
// erasure deletes what it covers. It fills in ID, CreatedBy and CreatedAt.
// Errors: EINVALID (also for a subject or category the tenant does not have), EFORBIDDEN.
func (db *DB) PlaceHold(ctx context.Context, h *skjold.Hold) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	if err := h.Validate(now); err != nil {
		return err
	}
	if h.Until != nil {
		until := h.Until.UTC().Truncate(time.Microsecond)
		h.Until = &until
	}
	return db.write(ctx, func(tx *Tx) error {
		if err := tx.checkHoldTarget(c.TenantID, h); err != nil {
			return err
		}
		h.ID, h.CreatedBy, h.CreatedAt, h.ReleasedAt = newID(), c.Actor, now, nil
		var until any
		if h.Until != nil {
			until = micros(*h.Until)
		}
		_, err := tx.exec(`INSERT INTO holds (id, tenant_id, subject_id, category, reason, until, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, h.ID, c.TenantID, nullable(h.SubjectID), nullable(h.Category), h.Reason,
			until, h.CreatedBy, micros(now))
		if err != nil {
			return err
		}
		fields := []string{"hold:" + h.ID}
		if h.Category != "" {
			fields = append(fields, "category:"+h.Category)
		}
		tx.audit(event(c, "hold.place", h.SubjectID, "", fields))
		return nil
	})
}

// checkHoldTarget refuses a hold on a subject or category the tenant does not have.
func (tx *Tx) checkHoldTarget(tenantID string, h *skjold.Hold) error {
	var one int
	if h.SubjectID != "" {
		err := tx.queryRow("SELECT 1 FROM subjects WHERE id = ? AND tenant_id = ?", h.SubjectID, tenantID).Scan(&one)
		if err != nil {
			return notFoundAs(err, skjold.FieldError("subject_id", "exists", "subject_id does not name a subject of this tenant"))
		}
	}
	if h.Category != "" {
		err := tx.queryRow("SELECT 1 FROM categories WHERE tenant_id = ? AND name = ?", tenantID, h.Category).Scan(&one)
		if err != nil {
			return notFoundAs(err, skjold.FieldError("category", "exists", "category does not name a category of this tenant"))
		}
	}
	return nil
}

// FindHolds returns the caller's tenant's legal holds, newest first, in force or released.
func (db *DB) FindHolds(ctx context.Context) ([]*skjold.Hold, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, scanHold, selectHolds+" WHERE tenant_id = ? ORDER BY created_at DESC, id DESC", c.TenantID)
}

// ReleaseHold ends a legal hold of the caller's tenant now. What it kept is erased by the
// next retention sweep, or by erasing the subject again. Releasing a released hold changes
// nothing. Errors: ENOTFOUND, EFORBIDDEN.
func (db *DB) ReleaseHold(ctx context.Context, id string) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidID(id) {
		return errNotFound("hold")
	}
	return db.write(ctx, func(tx *Tx) error {
		var subject sql.NullString
		var released sql.NullInt64
		err := tx.queryRow("SELECT subject_id, released_at FROM holds WHERE id = ? AND tenant_id = ?", id, c.TenantID).
			Scan(&subject, &released)
		if err != nil {
			return notFound(err, "hold")
		}
		if released.Valid {
			return nil
		}
		if _, err := tx.exec("UPDATE holds SET released_at = ? WHERE id = ?", micros(db.now()), id); err != nil {
			return err
		}
		tx.audit(event(c, "hold.release", subject.String, "", []string{"hold:" + id}))
		return nil
	})
}
