package store

import (
	"context"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.RecordService = (*DB)(nil)

// selectRecords reads records with their subject's wrapped key, which opens them.
const selectRecords = `SELECT r.id, r.subject_id, r.category, r.fields, r.created_at, r.updated_at, s.wrapped_key
	FROM records r JOIN subjects s ON s.id = r.subject_id`

type recordRow struct {
	id, subjectID, category string
	fields, wrapped         []byte
	created, updated        int64
}

func (r *recordRow) scan(s scanner) error {
	return s.Scan(&r.id, &r.subjectID, &r.category, &r.fields, &r.created, &r.updated, &r.wrapped)
}

func scanRecordRow(s scanner) (recordRow, error) {
	var r recordRow
	err := r.scan(s)
	return r, err
}

func (r *recordRow) open(tk skjold.TenantKey) (*skjold.Record, skjold.SubjectKey, error) {
	key, err := tk.OpenSubjectKey(r.subjectID, r.wrapped)
	if err != nil {
		return nil, nil, err
	}
	data, err := openValues(key, r.id, r.fields)
	if err != nil {
		return nil, nil, err
	}
	return &skjold.Record{ID: r.id, SubjectID: r.subjectID, Category: r.category, Data: data,
		CreatedAt: fromMicros(r.created), UpdatedAt: fromMicros(r.updated), Version: version(r.fields)}, key, nil
}

// CreateRecord validates a record against its category and stores it sealed.
func (db *DB) CreateRecord(ctx context.Context, r *skjold.Record) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidID(r.SubjectID) {
		return errNotFound("subject")
	}
	cat, data, err := db.checkRecord(ctx, c, r)
	if err != nil {
		return err
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return err
	}
	var wrapped []byte
	err = db.queryRow(ctx, qSubjectWrappedKey, r.SubjectID, c.TenantID).Scan(&wrapped)
	if err != nil {
		return notFound(err, "subject")
	}
	key, err := tk.OpenSubjectKey(r.SubjectID, wrapped)
	if err != nil {
		return err
	}
	blob, err := db.sealRecord(r, key, data)
	if err != nil {
		return err
	}
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.checkWritable(c.TenantID, r.SubjectID); err != nil {
			return err
		}
		return tx.insertRecord(ctx, c, tk, r, cat, blob)
	})
	if err == nil {
		r.Withheld = cat.Withhold(r.Data, c.Purpose) // the answer follows the same purpose rules as a read
	}
	return err
}

// checkRecord checks r against its category and returns the category and r's data as stored.
func (db *DB) checkRecord(ctx context.Context, c *skjold.Caller, r *skjold.Record) (*skjold.Category, map[string]any, error) {
	if r.Category == skjold.SubjectCategory {
		return nil, nil, skjold.FieldError("category", "reserved", "the subject category describes the profile; records use other categories")
	}
	cat, err := db.cachedCategory(ctx, c.TenantID, r.Category)
	if err != nil {
		return nil, nil, err
	}
	data, err := cat.NormalizeData(r.Data, false)
	if err != nil {
		return nil, nil, err
	}
	return cat, data, nil
}

// sealRecord gives r its id, data and times and seals its data under the subject's key.
func (db *DB) sealRecord(r *skjold.Record, key skjold.SubjectKey, data map[string]any) ([]byte, error) {
	r.ID = newID()
	blob, err := sealValues(key, r.ID, data)
	if err != nil {
		return nil, err
	}
	r.Data, r.Withheld, r.Version = data, []string{}, version(blob)
	r.CreatedAt = db.now().UTC().Truncate(time.Microsecond)
	r.UpdatedAt = r.CreatedAt
	return blob, nil
}

