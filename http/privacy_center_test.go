package http

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// pcCookie returns the value of a cookie the client sends to the tenant's privacy center.
func (c *consoleClient) pcCookie(slug, name string) string {
	u, _ := url.Parse(c.e.srv.URL + "/p/" + slug + "/")
	for _, ck := range c.client.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// pcPost sends a privacy-center form with the browser's CSRF token.
func (c *consoleClient) pcPost(t *testing.T, slug, path string, form url.Values) *reply {
	t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", c.pcCookie(slug, pcCSRFCookie))
	}
	return c.send(t, "POST", "/p/"+slug+"/"+path, form)
}

// TestPrivacyNoticePage checks that the notice is built from the live settings: a changed
// purpose and privacy facts show at once, in each language, behind the console's headers.
func TestPrivacyNoticePage(t *testing.T) {
	e := newEnv(t)
	c := e.consoleClient(t)
	e.do(t, e.a.token, "PUT", "/api/v1/settings/privacy", map[string]any{"controller": "Tenant A AS",
		"contact": "privacy@tenant-a.example", "supervisory_authority": "Datatilsynet", "recipients": []string{"Mailer Ltd"},
		"storage_location": "Norway"}).want(t, 200)
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/newsletter", map[string]any{"legal_basis": "consent",
		"notice": "We send you our letter once a month."}).want(t, 200)
	r := c.get(t, "/p/tenant-a/").want(t, 200)
	pcCheckPage(t, r)
	wantText(t, r, "Tenant A AS", "privacy@tenant-a.example", "Datatilsynet", "Mailer Ltd", "Norway",
		"We send you our letter once a month.", "Version 2", "Consent", "Access", "Withdrawing consent")
	if !strings.Contains(string(r.body), `href="/p/tenant-a/request?type=erasure"`) {
		t.Error("the rights do not link to the request form")
	}
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/newsletter", map[string]any{"legal_basis": "consent",
		"notice": "Now twice a month."}).want(t, 200)
	wantText(t, c.get(t, "/p/tenant-a/").want(t, 200), "Now twice a month.", "Version 3")
	for lang, word := range map[string]string{"nb": "Personvernerklæring", "pl": "Informacja o prywatności"} {
		r := c.get(t, "/p/tenant-a/?lang="+lang).want(t, 200)
		pcCheckPage(t, r)
		wantText(t, r, word)
		if !strings.Contains(string(r.body), `<html lang="`+lang+`">`) {
			t.Errorf("%s: page not in its language", lang)
		}
	}
	for _, p := range []string{"/p/tenant-a/request", "/p/tenant-a/status"} {
		pcCheckPage(t, c.get(t, p).want(t, 200))
	}
	c.get(t, "/p/no-such-tenant/").want(t, 404)
	c.get(t, "/p/Bad_Slug/").want(t, 404)
}

// pcCheckPage checks a privacy-center page as checkPage does a console page, allowing pages
// without forms.
func pcCheckPage(t *testing.T, r *reply) {
	t.Helper()
	if strings.Count(string(r.body), "<form ") > 0 {
		checkPage(t, r)
		return
	}
	if got := r.header.Get("Content-Security-Policy"); !strings.HasPrefix(got, consoleCSP) || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: headers %v", r.path, r.header)
	}
	body := string(r.body)
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "[[") {
		t.Errorf("%s: inline script or style, or a missing message: %s", r.path, body)
	}
}

// pcOpen opens a request on tenant A's privacy center and returns the answer.
func (c *consoleClient) pcOpen(t *testing.T, form url.Values) *reply {
	t.Helper()
	c.get(t, "/p/tenant-a/request").want(t, 200)
	return c.pcPost(t, "tenant-a", "request", form)
}

var pcRequestID = regexp.MustCompile(`name="id" value="([^"]*)"`)

