package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.ExportService = (*DB)(nil)

// exportPage is how many rows one query of an export reads: each page is its own short
// read, so no read transaction stays open for the length of an export.
const exportPage = 1000

// exportApprovalLifetime is how long an approved bulk export may be fetched after its
// decision.
const exportApprovalLifetime = 24 * time.Hour

// SubjectData reads everything the caller's tenant holds about one subject, for its access
// or portability package [C1, C6]: the whole profile (no purpose withholding, and despite a
// restriction: it is the subject's own request), every record, the consents with the notice
// texts they were given under, the holds that cover the subject, its requests, the purpose
// register and the tenant's privacy notice. It appends one audit event, subject.export.
// Errors: ENOTFOUND, EFORBIDDEN.
func (db *DB) SubjectData(ctx context.Context, subjectID string) (*skjold.SubjectData, error) {
	c, tk, def, err := db.tenantContext(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(subjectID) {
		return nil, errNotFound("subject")
	}
	var r subjectRow
	if err := r.scan(db.queryRow(ctx, selectSubjects+" WHERE id = ? AND tenant_id = ?", subjectID, c.TenantID)); err != nil {
		return nil, notFound(err, "subject")
	}
	s, key, err := r.open(tk)
	if err != nil {
		return nil, err
	}
	s.Withheld = []string{}
	if err := db.subjectRelationship(ctx, s); err != nil {
		return nil, err
	}
	d := &skjold.SubjectData{Subject: s, Categories: []*skjold.Category{def}, Records: map[string][]*skjold.Record{},
		Generated: db.now().UTC().Truncate(time.Microsecond)}
	if err := db.subjectRecords(ctx, c.TenantID, key, d); err != nil {
		return nil, err
	}
	if err := db.subjectFacts(ctx, c.TenantID, d); err != nil {
		return nil, err
	}
	n := 0
	for _, recs := range d.Records {
		n += len(recs)
	}
	return d, db.auditRead(ctx, c, event(c, "subject.export", s.ID, "", []string{fmt.Sprintf("records:%d", n)}))
}

// subjectRelationship fills in the subject's customer relationship.
func (db *DB) subjectRelationship(ctx context.Context, s *skjold.Subject) error {
	var ended sql.NullInt64
	err := db.queryRow(ctx, "SELECT relationship, relationship_ended_at FROM subjects WHERE id = ?", s.ID).Scan(&s.Relationship, &ended)
	s.RelationshipEndedAt = optTime(ended)
	return notFound(err, "subject")
}

// subjectRecords reads every record of the subject, by category, and the categories.
func (db *DB) subjectRecords(ctx context.Context, tenantID string, key skjold.SubjectKey, d *skjold.SubjectData) error {
	rows, err := queryAll(ctx, db, scanRecordRow, selectRecords+" WHERE r.subject_id = ? AND r.tenant_id = ? ORDER BY r.category, r.id",
		d.Subject.ID, tenantID)
	if err != nil {
		return err
	}
	for _, row := range rows {
		data, err := openValues(key, row.id, row.fields)
		if err != nil {
			return err
		}
		if len(d.Records[row.category]) == 0 {
			cat, err := db.cachedCategory(ctx, tenantID, row.category)
			if err != nil {
				return err
			}
			d.Categories = append(d.Categories, cat)
		}
		d.Records[row.category] = append(d.Records[row.category], &skjold.Record{ID: row.id, SubjectID: row.subjectID,
			Category: row.category, Data: data, CreatedAt: fromMicros(row.created), UpdatedAt: fromMicros(row.updated), Withheld: []string{}})
	}
	return nil
}

// subjectFacts reads the subject's consents, holds and requests, the purpose register and
// the privacy notice.
func (db *DB) subjectFacts(ctx context.Context, tenantID string, d *skjold.SubjectData) error {
	var err error
	id := d.Subject.ID
	if d.Consents, err = queryAll(ctx, db, scanExportConsent, `SELECT c.id, c.subject_id, c.purpose, c.granted, c.source,
		c.notice_version, c.created_at, COALESCE(n.text, '') FROM consents c LEFT JOIN purpose_notices n
		ON n.tenant_id = c.tenant_id AND n.purpose = c.purpose AND n.version = c.notice_version
		WHERE c.subject_id = ? AND c.tenant_id = ? ORDER BY c.created_at, c.id`, id, tenantID); err != nil {
		return err
	}
	if d.Holds, err = queryAll(ctx, db, scanExportHold, `SELECT id, COALESCE(subject_id, ''), COALESCE(category, ''), reason,
		until, created_by, created_at, released_at FROM holds WHERE tenant_id = ? AND (subject_id = ? OR subject_id IS NULL)
		ORDER BY created_at, id`, tenantID, id); err != nil {
		return err
	}
	if d.Requests, err = queryAll(ctx, db, scanExportRequest, `SELECT id, subject_id, type, status, purpose, received_at,
		due_at, extension_reason, refusal_code, refusal_note, verified_at, closed_at, created_by FROM requests
		WHERE tenant_id = ? AND subject_id = ? ORDER BY id`, tenantID, id); err != nil {
		return err
	}
	if d.Purposes, err = queryAll(ctx, db, scanExportPurpose, `SELECT p.name, p.definition, p.notice_version, p.updated_at,
		COALESCE(n.text, '') FROM purposes p LEFT JOIN purpose_notices n ON n.tenant_id = p.tenant_id
		AND n.purpose = p.name AND n.version = p.notice_version WHERE p.tenant_id = ? ORDER BY p.name`, tenantID); err != nil {
		return err
	}
	d.Notice = db.exportNotice(ctx, tenantID)
	return nil
}

func scanExportConsent(s scanner) (*skjold.Consent, error) {
	var c skjold.Consent
	var granted, created int64
	err := s.Scan(&c.ID, &c.SubjectID, &c.Purpose, &granted, &c.Source, &c.NoticeVersion, &created, &c.Notice)
	c.Granted, c.CreatedAt = granted == 1, fromMicros(created)
	return &c, err
}

func scanExportHold(s scanner) (*skjold.Hold, error) {
	var h skjold.Hold
	var until, released sql.NullInt64
	var created int64
	err := s.Scan(&h.ID, &h.SubjectID, &h.Category, &h.Reason, &until, &h.CreatedBy, &created, &released)
	h.Until, h.CreatedAt, h.ReleasedAt = optTime(until), fromMicros(created), optTime(released)
	return &h, err
}

func scanExportRequest(s scanner) (*skjold.Request, error) {
	var r skjold.Request
	var received, due int64
	var verified, closed sql.NullInt64
	err := s.Scan(&r.ID, &r.SubjectID, &r.Type, &r.Status, &r.Purpose, &received, &due, &r.ExtensionReason,
		&r.RefusalCode, &r.RefusalNote, &verified, &closed, &r.CreatedBy)
	r.ReceivedAt, r.DueAt, r.VerifiedAt, r.ClosedAt = fromMicros(received), fromMicros(due), optTime(verified), optTime(closed)
	return &r, err
}

func scanExportPurpose(s scanner) (*skjold.Purpose, error) {
	var p skjold.Purpose
	var name, def, notice string
	var version int
	var updated int64
	if err := s.Scan(&name, &def, &version, &updated, &notice); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(def), &p); err != nil {
		return nil, fmt.Errorf("store: stored purpose does not decode: %w", err)
	}
	p.Name, p.NoticeVersion, p.Notice, p.UpdatedAt = name, version, notice, fromMicros(updated)
	return &p, nil
}

