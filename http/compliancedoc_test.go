package http

import (
	"net/url"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
)

func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		get := func(path string) consoleBuild {
			return func(*testing.T, *consoleCaller, object) consoleCall { return consoleCall{path: path} }
		}
		return map[string]consoleBuild{
			"GET /console/documents":            get("/console/documents"),
			"GET /console/documents/{kind}":     get("/console/documents/toms?lang=pl"),
			"GET /console/documents/{kind}/pdf": get("/console/documents/ropa/pdf?lang=nb"),
			"POST /console/documents/measures": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/documents/measures", form: measureForm("physical", "Locked server room", "2026-10-01")}
			},
			"POST /console/documents/measures/{id}/delete": func(t *testing.T, c *consoleCaller, o object) consoleCall {
				id := missingID
				switch o {
				case own: // the caller's scope's: the operator's for operator staff
					id = e.measure(t, c.op)
				case other:
					id = e.measureOf(t, e.b.id)
				}
				return consoleCall{path: "/console/documents/measures/" + id + "/delete", form: url.Values{}}
			},
		}
	})
}

func measureForm(kind, description, date string) url.Values {
	return url.Values{"kind": {kind}, "description": {description}, "date": {date}}
}

// measure records an organisational measure of the operator (operator true) or of tenant A,
// and returns its id.
func (e *env) measure(t *testing.T, operator bool) string {
	t.Helper()
	if !operator {
		return e.measureOf(t, e.a.id)
	}
	return e.addMeasure(t, &skjold.Caller{Actor: "test", Operator: true, Scopes: skjold.OperatorTokenScopes})
}

// measureOf records an organisational measure of a tenant and returns its id.
func (e *env) measureOf(t *testing.T, tenantID string) string {
	t.Helper()
	return e.addMeasure(t, &skjold.Caller{Actor: "test", TenantID: tenantID, Scopes: skjold.AllScopes})
}

func (e *env) addMeasure(t *testing.T, c *skjold.Caller) string {
	t.Helper()
	operator := c.Operator
	m := &skjold.OrgMeasure{Kind: skjold.MeasureTraining, Description: "A's measure", Date: "2026-11-20"}
	if operator {
		m.Description = "Operator measure"
	}
	if err := e.db.AddOrgMeasure(skjold.NewContextWithCaller(t.Context(), c), m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// TestComplianceDocumentsAPI: a tenant's records of processing name its purposes, categories,
// retention and recipients in the language asked; the TOMs state the settings in force and
// the measures recorded; the PDF is an attachment; bad input is refused.
func TestComplianceDocumentsAPI(t *testing.T) {
	e := newEnv(t)
	e.do(t, e.a.token, "PUT", "/api/v1/settings/privacy", map[string]any{"controller": "Fjord Reiser AS",
		"contact": "personvern@fjord.example", "recipients": []string{"Widerøe (flights)"}, "storage_location": "Oslo, Norway"}).want(t, 200)
	e.do(t, e.a.token, "POST", "/api/v1/compliance/measures", map[string]string{"kind": "training",
		"description": "Opplæring i personvern for alle ansatte", "date": "2026-11-20"}).want(t, 201)
	e.do(t, e.a.token, "POST", "/api/v1/compliance/measures", map[string]string{"kind": "nonsense",
		"description": "x", "date": "2026-11-20"}).wantError(t, 400, skjold.EINVALID)
	e.do(t, e.a.token, "POST", "/api/v1/compliance/measures", map[string]string{"kind": "training",
		"description": "x", "date": "20.11.2026"}).wantError(t, 400, skjold.EINVALID)
	var list struct{ Items []*skjold.OrgMeasure }
	e.do(t, e.a.token, "GET", "/api/v1/compliance/measures", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Date != "2026-11-20" {
		t.Fatalf("measures: %+v; want the one valid measure", list.Items)
	}

	var ropa document.Document
	e.do(t, e.a.token, "GET", "/api/v1/compliance/documents/ropa?lang=nb", nil).want(t, 200).decode(t, &ropa)
	flat := docText(t, &ropa)
	for _, want := range []string{"Protokoll over behandlingsaktiviteter", "Fjord Reiser AS", "personvern@fjord.example",
		"Widerøe (flights)", "Oslo, Norway", "contract", "P5Y", "SQLite"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the records of processing lack %q:\n%s", want, flat)
		}
	}
	if ropa.GeneratedAt.IsZero() || len(ropa.Footer) == 0 || !strings.Contains(ropa.Footer, "dataversjon") {
		t.Errorf("the document states no generation time or data version: %q", ropa.Footer)
	}

	var toms document.Document
	e.do(t, e.a.token, "GET", "/api/v1/compliance/documents/toms?lang=pl", nil).want(t, 200).decode(t, &toms)
	flat = docText(t, &toms)
	for _, want := range []string{"Środki techniczne i organizacyjne", "co najmniej 12 znaków", "po 15 min bezczynności",
		"Opplæring i personvern for alle ansatte", "20 listopada 2026", "AES-256-GCM"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the TOMs lack %q:\n%s", want, flat)
		}
	}
	// The same state gives the same data version; a change of state a new one.
	var again document.Document
	e.do(t, e.a.token, "GET", "/api/v1/compliance/documents/toms?lang=pl", nil).want(t, 200).decode(t, &again)
	if again.Footer != toms.Footer && again.GeneratedAt.Equal(toms.GeneratedAt) {
		t.Errorf("the same state gave two footers: %q, %q", toms.Footer, again.Footer)
	}
	e.do(t, e.a.token, "DELETE", "/api/v1/compliance/measures/"+list.Items[0].ID, nil).want(t, 204)
	e.do(t, e.a.token, "GET", "/api/v1/compliance/documents/toms?lang=pl", nil).want(t, 200).decode(t, &again)
	if version(toms.Footer) == version(again.Footer) {
		t.Errorf("deleting a measure kept the data version %s", version(toms.Footer))
	}

	pdf := e.do(t, e.a.token, "GET", "/api/v1/compliance/documents/ropa?lang=pl&format=pdf", nil).want(t, 200)
	if pdf.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.header.Get("Content-Disposition"), "attachment") ||
		!strings.HasPrefix(string(pdf.body), "%PDF-") {
		t.Errorf("PDF answer: %v %q", pdf.header, pdf.body[:min(len(pdf.body), 16)])
	}
	e.do(t, e.a.token, "GET", "/api/v1/compliance/documents/dpia", nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, e.a.token, "GET", "/api/v1/compliance/documents/toms?lang=de", nil).wantError(t, 400, skjold.EINVALID)
	e.do(t, e.a.token, "GET", "/api/v1/compliance/documents/toms?format=docx", nil).wantError(t, 400, skjold.EINVALID)

	// The operator's records are those of a processor, listing the tenants it serves.
	var op document.Document
	e.do(t, e.operator, "GET", "/api/v1/compliance/documents/ropa", nil).want(t, 200).decode(t, &op)
	if flat := docText(t, &op); !strings.Contains(flat, "Art. 30(2)") || !strings.Contains(flat, e.a.id) {
		t.Errorf("the operator's records do not list tenant A as a controller:\n%s", flat)
	}
	e.do(t, e.operator, "GET", "/api/v1/compliance/documents/ropa?tenant="+e.a.id, nil).want(t, 200).decode(t, &op)
	if !strings.Contains(docText(t, &op), "Fjord Reiser AS") {
		t.Error("an operator naming tenant A does not get A's records")
	}
}