// TestPrivacyRequestKnownAndUnknownAlike checks that a request for an address on file and
// one for an unknown address get the same page with the same status, in similar time, and
// that only the known subject's address on file gets a code; and a whole access request:
// verified with the mailed code, completed by staff through the API, its package fetched
// once from the status page.
func TestPrivacyRequestKnownAndUnknownAlike(t *testing.T) {
	e := newEnv(t)
	s := e.requestSubject(t, e.a.token)
	c := e.consoleClient(t)
	// warm up what a process loads once (the e-mail catalogues), then time the answers
	w := e.requestSubject(t, e.a.token)
	c.pcOpen(t, url.Values{"type": {"erasure"}, "email": {w.Email}}).want(t, 200)
	e.mailTo(t, w.Email)
	audit := e.auditLength(t)
	var unknown, known *reply
	var tookUnknown, tookKnown time.Duration
	for i := range 3 {
		start := time.Now()
		unknown = c.pcOpen(t, url.Values{"type": {"access"}, "email": {"nobody-here@example.com"}}).want(t, 200)
		if d := time.Since(start); i == 0 || d < tookUnknown {
			tookUnknown = d
		}
		if i == 0 && e.auditLength(t) != audit {
			t.Error("an unknown address left an audit event")
		}
		other := e.requestSubject(t, e.a.token)
		addr := other.Email
		if i == 2 {
			addr = s.Email
		}
		start = time.Now()
		known = c.pcOpen(t, url.Values{"type": {"access"}, "email": {addr}}).want(t, 200)
		if d := time.Since(start); i == 0 || d < tookKnown {
			tookKnown = d
		}
		if i < 2 {
			e.mailTo(t, addr)
		}
	}
	strip := func(r *reply) string { return pcRequestID.ReplaceAllString(string(r.body), "") }
	if strip(unknown) != strip(known) {
		t.Errorf("the answers differ:\n%s\n---\n%s", unknown.body, known.body)
	}
	// the same work: neither answer takes several times as long as the other (a margin
	// for a busy machine)
	if tookUnknown > 4*tookKnown+20*time.Millisecond || tookKnown > 4*tookUnknown+20*time.Millisecond {
		t.Errorf("unknown took %v, known %v", tookUnknown, tookKnown)
	}
	t.Logf("fastest answers: unknown %v, known %v", tookUnknown, tookKnown)
	pcCheckPage(t, known)
	if strings.Contains(known.header.Get("Location"), "@") {
		t.Error("personal data in a URL")
	}
	unknownID := pcRequestID.FindSubmatch(unknown.body)[1]
	id := string(pcRequestID.FindSubmatch(known.body)[1])
	if !skjold.ValidID(string(unknownID)) {
		t.Errorf("the unknown address's answer has no id like the known one's: %q", unknownID)
	}
	code := e.requestCode(t, s.Email)

	// a wrong code, and the unknown address's id, get the same 401; the right code works
	c.pcPost(t, "tenant-a", "verify", url.Values{"id": {string(unknownID)}, "code": {code}}).want(t, 401)
	c.pcPost(t, "tenant-a", "verify", url.Values{"id": {id}, "code": {wrongCode(code)}}).want(t, 401)
	c.pcPost(t, "tenant-a", "verify", url.Values{"id": {id}, "code": {code}}).wantRedirect(t, "/p/tenant-a/status")
	st := c.get(t, "/p/tenant-a/status").want(t, 200)
	wantText(t, st, "Being handled", "Answer due by")
	c.pcPost(t, "tenant-a", "status/package", url.Values{}).want(t, 404)

	e.do(t, e.a.token, "POST", "/api/v1/requests/"+id+"/complete", map[string]any{}).want(t, 200)
	e.mailTo(t, s.Email) // the link e-mail
	wantText(t, c.get(t, "/p/tenant-a/status").want(t, 200), "Completed", "Download my data")
	pkg := c.pcPost(t, "tenant-a", "status/package", url.Values{}).want(t, 200)
	if pkg.header.Get("Content-Type") != "application/zip" || !strings.HasPrefix(string(pkg.body), "PK") {
		t.Errorf("package: %v %.20q", pkg.header, pkg.body)
	}
	c.pcPost(t, "tenant-a", "status/package", url.Values{}).want(t, 404) // once only
	// another tenant's privacy center does not know this browser's request
	wantText(t, c.get(t, "/p/tenant-b/status").want(t, 200), "no confirmed request")
}

// TestPrivacyRequestLanguageAndRefusal checks that the subject's language is kept with the
// request (the code e-mail is in it) and that a refusal and an extension are e-mailed to the
// subject in it, with the reason; the status page shows the refusal and its reason.
func TestPrivacyRequestLanguageAndRefusal(t *testing.T) {
	e := newEnv(t)
	s := e.requestSubject(t, e.a.token)
	c := e.consoleClient(t)
	c.get(t, "/p/tenant-a/request?lang=nb").want(t, 200)
	r := c.pcPost(t, "tenant-a", "request", url.Values{"type": {"rectification"}, "email": {s.Email},
		"p_name": {"Rita Rask-Olsen"}}).want(t, 200)
	id := string(pcRequestID.FindSubmatch(r.body)[1])
	if body := e.mailTo(t, s.Email); !strings.Contains(body, "forespørsel") {
		t.Errorf("code e-mail not in Norwegian: %s", body)
	} else {
		code := strings.TrimSpace(codeInMail.FindString(body))
		c.pcPost(t, "tenant-a", "verify", url.Values{"id": {id}, "code": {code}}).wantRedirect(t, "/p/tenant-a/status")
	}
	var p map[string]string
	p, err := e.db.RequestProposal(skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", TenantID: e.a.id,
		Scopes: []string{skjold.ScopeRead}}), id)
	if err != nil || p["name"] != "Rita Rask-Olsen" {
		t.Errorf("proposal: %v %v", p, err)
	}
	staff := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	sc := e.consoleClient(t)
	sc.login(t, staff)
	page := sc.get(t, "/console/requests/"+id).want(t, 200)
	wantText(t, page, "Proposed by the person", "Rita Rask-Olsen")
	if !strings.Contains(string(page.body), `name="fix_name" type="text" autocomplete="off" value="Rita Rask-Olsen"`) {
		t.Error("the correction form is not filled with the proposal")
	}
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+id+"/extend", map[string]any{"months": 1, "reason": "Mange saker nå"}).want(t, 200)
	if body := e.mailTo(t, s.Email); !strings.Contains(body, "Mange saker nå") || !strings.Contains(body, "trenger mer tid") {
		t.Errorf("extension e-mail: %s", body)
	}
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+id+"/refuse", map[string]any{"code": "other", "note": "Navnet er riktig"}).want(t, 200)
	if body := e.mailTo(t, s.Email); !strings.Contains(body, "Navnet er riktig") || !strings.Contains(body, "avslått") {
		t.Errorf("refusal e-mail: %s", body)
	}
	wantText(t, c.get(t, "/p/tenant-a/status").want(t, 200), "Avslått", "Navnet er riktig", "Mange saker nå")
}

