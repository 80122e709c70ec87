package http

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// lastEvent returns the newest audit event of tenant A with action, read through the API.
func (e *env) lastEvent(t *testing.T, subjectID, action string) *skjold.AuditEvent {
	t.Helper()
	var out struct {
		Items []*skjold.AuditEvent `json:"items"`
	}
	e.do(t, e.a.token, "GET", "/api/v1/audit?limit=500&subject_id="+subjectID+"&action="+action, nil).want(t, 200).decode(t, &out)
	if len(out.Items) == 0 {
		t.Fatalf("no %s event of subject %s", action, subjectID)
	}
	return out.Items[len(out.Items)-1]
}

// TestConsoleSubjectSearchAndReveal is the agent's path through the subject pages: a search
// by e-mail posted (the value in no URL), the subject's page with the birth date withheld,
// a stated purpose that reveals it and is audited with the purpose, exactly as the API's
// ?purpose= is; a purpose outside the register refused next to its field; and another
// tenant's subject neither found nor shown.
func TestConsoleSubjectSearchAndReveal(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna Berg", "email": "anna.berg@example.com",
		"birth_date": "1980-05-17", "ref": "C-1001"})
	subB := e.createSubject(t, e.b.token, map[string]string{"name": "Bjørn", "email": "bjorn@example.com"})
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	c := e.consoleClient(t)
	c.login(t, agent)

	page := c.get(t, "/console/subjects").want(t, 200)
	checkPage(t, page)
	wantText(t, page, "Subjects", "Search by")
	if !strings.Contains(string(c.get(t, "/console/").body), `href="/console/subjects"`) {
		t.Error("the menu has no link to the subjects")
	}

	found := c.post(t, "/console/subjects/search", url.Values{"by": {"email"}, "q": {"Anna.Berg@example.com"}}).want(t, 200)
	checkPage(t, found)
	wantText(t, found, "Anna Berg", "C-1001")
	if !strings.Contains(string(found.body), `href="/console/subjects/`+sub.ID+`"`) {
		t.Errorf("no link to the subject's page: %s", text(found.body))
	}
	if strings.Contains(string(found.body), "1980-05-17") {
		t.Error("the results show the withheld birth date")
	}
	for _, link := range regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(string(found.body), -1) {
		if strings.Contains(link[1], "@") || strings.Contains(link[1], "anna") {
			t.Errorf("a link holds the searched value: %s", link[1])
		}
	}
	none := c.post(t, "/console/subjects/search", url.Values{"by": {"email"}, "q": {"bjorn@example.com"}}).want(t, 200)
	wantText(t, none, "No subject has this value.")
	empty := c.post(t, "/console/subjects/search", url.Values{"by": {"phone"}, "q": {""}}).want(t, 400)
	wantText(t, empty, "Fill in this field.")

	view := c.get(t, "/console/subjects/"+sub.ID).want(t, 200)
	checkPage(t, view)
	wantText(t, view, "Anna Berg", "Date of birth", "Withheld", "credit_check", "State a purpose")
	if strings.Contains(string(view.body), "1980-05-17") {
		t.Error("the page shows the birth date without a purpose")
	}
	if ev := e.lastEvent(t, sub.ID, "subject.read"); ev.Purpose != "" || ev.Actor != "user:"+agent.user.ID {
		t.Errorf("the page's read is audited as %+v", ev)
	}

	shown := c.post(t, "/console/subjects/"+sub.ID+"/reveal", url.Values{"purpose": {"credit_check"}}).want(t, 200)
	checkPage(t, shown)
	wantText(t, shown, "1980-05-17", "Shown for the purpose credit_check.")
	ev := e.lastEvent(t, sub.ID, "subject.read")
	if ev.Purpose != "credit_check" || ev.Actor != "user:"+agent.user.ID || !slices.Contains(ev.Fields, "birth_date") {
		t.Errorf("the revealing read is audited as %+v, want the agent, credit_check and birth_date", ev)
	}

	events := e.auditLength(t)
	refused := c.post(t, "/console/subjects/"+sub.ID+"/reveal", url.Values{"purpose": {"marketing_nonsense"}}).want(t, 400)
	wantText(t, refused, "This purpose is not in your organisation")
	if strings.Contains(string(refused.body), "1980-05-17") || !strings.Contains(string(refused.body), `id="purpose-error"`) {
		t.Errorf("a refused purpose showed the birth date, or no error next to the field: %s", text(refused.body))
	}
	if e.auditLength(t) == events {
		t.Error("the page after a refused purpose was not audited as a read")
	}

	c.get(t, "/console/subjects/"+subB.ID).want(t, 404)
	c.post(t, "/console/subjects/"+subB.ID+"/reveal", url.Values{"purpose": {"credit_check"}}).want(t, 404)
	c.get(t, "/console/audit").want(t, 403) // an agent holds no audit scope
}

