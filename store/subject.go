package store

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.SubjectService = (*DB)(nil)

const selectSubjects = "SELECT id, wrapped_key, fields, guardian_id, created_at, updated_at, restricted_at, objected_at, " +
	"relationship, relationship_ended_at FROM subjects"

// subjectRow is a subject as stored: sealed.
type subjectRow struct {
	id               string
	wrapped, fields  []byte
	guardian         sql.NullString
	created, updated int64
	restricted       sql.NullInt64 // restricted_at
	objected         sql.NullInt64 // objected_at
	relationship     string
	relationshipEnd  sql.NullInt64 // relationship_ended_at
}

func (r *subjectRow) scan(s scanner) error {
	return s.Scan(&r.id, &r.wrapped, &r.fields, &r.guardian, &r.created, &r.updated, &r.restricted, &r.objected,
		&r.relationship, &r.relationshipEnd)
}

func scanSubjectRow(s scanner) (subjectRow, error) {
	var r subjectRow
	err := r.scan(s)
	return r, err
}

// open unwraps the subject's key and opens its profile values.
func (r *subjectRow) open(tk skjold.TenantKey) (*skjold.Subject, skjold.SubjectKey, error) {
	key, err := tk.OpenSubjectKey(r.id, r.wrapped)
	if err != nil {
		return nil, nil, err
	}
	values, err := openValues(key, "", r.fields)
	if err != nil {
		return nil, nil, err
	}
	s := &skjold.Subject{ID: r.id, GuardianID: r.guardian.String, CreatedAt: fromMicros(r.created), UpdatedAt: fromMicros(r.updated)}
	s.Restricted, s.Objected = r.restricted.Valid, r.objected.Valid
	s.Version = version(r.fields)
	s.Relationship, s.RelationshipEndedAt = r.relationship, optTime(r.relationshipEnd)
	for name, v := range values {
		if str, ok := v.(string); ok {
			s.SetValue(name, str)
		}
	}
	return s, key, nil
}

// withhold leaves out the purpose-bound profile values the caller stated no purpose for.
func withholdSubject(s *skjold.Subject, def *skjold.Category, purpose string) []string {
	values := map[string]any{}
	for k, v := range s.Values() {
		values[k] = v
	}
	s.Withheld = def.Withhold(values, purpose)
	for _, name := range s.Withheld {
		s.SetValue(name, "")
	}
	return sortedKeys(values)
}

// lookups returns the blind indexes of the subject's e-mail, phone and reference (nil where
// the value is empty), in the column order email, phone, ref.
func lookups(tk skjold.TenantKey, s *skjold.Subject) [3]any {
	var idx [3]any
	for i, kv := range [3][2]string{{skjold.LookupEmail, s.Email}, {skjold.LookupPhone, s.Phone}, {skjold.LookupRef, s.Ref}} {
		if kv[1] != "" {
			idx[i] = tk.BlindIndex(kv[0], skjold.NormalizeLookup(kv[0], kv[1]))
		}
	}
	return idx
}

func profileValues(s *skjold.Subject) map[string]any {
	values := map[string]any{}
	for k, v := range s.Values() {
		values[k] = v
	}
	return values
}

// tenantContext returns the caller, its tenant key and the subject category.
func (db *DB) tenantContext(ctx context.Context) (*skjold.Caller, skjold.TenantKey, *skjold.Category, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return nil, nil, nil, err
	}
	def, err := db.cachedCategory(ctx, c.TenantID, skjold.SubjectCategory)
	return c, tk, def, err
}

// CreateSubject stores a new subject sealed under a fresh data key.
func (db *DB) CreateSubject(ctx context.Context, s *skjold.Subject) error {
	return db.CreateSubjectWithRecords(ctx, s, nil)
}

// errDuplicateRef is the ECONFLICT error for a ref already used in the tenant.
func errDuplicateRef() error {
	return &skjold.Error{Code: skjold.ECONFLICT, Message: "a subject with this ref already exists", Field: "ref", Rule: "unique"}
}

