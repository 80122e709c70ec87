package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleBrowserSubjectPurpose is journey (b): a tenant admin creates an agent on the
// people page; the agent logs in with the one-time password (confirming the address with
// the mailed code, then choosing a password), finds a person by e-mail address (posted,
// never in the address bar), opens them, sees the birth date withheld, states credit_check
// and sees it; the admin's audit page then shows that read with its purpose.
func TestConsoleBrowserSubjectPurpose(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	var tenant struct {
		Tenant created `json:"tenant"`
		Token  created `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/tenants", readToken(t, data), map[string]string{"name": "Nordlys Reiser AS"}, &tenant); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	// The operator's owner makes the tenant's owner before the tenant holds personal data;
	// the owner adds the admin of this journey.
	operator := activate(t, s, "owner@skjold.local", readFile(t, filepath.Join(data, "initial-operator-password")))
	const ownerEmail = "nils.owner@nordlys.example"
	var first struct {
		OneTimePassword string `json:"one_time_password"`
	}
	if code := s.call(t, "POST", "/api/v1/users", operator.token, map[string]string{"tenant_id": tenant.Tenant.ID,
		"email": ownerEmail, "name": "Nils Owner", "role": "owner"}, &first); code != 201 {
		t.Fatalf("create the owner: %d", code)
	}
	owner := activate(t, s, ownerEmail, first.OneTimePassword)
	adminEmail, adminOneTime := createUser(t, s, owner.token, "Astrid Admin", "admin")
	admin := activate(t, s, adminEmail, adminOneTime)
	const person, born = "kari.nordmann@nordlys.example", "1984-03-09"
	var subject created
	if code := s.call(t, "POST", "/api/v1/subjects", tenant.Token.Secret, map[string]string{"name": "Kari Nordmann",
		"email": person, "birth_date": born, "ref": "K-2041"}, &subject); code != 201 {
		t.Fatalf("create subject: %d", code)
	}

	// The admin creates the agent on the people page and is shown the one-time password once.
	a := newTab(t, s, "en")
	a.loginWithCode(adminEmail, admin)
	a.submit("nav a[href='/console/users']")
	a.wantText("Astrid Admin", "Nils Owner")
	a.page("people")
	const agentEmail = "siri.agent@nordlys.example"
	a.fill("#name", "Siri Agent")
	a.fill("#email", agentEmail)
	a.do(chromedp.SetValue("#role", "agent"))
	a.submit("form[action='/console/users'] button[type=submit]")
	a.wantText("Account created for Siri Agent", "Siri Agent", agentEmail)
	oneTime := strings.TrimSpace(eval[string](a, `document.getElementById("one-time-password").textContent`))
	if len(oneTime) < 12 {
		t.Fatalf("the one-time password shown is %q", oneTime)
	}
	a.page("people-created")
	a.open("/console/users")
	if eval[bool](a, `document.getElementById("one-time-password") !== null`) {
		t.Error("the one-time password is shown a second time")
	}

	// The agent's first login: the address is confirmed with the mailed code, then the
	// one-time password is replaced.
	b := newTab(t, s, "en")
	b.login(agentEmail, oneTime)
	b.wantPath("/console/confirm-email")
	b.fill("#code", outboxCode(t, data, agentEmail))
	b.submit("main button[type=submit]")
	b.wantPath("/console/password")
	const pw = "amber-Skerry-puffin-58"
	b.fill("#old_password", oneTime)
	b.fill("#password", pw)
	b.fill("#repeat", pw)
	b.submit("main button[type=submit]")
	b.wantPath("/console/")

	// The search posts the form: the address is in no URL.
	b.submit("nav a[href='/console/subjects']")
	b.wantText("Subjects", "Search by")
	b.page("subjects")
	b.do(chromedp.SetValue("#by", "email"))
	b.fill("#q", "nobody@nordlys.example")
	b.submit("form[action='/console/subjects/search'] button")
	b.wantText("No subject has this value.")
	b.fill("#q", "Kari.Nordmann@nordlys.example")
	b.submit("form[action='/console/subjects/search'] button")
	if loc := b.location(); strings.Contains(loc, "nordlys") || strings.Contains(loc, "%40") || strings.Contains(loc, "kari") {
		t.Errorf("after the search the browser is at %s", loc)
	}
	b.wantText("Kari Nordmann", "K-2041", person)
	if strings.Contains(b.text(), born) {
		t.Error("the search results show the withheld birth date")
	}
	b.page("subjects-found")

	b.submit(".results a[href='/console/subjects/" + subject.ID + "']")
	b.wantPath("/console/subjects/" + subject.ID)
	b.wantText("Kari Nordmann", "Date of birth", "State a purpose")
	if got := eval[string](b, `document.getElementById("profile-birth_date").innerText`); !strings.Contains(got, "Withheld") ||
		!strings.Contains(got, "credit_check") || strings.Contains(got, born) {
		t.Errorf("the birth date reads %q, want it withheld, naming credit_check", got)
	}
	if strings.Contains(b.text(), born) {
		t.Error("the subject's page shows the birth date without a purpose")
	}
	b.page("subject-withheld")

	b.do(chromedp.SetValue("#purpose", "credit_check"))
	b.submit("form.reveal button")
	b.wantText("Shown for the purpose credit_check.")
	if got := eval[string](b, `document.getElementById("profile-birth_date").innerText`); !strings.Contains(got, born) {
		t.Errorf("after stating credit_check the birth date reads %q, want %s", got, born)
	}
	if loc := b.location(); strings.Contains(loc, "credit_check") || strings.Contains(loc, born) {
		t.Errorf("the purpose went into the address: %s", loc)
	}
	b.page("subject-revealed")

	// The admin's audit page: the agent's read of the birth date, with the purpose.
	a.submit("nav a[href='/console/audit']")
	a.wantText("Audit log")
	a.fill("#action", "subject.read")
	a.submit("form.filters button[type=submit]")
	rows := eval[[]string](a, `[...document.querySelectorAll("table.audit tbody tr")].map(r => r.innerText)`)
	found := false
	for _, r := range rows {
		if strings.Contains(r, "Siri Agent") && strings.Contains(r, "credit_check") && strings.Contains(r, "birth_date") &&
			strings.Contains(r, "subject.read") {
			found = true
		}
	}
	if !found {
		t.Errorf("the audit page shows no read by Siri Agent with credit_check and birth_date: %q", rows)
	}
	a.page("audit")
	// The subject's own trail says the same to the admin, who also sees the field withheld.
	a.open("/console/subjects/" + subject.ID)
	a.wantText("Withheld", "credit_check", "Siri Agent")
	a.page("subject")

	// The same pages in Norwegian and Polish.
	for _, c := range []struct{ lang, withheld string }{{"nb", "Holdt tilbake"}, {"pl", "Ukryte"}} {
		o := newTab(t, s, c.lang)
		o.login(agentEmail, pw)
		o.wantPath("/console/")
		o.open("/console/subjects")
		o.page("subjects")
		o.open("/console/subjects/" + subject.ID)
		o.wantText(c.withheld)
		o.page("subject-withheld")
		if got := eval[string](o, `document.getElementById("profile-birth_date").innerText`); strings.Contains(got, born) {
			t.Errorf("%s: the birth date is shown without a purpose", c.lang)
		}
	}
	if out := s.stdout.String() + s.stderr.String(); strings.Contains(out, person) || strings.Contains(out, born) {
		t.Error("the person's address or birth date is in the server's log")
	}
}