// mustJSONString returns v as JSON, for failure messages.
func mustJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConsoleSubjectForms creates, changes and erases a subject through the forms: a value
// the subject service refuses is named next to its field and nothing is stored; the erasure
// shows its report.
func TestConsoleSubjectForms(t *testing.T) {
	e := newEnv(t)
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	c := e.consoleClient(t)
	c.login(t, admin)
	checkPage(t, c.get(t, "/console/subjects/new").want(t, 200))

	before := e.subjectCount(t)
	bad := c.post(t, "/console/subjects/new", url.Values{"name": {"Ola Nordmann"}, "birth_date": {"17.05.1980"},
		"relationship": {"active"}}).want(t, 400)
	wantText(t, bad, "Enter a date as YYYY-MM-DD.")
	if !strings.Contains(string(bad.body), `id="birth_date-error"`) || !strings.Contains(string(bad.body), `value="Ola Nordmann"`) {
		t.Errorf("the error is not next to the birth date, or the form lost its values: %s", bad.body)
	}
	if e.subjectCount(t) != before {
		t.Error("a refused form stored a subject")
	}
	made := c.post(t, "/console/subjects/new", url.Values{"name": {"Ola Nordmann"}, "email": {"ola@example.com"},
		"birth_date": {"1980-05-17"}, "relationship": {"active"}}).wantRedirect(t, "/console/subjects/")
	id := strings.TrimPrefix(strings.Split(made.header.Get("Location"), "?")[0], "/console/subjects/")
	wantText(t, c.get(t, made.header.Get("Location")).want(t, 200), "Ola Nordmann", "The subject is created.")

	badEdit := c.post(t, "/console/subjects/"+id+"/edit", url.Values{"phone": {"12"}}).want(t, 400)
	wantText(t, badEdit, "Enter a phone number of 5 to 15 digits.")
	if !strings.Contains(string(badEdit.body), `id="p-phone-error"`) {
		t.Errorf("the phone error is not next to the phone field")
	}
	c.post(t, "/console/subjects/"+id+"/edit", url.Values{"name": {"Ola Nordmann Jr"}, "phone": {"+47 912 34 567"}}).
		wantRedirect(t, "/console/subjects/"+id)
	var got skjold.Subject
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+id+"?purpose=credit_check", nil).want(t, 200).decode(t, &got)
	if got.Name != "Ola Nordmann Jr" || got.BirthDate != "1980-05-17" || got.Email != "ola@example.com" {
		t.Errorf("after the edit: %+v (a field the form left out must stay)", got)
	}

	c.post(t, "/console/subjects/"+id+"/restriction", url.Values{"on": {"true"}}).wantRedirect(t, "/console/subjects/"+id)
	blocked := c.get(t, "/console/subjects/"+id).want(t, 200)
	checkPage(t, blocked)
	wantText(t, blocked, "Shown only for legal claims", "legal_claims")
	if strings.Contains(string(blocked.body), "Ola Nordmann") {
		t.Error("a restricted subject's name is shown without legal_claims")
	}
	claims := c.post(t, "/console/subjects/"+id+"/reveal", url.Values{"purpose": {"legal_claims"}}).want(t, 200)
	wantText(t, claims, "Ola Nordmann Jr", "Processing restricted", "Lift the restriction")
	c.post(t, "/console/subjects/"+id+"/restriction", url.Values{"on": {"false"}}).wantRedirect(t, "/console/subjects/"+id)

	c.post(t, "/console/subjects/"+id+"/erase", url.Values{}).want(t, 400)
	rep := c.post(t, "/console/subjects/"+id+"/erase", url.Values{"confirm": {"yes"}}).want(t, 200)
	checkPage(t, rep)
	wantText(t, rep, "Subject erased", "The subject and all of its data are erased.")
	c.get(t, "/console/subjects/"+id).want(t, 404)
}

