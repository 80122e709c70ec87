package http

import (
	"slices"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

func TestRecordCreateRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	path := "/api/v1/subjects/" + sub.ID + "/records"
	invoice := func(data map[string]any) map[string]any {
		d := map[string]any{"invoice_number": "F-1", "invoice_date": "2024-01-31", "amount": 100}
		for k, v := range data {
			if v == nil {
				delete(d, k)
			} else {
				d[k] = v
			}
		}
		return map[string]any{"category": "invoice", "data": d}
	}
	cases := []struct {
		name        string
		body        any
		status      int
		code        string
		field, rule string
	}{
		{"unknown category", map[string]any{"category": "no_such", "data": map[string]any{"a": "b"}}, 404, skjold.ENOTFOUND, "", ""},
		{"category not a name", map[string]any{"category": "Invoice", "data": map[string]any{}}, 404, skjold.ENOTFOUND, "", ""},
		{"missing category", map[string]any{"data": map[string]any{"a": "b"}}, 400, skjold.EINVALID, "category", "required"},
		{"the subject category", map[string]any{"category": "subject", "data": map[string]any{"name": "x"}}, 400, skjold.EINVALID, "category", "reserved"},
		{"missing required field", invoice(map[string]any{"invoice_number": nil}), 400, skjold.EINVALID, "invoice_number", "required"},
		{"no data", map[string]any{"category": "invoice"}, 400, skjold.EINVALID, "amount", "required"}, // the first of all three, by name
		{"null required field", `{"category":"enquiry","data":{"message":null}}`, 400, skjold.EINVALID, "message", "required"},
		{"unknown field", invoice(map[string]any{"colour": "red"}), 400, skjold.EINVALID, "colour", "unknown"},
		{"wrong type", invoice(map[string]any{"amount": "a hundred"}), 400, skjold.EINVALID, "amount", "type"},
		{"nested value", invoice(map[string]any{"description": map[string]any{"a": 1}}), 400, skjold.EINVALID, "description", "type"},
		{"array value", invoice(map[string]any{"description": []string{"a"}}), 400, skjold.EINVALID, "description", "type"},
		{"bad date", invoice(map[string]any{"invoice_date": "31.01.2024"}), 400, skjold.EINVALID, "invoice_date", "date"},
		{"huge number", `{"category":"invoice","data":{"invoice_number":"F-1","invoice_date":"2024-01-31","amount":1e400}}`, 400, skjold.EINVALID, "amount", "type"},
		{"fraction in an integer", `{"category":"reservation","data":{"service":"x","starts_at":"2024-01-01T10:00:00Z","duration_minutes":1.5}}`,
			400, skjold.EINVALID, "duration_minutes", "type"},
		{"card number", invoice(map[string]any{"description": "paid with 5555 5555 5555 4444"}), 400, skjold.EINVALID, "description", skjold.KindCardNumber},
		{"card number as a number", invoice(map[string]any{"amount": 4111111111111111}), 400, skjold.EINVALID, "amount", skjold.KindCardNumber},
		{"PESEL", map[string]any{"category": "enquiry", "data": map[string]any{"message": "my PESEL is 44051401359"}}, 400, skjold.EINVALID, "message", skjold.KindPESEL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.unchanged(t, func() {
				got := e.do(t, e.a.token, "POST", path, c.body).wantError(t, c.status, c.code)
				if c.field != "" || c.rule != "" {
					wantRefusal(t, got, c.field, c.rule)
				}
			})
			if n := e.count(t, e.a.token, path); n != 0 {
				t.Errorf("the subject has %d records", n)
			}
		})
	}
	rec := e.createRecord(t, e.a.token, sub.ID, invoice(nil))
	if rec.Data["amount"] != float64(100) || rec.Category != "invoice" || rec.SubjectID != sub.ID {
		t.Errorf("record %+v", rec)
	}
}

func TestRecordUpdateAndDelete(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "enquiry", "data": map[string]string{"message": "Hi", "topic": "price"}})
	path := "/api/v1/records/" + rec.ID
	for _, c := range []struct {
		body        string
		field, rule string
	}{
		{`{"data":{}}`, "data", "required"},
		{`{}`, "data", "required"},
		{`{"data":{"message":null}}`, "message", "required"},
		{`{"data":{"nope":"x"}}`, "nope", "unknown"},
		{`{"data":{"topic":"44051401359"}}`, "topic", skjold.KindPESEL},
	} {
		e.unchanged(t, func() {
			wantRefusal(t, e.do(t, e.a.token, "PATCH", path, c.body).wantError(t, 400, skjold.EINVALID), c.field, c.rule)
		})
	}
	var got skjold.Record
	e.do(t, e.a.token, "PATCH", path, `{"data":{"topic":null,"message":"Hello"}}`).want(t, 200).decode(t, &got)
	if got.Data["message"] != "Hello" || got.Data["topic"] != nil {
		t.Errorf("after update: %+v", got.Data)
	}
	e.do(t, e.a.token, "GET", path, nil).want(t, 200).decode(t, &got)
	if len(got.Data) != 1 || got.Data["message"] != "Hello" {
		t.Errorf("reads back as %+v", got.Data)
	}
	e.do(t, e.a.token, "DELETE", path, nil).want(t, 204)
	e.do(t, e.a.token, "GET", path, nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, e.a.token, "DELETE", path, nil).wantError(t, 404, skjold.ENOTFOUND)
}

// TestRecordPurposeBoundFields checks that identity.birth_date is withheld from reads that
// state no credit_check or debt_collection purpose, by id and in lists.
func TestRecordPurposeBoundFields(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "identity",
		"data": map[string]string{"first_name": "Anna", "birth_date": "1980-05-17"}})
	if _, ok := rec.Data["birth_date"]; ok || !slices.Equal(rec.Withheld, []string{"birth_date"}) {
		t.Errorf("create answered %+v withheld %v without a purpose", rec.Data, rec.Withheld)
	}
	for _, c := range []struct {
		path    string
		visible bool
	}{
		{"/api/v1/records/" + rec.ID, false},
		{"/api/v1/records/" + rec.ID + "?purpose=credit_check", true},
		{"/api/v1/subjects/" + sub.ID + "/records", false},
		{"/api/v1/subjects/" + sub.ID + "/records?purpose=debt_collection&category=identity", true},
	} {
		var got skjold.Record
		r := e.do(t, e.a.token, "GET", c.path, nil).want(t, 200)
		if strings.HasPrefix(c.path, "/api/v1/subjects/") {
			var list struct{ Items []skjold.Record }
			if r.decode(t, &list); len(list.Items) != 1 {
				t.Fatalf("%s: %d records", c.path, len(list.Items))
			}
			got = list.Items[0]
		} else {
			r.decode(t, &got)
		}
		if _, ok := got.Data["birth_date"]; ok != c.visible || got.Data["first_name"] != "Anna" {
			t.Errorf("%s: data %+v withheld %v", c.path, got.Data, got.Withheld)
		}
	}
	if n := e.count(t, e.a.token, "/api/v1/subjects/"+sub.ID+"/records?category=contact"); n != 0 {
		t.Errorf("?category=contact found %d records", n)
	}
}