// exportNotice reads the tenant's privacy notice, or nil when it has none or it does not
// decode: the access package then says the facts were not stated.
func (db *DB) exportNotice(ctx context.Context, tenantID string) *skjold.PrivacyNotice {
	var value string
	if db.queryRow(ctx, "SELECT value FROM settings WHERE tenant_id = ? AND name = ?", tenantID, "privacy_notice").Scan(&value) != nil {
		return nil
	}
	var n skjold.PrivacyNotice
	if json.Unmarshal([]byte(value), &n) != nil {
		return nil
	}
	return &n
}

// ExportTenant feeds every subject and record of the caller's tenant to sink: the profiles
// first (the subject category), then each category's records by name, each in id order.
// It reads in pages of exportPage rows, opening each page's subject keys once, so memory
// stays flat and no read holds the database for the length of the export. One audit
// event, tenant.export, records the counts at the start before any row is handed over.
// Where the tenant puts bulk_export under four eyes, approvalID must name an approved
// bulk_export approval filed by the caller, decided within exportApprovalLifetime and not
// used before; it is marked used before the first row.
func (db *DB) ExportTenant(ctx context.Context, approvalID string, sink skjold.ExportSink) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	if !c.Can(skjold.ScopeExport) {
		return skjold.Errorf(skjold.EFORBIDDEN, "a tenant export needs the %q scope", skjold.ScopeExport)
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return err
	}
	cats, err := db.exportCategories(ctx, c.TenantID)
	if err != nil {
		return err
	}
	ev, subjects, err := db.exportEvent(ctx, c, len(cats))
	if err != nil {
		return err
	}
	if err := db.claimExport(ctx, c, approvalID, ev, subjects); err != nil {
		return err
	}
	if err := db.exportSubjects(ctx, c.TenantID, tk, cats[0], sink); err != nil {
		return err
	}
	for _, cat := range cats[1:] {
		if err := db.exportRecords(ctx, c.TenantID, tk, cat, sink); err != nil {
			return err
		}
	}
	return nil
}

