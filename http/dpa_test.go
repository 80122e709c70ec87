package http

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

var testPDF = []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")

func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		get := func(path string, refusals ...int) consoleBuild {
			return func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: path, refusals: refusals}
			}
		}
		post := func(path string, form url.Values, refusals ...int) consoleBuild {
			return func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: path, form: form, refusals: refusals}
			}
		}
		sub := func(t *testing.T, o object) string {
			if o != own {
				return missingID // the register is the operator's: there is no other tenant's entry
			}
			p := dpaSubprocessor("Console Relay AS", "relay.console.example")
			if err := e.db.AddSubprocessor(localContext(), p); err != nil {
				t.Fatal(err)
			}
			return p.ID
		}
		// register is the context of the register o lives in: the caller's own (the
		// operator's or tenant A's), or tenant B's.
		register := func(c *consoleCaller, o object) context.Context {
			switch {
			case o == other:
				return tenantCtx(e.b.id, "")
			case c.op:
				return localContext()
			}
			return tenantCtx(e.a.id, "")
		}
		copyOf := func(t *testing.T, c *consoleCaller, o object) string {
			if o == missing {
				return missingID
			}
			cp := &skjold.DataCopy{What: "Mailbox export", Recipient: "Lab AS", HandedOver: "2025-03-01"}
			if err := e.db.RecordCopy(register(c, o), cp); err != nil {
				t.Fatal(err)
			}
			return cp.ID
		}
		mediumOf := func(t *testing.T, c *consoleCaller, o object, cert bool) string {
			if o == missing {
				return missingID
			}
			m := &skjold.DestroyedMedium{What: "Disk", Method: "Shredded", DestroyedBy: "IT", Witness: "CEO", DestroyedOn: "2025-03-01"}
			if err := e.db.RecordMedium(register(c, o), m); err != nil {
				t.Fatal(err)
			}
			if cert {
				if _, err := e.db.AttachCertificate(register(c, o), m.ID, testPDF); err != nil {
					t.Fatal(err)
				}
			}
			return m.ID
		}
		scans := map[object]string{missing: missingID}
		scanOf := func(t *testing.T, o object) string {
			if scans[o] == "" {
				tn := e.a.id
				if o == other {
					tn = e.b.id
				}
				a, err := e.db.UploadDPAScan(tenantCtx(tn, "01900000-0000-7000-8000-0000000000aa"), e.dpaVersion(t, tn), testPDF)
				if err != nil {
					t.Fatal(err)
				}
				scans[o] = a.ID
			}
			return scans[o]
		}
		return map[string]consoleBuild{
			"GET /console/dpa": get("/console/dpa"),
			// Only the owner accepts, in person; the version is the current one.
			"POST /console/dpa/accept": func(t *testing.T, _ *consoleCaller, _ object) consoleCall {
				return consoleCall{path: "/console/dpa/accept", form: url.Values{"version": {e.dpaVersion(t, e.a.id)}}, refusals: []int{403}}
			},
			// A form without a file is refused next to the file field.
			"POST /console/dpa/scan": post("/console/dpa/scan", url.Values{"version": {"x"}}, 400),
			"GET /console/dpa/scan/{id}": func(t *testing.T, _ *consoleCaller, o object) consoleCall {
				return consoleCall{path: "/console/dpa/scan/" + scanOf(t, o)}
			},
			"GET /console/subprocessors": get("/console/subprocessors"),
			"POST /console/subprocessors": post("/console/subprocessors", url.Values{"name": {"Relay AS"}, "service": {"E-mail"},
				"purpose": {"Notices"}, "location": {"Norway"}, "hosts": {"relay.example"}, "contract_date": {"2025-01-01"},
				"effective_date": {"2025-02-01"}}),
			"POST /console/subprocessors/{id}/remove": func(t *testing.T, _ *consoleCaller, o object) consoleCall {
				return consoleCall{path: "/console/subprocessors/" + sub(t, o) + "/remove", form: url.Values{}}
			},
			"POST /console/subprocessors/{id}/objection": func(t *testing.T, _ *consoleCaller, o object) consoleCall {
				return consoleCall{path: "/console/subprocessors/" + sub(t, o) + "/objection", form: url.Values{"reason": {"EEA only"}}, refusals: []int{403}}
			},
			"GET /console/registers": get("/console/registers"),
			"POST /console/registers/copies": post("/console/registers/copies", url.Values{"what": {"Mailbox export"},
				"recipient": {"Lab AS"}, "handed_over": {"2025-03-01"}}),
			"POST /console/registers/copies/{id}/deleted": func(t *testing.T, c *consoleCaller, o object) consoleCall {
				return consoleCall{path: "/console/registers/copies/" + copyOf(t, c, o) + "/deleted", form: url.Values{}}
			},
			"POST /console/registers/media": post("/console/registers/media", url.Values{"what": {"Disk"}, "method": {"Shredded"},
				"destroyed_by": {"IT"}, "witness": {"CEO"}, "destroyed_on": {"2025-03-01"}}),
			// A form without a file is refused next to the file field.
			"POST /console/registers/media/{id}/certificate": func(t *testing.T, c *consoleCaller, o object) consoleCall {
				return consoleCall{path: "/console/registers/media/" + mediumOf(t, c, o, false) + "/certificate", form: url.Values{}, refusals: []int{400}}
			},
			"GET /console/registers/media/{id}/certificate": func(t *testing.T, c *consoleCaller, o object) consoleCall {
				return consoleCall{path: "/console/registers/media/" + mediumOf(t, c, o, true) + "/certificate"}
			},
		}
	})
}

