package http

import (
	"bytes"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// contactSetup makes tenant A's contact form relay to its office address, through the
// console's form, in mode.
func contactSetup(t *testing.T, e *env, mode, thanks string) *consoleClient {
	t.Helper()
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	c := e.consoleClient(t)
	c.login(t, admin)
	c.post(t, "/console/contact-form", url.Values{"mode": {mode}, "address": {"office@tenant-a.example"},
		"thanks_url": {thanks}}).wantRedirect(t, "/console/contact-form")
	return c
}

// contactPost posts a contact form as another website's plain HTML form does: no cookie,
// no token.
func contactPost(t *testing.T, e *env, slug string, form url.Values) *reply {
	t.Helper()
	return e.consoleClient(t).send(t, "POST", "/p/"+slug+"/contact", form)
}

// outboxWith returns the outbox files holding s.
func outboxWith(t *testing.T, e *env, s string) []string {
	t.Helper()
	var out []string
	entries, _ := os.ReadDir(e.outbox)
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(e.outbox, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			out = append(out, en.Name())
		}
	}
	return out
}

// TestPrivacyContactKeepsNothing relays a message whose name, address and text carry a
// marker, and checks that it reaches the outbox and nowhere else: not the database file, its
// WAL or any other file beside it, and not the log. Only the day's count is kept.
func TestPrivacyContactKeepsNothing(t *testing.T) {
	e := newEnv(t)
	c := contactSetup(t, e, skjold.ContactFormRelay, "")
	const marker = "zq7marker41"
	r := contactPost(t, e, "tenant-a", url.Values{"name": {"Ola " + marker}, "email": {marker + "@visitor.example"},
		"message": {"Hello,\r\nplease call me. " + marker}, "website": {""}})
	r.wantRedirect(t, "/p/tenant-a/contact?sent=1")
	wantText(t, c.get(t, "/p/tenant-a/contact?sent=1").want(t, 200), "Thank you, your message is sent")
	files := outboxWith(t, e, marker)
	if len(files) != 1 {
		t.Fatalf("outbox files with the message: %v", files)
	}
	mail, _ := os.ReadFile(filepath.Join(e.outbox, files[0]))
	for _, want := range []string{"To: office@tenant-a.example", marker + "@visitor.example", "please call me."} {
		if !bytes.Contains(mail, []byte(want)) {
			t.Errorf("the relayed mail lacks %q:\n%s", want, mail)
		}
	}
	// the WAL is scanned as it is, before any checkpoint folds it into the file
	dir := filepath.Dir(e.dbPath)
	scanned := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.IsDir() && p == e.outbox {
				return filepath.SkipDir
			}
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		scanned++
		if bytes.Contains(bytes.ToLower(b), []byte(marker)) {
			t.Errorf("%s holds part of the message", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.dbPath + "-wal"); err != nil || scanned < 2 {
		t.Fatalf("the WAL was not scanned (%v, %d files)", err, scanned)
	}
	if strings.Contains(e.logs.String(), marker) {
		t.Error("the log holds part of the message")
	}
	r = c.get(t, "/console/contact-form").want(t, 200)
	checkPage(t, r)
	wantText(t, r, `action="https://`, "/p/tenant-a/contact", `name="website"`)
	if !regexp.MustCompile(`<td[^>]*>\d{4}-\d\d-\d\d</td><td[^>]*>1</td>`).Match(r.body) {
		t.Errorf("the day's count is not shown: %s", r.body)
	}
}

// TestPrivacyContactBadInput checks that refused input is answered with the form and a
// reason per field, in the visitor's language, and that nothing is sent; a honeypot is
// thanked and dropped; a form that is off is not found.
func TestPrivacyContactBadInput(t *testing.T) {
	e := newEnv(t)
	contactPost(t, e, "tenant-a", url.Values{"name": {"A"}, "email": {"a@b.example"}, "message": {"hi"}}).want(t, 404)
	contactSetup(t, e, skjold.ContactFormRelay, "https://www.tenant-a.example/thanks")
	cases := []struct {
		form  url.Values
		wants []string
	}{
		{url.Values{"name": {""}, "email": {"nope"}, "message": {"  "}}, []string{"Give your name.", "This is not an e-mail address.", "Write your message."}},
		{url.Values{"name": {"Kari"}, "email": {"kari@visitor.example"}, "message": {strings.Repeat("x", 5001)}}, []string{"Keep your message under 5000 characters."}},
		{url.Values{"name": {"Kari\nNordmann"}, "email": {""}, "message": {"hi"}}, []string{"one line", "Give your e-mail address"}},
	}
	for _, tc := range cases {
		r := contactPost(t, e, "tenant-a", tc.form).want(t, 422)
		pcCheckPage(t, r)
		wantText(t, r, append(tc.wants, "The message was not sent.")...)
	}
	r := e.consoleClient(t).send(t, "POST", "/p/tenant-a/contact?lang=nb", url.Values{"name": {"Kari"}, "email": {"x"}, "message": {"hei"}}).want(t, 422)
	wantText(t, r, "Dette er ikke en e-postadresse.")
	contactPost(t, e, "tenant-a", url.Values{"name": {"Bot"}, "email": {"bot@spam.example"}, "message": {"buy honeypotmark"},
		"website": {"http://spam.example"}}).wantRedirect(t, "https://www.tenant-a.example/thanks")
	if f := outboxWith(t, e, "honeypotmark"); len(f) > 0 || len(outboxWith(t, e, "Kari")) > 0 {
		t.Errorf("refused messages were sent: %v", f)
	}
	contactPost(t, e, "tenant-a", url.Values{"name": {"Kari"}, "email": {"kari@visitor.example"}, "message": {"goodmark"}}).
		wantRedirect(t, "https://www.tenant-a.example/thanks")
	if len(outboxWith(t, e, "goodmark")) != 1 {
		t.Error("a good message was not relayed")
	}
	contactPost(t, e, "tenant-b", url.Values{"name": {"A"}, "email": {"a@b.example"}, "message": {"hi"}}).want(t, 404)
}

// TestPrivacyContactProspect checks the other mode: the message is relayed and the sender
// kept as a prospect subject, who expires on their own.
func TestPrivacyContactProspect(t *testing.T) {
	e := newEnv(t)
	contactSetup(t, e, skjold.ContactFormProspect, "")
	contactPost(t, e, "tenant-a", url.Values{"name": {"Per Prospect"}, "email": {"per@visitor.example"},
		"message": {"prospectmark"}}).wantRedirect(t, "/p/tenant-a/contact?sent=1")
	if len(outboxWith(t, e, "prospectmark")) != 1 {
		t.Fatal("the message was not relayed")
	}
	r := e.do(t, e.a.token, "GET", "/api/v1/subjects?email=per@visitor.example", nil).want(t, 200)
	if !strings.Contains(string(r.body), `"relationship":"prospect"`) {
		t.Errorf("no prospect kept: %s", r.body)
	}
}

// TestPrivacyContactLimits checks the limits per client address and per tenant: the next
// message is refused with 429 and Retry-After, and another tenant's form still works.
func TestPrivacyContactLimits(t *testing.T) {
	e := newEnv(t)
	contactSetup(t, e, skjold.ContactFormRelay, "")
	old := pcContactPerAddr
	pcContactPerAddr = 2
	t.Cleanup(func() { pcContactPerAddr = old })
	msg := url.Values{"name": {"Kari"}, "email": {"kari@visitor.example"}, "message": {"hello"}}
	for range 2 {
		contactPost(t, e, "tenant-a", msg).wantRedirect(t, "/p/tenant-a/contact")
	}
	r := contactPost(t, e, "tenant-a", msg).want(t, 429)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > int(pcWindow.Seconds()) {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	wantText(t, r, "Too many attempts")

	// the tenant's own limit holds however many addresses the messages come from
	pcContactPerAddr = 1000
	oldTenant := pcContactPerTenant
	pcContactPerTenant = 2 // both used above
	t.Cleanup(func() { pcContactPerTenant = oldTenant })
	r = contactPost(t, e, "tenant-a", msg).want(t, 429)
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if n := len(outboxWith(t, e, "kari@visitor.example")); n != 2 {
		t.Errorf("%d messages relayed, want 2", n)
	}
}

// TestPrivacyTenantLimit checks the privacy center's per-tenant limit on its own: with a
// generous limit per address, a tenant's pages are refused with 429 and Retry-After once
// its own limit is used up, while another tenant's pages still answer.
func TestPrivacyTenantLimit(t *testing.T) {
	e := newEnv(t)
	oldAddr, oldTenant, oldForms := pcPagesPerAddr, pcPagesPerTenant, pcFormsPerTenant
	pcPagesPerAddr, pcPagesPerTenant, pcFormsPerTenant = 1000, 3, 2
	t.Cleanup(func() { pcPagesPerAddr, pcPagesPerTenant, pcFormsPerTenant = oldAddr, oldTenant, oldForms })
	c := e.consoleClient(t)
	for range 3 {
		c.get(t, "/p/tenant-a/").want(t, 200)
	}
	r := c.get(t, "/p/tenant-a/request").want(t, 429)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	pcCheckPage(t, r)
	c.get(t, "/p/tenant-b/").want(t, 200)
	for range 2 {
		c.pcPost(t, "tenant-b", "request", url.Values{"type": {"access"}, "email": {"x@example.com"}}).want(t, 200)
	}
	c.pcPost(t, "tenant-b", "request", url.Values{"type": {"access"}, "email": {"y@example.com"}}).want(t, 429)
}

func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		return map[string]consoleBuild{
			"GET /console/contact-form": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/contact-form"}
			},
			"POST /console/contact-form": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/contact-form", form: url.Values{"mode": {"relay"}, "address": {"office@example.com"}}}
			},
		}
	})
}
