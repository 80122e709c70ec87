package http

import (
	"archive/zip"
	"bytes"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/xuri/excelize/v2"
)

// The requests, approvals and export sections' requests for the console's authorisation
// table (TestConsoleAuthorization).
func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		get := func(path string) consoleBuild {
			return func(*testing.T, *consoleCaller, object) consoleCall { return consoleCall{path: path} }
		}
		// onRequest makes a request on a fresh request of tenant A (own) or B (other).
		onRequest := func(action string, verified bool, form func(t *testing.T, id string) url.Values, refusals ...int) consoleBuild {
			return func(t *testing.T, c *consoleCaller, o object) consoleCall {
				id := missingID
				switch o {
				case own:
					id = e.requestOf(e.a.token, verified)(t)
				case other:
					id = e.requestOf(e.b.token, false)(t)
				}
				f := url.Values{}
				if form != nil && o == own {
					f = form(t, id)
				}
				return consoleCall{path: "/console/requests/" + id + action, form: f, refusals: refusals}
			}
		}
		var filers = map[bool]*staff{}
		decide := func(action string) consoleBuild {
			return func(t *testing.T, c *consoleCaller, o object) consoleCall {
				id := missingID
				switch {
				case o == own:
					tenantID := e.a.id
					if c.op {
						tenantID = ""
					}
					if filers[c.op] == nil {
						filers[c.op] = e.activeStaff(t, tenantID, skjold.RoleAdmin, "")
					}
					id = e.approval(t, filers[c.op])
				case o == other:
					if filers[false] == nil {
						filers[false] = e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
					}
					id = e.approval(t, e.activeStaff(t, e.b.id, skjold.RoleAdmin, ""))
				}
				return consoleCall{path: "/console/approvals/" + id + action, form: url.Values{}}
			}
		}
		var second *staff
		return map[string]consoleBuild{
			"GET /console/requests":     get("/console/requests?state=open&overdue=1"),
			"GET /console/requests/new": get("/console/requests/new"),
			"POST /console/requests": func(t *testing.T, _ *consoleCaller, _ object) consoleCall {
				s := e.requestSubject(t, e.a.token)
				return consoleCall{path: "/console/requests", form: url.Values{"type": {skjold.RequestObjection}, "email": {s.Email}}}
			},
			"GET /console/requests/{id}": func(t *testing.T, c *consoleCaller, o object) consoleCall {
				return consoleCall{path: "/console/requests/" + pick(o, e.requestOf(e.a.token, false)(t), e.requestOf(e.b.token, false)(t))}
			},
			"POST /console/requests/{id}/verify": onRequest("/verify", false, func(*testing.T, string) url.Values {
				return url.Values{"verify_code": {"00000000"}} // a wrong code: refused for the caller's own reason
			}, 400),
			"POST /console/requests/{id}/resend": onRequest("/resend", false, nil),
			"POST /console/requests/{id}/extend": onRequest("/extend", false, func(*testing.T, string) url.Values {
				return url.Values{"months": {"1"}, "reason": {"Many records to collect."}}
			}),
			"POST /console/requests/{id}/refuse": onRequest("/refuse", false, func(*testing.T, string) url.Values {
				return url.Values{"refusal_code": {skjold.RefusalExcessive}, "note": {"The fifth request this month."}}
			}),
			"POST /console/requests/{id}/complete": onRequest("/complete", true, nil),
			"GET /console/approvals":               get("/console/approvals"),
			"POST /console/approvals/{id}/approve": decide("/approve"),
			"POST /console/approvals/{id}/reject":  decide("/reject"),
			"GET /console/export":                  get("/console/export"),
			"POST /console/export/ask": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/export/ask", form: url.Values{}}
			},
			"POST /console/export/download": func(t *testing.T, c *consoleCaller, _ object) consoleCall {
				if c.person == nil || c.op || !slices.Contains(c.scopes, skjold.ScopeAdmin) {
					// Who cannot file an export approval is refused by the form's own check.
					return consoleCall{path: "/console/export/download", form: url.Values{"format": {"pdf"}}, refusals: []int{400}}
				}
				if second == nil {
					second = e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
				}
				id := e.exportApproval(t, c.person, second)
				return consoleCall{path: "/console/export/download", form: url.Values{"format": {"json"}, "approval": {id}}}
			},
		}
	})
}