func dpaSubprocessor(name, host string) *skjold.Subprocessor {
	return &skjold.Subprocessor{Name: name, Service: "E-mail delivery", Purpose: "Notices to data subjects", Location: "Norway",
		Hosts: []string{host}, Contract: "2025-01-01", Effective: "2025-02-01"}
}

// tenantCtx acts as a tenant's all-scopes token, or, with ownerID, as its owner in person.
func tenantCtx(tenantID, ownerID string) context.Context {
	c := &skjold.Caller{Actor: "token:x", TenantID: tenantID, Scopes: skjold.AllScopes, Source: "127.0.0.1"}
	if ownerID != "" {
		c.Actor, c.UserID, c.Role = "user:"+ownerID, ownerID, skjold.RoleOwner
	}
	return skjold.NewContextWithCaller(context.Background(), c)
}

// dpaVersion returns the current version of a tenant's agreement.
func (e *env) dpaVersion(t *testing.T, tenantID string) string {
	t.Helper()
	st, err := e.db.DPA(tenantCtx(tenantID, ""))
	if err != nil {
		t.Fatal(err)
	}
	return st.Version
}

// dpaAuthzRequests are the authorisation table's requests for the routes of dpa.go.
func (e *env) dpaAuthzRequests(f *fixtures) map[string]builder {
	fixed := func(path string, body any) builder {
		return builder{build: func(*testing.T, *caller, object) request { return request{path: path, body: body} }}
	}
	inPerson := func(c *caller, r request) request {
		if c.person == nil || c.person.user.Role != skjold.RoleOwner {
			r.refusal = 403 // the tenant's owner, in person
		}
		return r
	}
	newSub := func(t *testing.T) string {
		p := dpaSubprocessor("Authz Relay AS", "relay.authz.example")
		if err := e.db.AddSubprocessor(localContext(), p); err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	// register returns the context of c's own register: the operator's, or tenant A's.
	register := func(c *caller) context.Context {
		if c.operator {
			return localContext()
		}
		return tenantCtx(e.a.id, "")
	}
	newMedium := func(t *testing.T, c *caller, cert bool) string {
		m := &skjold.DestroyedMedium{What: "Disk", Method: "Shredded", DestroyedBy: "IT", Witness: "CEO", DestroyedOn: "2025-03-01"}
		if err := e.db.RecordMedium(register(c), m); err != nil {
			t.Fatal(err)
		}
		if cert {
			if _, err := e.db.AttachCertificate(register(c), m.ID, testPDF); err != nil {
				t.Fatal(err)
			}
		}
		return m.ID
	}
	var scanA string
	return map[string]builder{
		"GET /api/v1/subprocessors": fixed("/api/v1/subprocessors", nil),
		"POST /api/v1/subprocessors": fixed("/api/v1/subprocessors", map[string]any{"name": "Relay AS", "service": "E-mail",
			"purpose": "Notices", "location": "Norway", "hosts": []string{"relay.example"}, "contract_date": "2025-01-01",
			"effective_date": "2025-02-01"}),
		"DELETE /api/v1/subprocessors/{id}": {build: func(t *testing.T, _ *caller, _ object) request {
			return request{path: "/api/v1/subprocessors/" + newSub(t)}
		}},
		"POST /api/v1/subprocessors/{id}/objection": {build: func(t *testing.T, c *caller, _ object) request {
			return inPerson(c, request{path: "/api/v1/subprocessors/" + newSub(t) + "/objection", body: map[string]string{"reason": "EEA only"}})
		}},
		"GET /api/v1/dpa": fixed("/api/v1/dpa", nil),
		"POST /api/v1/dpa/accept": {build: func(t *testing.T, c *caller, _ object) request {
			return inPerson(c, request{path: "/api/v1/dpa/accept", body: map[string]string{"version": e.dpaVersion(t, e.a.id)}})
		}},
		"POST /api/v1/dpa/scan": {build: func(t *testing.T, c *caller, _ object) request {
			return inPerson(c, request{path: "/api/v1/dpa/scan", body: map[string]string{"version": e.dpaVersion(t, e.a.id),
				"scan": base64.StdEncoding.EncodeToString(testPDF)}})
		}},
		"GET /api/v1/dpa/scan/{id}": {build: func(t *testing.T, _ *caller, _ object) request {
			if scanA == "" {
				a, err := e.db.UploadDPAScan(tenantCtx(e.a.id, f.reqA.user.ID), e.dpaVersion(t, e.a.id), testPDF)
				if err != nil {
					t.Fatal(err)
				}
				scanA = a.ID
			}
			return request{path: "/api/v1/dpa/scan/" + scanA}
		}},
		"GET /api/v1/copies": fixed("/api/v1/copies", nil),
		"POST /api/v1/copies": fixed("/api/v1/copies", map[string]string{"what": "Mailbox export", "recipient": "Lab AS",
			"handed_over": "2025-03-01"}),
		"POST /api/v1/copies/{id}/deleted": {build: func(t *testing.T, c *caller, _ object) request {
			cp := &skjold.DataCopy{What: "Mailbox export", Recipient: "Lab AS", HandedOver: "2025-03-01"}
			if err := e.db.RecordCopy(register(c), cp); err != nil {
				t.Fatal(err)
			}
			return request{path: "/api/v1/copies/" + cp.ID + "/deleted"}
		}},
		"GET /api/v1/media": fixed("/api/v1/media", nil),
		"POST /api/v1/media": fixed("/api/v1/media", map[string]string{"what": "Disk", "method": "Shredded", "destroyed_by": "IT",
			"witness": "CEO", "destroyed_on": "2025-03-01"}),
		"PUT /api/v1/media/{id}/certificate": {build: func(t *testing.T, c *caller, _ object) request {
			return request{path: "/api/v1/media/" + newMedium(t, c, false) + "/certificate",
				body: map[string]string{"certificate": base64.StdEncoding.EncodeToString(testPDF)}}
		}},
		"GET /api/v1/media/{id}/certificate": {build: func(t *testing.T, c *caller, _ object) request {
			return request{path: "/api/v1/media/" + newMedium(t, c, true) + "/certificate"}
		}},
	}
}

type isolationCase = struct {
	pattern string
	path    string
	body    any
	status  int
	code    string
	shows   []string
}

// dpaIsolationCases are TestTenantIsolation's cases for the routes of dpa.go: tenant A keeps
// an accepted agreement with a signed scan, a copy and a destroyed medium with a certificate;
// tenant B's token reaches none of them, and sees its own.
func (e *env) dpaIsolationCases(t *testing.T, ownerA *staff, secretsOfA *[]string) []isolationCase {
	t.Helper()
	aCtx := tenantCtx(e.a.id, "")
	acc, err := e.db.UploadDPAScan(tenantCtx(e.a.id, ownerA.user.ID), e.dpaVersion(t, e.a.id), testPDF)
	if err != nil {
		t.Fatal(err)
	}
	cp := &skjold.DataCopy{What: "A's mailbox export", Recipient: "A's lab", HandedOver: "2025-03-01"}
	m := &skjold.DestroyedMedium{What: "A's disk", Method: "Shredded", DestroyedBy: "A's IT", Witness: "A's CEO", DestroyedOn: "2025-03-01"}
	if err := e.db.RecordCopy(aCtx, cp); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RecordMedium(aCtx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AttachCertificate(aCtx, m.ID, testPDF); err != nil {
		t.Fatal(err)
	}
	p := dpaSubprocessor("Shared Relay AS", "relay.shared.example")
	if err := e.db.AddSubprocessor(localContext(), p); err != nil {
		t.Fatal(err)
	}
	*secretsOfA = append(*secretsOfA, acc.ID, acc.ScanSHA256, cp.ID, cp.What, m.ID, m.What, "A's lab")
	pdf := base64.StdEncoding.EncodeToString(testPDF)
	return []isolationCase{
		{pattern: "GET /api/v1/subprocessors", path: "/api/v1/subprocessors", status: 200, shows: []string{"Shared Relay AS"}},
		{pattern: "POST /api/v1/subprocessors", path: "/api/v1/subprocessors", body: map[string]any{"name": "X", "service": "X",
			"purpose": "X", "location": "Norway", "contract_date": "2025-01-01", "effective_date": "2025-02-01"}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "DELETE /api/v1/subprocessors/{id}", path: "/api/v1/subprocessors/" + p.ID, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/subprocessors/{id}/objection", path: "/api/v1/subprocessors/" + p.ID + "/objection",
			body: map[string]string{"reason": "x"}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/dpa", path: "/api/v1/dpa", status: 200, shows: []string{"Tenant B"}},
		{pattern: "POST /api/v1/dpa/accept", path: "/api/v1/dpa/accept", body: map[string]string{"version": e.dpaVersion(t, e.b.id)},
			status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/dpa/scan", path: "/api/v1/dpa/scan", body: map[string]string{"version": e.dpaVersion(t, e.b.id), "scan": pdf},
			status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/dpa/scan/{id}", path: "/api/v1/dpa/scan/" + acc.ID, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/copies", path: "/api/v1/copies", body: map[string]string{"what": "B's export", "recipient": "B's lab",
			"handed_over": "2025-03-01"}, status: 201},
		{pattern: "GET /api/v1/copies", path: "/api/v1/copies", status: 200, shows: []string{"B's export"}},
		{pattern: "POST /api/v1/copies/{id}/deleted", path: "/api/v1/copies/" + cp.ID + "/deleted", status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/media", path: "/api/v1/media", body: map[string]string{"what": "B's disk", "method": "Shredded",
			"destroyed_by": "IT", "witness": "CEO", "destroyed_on": "2025-03-01"}, status: 201},
		{pattern: "GET /api/v1/media", path: "/api/v1/media", status: 200, shows: []string{"B's disk"}},
		{pattern: "PUT /api/v1/media/{id}/certificate", path: "/api/v1/media/" + m.ID + "/certificate",
			body: map[string]string{"certificate": pdf}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/media/{id}/certificate", path: "/api/v1/media/" + m.ID + "/certificate", status: 404, code: skjold.ENOTFOUND},
	}
}

// dpaBodyRequests are bodyRequests' entries for the routes of dpa.go.
func (e *env) dpaBodyRequests(owner *staff) map[string][2]string {
	return map[string][2]string{
		"POST /api/v1/subprocessors":                {"/api/v1/subprocessors", e.operator},
		"POST /api/v1/subprocessors/{id}/objection": {"/api/v1/subprocessors/" + missingID + "/objection", owner.session},
		"POST /api/v1/dpa/accept":                   {"/api/v1/dpa/accept", owner.session},
		"POST /api/v1/dpa/scan":                     {"/api/v1/dpa/scan", owner.session},
		"POST /api/v1/copies":                       {"/api/v1/copies", e.a.token},
		"POST /api/v1/media":                        {"/api/v1/media", e.a.token},
		"PUT /api/v1/media/{id}/certificate":        {"/api/v1/media/" + missingID + "/certificate", e.a.token},
	}
}

func g1(t *testing.T, e *env, token string) string {
	t.Helper()
	var rep skjold.ComplianceReport
	e.do(t, token, "GET", "/api/v1/compliance", nil).want(t, 200).decode(t, &rep)
	for _, sc := range rep.Scopes {
		for _, ch := range sc.Checks {
			if ch.Check == "dpa" {
				return ch.Status
			}
		}
	}
	return ""
}

// TestDPAAPI: the owner reads the agreement in Norwegian and accepts it, and G1 passes; an
// admin and a stale version are refused and change nothing; the operator adds a
// sub-processor, which is in the next version's annex, and G1 fails until the owner accepts
// again, this time with a signed scan that comes back whole.
func TestDPAAPI(t *testing.T) {
	e := newEnv(t)
	owner, admin := e.activeStaff(t, e.a.id, skjold.RoleOwner, ""), e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	if got := g1(t, e, e.a.token); got != skjold.CheckFail {
		t.Fatalf("G1 before acceptance = %q, want fail", got)
	}
	var d dpaBody
	e.do(t, owner.session, "GET", "/api/v1/dpa?lang=nb", nil).want(t, 200).decode(t, &d)
	if d.Current || d.Document.Language != "nb" || d.Document.Title != "Databehandleravtale" || d.Document.Version != d.Version ||
		!strings.Contains(d.Document.Footer, d.Version) || len(d.Document.Sections) != 14 {
		t.Fatalf("the agreement: current %v, document %+v", d.Current, d.Document)
	}
	e.do(t, owner.session, "GET", "/api/v1/dpa?lang=de", nil).wantError(t, 400, skjold.EINVALID)
	e.unchanged(t, func() {
		e.do(t, admin.session, "POST", "/api/v1/dpa/accept", map[string]string{"version": d.Version}).wantError(t, 403, skjold.EFORBIDDEN)
		e.do(t, owner.session, "POST", "/api/v1/dpa/accept", map[string]string{"version": "0123456789ab"}).wantError(t, 409, skjold.ECONFLICT)
		e.do(t, owner.session, "POST", "/api/v1/dpa/scan", map[string]string{"version": d.Version, "scan": "not base64!"}).
			wantError(t, 400, skjold.EINVALID)
		e.do(t, owner.session, "POST", "/api/v1/dpa/scan", map[string]string{"version": d.Version,
			"scan": base64.StdEncoding.EncodeToString([]byte("GIF89a"))}).wantError(t, 400, skjold.EINVALID)
	})
	e.do(t, owner.session, "POST", "/api/v1/dpa/accept", map[string]string{"version": d.Version}).want(t, 201)
	if got := g1(t, e, e.a.token); got != skjold.CheckPass {
		t.Fatalf("G1 after acceptance = %q, want pass", got)
	}

	e.unchanged(t, func() {
		e.do(t, e.operator, "POST", "/api/v1/subprocessors", map[string]any{"name": "Postkontoret AS", "service": "E-mail",
			"purpose": "Notices", "location": "Norway", "contract_date": "2025-13-01", "effective_date": "2025-02-01"}).
			wantError(t, 400, skjold.EINVALID)
	})
	e.do(t, e.operator, "POST", "/api/v1/subprocessors", map[string]any{"name": "Postkontoret AS", "service": "E-mail delivery",
		"purpose": "Notices to data subjects", "location": "Norway (Oslo)", "hosts": []string{"smtp.postkontoret.example"},
		"contract_date": "2026-11-01", "effective_date": "2027-01-01"}).want(t, 201)
	if got := g1(t, e, e.a.token); got != skjold.CheckFail {
		t.Fatalf("G1 after a new sub-processor = %q, want fail", got)
	}
	var d2 dpaBody
	e.do(t, e.a.token, "GET", "/api/v1/dpa", nil).want(t, 200).decode(t, &d2)
	if d2.Version == d.Version || d2.Current || !strings.Contains(string(e.do(t, e.a.token, "GET", "/api/v1/dpa", nil).body), "Postkontoret AS") {
		t.Fatalf("after a new sub-processor: version %s (was %s), current %v", d2.Version, d.Version, d2.Current)
	}
	var acc skjold.DPAAcceptance
	e.do(t, owner.session, "POST", "/api/v1/dpa/scan", map[string]string{"version": d2.Version,
		"scan": base64.StdEncoding.EncodeToString(testPDF)}).want(t, 201).decode(t, &acc)
	sum := sha256.Sum256(testPDF)
	if acc.ScanSHA256 != hex.EncodeToString(sum[:]) || acc.Method != skjold.DPAScan {
		t.Errorf("scan acceptance = %+v", acc)
	}
	if got := g1(t, e, e.a.token); got != skjold.CheckPass {
		t.Fatalf("G1 after the signed scan = %q, want pass", got)
	}
	r := e.do(t, admin.session, "GET", "/api/v1/dpa/scan/"+acc.ID, nil).want(t, 200)
	if string(r.body) != string(testPDF) || r.header.Get("Content-Type") != "application/pdf" {
		t.Errorf("scan download: %s %q", r.header.Get("Content-Type"), r.body)
	}
	var subs listBody[*skjold.Subprocessor]
	e.do(t, e.a.token, "GET", "/api/v1/subprocessors", nil).want(t, 200).decode(t, &subs)
	if len(subs.Items) != 1 || subs.Items[0].Name != "Postkontoret AS" {
		t.Errorf("tenant sees %+v", subs.Items)
	}
	e.do(t, owner.session, "POST", "/api/v1/subprocessors/"+subs.Items[0].ID+"/objection", map[string]string{"reason": "EEA only"}).want(t, 204)
	e.do(t, e.operator, "GET", "/api/v1/subprocessors", nil).want(t, 200).decode(t, &subs)
	if len(subs.Items[0].Objections) != 1 || subs.Items[0].Objections[0].TenantName != "Tenant A" {
		t.Errorf("the operator sees objections %+v", subs.Items[0].Objections)
	}
}

// TestRegistersAPI: a copy with the default delete-by date, a refused one, the confirmation
// of its deletion; a medium with its certificate, which comes back whole.
func TestRegistersAPI(t *testing.T) {
	e := newEnv(t)
	today := time.Now().UTC().Format(time.DateOnly)
	e.unchanged(t, func() {
		e.do(t, e.a.token, "POST", "/api/v1/copies", map[string]string{"what": "x", "recipient": "Lab AS", "handed_over": today,
			"delete_by": today}).wantError(t, 400, skjold.EINVALID)
	})
	var cp skjold.DataCopy
	e.do(t, e.a.token, "POST", "/api/v1/copies", map[string]string{"what": "Mailbox export", "recipient": "Lab AS",
		"handed_over": "2025-03-01"}).want(t, 201).decode(t, &cp)
	if cp.DeleteBy != "2025-03-15" {
		t.Errorf("default delete-by = %s, want two weeks later", cp.DeleteBy)
	}
	e.do(t, e.a.token, "POST", "/api/v1/copies/"+cp.ID+"/deleted", nil).want(t, 200)
	e.do(t, e.a.token, "POST", "/api/v1/copies/"+cp.ID+"/deleted", nil).wantError(t, 409, skjold.ECONFLICT)
	var m skjold.DestroyedMedium
	e.do(t, e.a.token, "POST", "/api/v1/media", map[string]string{"what": "Disk", "method": "Shredded", "destroyed_by": "IT",
		"witness": "CEO", "destroyed_on": "2025-03-01"}).want(t, 201).decode(t, &m)
	e.do(t, e.a.token, "PUT", "/api/v1/media/"+m.ID+"/certificate", map[string]string{"certificate": base64.StdEncoding.EncodeToString(testPDF)}).
		want(t, 200).decode(t, &m)
	if m.CertSize != int64(len(testPDF)) {
		t.Errorf("medium after the certificate: %+v", m)
	}
	if r := e.do(t, e.a.token, "GET", "/api/v1/media/"+m.ID+"/certificate", nil).want(t, 200); string(r.body) != string(testPDF) {
		t.Errorf("certificate back: %q", r.body)
	}
}

// TestConsoleDPA: the owner reads the agreement and accepts it; the operator adds a
// sub-processor; the dashboard then asks the owner to accept again.
func TestConsoleDPA(t *testing.T) {
	e := newEnv(t)
	owner, _ := e.cfgAdmin(t, skjold.RoleOwner)
	page := owner.get(t, "/console/").want(t, 200)
	wantText(t, page, "Your data processing agreement has changed")
	page = owner.get(t, "/console/dpa").want(t, 200)
	wantText(t, page, "Data processing agreement", "7. Sub-processors", "Annex 1: Sub-processors", "No sub-processors are engaged.")
	version := e.dpaVersion(t, e.a.id)
	owner.post(t, "/console/dpa/accept", url.Values{"version": {version}}).want(t, 303)
	page = owner.get(t, "/console/").want(t, 200)
	if strings.Contains(string(page.body), "Your data processing agreement has changed") {
		t.Error("the banner stays after the acceptance")
	}
	if err := e.db.AddSubprocessor(localContext(), dpaSubprocessor("Postkontoret AS", "smtp.postkontoret.example")); err != nil {
		t.Fatal(err)
	}
	wantText(t, owner.get(t, "/console/compliance").want(t, 200), "Your data processing agreement has changed")
	page = owner.post(t, "/console/dpa/accept", url.Values{"version": {version}}).want(t, 409)
	wantText(t, page, "Postkontoret AS")
}
