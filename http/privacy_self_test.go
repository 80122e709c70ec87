package http

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// The subject's own view on the privacy center, through real HTTP on SQLite (the store side
// runs on both engines in internal/storetest's TestPrivacySelf).

var selfLoginID = regexp.MustCompile(`name="id" value="([^"]*)"`)

// selfLogin logs the subject with addr in on tenant A's privacy center and returns the reply
// to the code.
func (c *consoleClient) selfLogin(t *testing.T, addr string) *reply {
	t.Helper()
	c.get(t, "/p/tenant-a/me").want(t, 200)
	r := c.pcPost(t, "tenant-a", "me/login", url.Values{"email": {addr}}).want(t, 200)
	id := string(selfLoginID.FindSubmatch(r.body)[1])
	return c.pcPost(t, "tenant-a", "me/verify", url.Values{"id": {id}, "code": {c.e.requestCode(t, addr)}})
}

// selfSetup gives tenant A a consent purpose, a category with a purpose-bound field, and a
// subject with a record and the consent granted.
func selfSetup(t *testing.T, e *env) *skjold.Subject {
	t.Helper()
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/newsletter", map[string]any{"legal_basis": "consent",
		"description": "Our monthly newsletter", "notice": "We send you our letter once a month."}).want(t, 200)
	e.do(t, e.a.token, "PUT", "/api/v1/categories/booking", map[string]any{"legal_basis": "contract", "purposes": []string{"contract"},
		"description": "Bookings", "retention": map[string]string{"period": "P2Y", "from": "created"},
		"fields": []map[string]any{{"name": "trip", "type": "string", "description": "Trip"},
			{"name": "diet_needs", "type": "string", "purposes": []string{"catering"}}}}).want(t, 201)
	s := e.requestSubject(t, e.a.token)
	e.do(t, e.a.token, "POST", "/api/v1/subjects/"+s.ID+"/records", map[string]any{"category": "booking",
		"data": map[string]any{"trip": "Lofoten in May", "diet_needs": "Vegan"}}).want(t, 201)
	e.do(t, e.a.token, "POST", "/api/v1/subjects/"+s.ID+"/consents", map[string]any{"purpose": "newsletter", "granted": true}).want(t, 201)
	return s
}

// TestPrivacySelfLogin checks the code login: a known and an unknown address get the same
// page and status, only the address on file gets a code; a wrong code is refused; the right
// one sets a __Host- session cookie and shows the subject's data whole, with categories and
// fields by their labels; the session ends at logout and after 15 minutes.
func TestPrivacySelfLogin(t *testing.T) {
	e := newEnv(t)
	s := selfSetup(t, e)
	c := e.consoleClient(t)
	c.get(t, "/p/tenant-a/me").want(t, 200)
	audit := e.auditLength(t)
	unknown := c.pcPost(t, "tenant-a", "me/login", url.Values{"email": {"nobody-here@example.com"}}).want(t, 200)
	if e.auditLength(t) != audit {
		t.Error("an unknown address left an audit event")
	}
	known := c.pcPost(t, "tenant-a", "me/login", url.Values{"email": {s.Email}}).want(t, 200)
	strip := func(r *reply) string { return selfLoginID.ReplaceAllString(string(r.body), "") }
	if strip(unknown) != strip(known) {
		t.Errorf("the answers differ:\n%s\n---\n%s", unknown.body, known.body)
	}
	pcCheckPage(t, known)
	id := string(selfLoginID.FindSubmatch(known.body)[1])
	code := e.requestCode(t, s.Email)
	// the same work: neither answer takes several times as long as the other (fastest of
	// three, with a margin for a busy machine)
	var tookUnknown, tookKnown time.Duration
	for i := range 3 {
		start := time.Now()
		c.pcPost(t, "tenant-a", "me/login", url.Values{"email": {"nobody-here@example.com"}}).want(t, 200)
		if d := time.Since(start); i == 0 || d < tookUnknown {
			tookUnknown = d
		}
		other := e.requestSubject(t, e.a.token)
		start = time.Now()
		c.pcPost(t, "tenant-a", "me/login", url.Values{"email": {other.Email}}).want(t, 200)
		if d := time.Since(start); i == 0 || d < tookKnown {
			tookKnown = d
		}
		e.mailTo(t, other.Email)
	}
	if tookUnknown > 4*tookKnown+20*time.Millisecond || tookKnown > 4*tookUnknown+20*time.Millisecond {
		t.Errorf("unknown took %v, known %v", tookUnknown, tookKnown)
	}
	t.Logf("fastest answers: unknown %v, known %v", tookUnknown, tookKnown)
	c.pcPost(t, "tenant-a", "me/verify", url.Values{"id": {string(selfLoginID.FindSubmatch(unknown.body)[1])}, "code": {code}}).want(t, 401)
	wantText(t, c.pcPost(t, "tenant-a", "me/verify", url.Values{"id": {id}, "code": {wrongCode(code)}}).want(t, 401), "The code is wrong")
	c.get(t, "/p/tenant-a/me/consents").wantRedirect(t, "/p/tenant-a/me")
	ok := c.pcPost(t, "tenant-a", "me/verify", url.Values{"id": {id}, "code": {code}}).wantRedirect(t, "/p/tenant-a/me")
	ck := ok.header.Get("Set-Cookie")
	for _, want := range []string{"__Host-skjold_me=skjold_me_", "Path=/;", "Max-Age=900", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(ck, want) {
			t.Errorf("session cookie %q lacks %q", ck, want)
		}
	}
	if strings.Contains(ck, "Domain") {
		t.Errorf("a __Host- cookie with a domain: %q", ck)
	}
	page := c.get(t, "/p/tenant-a/me").want(t, 200)
	pcCheckPage(t, page)
	wantText(t, page, "The data held about you", s.Email, "Rita Rask", "Bookings", "Trip", "Lofoten in May", "Diet needs", "Vegan", "Log out")
	if strings.Contains(string(page.body), "<h2>booking</h2>") {
		t.Error("a category is shown by its raw name")
	}
	c.pcPost(t, "tenant-a", "me/logout", url.Values{}).wantRedirect(t, "/p/tenant-a/me")
	wantText(t, c.get(t, "/p/tenant-a/me").want(t, 200), "Send me a code")

	c.selfLogin(t, s.Email).wantRedirect(t, "/p/tenant-a/me")
	wantText(t, c.get(t, "/p/tenant-a/me").want(t, 200), "Lofoten in May")
	e.clock.Advance(15 * time.Minute)
	if r := c.get(t, "/p/tenant-a/me").want(t, 200); strings.Contains(string(r.body), "Lofoten") {
		t.Error("the session outlived 15 minutes")
	}
	// another tenant's privacy center does not know this session
	c.selfLogin(t, s.Email).wantRedirect(t, "/p/tenant-a/me")
	wantText(t, c.get(t, "/p/tenant-b/me").want(t, 200), "Send me a code")
	c.pcPost(t, "tenant-b", "me/consents", url.Values{"purpose": {"newsletter"}, "action": {"withdraw"}}).want(t, 403)
}