// exportCategories returns the tenant's categories, the subject category first.
func (db *DB) exportCategories(ctx context.Context, tenantID string) ([]*skjold.Category, error) {
	def, err := db.cachedCategory(ctx, tenantID, skjold.SubjectCategory)
	if err != nil {
		return nil, err
	}
	others, err := queryAll(ctx, db, func(s scanner) (*skjold.Category, error) {
		var d string
		if err := s.Scan(&d); err != nil {
			return nil, err
		}
		return decodeCategory(d)
	}, "SELECT definition FROM categories WHERE tenant_id = ? AND name <> ? ORDER BY name", tenantID, skjold.SubjectCategory)
	return append([]*skjold.Category{def}, others...), err
}

// exportEvent returns the tenant.export audit event with the counts about to be exported,
// and the number of subjects.
func (db *DB) exportEvent(ctx context.Context, c *skjold.Caller, categories int) (*skjold.AuditEvent, int, error) {
	var subjects, records int
	if err := db.queryRow(ctx, "SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", c.TenantID).Scan(&subjects); err != nil {
		return nil, 0, err
	}
	if err := db.queryRow(ctx, "SELECT COUNT(*) FROM records WHERE tenant_id = ?", c.TenantID).Scan(&records); err != nil {
		return nil, 0, err
	}
	return event(c, "tenant.export", "", "", []string{fmt.Sprintf("subjects:%d", subjects), fmt.Sprintf("records:%d", records),
		fmt.Sprintf("categories:%d", categories)}), subjects, nil
}

// claimExport appends the export's audit event and, where the tenant wants four eyes on
// bulk exports, uses up the approval in the same write; without four eyes, it charges the
// subjects to the caller's read budget in that write instead.
func (db *DB) claimExport(ctx context.Context, c *skjold.Caller, approvalID string, ev *skjold.AuditEvent, subjects int) error {
	set, err := db.sessionSettingsFor(ctx, c.TenantID)
	if err != nil {
		return err
	}
	if !slices.Contains(set.FourEyes, skjold.ActionBulkExport) {
		// Without a second person's approval the export is a read like any other: its
		// subjects count against the day's budget (a minute's is for paging, not exports).
		return db.charged(ctx, c, subjects, false, ev)
	}
	switch {
	case c.UserID == "":
		return skjold.Errorf(skjold.EFORBIDDEN, "this tenant requires a second person's approval for bulk exports, so an API token cannot export: a logged-in user files a bulk_export approval and exports with it")
	case approvalID == "":
		return skjold.Errorf(skjold.EFORBIDDEN, "this tenant requires a second person's approval for bulk exports: file a bulk_export approval with POST /api/v1/approvals and pass its id once another person approved it")
	case !skjold.ValidID(approvalID):
		return errNotFound("approval")
	}
	return db.write(ctx, func(tx *Tx) error {
		if err := tx.useExportApproval(c, approvalID); err != nil {
			return err
		}
		ev.Fields = append(ev.Fields, "approval:"+approvalID)
		tx.audit(ev)
		return nil
	})
}