// openConsoleRequest registers a request through the console's form and returns its id.
func openConsoleRequest(t *testing.T, c *consoleClient, form url.Values) string {
	t.Helper()
	r := c.post(t, "/console/requests", form).wantRedirect(t, "/console/requests/")
	loc := r.header.Get("Location")
	id, _, _ := strings.Cut(strings.TrimPrefix(loc, "/console/requests/"), "?")
	if !skjold.ValidID(id) {
		t.Fatalf("redirected to %q", loc)
	}
	return id
}

// TestConsoleRequests walks an access request through the console as an agent: the form
// refuses what the service refuses with the message next to the field and nothing stored;
// the person's address is posted and never in a URL; a wrong code, then the code from the
// e-mail; the completion shows the package's link once, which downloads a ZIP; the inbox's
// filters; an extension without a reason and a refusal with code "other" without a note are
// refused by field; an erasure's result is shown.
func TestConsoleRequests(t *testing.T) {
	e := newEnv(t)
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	c := e.consoleClient(t)
	c.login(t, agent)
	s := e.requestSubject(t, e.a.token)

	r := c.get(t, "/console/requests/new").want(t, 200)
	wantText(t, r, "Register a request", "Fill in exactly one of the three.")
	for _, bad := range []struct {
		form  url.Values
		field string
		says  string
	}{
		{url.Values{"type": {"complaint"}, "email": {s.Email}}, "type", "Choose what the person asks for."},
		{url.Values{"type": {"access"}, "email": {s.Email}, "phone": {"+4791234567"}}, "email", "Fill in exactly one of e-mail, phone and reference"},
		{url.Values{"type": {"access"}, "email": {s.Email}, "purpose": {"newsletter"}}, "purpose", "Only a consent withdrawal names a purpose."},
	} {
		e.unchanged(t, func() {
			r := c.post(t, "/console/requests", bad.form).want(t, 400)
			wantText(t, r, bad.says)
			if !strings.Contains(string(r.body), `id="`+bad.field+`-error"`) {
				t.Errorf("the refusal of %v is not next to the field %s", bad.form, bad.field)
			}
		})
	}
	r = c.post(t, "/console/requests", url.Values{"type": {"access"}, "email": {"nobody-here@example.com"}}).want(t, 404)
	wantText(t, r, "No person matches.")
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("a page with the person's address may be cached")
	}

	id := openConsoleRequest(t, c, url.Values{"type": {"access"}, "email": {s.Email}})
	r = c.get(t, "/console/requests/"+id+"?m=request_opened").want(t, 200)
	wantText(t, r, "Access request", "Waiting for verification", "Not verified yet", "The request is registered.")
	if strings.Contains(string(r.body), s.Email) {
		t.Error("the request's page shows the person's e-mail address")
	}
	code := e.requestCode(t, s.Email)
	r = c.post(t, "/console/requests/"+id+"/verify", url.Values{"verify_code": {wrongCode(code)}}).want(t, 400)
	wantText(t, r, "The code is wrong.")
	c.post(t, "/console/requests/"+id+"/complete", nil).want(t, 409) // not verified yet
	c.post(t, "/console/requests/"+id+"/verify", url.Values{"verify_code": {code}}).wantRedirect(t, "/console/requests/"+id)
	r = c.get(t, "/console/requests/"+id).want(t, 200)
	wantText(t, r, "Verified ", "Carry out the request")

	r = c.post(t, "/console/requests/"+id+"/complete", nil).want(t, 200)
	wantText(t, r, "Completed", "The access package is ready.", "Download the access package")
	link := regexp.MustCompile(`href="(/api/v1/downloads/[^"]+)"`).FindSubmatch(r.body)
	if link == nil {
		t.Fatalf("no package link on the completed request's page")
	}
	e.mailTo(t, s.Email) // the link the person gets
	pkg := e.do(t, "", "GET", string(link[1]), nil).want(t, 200)
	if _, err := zip.NewReader(bytes.NewReader(pkg.body), int64(len(pkg.body))); err != nil {
		t.Errorf("the package is no ZIP: %v", err)
	}
	r = c.get(t, "/console/requests/"+id).want(t, 200)
	if bytes.Contains(r.body, link[1]) {
		t.Error("the package's link is shown again")
	}

	// The inbox and its filters.
	open := openConsoleRequest(t, c, url.Values{"type": {"objection"}, "email": {e.requestSubject(t, e.a.token).Email}})
	r = c.get(t, "/console/requests").want(t, 200)
	if !strings.Contains(string(r.body), open) || strings.Contains(string(r.body), id) {
		t.Error("the inbox does not open on the open requests only")
	}
	r = c.get(t, "/console/requests?state=closed").want(t, 200)
	if strings.Contains(string(r.body), open) || !strings.Contains(string(r.body), id) {
		t.Error("the closed filter does not show the closed request only")
	}
	r = c.get(t, "/console/requests?type=access&state=").want(t, 200)
	if strings.Contains(string(r.body), open) || !strings.Contains(string(r.body), id) {
		t.Error("the type filter does not work")
	}
	c.get(t, "/console/requests?type=complaint").want(t, 400)
	r = c.get(t, "/console/requests?overdue=1").want(t, 200)
	wantText(t, r, "No requests match.")

	// Extension and refusal, each refused by field first.
	e.unchanged(t, func() {
		r = c.post(t, "/console/requests/"+open+"/extend", url.Values{"months": {"1"}, "reason": {" "}}).want(t, 400)
		wantText(t, r, "Say why the deadline is extended.")
		r = c.post(t, "/console/requests/"+open+"/extend", url.Values{"months": {"3"}, "reason": {"Backlog"}}).want(t, 400)
		wantText(t, r, "at most 2 months")
		r = c.post(t, "/console/requests/"+open+"/refuse", url.Values{"refusal_code": {"other"}}).want(t, 400)
		wantText(t, r, "Explain the reason in the note.")
		r = c.post(t, "/console/requests/"+open+"/refuse", url.Values{"refusal_code": {""}, "note": {"Kept"}}).want(t, 400)
		wantText(t, r, "Choose a reason.")
		if !strings.Contains(string(r.body), `id="refusal_code-error"`) || !strings.Contains(string(r.body), ">Kept</textarea>") {
			t.Error("the refused reason is not marked at its field, or the note is lost")
		}
	})
	c.post(t, "/console/requests/"+open+"/extend", url.Values{"months": {"2"}, "reason": {"Records in the archive."}}).
		wantRedirect(t, "/console/requests/"+open+"?m=request_extended")
	c.post(t, "/console/requests/"+open+"/refuse", url.Values{"refusal_code": {"manifestly_unfounded"}, "note": {"Not a customer."}}).
		wantRedirect(t, "/console/requests/"+open+"?m=request_refused")
	r = c.get(t, "/console/requests/"+open).want(t, 200)
	wantText(t, r, "Refused", "Manifestly unfounded", "Records in the archive.", "Not a customer.")
	c.post(t, "/console/requests/"+open+"/refuse", url.Values{"refusal_code": {"excessive"}}).want(t, 409)

	// An erasure's result.
	er, _ := e.verifiedRequest(t, e.a.token, skjold.RequestErasure, "")
	r = c.post(t, "/console/requests/"+er.ID+"/complete", nil).wantRedirect(t, "/console/requests/"+er.ID)
	r = c.get(t, "/console/requests/"+er.ID).want(t, 200)
	wantText(t, r, "Erasure request", "Records erased", "Everything is erased")

	// A rectification brings the corrected values: none is refused, a malformed one is
	// refused at its field, and the written fields are listed.
	fixing, fixed := e.verifiedRequest(t, e.a.token, skjold.RequestRectification, "")
	r = c.get(t, "/console/requests/"+fixing.ID).want(t, 200)
	wantText(t, r, "Fill in the corrected values.", "Corrected name")
	e.unchanged(t, func() {
		r = c.post(t, "/console/requests/"+fixing.ID+"/complete", url.Values{"fix_name": {" "}}).want(t, 400)
		wantText(t, r, "Fill in at least one corrected value.")
		r = c.post(t, "/console/requests/"+fixing.ID+"/complete", url.Values{"fix_name": {"Rita Rask-Berg"}, "fix_email": {"not an address"}}).want(t, 400)
		if !strings.Contains(string(r.body), `id="fix_email-error"`) || !strings.Contains(string(r.body), `value="Rita Rask-Berg"`) {
			t.Errorf("a malformed corrected address is not refused at its field: %s", text(r.body))
		}
	})
	c.post(t, "/console/requests/"+fixing.ID+"/complete", url.Values{"fix_name": {"Rita Rask-Berg"}}).
		wantRedirect(t, "/console/requests/"+fixing.ID+"?m=request_completed")
	r = c.get(t, "/console/requests/"+fixing.ID).want(t, 200)
	wantText(t, r, "Completed", "Fields corrected: name")
	var sub skjold.Subject
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+fixed.ID, nil).want(t, 200).decode(t, &sub)
	if sub.Name != "Rita Rask-Berg" {
		t.Errorf("the corrected name is %q", sub.Name)
	}

	// A consent withdrawal names a purpose of the register, offered as a choice.
	r = c.get(t, "/console/requests/new").want(t, 200)
	if !strings.Contains(string(r.body), `<option value="newsletter"`) {
		t.Error("the form does not offer the register's purposes")
	}
	withdrawing := e.requestSubject(t, e.a.token)
	r = c.post(t, "/console/requests", url.Values{"type": {"consent_withdrawal"}, "email": {withdrawing.Email}, "purpose": {"nope"}}).want(t, 400)
	wantText(t, r, "This purpose is not in your purpose register.")
	openConsoleRequest(t, c, url.Values{"type": {"consent_withdrawal"}, "email": {withdrawing.Email}, "purpose": {"newsletter"}})

	// The API lists by the same filters.
	var listed struct {
		Items []*skjold.Request `json:"items"`
	}
	e.do(t, e.a.token, "GET", "/api/v1/requests?state=closed&type=access", nil).want(t, 200).decode(t, &listed)
	if len(listed.Items) != 1 || listed.Items[0].ID != id {
		t.Errorf("the API's closed access requests = %+v", listed.Items)
	}
	e.do(t, e.a.token, "GET", "/api/v1/requests?state=half", nil).wantError(t, 400, skjold.EINVALID)

	// An auditor reads but does not act.
	auditor := e.consoleClient(t)
	auditor.login(t, e.activeStaff(t, e.a.id, skjold.RoleAuditor, ""))
	r = auditor.get(t, "/console/requests/"+er.ID).want(t, 200)
	if strings.Contains(string(r.body), "/complete") || strings.Contains(string(r.body), "/console/requests/new") {
		t.Error("an auditor is offered actions")
	}
}