// TestPrivacySelfWithdrawal checks that a consent withdrawn on the subject's page takes
// effect at once: the API then refuses to read the subject for that purpose; the event
// names the subject as the actor; a granted consent shows the notice text agreed to.
func TestPrivacySelfWithdrawal(t *testing.T) {
	e := newEnv(t)
	s := selfSetup(t, e)
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID+"?purpose=newsletter", nil).want(t, 200)
	c := e.consoleClient(t)
	c.selfLogin(t, s.Email).wantRedirect(t, "/p/tenant-a/me")
	page := c.get(t, "/p/tenant-a/me/consents").want(t, 200)
	pcCheckPage(t, page)
	wantText(t, page, "Our monthly newsletter", "You have given your consent", "We send you our letter once a month.", "Withdraw my consent")
	c.pcPost(t, "tenant-a", "me/consents", url.Values{"purpose": {"no_such"}, "action": {"withdraw"}}).want(t, 422)
	c.pcPost(t, "tenant-a", "me/consents", url.Values{"purpose": {"newsletter"}, "action": {"withdraw"}, "csrf": {"wrong"}}).want(t, 403)
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID+"?purpose=newsletter", nil).want(t, 200)
	c.pcPost(t, "tenant-a", "me/consents", url.Values{"purpose": {"newsletter"}, "action": {"withdraw"}}).
		wantRedirect(t, "/p/tenant-a/me/consents")
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID+"?purpose=newsletter", nil).want(t, 403)
	wantText(t, c.get(t, "/p/tenant-a/me/consents?done=withdraw").want(t, 200), "Your consent is withdrawn", "You have withdrawn your consent", "Give my consent")
	var events struct {
		Events []skjold.AuditEvent `json:"items"`
	}
	e.do(t, e.a.token, "GET", "/api/v1/audit?subject_id="+s.ID+"&action=consent.withdraw", nil).want(t, 200).decode(t, &events)
	if len(events.Events) != 1 || events.Events[0].Actor != "subject:"+s.ID {
		t.Errorf("withdrawal events: %+v", events.Events)
	}
	c.pcPost(t, "tenant-a", "me/consents", url.Values{"purpose": {"newsletter"}, "action": {"grant"}}).wantRedirect(t, "/p/tenant-a/me/consents")
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID+"?purpose=newsletter", nil).want(t, 200)

	// a subject whose processing is restricted still sees their data and consents, may
	// withdraw, and is offered no grant (the API would refuse it)
	e.do(t, e.a.token, "PUT", "/api/v1/subjects/"+s.ID+"/restriction", nil).want(t, 204)
	wantText(t, c.get(t, "/p/tenant-a/me").want(t, 200), "Lofoten in May")
	wantText(t, c.get(t, "/p/tenant-a/me/consents").want(t, 200), "Withdraw my consent")
	c.pcPost(t, "tenant-a", "me/consents", url.Values{"purpose": {"newsletter"}, "action": {"withdraw"}}).wantRedirect(t, "/p/tenant-a/me/consents")
	if r := c.get(t, "/p/tenant-a/me/consents").want(t, 200); strings.Contains(string(r.body), "Give my consent") {
		t.Error("a restricted subject is offered a grant")
	}
	wantText(t, c.pcPost(t, "tenant-a", "me/consents", url.Values{"purpose": {"newsletter"}, "action": {"grant"}}).want(t, 409),
		"paused")
}

