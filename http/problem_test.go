package http

import (
	"encoding/json"
	"testing"

	"github.com/skjold-project/skjold"
)

// internalProblem is the whole answer to an internal error: nothing of the cause.
const internalProblem = `{"type":"urn:skjold:problem:internal","title":"Internal error","status":500,` +
	`"detail":"internal error","code":"internal","error":{"code":"internal","message":"internal error"}}` + "\n"

// TestProblemListsEveryFieldError checks that input breaking several rules is refused with
// every offending field in errors (ordered by name), not only the first, and changes nothing.
func TestProblemListsEveryFieldError(t *testing.T) {
	e := newEnv(t)
	s := e.createSubject(t, e.a.token, map[string]string{"name": "Ada"})
	path := "/api/v1/subjects/" + s.ID + "/records"
	var body errorBody
	e.unchanged(t, func() {
		r := e.do(t, e.a.token, "POST", path, map[string]any{"category": "invoice",
			"data": map[string]any{"invoice_date": "31.01.2024", "colour": "red", "description": "paid with 5555 5555 5555 4444"}})
		r.wantError(t, 400, skjold.EINVALID)
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
	})
	want := []struct{ field, rule string }{
		{"amount", "required"}, {"colour", "unknown"}, {"description", skjold.KindCardNumber},
		{"invoice_date", "date"}, {"invoice_number", "required"},
	}
	if len(body.Errors) != len(want) {
		t.Fatalf("errors %+v, want %v", body.Errors, want)
	}
	for i, w := range want {
		if got := body.Errors[i]; got.Field != w.field || got.Rule != w.rule || got.Detail == "" {
			t.Errorf("errors[%d] = %+v, want field %q rule %q", i, got, w.field, w.rule)
		}
	}
	if body.Field != "amount" || body.Error.Field != "amount" {
		t.Errorf("first field %q (error object %q), want amount", body.Field, body.Error.Field)
	}

	// The subject's own fields are checked the same way.
	r := e.do(t, e.a.token, "POST", "/api/v1/subjects", map[string]string{"email": "not an address", "phone": "12", "birth_date": "tomorrow"})
	r.wantError(t, 400, skjold.EINVALID)
	body = errorBody{}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, fe := range body.Errors {
		fields = append(fields, fe.Field)
	}
	if len(fields) != 3 || fields[0] != "birth_date" || fields[1] != "email" || fields[2] != "phone" {
		t.Errorf("subject errors for fields %v, want birth_date, email, phone", fields)
	}
}