// TestConsoleFourEyesExport has one owner ask for an export, sees that the owner cannot
// approve it, a second owner approve it on the approvals page, and the first download an
// XLSX that opens, once.
func TestConsoleFourEyesExport(t *testing.T) {
	e := newEnv(t)
	e.createSubject(t, e.a.token, map[string]string{"name": "Åse Nordmann"})
	first, second := e.activeStaff(t, e.a.id, skjold.RoleOwner, ""), e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	a, b := e.consoleClient(t), e.consoleClient(t)
	a.login(t, first)
	b.login(t, second)

	r := a.get(t, "/console/export").want(t, 200)
	wantText(t, r, "A full export needs a second", "You have not asked for an export yet.")
	a.post(t, "/console/export/download", url.Values{"format": {"xlsx"}}).want(t, 403) // no approval
	a.post(t, "/console/export/ask", nil).wantRedirect(t, "/console/export?m=export_asked")
	r = a.get(t, "/console/export").want(t, 200)
	wantText(t, r, "Waiting for a second person")
	var pending []*skjold.Approval
	e.do(t, first.session, "GET", "/api/v1/approvals", nil).want(t, 200).decode(t, &struct {
		Items *[]*skjold.Approval `json:"items"`
	}{&pending})
	if len(pending) != 1 || pending[0].Action != skjold.ActionBulkExport {
		t.Fatalf("approvals = %+v", pending)
	}
	id := pending[0].ID

	r = a.get(t, "/console/approvals").want(t, 200)
	wantText(t, r, "Export all data", "You", "Another person decides this.")
	if strings.Contains(string(r.body), "/console/approvals/"+id+"/approve") {
		t.Error("the requester is offered to approve their own request")
	}
	r = a.post(t, "/console/approvals/"+id+"/approve", nil).want(t, 403)
	wantText(t, r, "it is your own request")

	r = b.get(t, "/console/").want(t, 200)
	wantText(t, r, "Approvals waiting for you", "Waiting for your decision: 1.", "Export all data")
	r = b.get(t, "/console/approvals").want(t, 200)
	if !strings.Contains(string(r.body), "/console/approvals/"+id+"/approve") {
		t.Fatal("the second owner is not offered the approval")
	}
	b.post(t, "/console/approvals/"+id+"/approve", nil).wantRedirect(t, "/console/approvals?m=approval_approved")
	b.post(t, "/console/approvals/"+id+"/reject", nil).want(t, 409)

	r = a.get(t, "/console/export").want(t, 200)
	wantText(t, r, "Approved", "Each approval gives one download.")
	r = a.post(t, "/console/export/download", url.Values{"format": {"xlsx"}, "approval": {id}}).want(t, 200)
	if ct := r.header.Get("Content-Type"); ct != exportFormats[skjold.FormatXLSX].contentType {
		t.Errorf("Content-Type %q", ct)
	}
	if r.header.Get("Cache-Control") != "no-store" || !strings.Contains(r.header.Get("Content-Disposition"), ".xlsx") {
		t.Errorf("headers %v", r.header)
	}
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("the export is no workbook: %v", err)
	}
	defer f.Close()
	if rows, err := f.GetRows(skjold.SubjectCategory); err != nil || len(rows) != 2 || !slices.Contains(rows[1], "Åse Nordmann") {
		t.Errorf("subject sheet = %q (%v)", rows, err)
	}
	r = a.post(t, "/console/export/download", url.Values{"format": {"xlsx"}, "approval": {id}}).want(t, 409)
	wantText(t, r, "This approval was used already")
	r = a.post(t, "/console/export/download", url.Values{"format": {"pdf"}, "approval": {id}}).want(t, 400)
}

