package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestExport checks the skjold.ExportService and the store's SubjectData: a tenant export
// gated by the export scope and, where the tenant wants it, a single-use approval, with
// typed values and one audit event; and a subject's complete data for its access package.
func TestExport(t *testing.T, h Harness) {
	t.Run("TenantExport", func(t *testing.T) { testTenantExport(t, newEnv(t, h)) })
	t.Run("ExportApproval", func(t *testing.T) { testExportApproval(t, newEnv(t, h)) })
	t.Run("SubjectData", func(t *testing.T) { testSubjectData(t, newEnv(t, h)) })
}

// trip is a category with a field of every type, one of them purpose-bound.
func trip() *skjold.Category {
	return &skjold.Category{Name: "trip", Purposes: []string{"service"}, LegalBasis: skjold.BasisContract,
		Retention: skjold.Retention{Period: "P5Y", From: "field:travel_date"},
		Fields: []skjold.Field{
			{Name: "destination", Type: skjold.TypeString, Required: true},
			{Name: "travel_date", Type: skjold.TypeDate},
			{Name: "booked_at", Type: skjold.TypeDateTime},
			{Name: "price", Type: skjold.TypeNumber},
			{Name: "nights", Type: skjold.TypeInteger},
			{Name: "insured", Type: skjold.TypeBoolean},
			{Name: "passport", Type: skjold.TypeString, Purposes: []string{"border_control"}},
		}}
}

func tripData(dest string) map[string]any {
	return map[string]any{"destination": dest, "travel_date": "2025-07-14", "booked_at": "2025-02-03T04:05:06+01:00",
		"price": 1234.5, "nights": 7.0, "insured": true, "passport": "P1234567"}
}

// memSink keeps what an export fed it.
type memSink struct {
	cats []string
	rows map[string][]*skjold.ExportRow
	open string
}

func (m *memSink) Begin(c *skjold.Category) error {
	if m.rows == nil {
		m.rows = map[string][]*skjold.ExportRow{}
	}
	m.cats, m.open = append(m.cats, c.Name), c.Name
	return nil
}
func (m *memSink) Row(r *skjold.ExportRow) error {
	m.rows[m.open] = append(m.rows[m.open], r)
	return nil
}
func (m *memSink) End() error { m.open = ""; return nil }

// exportFixture makes a tenant with three subjects (one restricted, one without records)
// and three trips, and returns it with the subjects.
func (e *env) exportFixture() (*tenant, []*skjold.Subject, []*skjold.Record) {
	a := e.newTenant("Fjord Travel AS")
	ctx := e.as(a, "")
	_, err := e.db.PutCategory(ctx, trip())
	must(e.t, err)
	var subjects []*skjold.Subject // as given: CreateSubject's answer withholds purpose-bound values
	for _, s := range []*skjold.Subject{anna(), {Ref: "C-2", Name: "Ørjan Æsir 北京"}, {Ref: "C-3"}} {
		given := *s
		e.newSubject(ctx, s)
		given.ID, given.CreatedAt = s.ID, s.CreatedAt
		subjects = append(subjects, &given)
	}
	s1, s2 := subjects[0], subjects[1]
	recs := []*skjold.Record{e.newRecord(ctx, s1.ID, "trip", tripData("Tromsø")), e.newRecord(ctx, s1.ID, "trip", tripData("=1+1")),
		e.newRecord(ctx, s2.ID, "trip", map[string]any{"destination": "Bergen", "insured": false})}
	e.rawExec(e.raw(), "UPDATE subjects SET restricted_at = ? WHERE id = ?", e.clock.Now().UnixMicro(), s2.ID)
	return a, subjects, recs
}

// noFourEyes switches four eyes off for the tenant: its owner files taking each action out,
// and a second owner approves.
func (e *env) noFourEyes(a *tenant) {
	_, owner := e.adminCtx(a, "settings-owner@fjord.example", skjold.RoleOwner)
	_, second := e.adminCtx(a, "settings-second@fjord.example", skjold.RoleOwner)
	set, err := e.db.SessionSettings(owner)
	must(e.t, err)
	for _, action := range set.FourEyes {
		req := &skjold.Approval{Action: skjold.ActionFourEyesReduction, Target: action}
		must(e.t, e.db.RequestApproval(owner, req))
		_, err := e.db.DecideApproval(second, req.ID, true)
		must(e.t, err)
	}
}