// TestPrivacyRequestBadInput checks that bad input is refused with a message and no request
// or e-mail, and that a form without the browser's token changes nothing.
func TestPrivacyRequestBadInput(t *testing.T) {
	e := newEnv(t)
	s := e.requestSubject(t, e.a.token)
	c := e.consoleClient(t)
	audit := e.auditLength(t)
	for _, f := range []url.Values{
		{"type": {"access"}},
		{"type": {"access"}, "email": {s.Email}, "phone": {"+4712345678"}},
		{"type": {"nonsense"}, "email": {s.Email}},
		{"type": {"consent_withdrawal"}, "email": {s.Email}},
		{"type": {"consent_withdrawal"}, "email": {s.Email}, "purpose": {"no_such_purpose"}},
		{"type": {"rectification"}, "email": {s.Email}},
		{"type": {"access"}, "email": {"not-an-address"}},
		{"type": {"rectification"}, "email": {s.Email}, "p_details": {strings.Repeat("x", 1001)}},
	} {
		r := c.pcOpen(t, f).want(t, 422)
		pcCheckPage(t, r)
		if !strings.Contains(string(r.body), `class="alert"`) {
			t.Errorf("%v: no message", f)
		}
	}
	c.pcPost(t, "tenant-a", "request", url.Values{"csrf": {"wrong"}, "type": {"access"}, "email": {s.Email}}).want(t, 403)
	if e.auditLength(t) != audit {
		t.Error("bad input left an audit event")
	}
	c.pcPost(t, "tenant-a", "verify", url.Values{"id": {"x"}, "code": {"12"}}).want(t, 401)
}

// TestPrivacyRateLimits checks the per-address limit on forms: the next form is refused
// with 429 and a page in the reader's language.
func TestPrivacyRateLimits(t *testing.T) {
	e := newEnv(t)
	c := e.consoleClient(t)
	old := pcFormsPerAddr
	pcFormsPerAddr = 3
	t.Cleanup(func() { pcFormsPerAddr = old })
	c.get(t, "/p/tenant-a/request").want(t, 200)
	for range 3 {
		c.pcPost(t, "tenant-a", "request", url.Values{"type": {"access"}, "email": {"x@example.com"}}).want(t, 200)
	}
	r := c.pcPost(t, "tenant-a", "request", url.Values{"type": {"access"}, "email": {"x@example.com"}}).want(t, 429)
	wantText(t, r, "Too many attempts")
	pcCheckPage(t, r)
}

func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		n := 0
		return map[string]consoleBuild{
			"GET /console/privacy-center": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/privacy-center"}
			},
			"POST /console/privacy-center/slug": func(*testing.T, *consoleCaller, object) consoleCall {
				n++
				return consoleCall{path: "/console/privacy-center/slug", form: url.Values{"slug": {fmt.Sprintf("matrix-%d", n)}}}
			},
		}
	})
}

// TestConsolePrivacySlug checks that an admin sets the public slug, the old address stops
// working and the new one works; a bad or taken slug is refused with a message, unchanged.
func TestConsolePrivacySlug(t *testing.T) {
	e := newEnv(t)
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	c := e.consoleClient(t)
	c.login(t, admin)
	wantText(t, c.get(t, "/console/privacy-center").want(t, 200), "/p/tenant-a/")
	for slug, want := range map[string]string{"Bad Slug": "lower-case letters", "tenant-b": "Another organisation"} {
		r := c.post(t, "/console/privacy-center/slug", url.Values{"slug": {slug}}).want(t, 400)
		wantText(t, r, want)
	}
	c.get(t, "/p/tenant-a/").want(t, 200)
	c.post(t, "/console/privacy-center/slug", url.Values{"slug": {"fjord-travel"}}).wantRedirect(t, "/console/privacy-center")
	c.get(t, "/p/tenant-a/").want(t, 404)
	c.get(t, "/p/fjord-travel/").want(t, 200)
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	ca := e.consoleClient(t)
	ca.login(t, agent)
	if r := ca.get(t, "/console/privacy-center").want(t, 200); strings.Contains(string(r.body), `action="/console/privacy-center/slug"`) {
		t.Error("an agent is offered the slug form")
	}
}