// TestConsoleDashboardRequests checks the overview's open requests: by due date, the
// overdue one in red, and none shown to a role that may not read requests.
func TestConsoleDashboardRequests(t *testing.T) {
	e := newEnv(t)
	late := e.openRequest(t, e.a.token, e.requestSubject(t, e.a.token), skjold.RequestErasure, "")
	e.clock.Advance(40 * 24 * time.Hour)
	soon := e.openRequest(t, e.a.token, e.requestSubject(t, e.a.token), skjold.RequestObjection, "")
	c := e.consoleClient(t)
	c.login(t, e.activeStaff(t, e.a.id, skjold.RoleAgent, ""))
	r := c.get(t, "/console/").want(t, 200)
	wantText(t, r, "Open requests: 2.", "Overdue: 1.")
	body := string(r.body)
	i, j := strings.Index(body, late.ID), strings.Index(body, soon.ID)
	if i < 0 || j < 0 || i > j {
		t.Errorf("the open requests are not listed by due date (%d, %d)", i, j)
	}
	if !regexp.MustCompile(`<li class="overdue"><a href="/console/requests/` + late.ID).MatchString(body) {
		t.Error("the overdue request is not marked")
	}
	if strings.Contains(body, "Approvals waiting for you") {
		t.Error("an agent is shown the approvals")
	}
	ops := e.consoleClient(t)
	ops.login(t, e.activeStaff(t, "", skjold.RoleSupport, ""))
	if r := ops.get(t, "/console/").want(t, 200); strings.Contains(string(r.body), "Open requests") {
		t.Error("operator support is shown a tenant's requests")
	}
}