// useExportApproval checks that approvalID is the caller's approved, fresh, unused
// bulk_export approval and marks it used.
func (tx *Tx) useExportApproval(c *skjold.Caller, approvalID string) error {
	var action, status, requestedBy string
	var decided, used sql.NullInt64
	err := tx.queryRow("SELECT action, status, requested_by, decided_at, used_at FROM approvals WHERE id = ? AND tenant_id = ?",
		approvalID, c.TenantID).Scan(&action, &status, &requestedBy, &decided, &used)
	if err != nil {
		return notFound(err, "approval")
	}
	now := tx.db.now()
	switch {
	case action != skjold.ActionBulkExport:
		return skjold.FieldError("approval", "action", "this approval is not for a bulk export")
	case requestedBy != c.UserID:
		return skjold.Errorf(skjold.EFORBIDDEN, "only the person who filed the approval may export with it")
	case status != skjold.ApprovalApproved:
		return skjold.Errorf(skjold.ECONFLICT, "this approval is %s, not approved", status)
	case used.Valid:
		return skjold.Errorf(skjold.ECONFLICT, "this approval was used already: every export needs its own")
	case !decided.Valid || now.Sub(fromMicros(decided.Int64)) > exportApprovalLifetime:
		return skjold.Errorf(skjold.ECONFLICT, "an approved export must be fetched within 24 hours of the approval: file a new one")
	}
	_, err = tx.exec("UPDATE approvals SET used_at = ? WHERE id = ? AND used_at IS NULL", micros(now), approvalID)
	return err
}

// exportSubjects feeds every profile of the tenant to sink, a page at a time.
func (db *DB) exportSubjects(ctx context.Context, tenantID string, tk skjold.TenantKey, def *skjold.Category, sink skjold.ExportSink) error {
	if err := sink.Begin(def); err != nil {
		return err
	}
	for after := ""; ; {
		rows, err := queryAll(ctx, db, scanSubjectRow, selectSubjects+" WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?",
			tenantID, after, exportPage)
		if err != nil {
			return err
		}
		for _, r := range rows {
			s, _, err := r.open(tk)
			if err != nil {
				return err
			}
			row := &skjold.ExportRow{SubjectID: s.ID, CreatedAt: s.CreatedAt, Values: skjold.ExportValues(def, profileValues(s))}
			if err := sink.Row(row); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return sink.End()
		}
		after = rows[len(rows)-1].id
	}
}

// exportRecords feeds every record of one category to sink, a page at a time, opening each
// subject's key once per page.
func (db *DB) exportRecords(ctx context.Context, tenantID string, tk skjold.TenantKey, cat *skjold.Category, sink skjold.ExportSink) error {
	if err := sink.Begin(cat); err != nil {
		return err
	}
	for after := ""; ; {
		rows, err := queryAll(ctx, db, scanRecordRow, selectRecords+" WHERE r.tenant_id = ? AND r.category = ? AND r.id > ? ORDER BY r.id LIMIT ?",
			tenantID, cat.Name, after, exportPage)
		if err != nil {
			return err
		}
		keys := make(map[string]skjold.SubjectKey, len(rows))
		for _, r := range rows {
			key, ok := keys[r.subjectID]
			if !ok {
				if key, err = tk.OpenSubjectKey(r.subjectID, r.wrapped); err != nil {
					return err
				}
				keys[r.subjectID] = key
			}
			data, err := openValues(key, r.id, r.fields)
			if err != nil {
				return err
			}
			row := &skjold.ExportRow{SubjectID: r.subjectID, RecordID: r.id, CreatedAt: fromMicros(r.created), Values: skjold.ExportValues(cat, data)}
			if err := sink.Row(row); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return sink.End()
		}
		after = rows[len(rows)-1].id
	}
}

// checkBulkExport checks that the caller, who files or approves a bulk export, could export
// the tenant's data itself, and returns the tenant whose people decide it.
func checkBulkExport(c *skjold.Caller, a *skjold.Approval) (string, error) {
	if c.Operator || !c.Can(skjold.ScopeExport) {
		return "", skjold.Errorf(skjold.EFORBIDDEN, "bulk exports are filed and approved by the tenant's people who hold the %q scope", skjold.ScopeExport)
	}
	a.Target, a.Role, a.Profile = c.TenantID, "", "" // the export is of the caller's own tenant
	return c.TenantID, nil
}
