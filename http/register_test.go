package http

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestRegisterExport reads the register of authorised persons as JSON and as CSV: the
// people who can reach tenant A's personal data, none of tenant B's, and no spreadsheet
// formula smuggled in through a name.
func TestRegisterExport(t *testing.T) {
	e := newEnv(t)
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	e.activeStaff(t, e.b.id, skjold.RoleAgent, "")
	name := "=HYPERLINK(\"http://evil.example\")"
	e.do(t, e.a.token, "PATCH", "/api/v1/users/"+agent.user.ID, map[string]any{"name": name}).want(t, 200)

	var reg struct{ Items []skjold.RegisterEntry }
	e.do(t, e.a.token, "GET", "/api/v1/register", nil).want(t, 200).decode(t, &reg)
	if len(reg.Items) != 1 || reg.Items[0].UserID != agent.user.ID || !reg.Items[0].TrainingDue {
		t.Fatalf("register = %+v, want tenant A's agent, training due", reg.Items)
	}
	r := e.do(t, e.a.token, "GET", "/api/v1/register?format=csv", nil).want(t, 200)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	body, bom := strings.CutPrefix(string(r.body), "\uFEFF")
	if !bom {
		t.Error("the CSV does not start with a UTF-8 byte order mark")
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "user_id" || rows[1][0] != agent.user.ID {
		t.Fatalf("CSV = %q, %v", rows, err)
	}
	if rows[1][1] != "'"+name {
		t.Errorf("name cell %q: a formula must be defused", rows[1][1])
	}
	e.do(t, e.a.token, "GET", "/api/v1/register?format=xml", nil).wantError(t, 400, skjold.EINVALID)
}
