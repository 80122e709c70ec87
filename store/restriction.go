package store

import (
	"context"
	"database/sql"
	"slices"

	"github.com/skjold-project/skjold"
)

// Restriction [C4] and objection [C5] are enforced here, in the code path that serves reads
// and writes of subjects and records: the hooks in subject.go and record.go call these
// functions, so no caller can skip them.

// rowQuerier runs a single-row query: the reader pool's or a write transaction's.
type rowQuerier = func(context.Context, string, ...any) scanner

// subjectState is what the rules need to know of a subject.
type subjectState struct{ restricted, objected bool }

func errRestricted() error {
	return skjold.Errorf(skjold.ECONFLICT, "this subject's processing is restricted: lift the restriction before changing its data")
}

func errRestrictedRead() error {
	return skjold.Errorf(skjold.EFORBIDDEN, "this subject's processing is restricted: read it only with the purpose %s", skjold.PurposeLegalClaims)
}

// stateOf reads a subject's restriction and objection; a subject not in the tenant is
// ENOTFOUND.
func stateOf(ctx context.Context, row rowQuerier, tenantID, id string) (subjectState, error) {
	var restricted, objected sql.NullInt64
	err := row(ctx, "SELECT restricted_at, objected_at FROM subjects WHERE id = ? AND tenant_id = ?", id, tenantID).
		Scan(&restricted, &objected)
	return subjectState{restricted: restricted.Valid, objected: objected.Valid}, notFound(err, "subject")
}

func (db *DB) readSubjectState(ctx context.Context, tenantID, id string) (subjectState, error) {
	return stateOf(ctx, db.rowFunc, tenantID, id)
}

func (tx *Tx) subjectState(tenantID, id string) (subjectState, error) {
	return stateOf(context.Background(), tx.rowFunc, tenantID, id)
}

// checkWritable refuses a change of a restricted subject's data with ECONFLICT. It runs in
// the write, so a restriction cannot land between the check and the change.
func (tx *Tx) checkWritable(tenantID, subjectID string) error {
	st, err := tx.subjectState(tenantID, subjectID)
	if err != nil {
		return err
	}
	if st.restricted {
		return errRestricted()
	}
	return nil
}

// checkRead returns EFORBIDDEN when the caller may not read the subject's data: the subject
// is restricted and the caller's purpose is not legal_claims; or the caller's purpose is
// registered with the basis legitimate interest and the subject objected; or it is
// registered with the basis consent and the subject's newest consent to it is not a grant.
// An empty or unregistered purpose is subject to the restriction only.
func (db *DB) checkRead(ctx context.Context, c *skjold.Caller, subjectID string, st subjectState) error {
	if st.restricted && c.Purpose != skjold.PurposeLegalClaims {
		return errRestrictedRead()
	}
	if c.Purpose == "" {
		return nil
	}
	p, err := db.purpose(ctx, db.rowFunc, c.TenantID, c.Purpose)
	if skjold.ErrorCode(err) == skjold.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	switch p.LegalBasis {
	case skjold.BasisLegitimateInterest:
		if st.objected {
			return skjold.Errorf(skjold.EFORBIDDEN, "this subject objected to processing based on legitimate interest: the purpose %s may not be used", p.Name)
		}
	case skjold.BasisConsent:
		ok, err := consentInForce(ctx, db.rowFunc, subjectID, p.Name)
		if err != nil {
			return err
		} else if !ok {
			return skjold.Errorf(skjold.EFORBIDDEN, "this subject has not consented to the purpose %s, or withdrew consent", p.Name)
		}
	}
	return nil
}

// checkSubjectRead is checkRead for a subject read with its state.
func (db *DB) checkSubjectRead(ctx context.Context, c *skjold.Caller, s *skjold.Subject) error {
	return db.checkRead(ctx, c, s.ID, subjectState{restricted: s.Restricted, objected: s.Objected})
}

// withholdRefused applies checkRead to a subject in a list: a subject the caller may not
// read is listed with every profile value withheld. It returns the fields read, given the
// fields the purpose rules left.
func (db *DB) withholdRefused(ctx context.Context, c *skjold.Caller, s *skjold.Subject, fields []string) ([]string, error) {
	err := db.checkSubjectRead(ctx, c, s)
	if skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		return fields, err
	}
	for name := range s.Values() {
		s.SetValue(name, "")
		s.Withheld = append(s.Withheld, name)
	}
	slices.Sort(s.Withheld)
	return []string{}, nil
}