// TestPrivacySelfAccessList checks "who accessed my data": a staff member's read through the
// console with a purpose is listed with the purpose, the fields and the staff member's role,
// never their name or e-mail, and no personal value; the subject's own acts are not listed;
// the list pages newest first.
func TestPrivacySelfAccessList(t *testing.T) {
	e := newEnv(t)
	s := selfSetup(t, e)
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	sc := e.consoleClient(t)
	sc.login(t, agent)
	sc.post(t, "/console/subjects/"+s.ID+"/reveal", url.Values{"purpose": {"newsletter"}}).want(t, 200)
	c := e.consoleClient(t)
	c.selfLogin(t, s.Email).wantRedirect(t, "/p/tenant-a/me")
	c.get(t, "/p/tenant-a/me").want(t, 200) // the subject's own read: not listed
	page := c.get(t, "/p/tenant-a/me/access").want(t, 200)
	pcCheckPage(t, page)
	wantText(t, page, "Who accessed your data", "Tenant A: Agent", "Read", "Our monthly newsletter", "E-mail address, Name", "Tenant A: a connected system")
	body := string(page.body)
	for _, leak := range []string{agent.user.Name, agent.user.Email, s.Email, "Lofoten", "You</td>"} {
		if strings.Contains(body, leak) {
			t.Errorf("the access list shows %q", leak)
		}
	}
	if strings.Index(body, "Tenant A: Agent") > strings.Index(body, "Tenant A: a connected system") {
		t.Error("the list is not newest first")
	}
	old := selfAccessPage
	selfAccessPage = 2
	t.Cleanup(func() { selfAccessPage = old })
	first := c.get(t, "/p/tenant-a/me/access").want(t, 200)
	next := regexp.MustCompile(`href="(/p/tenant-a/me/access\?before=\d+)"`).FindSubmatch(first.body)
	if next == nil {
		t.Fatalf("no link to older entries: %s", first.body)
	}
	wantText(t, c.get(t, string(next[1])).want(t, 200), "Newest entries")
}

// TestPrivacySelfLoginBySMS: a subject with only a phone number on file gets the login code by
// SMS, and an unknown number gets the same page and no message.
func TestPrivacySelfLoginBySMS(t *testing.T) {
	e := newEnv(t)
	e.createSubject(t, e.a.token, map[string]string{"name": "Per", "phone": "+47 400 00 003"})
	c := e.consoleClient(t)
	c.get(t, "/p/tenant-a/me").want(t, 200)
	unknown := c.pcPost(t, "tenant-a", "me/login", url.Values{"phone": {"+47 400 00 098"}}).want(t, 200)
	known := c.pcPost(t, "tenant-a", "me/login", url.Values{"phone": {"+47 400 00 003"}}).want(t, 200)
	if strip := func(r *reply) string { return selfLoginID.ReplaceAllString(string(r.body), "") }; strip(unknown) != strip(known) {
		t.Errorf("the answers differ:\n%s\n---\n%s", unknown.body, known.body)
	}
	var texts []string
	for deadline := time.Now().Add(10 * time.Second); len(texts) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		texts = smsFiles(t, e, "+4740000003")
	}
	if len(texts) != 1 || !strings.Contains(texts[0], "Tenant A") {
		t.Fatalf("SMS outbox: %q", texts)
	}
	if n := len(smsFiles(t, e, "+4740000098")); n != 0 {
		t.Error("an unknown number got a message")
	}
	code := regexp.MustCompile(`\d{8}`).FindString(texts[0])
	id := string(selfLoginID.FindSubmatch(known.body)[1])
	r := c.pcPost(t, "tenant-a", "me/verify", url.Values{"id": {id}, "code": {code}})
	if r.status != 303 || !strings.Contains(r.header.Get("Location"), "/p/tenant-a/me") {
		t.Fatalf("verify with the SMS code: %d %s", r.status, r.header.Get("Location"))
	}
}
