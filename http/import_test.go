package http

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// exportValues downloads a tenant's JSON export with an approval and returns every value,
// by subject ref: the profile, and per category its records' data sorted, without ids and
// times.
func (e *env) exportValues(t *testing.T, owner, second *staff) map[string]map[string][]string {
	t.Helper()
	r := e.do(t, owner.session, "GET", "/api/v1/export?format=json&approval="+e.exportApproval(t, owner, second), nil).want(t, 200)
	var doc struct {
		Categories []struct {
			Name string
			Rows []struct {
				SubjectID string         `json:"subject_id"`
				Data      map[string]any `json:"data"`
			}
		}
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	out := map[string]map[string][]string{}
	for _, c := range doc.Categories {
		for _, row := range c.Rows {
			if c.Name == skjold.SubjectCategory {
				refs[row.SubjectID] = fmt.Sprint(row.Data["ref"])
				out[refs[row.SubjectID]] = map[string][]string{}
			}
			data, _ := json.Marshal(row.Data)
			ref := refs[row.SubjectID]
			out[ref][c.Name] = append(out[ref][c.Name], string(data))
		}
	}
	for _, cats := range out {
		for _, v := range cats {
			sort.Strings(v)
		}
	}
	return out
}

// TestImportRoundTrip exports tenant A as CSV and as XLSX over the API and imports each into
// tenant B through POST /api/v1/import: B then holds every value A held.
func TestImportRoundTrip(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		sub := e.createSubject(t, e.a.token, map[string]string{"ref": fmt.Sprintf("R-%d", i), "name": fmt.Sprintf("Åse %d", i),
			"email": fmt.Sprintf("ase%d@example.com", i), "phone": "+47 912 34 56" + fmt.Sprint(i)})
		e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Tromsø"}})
	}
	ownerA, secondA := e.activeStaff(t, e.a.id, skjold.RoleOwner, ""), e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	ownerB, secondB := e.activeStaff(t, e.b.id, skjold.RoleOwner, ""), e.activeStaff(t, e.b.id, skjold.RoleOwner, "")
	want := e.exportValues(t, ownerA, secondA)
	for _, format := range []string{"csv", "xlsx"} {
		before := e.exportValues(t, ownerB, secondB)
		r := e.do(t, ownerA.session, "GET", "/api/v1/export?format="+format+"&approval="+e.exportApproval(t, ownerA, secondA), nil).want(t, 200)
		var rep struct{ Imported, Skipped, Refused int }
		e.do(t, e.b.token, "POST", "/api/v1/import", map[string]any{"data": base64.StdEncoding.EncodeToString(r.body)}).
			want(t, 200).decode(t, &rep)
		got := e.exportValues(t, ownerB, secondB)
		if format == "csv" {
			if rep.Imported != 5 || rep.Refused != 0 {
				t.Fatalf("%s: report %+v", format, rep)
			}
			for ref := range before {
				delete(got, ref)
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("%s: imported values differ:\nwant %v\n got %v", format, want, got)
			}
		} else if rep.Imported != 0 || rep.Skipped != 5 { // the same refs: a second import resumes, and skips all
			t.Fatalf("%s: report %+v", format, rep)
		}
	}
}

// TestImportBadRows: refused rows are answered with line, field and rule, none of their
// values shows in the answer or the log, and all_or_nothing writes nothing.
func TestImportBadRows(t *testing.T) {
	e := newEnv(t)
	file := "Nr,Navn,By\nN1,Kari,Oslo\nN2,Kort 4111 1111 1111 1111,Bergen\nN3,Per,Tromsø\n"
	body := map[string]any{"data": base64.StdEncoding.EncodeToString([]byte(file)),
		"mapping": map[string]string{"Nr": "ref", "Navn": "name", "By": "contact.city"}, "all_or_nothing": true}
	r := e.do(t, e.a.token, "POST", "/api/v1/import", body).want(t, 200)
	var rep struct {
		Imported, Refused int
		Problems          []struct {
			Line        int
			Field, Rule string
		}
	}
	r.decode(t, &rep)
	if rep.Imported != 0 || rep.Refused != 1 || len(rep.Problems) != 1 || rep.Problems[0].Line != 3 ||
		rep.Problems[0].Field != "name" || rep.Problems[0].Rule != skjold.KindCardNumber {
		t.Fatalf("report %s", r.body)
	}
	var subs struct{ Items []any }
	e.do(t, e.a.token, "GET", "/api/v1/subjects", nil).want(t, 200).decode(t, &subs)
	if len(subs.Items) != 0 {
		t.Fatalf("all_or_nothing stored %d subjects", len(subs.Items))
	}
	delete(body, "all_or_nothing")
	r = e.do(t, e.a.token, "POST", "/api/v1/import", body).want(t, 200)
	r.decode(t, &rep)
	if rep.Imported != 2 || rep.Refused != 1 {
		t.Fatalf("report %s", r.body)
	}
	for _, s := range []string{string(r.body), e.logs.String()} {
		if strings.Contains(s, "4111") || strings.Contains(s, "Kort") {
			t.Errorf("a refused value shows: %.400s", s)
		}
	}
	e.do(t, e.a.token, "POST", "/api/v1/import", map[string]any{"data": "not base64!"}).wantError(t, 400, skjold.EINVALID)
	e.do(t, e.a.token, "POST", "/api/v1/import", map[string]any{"data": base64.StdEncoding.EncodeToString([]byte(file)),
		"format": "pdf"}).wantError(t, 400, skjold.EINVALID)
}