func testTenantExport(t *testing.T, e *env) {
	a, subjects, recs := e.exportFixture()
	e.newTenant("Other AS") // another tenant's data never shows
	e.noFourEyes(a)
	noExport := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:r", TenantID: a.ID,
		Scopes: []string{skjold.ScopeRead, skjold.ScopeWrite, skjold.ScopeAdmin}, Source: "127.0.0.1"})
	wantCode(t, e.db.ExportTenant(noExport, "", &memSink{}), skjold.EFORBIDDEN)
	wantCode(t, e.db.ExportTenant(e.op, "", &memSink{}), skjold.EFORBIDDEN)

	seq := e.lastSeq()
	sink := &memSink{}
	must(t, e.db.ExportTenant(e.as(a, ""), "", sink))
	cats, err := e.db.FindCategories(e.as(a, ""))
	must(t, err)
	want := []string{skjold.SubjectCategory}
	for _, c := range cats {
		if c.Name != skjold.SubjectCategory {
			want = append(want, c.Name)
		}
	}
	if !slices.Equal(sink.cats, want) || len(sink.rows) != 2 {
		t.Fatalf("categories = %v, want %v with rows in subject and trip only", sink.cats, want)
	}
	checkExportedSubjects(t, sink.rows[skjold.SubjectCategory], subjects)
	checkExportedTrips(t, sink.rows["trip"], recs)
	checkExportAudit(t, e.events(seq), "subjects:3", "records:3", fmt.Sprintf("categories:%d", len(want)))
}

func checkExportedSubjects(t *testing.T, rows []*skjold.ExportRow, subjects []*skjold.Subject) {
	t.Helper()
	if len(rows) != len(subjects) {
		t.Fatalf("%d subject rows, want %d", len(rows), len(subjects))
	}
	byID := map[string]*skjold.ExportRow{}
	for i, r := range rows {
		if i > 0 && rows[i-1].SubjectID >= r.SubjectID {
			t.Errorf("subject rows are not in id order")
		}
		byID[r.SubjectID] = r
	}
	for _, s := range subjects {
		r := byID[s.ID]
		if r == nil || r.RecordID != "" || !r.CreatedAt.Equal(s.CreatedAt) || len(r.Values) != len(s.Values()) {
			t.Fatalf("subject %s exported as %+v", s.ID, r)
		}
		for name, v := range s.Values() {
			want := any(v)
			if name == skjold.FieldBirthDate {
				want, _ = time.Parse(time.DateOnly, v)
			}
			if r.Values[name] != want {
				t.Errorf("subject %s %s = %#v, want %#v", s.ID, name, r.Values[name], want)
			}
		}
	}
}