// TestConsolePeople creates an agent on the People page, whose one-time password is shown
// once and logs in; suspends them; and files a two-factor reset for a second person.
func TestConsolePeople(t *testing.T) {
	e := newEnv(t)
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	c := e.consoleClient(t)
	c.login(t, admin)
	page := c.get(t, "/console/users").want(t, 200)
	checkPage(t, page)
	wantText(t, page, "People", admin.user.Name)

	bad := c.post(t, "/console/users", url.Values{"name": {"Kari"}, "email": {"not-an-address"}, "role": {"agent"}}).want(t, 400)
	if !strings.Contains(string(bad.body), `id="email-error"`) {
		t.Errorf("no error next to the address: %s", text(bad.body))
	}
	made := c.post(t, "/console/users", url.Values{"name": {"Kari Nordmann"}, "email": {"kari@agency.example"},
		"role": {"agent"}, "access_until": {"2031-06-30"}}).want(t, 201)
	checkPage(t, made)
	m := regexp.MustCompile(`<code id="one-time-password">([^<]+)</code>`).FindSubmatch(made.body)
	if m == nil {
		t.Fatalf("no one-time password shown: %s", text(made.body))
	}
	if strings.Contains(string(c.get(t, "/console/users").body), string(m[1])) {
		t.Error("the one-time password is shown again")
	}
	kari := e.consoleClient(t)
	kari.get(t, "/console/login")
	kari.post(t, "/console/login", url.Values{"email": {"kari@agency.example"}, "password": {string(m[1])}}).wantRedirect(t, "/console/")
	kari.get(t, "/console/").wantRedirect(t, "/console/confirm-email") // the address first
	kari.post(t, "/console/confirm-email", url.Values{"code": {e.requestCode(t, "kari@agency.example")}}).wantRedirect(t, "/console/")
	kari.get(t, "/console/").wantRedirect(t, "/console/password")

	var users struct {
		Items []*skjold.User `json:"items"`
	}
	e.do(t, e.a.token, "GET", "/api/v1/users?limit=100", nil).want(t, 200).decode(t, &users)
	var kariID string
	for _, u := range users.Items {
		if u.Email == "kari@agency.example" {
			kariID = u.ID
			if u.AccessUntil == nil || u.AccessUntil.Format("2006-01-02") != "2031-06-30" {
				t.Errorf("offboarding date %v", u.AccessUntil)
			}
		}
	}
	c.post(t, "/console/users/"+kariID+"/suspend", url.Values{"suspend": {"true"}}).wantRedirect(t, "/console/users")
	wantText(t, c.get(t, "/console/users?m=user_suspended"), "The account is suspended", "Suspended")

	c.post(t, "/console/users/"+admin.user.ID+"/two-factor-reset", url.Values{}).wantRedirect(t, "/console/users")
	var approvals struct {
		Items []*skjold.Approval `json:"items"`
	}
	e.do(t, admin.session, "GET", "/api/v1/approvals", nil).want(t, 200).decode(t, &approvals)
	if len(approvals.Items) != 1 || approvals.Items[0].Action != skjold.ActionTwoFactorReset || approvals.Items[0].Status != "pending" {
		t.Errorf("approvals after the reset: %s", mustJSONString(t, approvals.Items))
	}
	// Another tenant's user is missing here.
	userB := e.activeStaff(t, e.b.id, skjold.RoleAgent, "")
	c.post(t, "/console/users/"+userB.user.ID+"/suspend", url.Values{"suspend": {"true"}}).want(t, 404)
}

