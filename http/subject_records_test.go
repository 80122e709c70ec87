package http

import (
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestSubjectCreateWithRecords: POST /api/v1/subjects with inline records creates the subject
// and its records in one write, audited together, and answers with both; the records are
// then read back as any others.
func TestSubjectCreateWithRecords(t *testing.T) {
	e := newEnv(t)
	body := map[string]any{"name": "Tove Traveller", "email": "tove@example.com", "records": []map[string]any{
		{"category": "enquiry", "data": map[string]any{"message": "Room for two", "topic": "price"}},
		{"category": "invoice", "data": map[string]any{"invoice_number": "F-7", "invoice_date": "2024-01-31", "amount": 1200}},
	}}
	var got struct {
		skjold.Subject
		Records []*skjold.Record `json:"records"`
	}
	e.do(t, e.a.token, "POST", "/api/v1/subjects", body).want(t, 201).decode(t, &got)
	if !skjold.ValidID(got.ID) || got.Name != "Tove Traveller" || len(got.Records) != 2 {
		t.Fatalf("answer: %+v", got)
	}
	for i, rec := range got.Records {
		if !skjold.ValidID(rec.ID) || rec.SubjectID != got.ID {
			t.Errorf("record %d: %+v", i, rec)
		}
	}
	if got.Records[0].Data["message"] != "Room for two" || got.Records[1].Category != "invoice" {
		t.Errorf("records: %+v, %+v", got.Records[0], got.Records[1])
	}
	if n := e.count(t, e.a.token, "/api/v1/subjects/"+got.ID+"/records"); n != 2 {
		t.Errorf("%d records of the new subject, want 2", n)
	}
	// One write: the subject's and the records' events follow each other in the chain.
	var creates []*skjold.AuditEvent
	for _, ev := range e.auditEvents(t, e.a.token, "&subject_id="+got.ID) {
		if strings.HasSuffix(ev.Action, ".create") {
			creates = append(creates, ev)
		}
	}
	if len(creates) != 3 || creates[0].Action != "subject.create" || creates[1].Seq != creates[0].Seq+1 || creates[2].Seq != creates[0].Seq+2 ||
		creates[1].RecordID != got.Records[0].ID || creates[2].RecordID != got.Records[1].ID {
		t.Errorf("create events: %+v", creates)
	}
	// Without records, the answer is the subject alone, as before.
	plain := e.do(t, e.a.token, "POST", "/api/v1/subjects", map[string]any{"name": "Plain"}).want(t, 201)
	if strings.Contains(string(plain.body), `"records"`) {
		t.Errorf("a create without records answers %s", plain.body)
	}
}

// TestSubjectCreateWithRecordsRefusesBadInput: one bad record refuses the whole create with
// the record's field named, and writes nothing: no subject, no record, no audit event.
func TestSubjectCreateWithRecordsRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	good := map[string]any{"category": "enquiry", "data": map[string]any{"message": "Hello"}}
	cases := []struct {
		name        string
		body        map[string]any
		field, rule string
	}{
		{"missing required field", map[string]any{"name": "A", "records": []any{good,
			map[string]any{"category": "invoice", "data": map[string]any{"invoice_date": "2024-01-31", "amount": 1}}}},
			"records[1].data.invoice_number", "required"},
		{"card number in a record", map[string]any{"name": "A", "records": []any{
			map[string]any{"category": "enquiry", "data": map[string]any{"message": "card 4111 1111 1111 1111"}}}},
			"records[0].data.message", skjold.KindCardNumber},
		{"unknown category", map[string]any{"name": "A", "records": []any{good, map[string]any{"category": "no_such", "data": map[string]any{}}}},
			"records[1].category", "exists"},
		{"missing category", map[string]any{"name": "A", "records": []any{map[string]any{"data": map[string]any{}}}},
			"records[0].category", "required"},
		{"the subject category", map[string]any{"name": "A", "records": []any{map[string]any{"category": "subject", "data": map[string]any{}}}},
			"records[0].category", "reserved"},
		{"bad subject with good records", map[string]any{"email": "not an address", "records": []any{good}}, "email", "email"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.unchanged(t, func() {
				got := e.do(t, e.a.token, "POST", "/api/v1/subjects", c.body).wantError(t, 400, skjold.EINVALID)
				wantRefusal(t, got, c.field, c.rule)
			})
		})
	}
}
