package http

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/xuri/excelize/v2"
)

// holds reports whether scopes holds scope.
func holds(scopes []string, scope string) bool {
	for _, s := range scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// exportApproval has requester file a bulk export, approver approve it, and returns its id.
func (e *env) exportApproval(t *testing.T, requester, approver *staff) string {
	t.Helper()
	e.keepAlive(t, requester)
	e.keepAlive(t, approver)
	var a skjold.Approval
	e.do(t, requester.session, "POST", "/api/v1/approvals", map[string]string{"action": skjold.ActionBulkExport, "target": requester.user.TenantID}).
		want(t, 201).decode(t, &a)
	e.do(t, approver.session, "POST", "/api/v1/approvals/"+a.ID+"/approve", nil).want(t, 200)
	return a.ID
}

// TestExport downloads tenant A's data in every format, with the approval A's four eyes
// require, reads the XLSX back with a spreadsheet library, and checks the refusals.
func TestExport(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Åse Nordmann", "ref": "=cmd|' /C calc'!A0"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Tromsø"}})
	e.createSubject(t, e.b.token, map[string]string{"name": "Bjørn of B"})
	owner := e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	second := e.activeStaff(t, e.a.id, skjold.RoleOwner, "")

	e.do(t, e.a.token, "GET", "/api/v1/export?format=xlsx", nil).wantError(t, 403, skjold.EFORBIDDEN) // a token, under four eyes
	e.do(t, owner.session, "GET", "/api/v1/export", nil).wantError(t, 403, skjold.EFORBIDDEN)         // no approval
	id := e.exportApproval(t, owner, second)
	if d := e.do(t, owner.session, "GET", "/api/v1/export?format=pdf&approval="+id, nil).wantError(t, 400, skjold.EINVALID); d.Field != "format" {
		t.Errorf("a bad format names the field %q", d.Field)
	}

	r := e.do(t, owner.session, "GET", "/api/v1/export?format=xlsx&approval="+id, nil).want(t, 200)
	wantDownload(t, r, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("the export is no workbook: %v", err)
	}
	defer f.Close()
	rows, err := f.GetRows(skjold.SubjectCategory)
	if err != nil || len(rows) != 2 || rows[1][0] != sub.ID {
		t.Fatalf("subject sheet = %q (%v), want a header and tenant A's subject", rows, err)
	}
	for col, want := range map[string]string{"D2": "=cmd|' /C calc'!A0", "G2": "Åse Nordmann"} {
		got, _ := f.GetCellValue(skjold.SubjectCategory, col)
		formula, _ := f.GetCellFormula(skjold.SubjectCategory, col)
		if got != want || formula != "" {
			t.Errorf("subject!%s = %q (formula %q), want the text %q", col, got, formula, want)
		}
	}
	contact, err := f.GetRows("contact")
	if err != nil || len(contact) != 2 || contact[1][1] != rec.ID || !strings.Contains(strings.Join(contact[1], ","), "Tromsø") {
		t.Errorf("contact sheet = %q (%v)", contact, err)
	}
	if strings.Contains(string(r.body), "Bjørn") {
		t.Error("tenant B's subject in tenant A's export")
	}
	e.do(t, owner.session, "GET", "/api/v1/export?format=xlsx&approval="+id, nil).wantError(t, 409, skjold.ECONFLICT) // used

	r = e.do(t, owner.session, "GET", "/api/v1/export?format=csv&approval="+e.exportApproval(t, owner, second), nil).want(t, 200)
	wantDownload(t, r, "application/zip", "-csv.zip")
	zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil || len(zr.File) < 2 || zr.File[0].Name != "subject.csv" {
		t.Errorf("CSV export: %v", err)
	}

	r = e.do(t, owner.session, "GET", "/api/v1/export?format=json&approval="+e.exportApproval(t, owner, second), nil).want(t, 200)
	wantDownload(t, r, "application/json", ".json")
	var doc struct {
		Categories []struct {
			Name string
			Rows []struct {
				SubjectID string            `json:"subject_id"`
				Data      map[string]string `json:"data"`
			}
		}
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || doc.Categories[0].Name != skjold.SubjectCategory ||
		doc.Categories[0].Rows[0].Data["name"] != "Åse Nordmann" {
		t.Errorf("JSON export = %.300s (%v)", r.body, err)
	}
}

func wantDownload(t *testing.T, r *reply, contentType, suffix string) {
	t.Helper()
	h := r.header
	if h.Get("Content-Type") != contentType || h.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="skjold-export-`) ||
		!strings.HasSuffix(h.Get("Content-Disposition"), suffix+`"`) {
		t.Errorf("download headers = %v", h)
	}
}