// insertRecord stores a sealed record, audits it and anchors its retention.
func (tx *Tx) insertRecord(ctx context.Context, c *skjold.Caller, tk skjold.TenantKey, r *skjold.Record, cat *skjold.Category, blob []byte) error {
	if err := tx.checkRecordGuardian(c.TenantID, tk, r.SubjectID, cat, r.Data); err != nil {
		return err
	}
	_, err := tx.exec(`INSERT INTO records (id, tenant_id, subject_id, category, fields, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.ID, c.TenantID, r.SubjectID, r.Category, blob, micros(r.CreatedAt), micros(r.CreatedAt))
	if isForeignKeyViolation(err) {
		return errNotFound("subject") // erased while the record was being sealed
	} else if err != nil {
		return err
	}
	tx.audit(event(c, "record.create", r.SubjectID, r.ID, sortedKeys(r.Data)))
	return tx.anchorRecord(ctx, c.TenantID, r)
}

// FindRecordByID returns one record of the caller's tenant and audits the read.
func (db *DB) FindRecordByID(ctx context.Context, id string) (*skjold.Record, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("record")
	}
	recs, err := db.findRecords(ctx, c, qRecordByID, id, c.TenantID)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errNotFound("record")
	}
	return recs[0], nil
}

// FindRecords returns a subject's records and audits each read.
func (db *DB) FindRecords(ctx context.Context, f skjold.RecordFilter) ([]*skjold.Record, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Page.Normalize(); err != nil {
		return nil, err
	}
	if !skjold.ValidID(f.SubjectID) {
		return nil, errNotFound("subject")
	}
	var one int
	if err := db.queryRow(ctx, qSubjectExists, f.SubjectID, c.TenantID).Scan(&one); err != nil {
		return nil, notFound(err, "subject")
	}
	if f.Category != "" {
		return db.findRecords(ctx, c, qRecordsByCategory, f.SubjectID, c.TenantID, f.After, f.Category, f.Limit)
	}
	return db.findRecords(ctx, c, qRecordsBySubject, f.SubjectID, c.TenantID, f.After, f.Limit)
}

func (db *DB) findRecords(ctx context.Context, c *skjold.Caller, q string, args ...any) ([]*skjold.Record, error) {
	start := time.Now()
	stored, err := queryAll(ctx, db, scanRecordRow, q, args...)
	if err != nil {
		return nil, err
	}
	db.timed("record.find", start)
	if len(stored) == 0 {
		return []*skjold.Record{}, nil
	}
	if err := db.checkRecordReads(ctx, c, stored); err != nil {
		return nil, err
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	recs := make([]*skjold.Record, 0, len(stored))
	events := make([]*skjold.AuditEvent, 0, len(stored))
	for _, row := range stored {
		rec, _, err := row.open(tk)
		if err != nil {
			return nil, err
		}
		cat, err := db.cachedCategory(ctx, c.TenantID, rec.Category)
		if err != nil {
			return nil, err
		}
		rec.Withheld = cat.Withhold(rec.Data, c.Purpose)
		events = append(events, event(c, "record.read", rec.SubjectID, rec.ID, sortedKeys(rec.Data)))
		recs = append(recs, rec)
	}
	return recs, db.auditRead(ctx, c, events...)
}

// UpdateRecord merges a partial change into a record inside one write.
func (db *DB) UpdateRecord(ctx context.Context, id string, data map[string]any) (*skjold.Record, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("record")
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	budget, err := db.readBudgetFor(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	var rec *skjold.Record
	var cat *skjold.Category
	var st subjectState
	err = db.write(ctx, func(tx *Tx) error {
		var row recordRow
		if err := row.scan(tx.queryRow(selectRecords+" WHERE r.id = ? AND r.tenant_id = ?", id, c.TenantID)); err != nil {
			return notFound(err, "record")
		}
		if err := tx.chargeAnswer(c, budget); err != nil {
			return err
		}
		var err error
		if st, err = tx.subjectState(c.TenantID, row.subjectID); err != nil {
			return err
		}
		if st.restricted {
			return errRestricted()
		}
		if err := skjold.CheckIfMatch(ctx, version(row.fields)); err != nil {
			return err
		}
		var key skjold.SubjectKey
		if rec, key, err = row.open(tk); err != nil {
			return err
		}
		if cat, err = db.category(ctx, tx.rowFunc, c.TenantID, rec.Category); err != nil {
			return err
		}
		change, err := cat.NormalizeData(data, true)
		if err != nil {
			return err
		}
		for name, v := range change {
			if v == nil {
				delete(rec.Data, name)
			} else {
				rec.Data[name] = v
			}
		}
		if err := tx.checkRecordGuardian(c.TenantID, tk, rec.SubjectID, cat, rec.Data); err != nil {
			return err
		}
		blob, err := sealValues(key, id, rec.Data)
		if err != nil {
			return err
		}
		rec.UpdatedAt = db.now().UTC().Truncate(time.Microsecond)
		rec.Version = version(blob)
		if _, err := tx.exec("UPDATE records SET fields = ?, updated_at = ? WHERE id = ?", blob, micros(rec.UpdatedAt), id); err != nil {
			return err
		}
		if err := tx.reanchorRecord(cat, rec, change); err != nil {
			return err
		}
		tx.audit(event(c, "record.update", rec.SubjectID, id, sortedKeys(change)))
		return nil
	})
	if err != nil {
		return nil, db.noteRefusal(ctx, c, budget, err)
	}
	rec.Withheld = cat.Withhold(rec.Data, c.Purpose)
	if err := db.withholdRecordRefused(ctx, c, rec, st); err != nil {
		return nil, err
	}
	return rec, nil
}

// DeleteRecord deletes one record of the caller's tenant.
func (db *DB) DeleteRecord(ctx context.Context, id string) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidID(id) {
		return errNotFound("record")
	}
	return db.write(ctx, func(tx *Tx) error {
		var subjectID string
		err := tx.queryRow("SELECT subject_id FROM records WHERE id = ? AND tenant_id = ?", id, c.TenantID).Scan(&subjectID)
		if err != nil {
			return notFound(err, "record")
		}
		if err := tx.checkWritable(c.TenantID, subjectID); err != nil {
			return err
		}
		if err := tx.checkIfMatch(ctx, "records", "record", c.TenantID, id); err != nil {
			return err
		}
		if _, err := tx.exec("DELETE FROM records WHERE id = ?", id); err != nil {
			return err
		}
		tx.audit(event(c, "record.delete", subjectID, id, nil))
		tx.erased = true
		return nil
	})
}
