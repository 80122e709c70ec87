package storetest

import (
	"errors"
	"testing"

	"github.com/skjold-project/skjold"
)

// testCreateWithRecords: CreateSubjectWithRecords writes the subject and its first records in
// one write with their audit events together; a refused record, whether refused by its
// category before the write or by the guardian rule inside it, refuses everything.
func testCreateWithRecords(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	before := e.lastSeq()
	s := &skjold.Subject{Name: "Tove Traveller", Email: "tove@example.com"}
	recs := []*skjold.Record{
		{Category: "enquiry", Data: map[string]any{"message": "Room for two"}},
		{Category: "invoice", Data: map[string]any{"invoice_number": "F-7", "invoice_date": "2024-01-31", "amount": 1200.0}},
	}
	must(t, e.db.CreateSubjectWithRecords(ctx, s, recs))
	for i, r := range recs {
		if !skjold.ValidID(r.ID) || r.SubjectID != s.ID || !r.CreatedAt.Equal(s.CreatedAt) {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	events := e.events(before)
	if len(events) != 3 || events[0].Action != "subject.create" || events[1].Action != "record.create" ||
		events[1].RecordID != recs[0].ID || events[2].RecordID != recs[1].ID {
		t.Fatalf("events: %+v", events)
	}
	found, err := e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: s.ID})
	must(t, err)
	if len(found) != 2 {
		t.Errorf("records found: %+v", found)
	}
	byEmail, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Email: "tove@example.com"})
	must(t, err)
	if len(byEmail) != 1 || byEmail[0].ID != s.ID {
		t.Errorf("found by e-mail: %+v", byEmail)
	}

	for _, c := range []struct {
		name    string
		s       *skjold.Subject
		records []*skjold.Record
		field   string
	}{
		{"missing required field", &skjold.Subject{Name: "A"}, []*skjold.Record{recs[0],
			{Category: "invoice", Data: map[string]any{"invoice_date": "2024-01-31", "amount": 1.0}}}, "records[1].data.invoice_number"},
		{"unknown category", &skjold.Subject{Name: "A"}, []*skjold.Record{{Category: "no_such"}}, "records[0].category"},
		// Refused inside the write, after the subject's row went in: rolled back with it.
		{"a minor's birth date without a guardian", &skjold.Subject{Name: "Young"}, []*skjold.Record{
			{Category: "enquiry", Data: map[string]any{"message": "hi"}}, {Category: "membership", Data: map[string]any{"member_birth_date": minorBorn}}},
			"records[1].data.member_birth_date"},
		{"duplicate ref", &skjold.Subject{Name: "A", Ref: "R-1"}, []*skjold.Record{recs[0]}, "ref"},
	} {
		if c.name == "a minor's birth date without a guardian" {
			_, err := e.db.PutCategory(ctx, &skjold.Category{Name: "membership", LegalBasis: skjold.BasisContract, Purposes: []string{"contract"},
				Retention: skjold.Retention{Period: "P2Y", From: skjold.RetentionFromRelationship},
				Fields:    []skjold.Field{{Name: "member_birth_date", Type: skjold.TypeDate}}})
			must(t, err)
		}
		if c.name == "duplicate ref" {
			e.newSubject(ctx, &skjold.Subject{Name: "First", Ref: "R-1"})
		}
		before := e.lastSeq()
		raw := e.raw()
		subjects := e.rawCount(raw, "SELECT COUNT(*) FROM subjects")
		err := e.db.CreateSubjectWithRecords(ctx, c.s, c.records)
		var de *skjold.Error
		if !errors.As(err, &de) || de.Field != c.field {
			t.Errorf("%s: %v (field %q), want the field %q", c.name, err, fieldOf(de), c.field)
		}
		after := e.rawCount(raw, "SELECT COUNT(*) FROM subjects")
		if n := len(e.events(before)); n != 0 || after != subjects {
			t.Errorf("%s: the refused create wrote %d events and %d subjects", c.name, n, after-subjects)
		}
	}
}

func fieldOf(e *skjold.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}