func docText(t *testing.T, d *document.Document) string {
	t.Helper()
	return strings.Join(append(d.Lines(), d.Kind, d.Language, d.Version), "\n")
}

// version returns the data version a footer names: its last word but one ("… version 3f2a… by").
func version(footer string) string {
	for _, w := range strings.Fields(footer) {
		if len(w) == 12 && strings.Trim(w, "0123456789abcdef") == "" {
			return w
		}
	}
	return ""
}

// TestConsoleDocuments: an admin reads the TOMs in Norwegian, downloads the records of
// processing as a PDF, records a measure (a bad date is refused next to its field and saves
// nothing) and deletes it.
func TestConsoleDocuments(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.cfgAdmin(t, skjold.RoleAdmin)
	page := admin.get(t, "/console/documents").want(t, 200)
	wantText(t, page, "Documents", "Technical and organisational measures", "Records of processing activities", "Organisational measures")
	page = admin.get(t, "/console/documents/toms?lang=nb").want(t, 200)
	wantText(t, page, "Tekniske og organisatoriske tiltak", "Download as PDF", "dataversjon")
	pdf := admin.get(t, "/console/documents/ropa/pdf?lang=pl").want(t, 200)
	if !strings.HasPrefix(string(pdf.body), "%PDF-") || !strings.Contains(pdf.header.Get("Content-Disposition"), `filename="ropa-pl.pdf"`) {
		t.Errorf("the PDF download: %v", pdf.header)
	}
	r := admin.post(t, "/console/documents/measures", measureForm("training", "Annual training", "yesterday")).want(t, 400)
	if cfgFieldError(r, "date") == "" {
		t.Errorf("a bad date is not refused next to its field:\n%s", r.body)
	}
	admin.post(t, "/console/documents/measures", measureForm("training", "Annual training", "2026-11-20")).
		wantRedirect(t, "/console/documents?m=compliance_measure_saved")
	page = admin.get(t, "/console/documents?m=compliance_measure_saved").want(t, 200)
	wantText(t, page, "The organisational measure is recorded.", "Annual training", "2026-11-20")
	page = admin.get(t, "/console/documents/toms").want(t, 200)
	wantText(t, page, "Annual training", "20 November 2026")
	var list struct{ Items []*skjold.OrgMeasure }
	e.do(t, e.a.token, "GET", "/api/v1/compliance/measures", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("measures after one refused and one saved form: %+v", list.Items)
	}
	admin.post(t, "/console/documents/measures/"+list.Items[0].ID+"/delete", url.Values{}).
		wantRedirect(t, "/console/documents?m=compliance_measure_deleted")
	admin.get(t, "/console/documents/dpia").want(t, 404)
}
