package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/skjold-project/skjold"
)

var _ skjold.ImportService = (*DB)(nil)

// ImportSubjects checks each item with the rules of CreateSubjectWithRecords (prepareSubject)
// and, unless check is set, writes the good ones in one write. A subject whose ref exists
// already is skipped, so an import run again resumes where it stopped.
func (db *DB) ImportSubjects(ctx context.Context, items []*skjold.ImportItem, check bool) error {
	c, tk, def, err := db.tenantContext(ctx)
	if err != nil {
		return err
	}
	if !c.Can(skjold.ScopeWrite) {
		return skjold.Errorf(skjold.EFORBIDDEN, "an import needs the %q scope", skjold.ScopeWrite)
	}
	prepared := make([]*preparedSubject, len(items))
	for i, it := range items {
		p, err := db.prepareSubject(ctx, c, tk, def, it.Subject, it.Records)
		if err != nil {
			if !isInputError(err) {
				return err
			}
			it.Err = err
			continue
		}
		prepared[i] = p
	}
	if check {
		for i, it := range items {
			if prepared[i] != nil {
				exists, err := db.refExists(ctx, c.TenantID, prepared[i].idx[2])
				if err != nil {
					return err
				}
				it.Skipped = exists
			}
		}
		return nil
	}
	return db.write(ctx, func(tx *Tx) error {
		for i, it := range items {
			p := prepared[i]
			if p == nil {
				continue
			}
			it.Skipped, it.Err = false, nil
			var one int
			if p.idx[2] != nil {
				err := tx.queryRow("SELECT 1 FROM subjects WHERE tenant_id = ? AND ref_idx = ?", c.TenantID, p.idx[2]).Scan(&one)
				if err == nil {
					it.Skipped = true
					continue
				} else if err != sql.ErrNoRows {
					return err
				}
			}
			if err := tx.checkGuardian(c.TenantID, tk, p.s); err != nil {
				if !isInputError(err) {
					return err
				}
				it.Err = err
				continue
			}
			if err := tx.insertSubject(ctx, c, tk, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// refExists reports whether a subject of the tenant has the ref with this blind index.
func (db *DB) refExists(ctx context.Context, tenantID string, idx any) (bool, error) {
	if idx == nil {
		return false, nil
	}
	var one int
	err := db.queryRow(ctx, "SELECT 1 FROM subjects WHERE tenant_id = ? AND ref_idx = ?", tenantID, idx).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}

// isInputError reports whether err refuses the input (EINVALID), rather than failing.
func isInputError(err error) bool {
	var e *skjold.Error
	return errors.As(err, &e) && e.Code == skjold.EINVALID
}

// AuditImport appends the import's audit event.
func (db *DB) AuditImport(ctx context.Context, fields []string) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		tx.audit(event(c, "tenant.import", "", "", fields))
		return nil
	})
}

// TuneForImport gives the writer the retention sweep's settings for the length of an import:
// a page cache that holds the blind indexes' pages the inserts revisit, and fewer WAL
// checkpoints.
func (db *DB) TuneForImport(ctx context.Context) (func(), error) {
	return db.tuneWriterForSweep(ctx)
}