// TestConsoleAuditPage filters the audit page by action and actor and checks that only
// those who may verify the chain see its verification.
func TestConsoleAuditPage(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "birth_date": "1980-05-17"})
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	ac := e.consoleClient(t)
	ac.login(t, agent)
	ac.post(t, "/console/subjects/"+sub.ID+"/reveal", url.Values{"purpose": {"credit_check"}}).want(t, 200)

	auditor := e.activeStaff(t, e.a.id, skjold.RoleAuditor, "")
	c := e.consoleClient(t)
	c.login(t, auditor)
	all := c.get(t, "/console/audit").want(t, 200)
	checkPage(t, all)
	wantText(t, all, "Audit log", "subject.create", "subject.read", "credit_check")
	if strings.Contains(text(all.body), "Chain verification") {
		t.Error("a tenant's auditor sees the chain verification, which is the operator's")
	}
	reads := c.post(t, "/console/audit", url.Values{"action": {"subject.read"}, "actor": {"user:" + agent.user.ID}}).want(t, 200)
	checkPage(t, reads)
	wantText(t, reads, "subject.read", "credit_check")
	if strings.Contains(text(reads.body), "subject.create") {
		t.Error("the filter by action let other actions through")
	}
	bad := c.post(t, "/console/audit", url.Values{"action": {"Not An Action"}, "since": {"yesterday"}}).want(t, 400)
	wantText(t, bad, "Enter a date as YYYY-MM-DD.")
	later := c.post(t, "/console/audit", url.Values{"since": {"2999-01-01"}}).want(t, 200)
	wantText(t, later, "No events match.")

	op := e.activeStaff(t, "", skjold.RoleSupport, "")
	oc := e.consoleClient(t)
	oc.login(t, op)
	wantText(t, oc.get(t, "/console/audit").want(t, 200), "Chain verification", "The audit chain is intact")
}

// TestAuditAPIFilters checks GET /api/v1/audit's actor, action, since and until.
func TestAuditAPIFilters(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+sub.ID, nil).want(t, 200)
	var out struct {
		Items []*skjold.AuditEvent `json:"items"`
	}
	e.do(t, e.a.token, "GET", "/api/v1/audit?action=subject.read", nil).want(t, 200).decode(t, &out)
	if len(out.Items) != 1 || out.Items[0].Action != "subject.read" {
		t.Errorf("action filter: %s", mustJSONString(t, out.Items))
	}
	actor := out.Items[0].Actor
	e.do(t, e.a.token, "GET", "/api/v1/audit?actor="+url.QueryEscape(actor)+"&action=subject.create", nil).want(t, 200).decode(t, &out)
	if len(out.Items) != 1 || out.Items[0].Actor != actor {
		t.Errorf("actor filter: %s", mustJSONString(t, out.Items))
	}
	e.do(t, e.a.token, "GET", "/api/v1/audit?since=2999-01-01T00:00:00Z", nil).want(t, 200).decode(t, &out)
	if len(out.Items) != 0 {
		t.Errorf("since filter: %s", mustJSONString(t, out.Items))
	}
	e.do(t, e.a.token, "GET", "/api/v1/audit?until=yesterday", nil).wantError(t, 400, skjold.EINVALID)
	e.do(t, e.a.token, "GET", "/api/v1/audit?action=Not%20One", nil).wantError(t, 400, skjold.EINVALID)
}