// withholdRecordRefused applies checkRead to a record returned after a write, with the
// state of its subject read in that write: a record the caller may not read under its
// purpose (withdrawn consent, objection) comes back with every value withheld, so that a
// change is no way round the read rules.
func (db *DB) withholdRecordRefused(ctx context.Context, c *skjold.Caller, rec *skjold.Record, st subjectState) error {
	err := db.checkRead(ctx, c, rec.SubjectID, st)
	if skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		return err
	}
	for name := range rec.Data {
		rec.Withheld = append(rec.Withheld, name)
	}
	clear(rec.Data)
	slices.Sort(rec.Withheld)
	return nil
}

// checkRecordReads applies checkRead to the subjects of records about to be returned.
func (db *DB) checkRecordReads(ctx context.Context, c *skjold.Caller, rows []recordRow) error {
	checked := map[string]bool{}
	for _, r := range rows {
		if checked[r.subjectID] {
			continue
		}
		checked[r.subjectID] = true
		st, err := db.readSubjectState(ctx, c.TenantID, r.subjectID)
		if err != nil {
			return err
		}
		if err := db.checkRead(ctx, c, r.subjectID, st); err != nil {
			return err
		}
	}
	return nil
}

// SetRestriction restricts a subject's processing, or lifts the restriction. Restricting
// again keeps the time it began.
func (db *DB) SetRestriction(ctx context.Context, subjectID string, restricted bool) error {
	q, action := "UPDATE subjects SET restricted_at = NULL WHERE id = ? AND tenant_id = ?", "subject.unrestrict"
	if restricted {
		q, action = "UPDATE subjects SET restricted_at = COALESCE(restricted_at, ?) WHERE id = ? AND tenant_id = ?", "subject.restrict"
	}
	return db.setSubjectFlag(ctx, subjectID, restricted, q, action)
}

// SetObjection records a subject's objection to processing based on legitimate interest, or
// lifts it.
func (db *DB) SetObjection(ctx context.Context, subjectID string, objected bool) error {
	q, action := "UPDATE subjects SET objected_at = NULL WHERE id = ? AND tenant_id = ?", "subject.unobject"
	if objected {
		q, action = "UPDATE subjects SET objected_at = COALESCE(objected_at, ?) WHERE id = ? AND tenant_id = ?", "subject.object"
	}
	return db.setSubjectFlag(ctx, subjectID, objected, q, action)
}

// setSubjectFlag runs q, which sets (set: with the time as its first argument) or clears a
// flag of the subject, and audits action.
func (db *DB) setSubjectFlag(ctx context.Context, subjectID string, set bool, q, action string) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidID(subjectID) {
		return errNotFound("subject")
	}
	args := []any{subjectID, c.TenantID}
	if set {
		args = append([]any{micros(db.now())}, args...)
	}
	return db.write(ctx, func(tx *Tx) error {
		if action == "subject.unrestrict" {
			if err := tx.checkNotPendingErasure(c.TenantID, subjectID); err != nil {
				return err
			}
		}
		res, err := tx.exec(q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("subject")
		}
		tx.audit(event(c, action, subjectID, "", nil))
		return nil
	})
}

// checkNotPendingErasure refuses, with ECONFLICT, to lift the restriction of a subject whose
// erasure is pending: what a hold or a statutory retention keeps of it stays restricted
// until it is erased [C3, D2].
func (tx *Tx) checkNotPendingErasure(tenantID, subjectID string) error {
	var pending sql.NullInt64
	err := tx.queryRow("SELECT erasure_pending_at FROM subjects WHERE id = ? AND tenant_id = ?", subjectID, tenantID).Scan(&pending)
	if err != nil {
		return notFound(err, "subject")
	}
	if pending.Valid {
		return skjold.Errorf(skjold.ECONFLICT, "this subject was erased except for what a hold or a legal obligation keeps: that stays restricted until it is erased")
	}
	return nil
}
