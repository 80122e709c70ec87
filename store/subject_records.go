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
	s.ID = newID()
	if err := s.Normalize(def); err != nil {
		return err
	}
	if err := validNewRelationship(s); err != nil {
		return err
	}
	if len(records) > MaxInlineRecords {
		return skjold.FieldError("records", "max", "at most %d records can be created with their subject", MaxInlineRecords)
	}
	cats := make([]*skjold.Category, len(records))
	for i, r := range records {
		var data map[string]any
		if cats[i], data, err = db.checkRecord(ctx, c, r); err != nil {
			return recordError(i, true, err)
		}
		r.SubjectID, r.Data = s.ID, data
	}
	key, wrapped, err := tk.NewSubjectKey(s.ID)
	if err != nil {
		return err
	}
	values := profileValues(s)
	blob, err := sealValues(key, "", values)
	if err != nil {
		return err
	}
	idx := lookups(tk, s)
	s.CreatedAt = db.now().UTC().Truncate(time.Microsecond)
	s.UpdatedAt, s.Withheld, s.Version = s.CreatedAt, []string{}, version(blob)
	blobs := make([][]byte, len(records))
	for i, r := range records {
		if blobs[i], err = db.sealRecord(r, key, r.Data); err != nil {
			return err
		}
		r.CreatedAt, r.UpdatedAt = s.CreatedAt, s.CreatedAt // created together
	}
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.checkGuardian(c.TenantID, tk, s); err != nil {
			return err
		}
		_, err := tx.exec(`INSERT INTO subjects (id, tenant_id, wrapped_key, fields, email_idx, phone_idx, ref_idx,
			guardian_id, created_at, updated_at, relationship) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, c.TenantID, wrapped, blob, idx[0], idx[1], idx[2], nullable(s.GuardianID), micros(s.CreatedAt), micros(s.CreatedAt),
			s.Relationship)
		if isUniqueViolation(err) {
			return errDuplicateRef()
		} else if err != nil {
			return err
		}
		tx.audit(event(c, "subject.create", s.ID, "", touched(values, s.GuardianID)))
		for i, r := range records {
			if err := tx.insertRecord(ctx, c, tk, r, cats[i], blobs[i]); err != nil {
				return recordError(i, false, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	withholdSubject(s, def, c.Purpose) // the answer follows the same purpose rules as a read
	for i, r := range records {
		r.Withheld = cats[i].Withhold(r.Data, c.Purpose)
	}
	return nil
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