// TestConsoleRequestPagesAllLanguages shows the requests, approvals and export pages, with
// requests in every state, in Norwegian and Polish, and fails on a raw message key.
func TestConsoleRequestPagesAllLanguages(t *testing.T) {
	e := newEnv(t)
	open := e.openRequest(t, e.a.token, e.requestSubject(t, e.a.token), skjold.RequestAccess, "")
	erased, _ := e.verifiedRequest(t, e.a.token, skjold.RequestErasure, "")
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+erased.ID+"/complete", map[string]any{}).want(t, 200)
	refused := e.openRequest(t, e.a.token, e.requestSubject(t, e.a.token), skjold.RequestObjection, "")
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+refused.ID+"/refuse", map[string]string{"code": "other", "note": "x"}).want(t, 200)
	fixing, _ := e.verifiedRequest(t, e.a.token, skjold.RequestRectification, "")
	owner := e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	e.approval(t, e.activeStaff(t, e.a.id, skjold.RoleAdmin, ""))
	for _, lang := range []string{"nb", "pl"} {
		c := e.consoleClient(t)
		c.login(t, owner)
		c.post(t, "/console/account/language", url.Values{"lang": {lang}, "next": {"/console/"}}).want(t, 303)
		c.post(t, "/console/export/ask", nil).want(t, 303)
		for _, p := range []string{"/console/", "/console/requests", "/console/requests?state=closed", "/console/requests/new",
			"/console/requests/" + open.ID, "/console/requests/" + erased.ID, "/console/requests/" + refused.ID,
			"/console/requests/" + fixing.ID, "/console/approvals", "/console/export"} {
			r := c.get(t, p).want(t, 200)
			if bytes.Contains(r.body, []byte("[[")) || !bytes.Contains(r.body, []byte(`<html lang="`+lang+`"`)) {
				t.Errorf("%s in %s: a raw key or the wrong language:\n%s", p, lang, text(r.body))
			}
		}
		r := c.post(t, "/console/requests", url.Values{"type": {"access"}}).want(t, 400)
		if bytes.Contains(r.body, []byte("[[")) {
			t.Errorf("the refused form in %s shows a raw key: %s", lang, text(r.body))
		}
	}
}
