package http

import (
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// holdOf returns a maker of fresh legal holds of the tenant of token, for routes that end
// them; the holds cover a category no test erases.
func (e *env) holdOf(token string) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		var h skjold.Hold
		e.do(t, token, "POST", "/api/v1/holds", map[string]string{"category": "invoice", "reason": "authz"}).
			want(t, 201).decode(t, &h)
		return h.ID
	}
}

// TestErasure erases through the API: the DELETE of a subject keeps its invoice under the
// accounting law and says so, POST …/erasure erases outright, a legal hold keeps everything
// until released, and the operator reads the erasure journal.
func TestErasure(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Ingrid Faktura", "email": "ingrid@example.com"})
	e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Oslo"}})
	invoiceDate := e.clock.Now().UTC().AddDate(0, -1, 0).Truncate(24 * time.Hour)
	e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "invoice",
		"data": map[string]any{"invoice_number": "F-1", "invoice_date": invoiceDate.Format(time.DateOnly), "amount": 100}})

	var rep skjold.ErasureReport
	e.do(t, e.a.token, "DELETE", "/api/v1/subjects/"+sub.ID, nil).want(t, 200).decode(t, &rep)
	until := invoiceDate.AddDate(5, 0, 0)
	if rep.SubjectID != sub.ID || rep.Erased != 1 || rep.Complete || len(rep.Kept) != 1 || rep.Kept[0].Category != "invoice" ||
		rep.Kept[0].Count != 1 || rep.Kept[0].Reason != "legal_obligation: kept P5Y from invoice_date" ||
		rep.Kept[0].Until == nil || !rep.Kept[0].Until.Equal(until) {
		t.Errorf("DELETE answered %+v, want the invoice kept until %v", rep, until)
	}
	if n := e.count(t, e.a.token, "/api/v1/subjects?email=ingrid@example.com"); n != 0 {
		t.Errorf("the erased subject is still found by e-mail: %d", n)
	}

	// A legal hold on the tenant keeps everything; released, erasing again completes.
	other := e.createSubject(t, e.a.token, map[string]string{"name": "Ola"})
	e.createRecord(t, e.a.token, other.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Bergen"}})
	var hold skjold.Hold
	e.do(t, e.a.token, "POST", "/api/v1/holds", map[string]string{"reason": "Case 17/2026"}).want(t, 201).decode(t, &hold)
	rep = skjold.ErasureReport{} // decoding into the old report would keep its absent fields
	e.do(t, e.a.token, "POST", "/api/v1/subjects/"+other.ID+"/erasure", nil).want(t, 200).decode(t, &rep)
	if rep.Erased != 0 || rep.Complete || len(rep.Kept) != 1 || rep.Kept[0].Reason != "legal_hold: Case 17/2026" || rep.Kept[0].Until != nil {
		t.Errorf("erasure under a hold answered %+v", rep)
	}
	var holds struct{ Items []skjold.Hold }
	e.do(t, e.a.token, "GET", "/api/v1/holds", nil).want(t, 200).decode(t, &holds)
	if len(holds.Items) != 1 || holds.Items[0].ID != hold.ID || holds.Items[0].ReleasedAt != nil {
		t.Errorf("holds %+v", holds.Items)
	}
	e.do(t, e.a.token, "DELETE", "/api/v1/holds/"+hold.ID, nil).want(t, 204)
	rep = skjold.ErasureReport{}
	e.do(t, e.a.token, "POST", "/api/v1/subjects/"+other.ID+"/erasure", nil).want(t, 200).decode(t, &rep)
	if rep.Erased != 1 || !rep.Complete || len(rep.Kept) != 0 {
		t.Errorf("erasure after the release answered %+v", rep)
	}
	e.do(t, e.a.token, "POST", "/api/v1/subjects/"+other.ID+"/erasure", nil).wantError(t, 404, skjold.ENOTFOUND)

	var journal struct {
		Items []skjold.JournalEntry
		Next  string
	}
	// Every erasure is journalled, also those that had to keep records: the invoice's
	// subject, the held subject, and the held subject again when the hold was released.
	e.do(t, e.operator, "GET", "/api/v1/erasure-journal?limit=1", nil).want(t, 200).decode(t, &journal)
	if len(journal.Items) != 1 || journal.Items[0].SubjectID == other.ID || journal.Items[0].TenantID != e.a.id ||
		journal.Items[0].Reason != skjold.ErasedOnRequest || journal.Next == "" {
		t.Errorf("erasure journal %+v", journal)
	}
	e.do(t, e.operator, "GET", "/api/v1/erasure-journal?after="+journal.Next, nil).want(t, 200).decode(t, &journal)
	if len(journal.Items) != 2 || journal.Items[0].SubjectID != other.ID || journal.Items[1].SubjectID != other.ID {
		t.Errorf("the journal's second page holds %+v, want the held subject's two erasures", journal.Items)
	}
}

// TestHoldRefused checks that bad holds and journal queries are refused with the field named,
// and change nothing.
func TestHoldRefused(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Ola"})
	past := e.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	for _, c := range []struct {
		body  map[string]string
		field string
	}{
		{map[string]string{}, "reason"},
		{map[string]string{"reason": strings.Repeat("x", 501)}, "reason"},
		{map[string]string{"reason": "r", "until": "tomorrow"}, "until"},
		{map[string]string{"reason": "r", "until": past}, "until"},
		{map[string]string{"reason": "r", "subject_id": "nope"}, "subject_id"},
		{map[string]string{"reason": "r", "category": "no_such_category"}, "category"},
	} {
		e.unchanged(t, func() {
			got := e.do(t, e.a.token, "POST", "/api/v1/holds", c.body).wantError(t, 400, skjold.EINVALID)
			if got.Field != c.field {
				t.Errorf("hold %v: error names %q, want %q", c.body, got.Field, c.field)
			}
		})
	}
	e.do(t, e.a.token, "POST", "/api/v1/subjects/"+sub.ID+"/erasure", map[string]string{"reason": "x"}).wantError(t, 400, skjold.EINVALID)
	e.do(t, e.a.token, "DELETE", "/api/v1/holds/"+missingID, nil).wantError(t, 404, skjold.ENOTFOUND)
	for _, q := range []string{"after=-1", "after=x", "limit=0", "limit=501"} {
		e.do(t, e.operator, "GET", "/api/v1/erasure-journal?"+q, nil).wantError(t, 400, skjold.EINVALID)
	}
	reader := e.createToken(t, e.a.token, "reader", skjold.ScopeRead, skjold.ScopeWrite)
	e.do(t, reader.Secret, "POST", "/api/v1/holds", map[string]string{"reason": "r"}).wantError(t, 403, skjold.EFORBIDDEN)
}
