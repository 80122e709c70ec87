package store

import (
	"context"
	"fmt"
	"time"

	"github.com/skjold-project/skjold"
)

// CreateSubjects creates many subjects of the caller's tenant in one write, each exactly as
// CreateSubject creates one (validated, sealed under its own key, looked up by blind index,
// audited), for imports and for seeding a large tenant quickly. The subjects are checked
// and sealed before the write; one that is refused refuses the whole batch, and nothing is
// written. The error names the subject's place in the batch.
func (db *DB) CreateSubjects(ctx context.Context, subjects []*skjold.Subject) error {
	c, tk, def, err := db.tenantContext(ctx)
	if err != nil {
		return err
	}
	type row struct {
		wrapped, blob []byte
		idx           [3]any
		fields        []string
	}
	rows := make([]row, len(subjects))
	now := db.now().UTC().Truncate(time.Microsecond)
	for i, s := range subjects {
		s.ID = newID()
		if err := s.Normalize(def); err != nil {
			return fmt.Errorf("subject %d: %w", i, err)
		}
		if err := validNewRelationship(s); err != nil {
			return fmt.Errorf("subject %d: %w", i, err)
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
		rows[i] = row{wrapped: wrapped, blob: blob, idx: lookups(tk, s), fields: touched(values, s.GuardianID)}
		s.CreatedAt, s.UpdatedAt, s.Withheld, s.Version = now, now, []string{}, version(blob)
	}
	err = db.write(ctx, func(tx *Tx) error {
		for i, s := range subjects {
			if err := tx.checkGuardian(c.TenantID, tk, s); err != nil {
				return fmt.Errorf("subject %d: %w", i, err)
			}
			r := rows[i]
			_, err := tx.exec(`INSERT INTO subjects (id, tenant_id, wrapped_key, fields, email_idx, phone_idx, ref_idx,
				guardian_id, created_at, updated_at, relationship) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				s.ID, c.TenantID, r.wrapped, r.blob, r.idx[0], r.idx[1], r.idx[2], nullable(s.GuardianID), micros(now), micros(now),
				s.Relationship)
			if isUniqueViolation(err) {
				return fmt.Errorf("subject %d: %w", i, errDuplicateRef())
			} else if err != nil {
				return err
			}
			tx.audit(event(c, "subject.create", s.ID, "", r.fields))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range subjects {
		withholdSubject(s, def, c.Purpose)
	}
	return nil
}
