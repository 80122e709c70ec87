package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skjold-project/skjold"
)

// MaxInlineRecords bounds the records created with their subject in one write.
const MaxInlineRecords = 100

// CreateSubjectWithRecords stores a new subject sealed under a fresh data key and, in the same
// write and audit group, its first records, each as CreateRecord stores one. Everything is
// checked before the write; a refused record refuses the whole create, writes nothing, and its
// error names the record's place (records[i].category, records[i].<field>).
func (db *DB) CreateSubjectWithRecords(ctx context.Context, s *skjold.Subject, records []*skjold.Record) error {
	c, tk, def, err := db.tenantContext(ctx)
	if err != nil {
		return err
	}
	p, err := db.prepareSubject(ctx, c, tk, def, s, records)
	if err != nil {
		return err
	}
	if err := db.write(ctx, func(tx *Tx) error { return tx.insertSubject(ctx, c, tk, p) }); err != nil {
		return err
	}
	p.withhold(def, c.Purpose)
	return nil
}

// preparedSubject is a new subject and its first records, checked and sealed, ready to be
// written.
type preparedSubject struct {
	s       *skjold.Subject
	records []*skjold.Record
	cats    []*skjold.Category
	blobs   [][]byte
	wrapped []byte
	blob    []byte
	idx     [3]any
	fields  []string
}

// prepareSubject checks a new subject and its first records against the tenant's categories
// and the input guard, and seals them: the rules of every create path, API and import alike.
func (db *DB) prepareSubject(ctx context.Context, c *skjold.Caller, tk skjold.TenantKey, def *skjold.Category,
	s *skjold.Subject, records []*skjold.Record) (*preparedSubject, error) {
	s.ID = newID()
	if err := s.Normalize(def); err != nil {
		return nil, err
	}
	if err := validNewRelationship(s); err != nil {
		return nil, err
	}
	if len(records) > MaxInlineRecords {
		return nil, skjold.FieldError("records", "max", "at most %d records can be created with their subject", MaxInlineRecords)
	}
	p := &preparedSubject{s: s, records: records, cats: make([]*skjold.Category, len(records)), blobs: make([][]byte, len(records))}
	var err error
	for i, r := range records {
		var data map[string]any
		if p.cats[i], data, err = db.checkRecord(ctx, c, r); err != nil {
			return nil, recordError(i, true, err)
		}
		r.SubjectID, r.Data = s.ID, data
	}
	key, wrapped, err := tk.NewSubjectKey(s.ID)
	if err != nil {
		return nil, err
	}
	values := profileValues(s)
	if p.blob, err = sealValues(key, "", values); err != nil {
		return nil, err
	}
	p.wrapped, p.idx, p.fields = wrapped, lookups(tk, s), touched(values, s.GuardianID)
	s.CreatedAt = db.now().UTC().Truncate(time.Microsecond)
	s.UpdatedAt, s.Withheld, s.Version = s.CreatedAt, []string{}, version(p.blob)
	for i, r := range records {
		if p.blobs[i], err = db.sealRecord(r, key, r.Data); err != nil {
			return nil, err
		}
		r.CreatedAt, r.UpdatedAt = s.CreatedAt, s.CreatedAt // created together
	}
	return p, nil
}

// insertSubject writes a prepared subject and its records and audits each.
func (tx *Tx) insertSubject(ctx context.Context, c *skjold.Caller, tk skjold.TenantKey, p *preparedSubject) error {
	s := p.s
	if err := tx.checkGuardian(c.TenantID, tk, s); err != nil {
		return err
	}
	_, err := tx.exec(`INSERT INTO subjects (id, tenant_id, wrapped_key, fields, email_idx, phone_idx, ref_idx,
		guardian_id, created_at, updated_at, relationship) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, c.TenantID, p.wrapped, p.blob, p.idx[0], p.idx[1], p.idx[2], nullable(s.GuardianID), micros(s.CreatedAt), micros(s.CreatedAt),
		s.Relationship)
	if isUniqueViolation(err) {
		return errDuplicateRef()
	} else if err != nil {
		return err
	}
	tx.audit(event(c, "subject.create", s.ID, "", p.fields))
	for i, r := range p.records {
		if err := tx.insertRecord(ctx, c, tk, r, p.cats[i], p.blobs[i]); err != nil {
			return recordError(i, false, err)
		}
	}
	return nil
}

// withhold leaves out of the answer what the caller's purpose may not see, as a read does.
func (p *preparedSubject) withhold(def *skjold.Category, purpose string) {
	withholdSubject(p.s, def, purpose)
	for i, r := range p.records {
		r.Withheld = p.cats[i].Withhold(r.Data, purpose)
	}
}

// recordError names the inline record i in an error about it, found while checking it or
// while writing it: records[i].category for its
// category (an unknown one is invalid input here, not a missing resource), records[i].data.x
// for its field x.
func recordError(i int, checking bool, err error) error {
	var e *skjold.Error
	if !errors.As(err, &e) {
		return err
	}
	named := *e
	switch {
	case checking && e.Code == skjold.ENOTFOUND: // the category
		named = skjold.Error{Code: skjold.EINVALID, Field: "category", Rule: "exists", Message: "no such category"}
	case e.Field != "" && e.Field != "category":
		named.Field = "data." + e.Field
	}
	prefix := fmt.Sprintf("records[%d]", i)
	if named.Field != "" {
		named.Field = prefix + "." + named.Field
	} else {
		named.Field = prefix
	}
	named.Message = prefix + ": " + named.Message
	return &named
}