func touched(values map[string]any, guardianID string) []string {
	names := sortedKeys(values)
	if guardianID != "" {
		names = append(names, "guardian_id")
	}
	return names
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// checkGuardian refuses a minor without a guardian, and a guardian who is not an adult
// subject of the same tenant. It runs inside the write, so the guardian cannot change
// between the check and the insert.
func (tx *Tx) checkGuardian(tenantID string, tk skjold.TenantKey, s *skjold.Subject) error {
	now := tx.db.now()
	minor := skjold.IsMinor(s.BirthDate, now)
	if s.GuardianID == "" {
		if minor {
			return skjold.FieldError("guardian_id", "guardian", "a subject under %d needs a guardian_id naming an adult subject of the same tenant", skjold.AdultAge)
		}
		return nil
	}
	var r subjectRow
	err := r.scan(tx.queryRow(selectSubjects+" WHERE id = ? AND tenant_id = ?", s.GuardianID, tenantID))
	if err == sql.ErrNoRows {
		return skjold.FieldError("guardian_id", "guardian", "guardian_id does not name a subject of this tenant")
	} else if err != nil {
		return err
	}
	g, _, err := r.open(tk)
	if err != nil {
		return err
	}
	if minor && !skjold.IsAdult(g.BirthDate, now) {
		return skjold.FieldError("guardian_id", "guardian", "the guardian must be an adult subject with a known birth date")
	}
	return nil
}

// FindSubjectByID returns one subject of the caller's tenant and audits the read.
func (db *DB) FindSubjectByID(ctx context.Context, id string) (*skjold.Subject, error) {
	c, tk, def, err := db.tenantContext(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("subject")
	}
	start := time.Now()
	var r subjectRow
	if err := r.scan(db.queryRow(ctx, qSubjectByID, id, c.TenantID)); err != nil {
		return nil, notFound(err, "subject")
	}
	db.timed("subject.find", start)
	s, _, err := r.open(tk)
	if err != nil {
		return nil, err
	}
	if err := db.checkSubjectRead(ctx, c, s); err != nil {
		return nil, err
	}
	fields := withholdSubject(s, def, c.Purpose)
	return s, db.auditRead(ctx, c, event(c, "subject.read", s.ID, "", fields))
}

// FindSubjects returns the caller's tenant's subjects matching the filter and audits each read.
func (db *DB) FindSubjects(ctx context.Context, f skjold.SubjectFilter) ([]*skjold.Subject, error) {
	c, tk, def, err := db.tenantContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Page.Normalize(); err != nil {
		return nil, err
	}
	q, args := qSubjectsPage, []any{c.TenantID, f.After, f.Limit}
	n := 0
	for _, l := range []struct{ q, kind, value string }{
		{qSubjectsByEmail, skjold.LookupEmail, f.Email}, {qSubjectsByPhone, skjold.LookupPhone, f.Phone}, {qSubjectsByRef, skjold.LookupRef, f.Ref},
	} {
		if l.value == "" {
			continue
		}
		if n++; n > 1 || !skjold.ValidLookup(l.value) {
			return nil, skjold.Errorf(skjold.EINVALID, "filter by one of email, phone or ref, with a valid value")
		}
		// Each look-up has its own fixed query, answered from its own index (see plan.go).
		q, args = l.q, []any{c.TenantID, tk.BlindIndex(l.kind, skjold.NormalizeLookup(l.kind, l.value)), f.After, f.Limit}
	}
	return db.findSubjects(ctx, c, tk, def, q, args...)
}

func (db *DB) findSubjects(ctx context.Context, c *skjold.Caller, tk skjold.TenantKey, def *skjold.Category, q string, args ...any) ([]*skjold.Subject, error) {
	stored, err := queryAll(ctx, db, scanSubjectRow, q, args...)
	if err != nil {
		return nil, err
	}
	subjects := []*skjold.Subject{}
	events := make([]*skjold.AuditEvent, 0, len(stored))
	for _, r := range stored {
		s, _, err := r.open(tk)
		if err != nil {
			return nil, err
		}
		fields, err := db.withholdRefused(ctx, c, s, withholdSubject(s, def, c.Purpose))
		if err != nil {
			return nil, err
		}
		events = append(events, event(c, "subject.read", s.ID, "", fields))
		subjects = append(subjects, s)
	}
	return subjects, db.auditRead(ctx, c, events...)
}

// UpdateSubject applies a partial change inside one write: read, open, change, check, seal.
func (db *DB) UpdateSubject(ctx context.Context, id string, upd skjold.SubjectUpdate) (*skjold.Subject, error) {
	c, tk, def, err := db.tenantContext(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("subject")
	}
	budget, err := db.readBudgetFor(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	var s *skjold.Subject
	err = db.write(ctx, func(tx *Tx) error {
		var r subjectRow
		if err := r.scan(tx.queryRow(selectSubjects+" WHERE id = ? AND tenant_id = ?", id, c.TenantID)); err != nil {
			return notFound(err, "subject")
		}
		if err := tx.chargeAnswer(c, budget); err != nil {
			return err
		}
		if r.restricted.Valid {
			return errRestricted()
		}
		if err := skjold.CheckIfMatch(ctx, version(r.fields)); err != nil {
			return err
		}
		var key skjold.SubjectKey
		if s, key, err = r.open(tk); err != nil {
			return err
		}
		touchedNames := upd.Apply(s)
		if err := s.Normalize(def); err != nil {
			return err
		}
		if err := tx.checkGuardian(c.TenantID, tk, s); err != nil {
			return err
		}
		if upd.GuardianID != nil {
			if err := tx.checkRecordsGuardian(ctx, c.TenantID, tk, s); err != nil {
				return err
			}
		}
		if err := tx.checkWards(id, s); err != nil {
			return err
		}
		blob, err := sealValues(key, "", profileValues(s))
		if err != nil {
			return err
		}
		idx := lookups(tk, s)
		s.UpdatedAt = db.now().UTC().Truncate(time.Microsecond)
		s.Version = version(blob)
		_, err = tx.exec(`UPDATE subjects SET fields = ?, email_idx = ?, phone_idx = ?, ref_idx = ?, guardian_id = ?,
			updated_at = ? WHERE id = ?`, blob, idx[0], idx[1], idx[2], nullable(s.GuardianID), micros(s.UpdatedAt), id)
		if isUniqueViolation(err) {
			return errDuplicateRef()
		} else if err != nil {
			return err
		}
		slices.Sort(touchedNames)
		tx.audit(event(c, "subject.update", id, "", touchedNames))
		return nil
	})
	if err != nil {
		return nil, db.noteRefusal(ctx, c, budget, err)
	}
	// The update's own event already names the fields written. The answer follows the read
	// rules: under a purpose the subject withdrew consent from or objected to, no values.
	if _, err := db.withholdRefused(ctx, c, s, withholdSubject(s, def, c.Purpose)); err != nil {
		return nil, err
	}
	return s, nil
}

// checkRecordGuardian refuses a record whose birth-date field (skjold.IsBirthDateField) makes
// someone a minor, unless its subject has a guardian who is an adult subject of the tenant, as
// checkGuardian requires of a minor's profile.
func (tx *Tx) checkRecordGuardian(tenantID string, tk skjold.TenantKey, subjectID string, cat *skjold.Category, data map[string]any) error {
	field, birth := cat.MinorBirthDate(data, tx.db.now())
	if field == "" {
		return nil
	}
	var r subjectRow
	if err := r.scan(tx.queryRow(selectSubjects+" WHERE id = ? AND tenant_id = ?", subjectID, tenantID)); err != nil {
		return notFound(err, "subject")
	}
	s, _, err := r.open(tk)
	if err != nil {
		return err
	}
	if s.GuardianID == "" {
		return skjold.FieldError(field, "guardian", "field %q holds the birth date of someone under %d: give the subject a "+
			"guardian_id naming an adult subject of the same tenant first", field, skjold.AdultAge)
	}
	s.BirthDate = birth // as young as the record says: the guardian must be an adult
	return tx.checkGuardian(tenantID, tk, s)
}

// checkRecordsGuardian checks a subject whose guardian changes against its records: when one
// of them holds a minor's birth date, the subject keeps needing an adult guardian.
func (tx *Tx) checkRecordsGuardian(ctx context.Context, tenantID string, tk skjold.TenantKey, s *skjold.Subject) error {
	rows, err := tx.query(selectRecords+" WHERE r.subject_id = ? AND r.tenant_id = ? ORDER BY r.id", s.ID, tenantID)
	if err != nil {
		return err
	}
	recs, err := collect(rows, scanRecordRow)
	if err != nil {
		return err
	}
	now := tx.db.now()
	for _, row := range recs {
		cat, err := tx.db.category(ctx, tx.rowFunc, tenantID, row.category)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(cat.Fields, func(f skjold.Field) bool { return skjold.IsBirthDateField(&f) }) {
			continue // nothing to open
		}
		rec, _, err := row.open(tk)
		if err != nil {
			return err
		}
		if _, birth := cat.MinorBirthDate(rec.Data, now); birth != "" {
			if s.GuardianID == "" {
				return skjold.FieldError("guardian_id", "guardian", "a record of this subject holds the birth date of "+
					"someone under %d: the subject needs a guardian_id naming an adult subject of the same tenant", skjold.AdultAge)
			}
			young := *s
			young.BirthDate = birth
			return tx.checkGuardian(tenantID, tk, &young)
		}
	}
	return nil
}

// checkWards refuses to make a guardian of other subjects anything but a known adult.
func (tx *Tx) checkWards(id string, s *skjold.Subject) error {
	if skjold.IsAdult(s.BirthDate, tx.db.now()) {
		return nil
	}
	var n int
	if err := tx.queryRow("SELECT COUNT(*) FROM subjects WHERE guardian_id = ?", id).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return skjold.FieldError("birth_date", "guardian", "this subject is the guardian of %d subjects and must stay an adult with a known birth date", n)
	}
	return nil
}

// DeleteSubject erases a subject on its request, as EraseSubject does: everything but what a
// legal hold or a statutory retention keeps is deleted, and with nothing kept its row goes
// with the wrapped data key in it (SQLite overwrites the freed pages), so its sealed values
// can never be opened again, not even from a copy of the file taken before. The audit
// events stay.
func (db *DB) DeleteSubject(ctx context.Context, id string) error {
	_, err := db.EraseSubject(ctx, id, skjold.ErasedOnRequest)
	return err
}