func checkExportedTrips(t *testing.T, rows []*skjold.ExportRow, recs []*skjold.Record) {
	t.Helper()
	if len(rows) != len(recs) {
		t.Fatalf("%d trip rows, want %d", len(rows), len(recs))
	}
	slices.SortFunc(recs, func(a, b *skjold.Record) int { return compare(a.ID, b.ID) })
	booked := time.Date(2025, 2, 3, 4, 5, 6, 0, time.FixedZone("", 3600))
	for i, r := range rows {
		want := recs[i]
		if r.RecordID != want.ID || r.SubjectID != want.SubjectID || !r.CreatedAt.Equal(want.CreatedAt) ||
			len(r.Values) != len(want.Data)+len(want.Withheld) { // the export withholds nothing
			t.Fatalf("trip row %d = %+v, want record %+v", i, r, want)
		}
		for name, v := range r.Values {
			var ok bool
			switch name {
			case "travel_date":
				ok = v.(time.Time).Equal(time.Date(2025, 7, 14, 0, 0, 0, 0, time.UTC))
			case "booked_at":
				ok = v.(time.Time).Equal(booked)
			case "price":
				ok = v == 1234.5
			case "nights":
				ok = v == int64(7)
			case "passport":
				ok = v == "P1234567"
			default:
				ok = v == want.Data[name]
			}
			if !ok {
				t.Errorf("trip %s %s = %#v (%T)", r.RecordID, name, v, v)
			}
		}
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkExportAudit checks that an export left exactly one audit event, tenant.export,
// carrying the wanted fields, and no read event per subject or record.
func checkExportAudit(t *testing.T, events []*skjold.AuditEvent, fields ...string) {
	t.Helper()
	var exports int
	for _, ev := range events {
		switch ev.Action {
		case "tenant.export":
			exports++
			for _, f := range fields {
				if !slices.Contains(ev.Fields, f) {
					t.Errorf("tenant.export fields %v lack %q", ev.Fields, f)
				}
			}
		case "subject.read", "record.read":
			t.Errorf("the export audited a %s", ev.Action)
		}
	}
	if exports != 1 {
		t.Errorf("%d tenant.export events, want 1", exports)
	}
}

func testExportApproval(t *testing.T, e *env) {
	a, _, _ := e.exportFixture()
	_, first := e.adminCtx(a, "owner1@fjord.example", skjold.RoleOwner)
	_, second := e.adminCtx(a, "owner2@fjord.example", skjold.RoleOwner)

	// By default bulk exports take four eyes: a token cannot export, a person needs an approval.
	err := e.db.ExportTenant(e.as(a, ""), "", &memSink{})
	wantCode(t, err, skjold.EFORBIDDEN)
	wantCode(t, e.db.ExportTenant(first, "", &memSink{}), skjold.EFORBIDDEN)
	wantCode(t, e.db.ExportTenant(first, exportID(5), &memSink{}), skjold.ENOTFOUND)
	wantCode(t, e.db.ExportTenant(first, "not-an-id", &memSink{}), skjold.ENOTFOUND)
	wantCode(t, e.db.RequestApproval(e.as(a, ""), &skjold.Approval{Action: skjold.ActionBulkExport}), skjold.EFORBIDDEN)

	req := &skjold.Approval{Action: skjold.ActionBulkExport, Target: "ignored"}
	must(t, e.db.RequestApproval(first, req))
	if req.Target != a.ID || req.TenantID != a.ID {
		t.Errorf("filed bulk export = %+v", req)
	}
	wantCode(t, e.db.ExportTenant(first, req.ID, &memSink{}), skjold.ECONFLICT) // pending
	_, err = e.db.DecideApproval(first, req.ID, true)
	wantCode(t, err, skjold.EFORBIDDEN) // not one's own
	_, err = e.db.DecideApproval(second, req.ID, true)
	must(t, err)
	wantCode(t, e.db.ExportTenant(second, req.ID, &memSink{}), skjold.EFORBIDDEN) // only its requester

	seq := e.lastSeq()
	sink := &memSink{}
	must(t, e.db.ExportTenant(first, req.ID, sink))
	if len(sink.rows["trip"]) != 3 || len(sink.rows[skjold.SubjectCategory]) != 3 {
		t.Errorf("approved export fed %d trips and %d subjects", len(sink.rows["trip"]), len(sink.rows[skjold.SubjectCategory]))
	}
	checkExportAudit(t, e.events(seq), "approval:"+req.ID, "subjects:3", "records:3")
	wantCode(t, e.db.ExportTenant(first, req.ID, &memSink{}), skjold.ECONFLICT) // single use

	// An approval decided more than a day ago has lapsed; a rejected one never counts.
	late := &skjold.Approval{Action: skjold.ActionBulkExport}
	must(t, e.db.RequestApproval(first, late))
	_, err = e.db.DecideApproval(second, late.ID, true)
	must(t, err)
	e.clock.Add(25 * time.Hour)
	wantCode(t, e.db.ExportTenant(first, late.ID, &memSink{}), skjold.ECONFLICT)
	no := &skjold.Approval{Action: skjold.ActionBulkExport}
	must(t, e.db.RequestApproval(first, no))
	_, err = e.db.DecideApproval(second, no.ID, false)
	must(t, err)
	wantCode(t, e.db.ExportTenant(first, no.ID, &memSink{}), skjold.ECONFLICT)
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM approvals WHERE used_at IS NOT NULL"); n != 1 {
		t.Errorf("%d approvals marked used, want 1", n)
	}
}

func testSubjectData(t *testing.T, e *env) {
	a, subjects, recs := e.exportFixture()
	ctx := e.as(a, "") // states no purpose: the subject's own data is still complete
	s1, s2 := subjects[0], subjects[1]
	raw, now := e.raw(), e.clock.Now().UnixMicro()
	e.rawExec(raw, `INSERT INTO purposes (tenant_id, name, definition, notice_version, created_at, updated_at)
		VALUES (?, 'export_news', '{"legal_basis":"consent","description":"Monthly news"}', 2, ?, ?)`, a.ID, now, now)
	e.rawExec(raw, `INSERT INTO purpose_notices (tenant_id, purpose, version, text, created_at) VALUES (?, 'export_news', 2, 'We write monthly.', ?)`, a.ID, now)
	e.rawExec(raw, `INSERT INTO consents (id, tenant_id, subject_id, purpose, granted, source, notice_version, created_at)
		VALUES (?, ?, ?, 'export_news', 1, 'api', 2, ?)`, exportID(1), a.ID, s2.ID, now)
	e.rawExec(raw, `INSERT INTO holds (id, tenant_id, subject_id, category, reason, created_by, created_at)
		VALUES (?, ?, ?, 'trip', 'accounting law', 'user:x', ?)`, exportID(2), a.ID, s2.ID, now)
	e.rawExec(raw, `INSERT INTO holds (id, tenant_id, subject_id, reason, created_by, created_at)
		VALUES (?, ?, ?, 'other subject', 'user:x', ?)`, exportID(3), a.ID, s1.ID, now)
	e.rawExec(raw, `INSERT INTO requests (id, tenant_id, subject_id, type, status, received_at, due_at, created_by)
		VALUES (?, ?, ?, 'access', 'in_progress', ?, ?, 'token:x')`, exportID(4), a.ID, s2.ID, now, now)
	e.rawExec(raw, `INSERT INTO settings (tenant_id, name, value, updated_at) VALUES (?, 'privacy_notice', ?, ?)`, a.ID,
		`{"controller":"Fjord Travel AS","supervisory_authority":"Datatilsynet","recipients":["Payments Ltd"]}`, now)

	seq := e.lastSeq()
	d, err := e.db.SubjectData(ctx, s2.ID) // restricted, and still included
	must(t, err)
	if d.Subject.ID != s2.ID || d.Subject.Name != s2.Name || !d.Subject.Restricted || d.Subject.Relationship != skjold.RelationshipActive {
		t.Errorf("subject = %+v", d.Subject)
	}
	if len(d.Categories) != 2 || d.Categories[0].Name != skjold.SubjectCategory || d.Categories[1].Name != "trip" {
		t.Errorf("categories = %v", d.Categories)
	}
	if got := d.Records["trip"]; len(got) != 1 || got[0].ID != recs[2].ID || got[0].Data["destination"] != "Bergen" || got[0].Data["insured"] != false {
		t.Errorf("records = %+v", d.Records)
	}
	if len(d.Consents) != 1 || d.Consents[0].Notice != "We write monthly." || !d.Consents[0].Granted || d.Consents[0].NoticeVersion != 2 {
		t.Errorf("consents = %+v", d.Consents)
	}
	if len(d.Holds) != 1 || d.Holds[0].Reason != "accounting law" || d.Holds[0].Category != "trip" {
		t.Errorf("holds = %+v", d.Holds)
	}
	if len(d.Requests) != 1 || d.Requests[0].Type != skjold.RequestAccess || exportNews(d.Purposes) == nil ||
		exportNews(d.Purposes).LegalBasis != skjold.BasisConsent || exportNews(d.Purposes).Notice != "We write monthly." || exportNews(d.Purposes).NoticeVersion != 2 {
		t.Errorf("requests = %+v, purposes = %+v", d.Requests, d.Purposes)
	}
	if d.Notice == nil || d.Notice.Controller != "Fjord Travel AS" || d.Notice.SupervisoryAuthority != "Datatilsynet" {
		t.Errorf("notice = %+v", d.Notice)
	}
	checkSubjectExportAudit(t, e.events(seq), s2.ID)

	// The purpose-bound passport comes out although the caller stated no purpose.
	d, err = e.db.SubjectData(ctx, s1.ID)
	must(t, err)
	if got := d.Records["trip"]; len(got) != 2 || got[0].Data["passport"] != "P1234567" || len(d.Consents) != 0 || len(d.Holds) != 1 {
		t.Errorf("subject 1 data: records %+v, consents %v, holds %v", d.Records, d.Consents, d.Holds)
	}
	_, err = e.db.SubjectData(e.as(e.newTenant("Other AS"), ""), s1.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.SubjectData(ctx, "bad")
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.SubjectData(e.op, s1.ID)
	wantCode(t, err, skjold.EFORBIDDEN)
}

func checkSubjectExportAudit(t *testing.T, events []*skjold.AuditEvent, subjectID string) {
	t.Helper()
	if len(events) != 1 || events[0].Action != "subject.export" || events[0].SubjectID != subjectID || !slices.Contains(events[0].Fields, "records:1") {
		for _, ev := range events {
			t.Logf("event %s %s %v", ev.Action, ev.SubjectID, ev.Fields)
		}
		t.Errorf("SubjectData left %d audit events, want one subject.export", len(events))
	}
}

func exportNews(ps []*skjold.Purpose) *skjold.Purpose {
	for _, p := range ps {
		if p.Name == "export_news" {
			return p
		}
	}
	return nil
}

// exportID returns a well-formed id that no store call made.
func exportID(n int) string { return fmt.Sprintf("0193d6a4-0000-7000-8000-%012d", n) }
