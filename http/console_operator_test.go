package http

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// The operator pages' requests for the route × caller matrix (TestConsoleAuthorization).
// Each is harmless when it succeeds: a new tenant, a freeze that waits for a second person,
// a ban of a documentation address, an empty block list, a backup.
func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		get := func(path string) consoleBuild {
			return func(*testing.T, *consoleCaller, object) consoleCall { return consoleCall{path: path} }
		}
		post := func(path string, form url.Values, refusals ...int) consoleBuild {
			return func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: path, form: form, refusals: refusals}
			}
		}
		tenantA := "/console/operator/tenants/" + e.a.id
		until := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
		return map[string]consoleBuild{
			"GET /console/operator/tenants":                      get("/console/operator/tenants"),
			"POST /console/operator/tenants":                     post("/console/operator/tenants", url.Values{"name": {"Matrix AS"}}),
			"GET /console/operator/tenants/{tenant}":             get(tenantA),
			"POST /console/operator/tenants/{tenant}/freeze":     post(tenantA+"/freeze", url.Values{"until": {until}}, 409),
			"POST /console/operator/tenants/{tenant}/reactivate": post(tenantA+"/reactivate", url.Values{}, 409),
			"POST /console/operator/tenants/{tenant}/terminate":  post(tenantA+"/terminate", url.Values{"confirm": {"not the name"}}, 400),
			"GET /console/operator/grants":                       get("/console/operator/grants"),
			"POST /console/operator/grants/{grant}/revoke":       post("/console/operator/grants/"+missingID+"/revoke", url.Values{}, 404),
			"POST /console/operator/grants/{grant}/enter":        post("/console/operator/grants/"+missingID+"/enter", url.Values{}, 404),
			"POST /console/operator/leave":                       post("/console/operator/leave", url.Values{}),
			"GET /console/operator/network":                      get("/console/operator/network"),
			"POST /console/operator/bans":                        post("/console/operator/bans", url.Values{"addr": {"203.0.113.77"}, "hours": {"1"}}),
			"POST /console/operator/bans/lift":                   post("/console/operator/bans/lift", url.Values{"addr": {"203.0.113.250"}}, 404),
			"POST /console/operator/blocklist":                   post("/console/operator/blocklist", url.Values{"text": {""}}),
			"GET /console/operator/backups":                      get("/console/operator/backups"),
			"POST /console/operator/backups":                     post("/console/operator/backups", url.Values{}),
			"POST /console/operator/backups/verify":              post("/console/operator/backups/verify", url.Values{"id": {"nope"}}, 404),
			"GET /console/operator/staff":                        get("/console/operator/staff"),
			"GET /console/operator/health":                       get("/console/operator/health"),
		}
	})
}

// operatorConsole logs an operator person of role in through the console's forms.
func (e *env) operatorConsole(t *testing.T, role string) (*consoleClient, *staff) {
	t.Helper()
	s := e.activeStaff(t, "", role, "")
	c := e.consoleClient(t)
	c.login(t, s)
	return c, s
}

// fieldError returns the message shown next to field, or "".
func fieldError(r *reply, field string) string {
	m := regexp.MustCompile(`<p class="field-error" id="` + field + `-error">([^<]*)</p>`).FindSubmatch(r.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(string(m[1]))
}

func wantFieldError(t *testing.T, r *reply, field, want string) {
	t.Helper()
	if got := fieldError(r, field); !strings.Contains(got, want) {
		t.Errorf("%s %s: error next to %s is %q, want %q; page: %.800s", r.method, r.path, field, got, want, text(r.body))
	}
}

// TestConsoleOperatorTenants walks a tenant's life through the console: created (the first
// API key shown once), a freeze filed and approved by a second person, reactivated, and a
// termination filed; every refused form says why next to its field and changes nothing.
func TestConsoleOperatorTenants(t *testing.T) {
	e := newEnv(t)
	c, _ := e.operatorConsole(t, skjold.RoleOwner)
	second := e.activeStaff(t, "", skjold.RoleAdmin, "")

	before := e.auditLength(t)
	r := c.post(t, "/console/operator/tenants", url.Values{"name": {"  "}}).want(t, 400)
	wantFieldError(t, r, "name", "Fill in this field.")
	r = c.post(t, "/console/operator/tenants", url.Values{"name": {strings.Repeat("x", 201)}}).want(t, 400)
	wantFieldError(t, r, "name", "at most 200 characters")
	if n := e.auditLength(t); n != before {
		t.Errorf("refused tenant forms changed the audit chain from %d to %d events", before, n)
	}

	c.post(t, "/console/operator/tenants", url.Values{"name": {"Forged AS"}, "csrf": {"forged"}}).want(t, 403)
	if n := e.auditLength(t); n != before {
		t.Errorf("refused tenant forms changed the audit chain from %d to %d events", before, n)
	}
	r = c.post(t, "/console/operator/tenants", url.Values{"name": {"Fjord Travel AS"}}).want(t, 201)
	wantText(t, r, "Fjord Travel AS is created", "shown only this once")
	if !regexp.MustCompile(`<code>skjold_[A-Za-z0-9_-]{20,}</code>`).Match(r.body) {
		t.Errorf("no API key on the page after creating the tenant: %.600s", text(r.body))
	}
	m := regexp.MustCompile(`href="/console/operator/tenants/([0-9a-f-]{36})"`).FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("no link to the new tenant: %s", r.body)
	}
	id := string(m[1])
	page := "/console/operator/tenants/" + id
	r = c.get(t, "/console/operator/tenants").want(t, 200)
	wantText(t, r, "Fjord Travel AS", "Active")
	if strings.Contains(text(r.body), "Forged AS") {
		t.Error("a form with a forged CSRF token created a tenant")
	}

	// A freeze needs an end date in the future, within two years.
	for _, bad := range []struct{ until, want string }{
		{"", "Fill in this field."},
		{"5.12.2026", "Enter a date."},
		{"2001-01-01", "Choose a date after today."},
		{time.Now().AddDate(3, 0, 0).Format(time.DateOnly), "at most two years"},
	} {
		r = c.post(t, page+"/freeze", url.Values{"until": {bad.until}}).want(t, 400)
		wantFieldError(t, r, "until", bad.want)
	}
	until := time.Now().AddDate(0, 2, 0).Format(time.DateOnly)
	c.post(t, page+"/freeze", url.Values{"until": {until}}).wantRedirect(t, page+"?m=op_freeze_filed")
	r = c.get(t, page+"?m=op_freeze_filed").want(t, 200)
	wantText(t, r, "A second operator person must approve it", "Waiting for a second person", "Freeze")
	wantText(t, r, "Active") // not frozen before the second person approves
	if strings.Contains(string(r.body), `action="`+page+`/freeze"`) {
		t.Error("a freeze is offered again while one waits for approval")
	}

	// The second person approves through the API; the page shows the freeze and its end.
	var list struct{ Items []*skjold.Approval }
	e.keepAlive(t, second)
	e.do(t, second.session, "GET", "/api/v1/approvals", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Action != skjold.ActionTenantFreeze || list.Items[0].Target != id {
		t.Fatalf("approvals after the console's freeze: %+v", list.Items)
	}
	e.do(t, second.session, "POST", "/api/v1/approvals/"+list.Items[0].ID+"/approve", nil).want(t, 200)
	r = c.get(t, page).want(t, 200)
	wantText(t, r, "Frozen", "Frozen until", "Reactivate the tenant")

	// Frozen: a second freeze is refused with the page's own explanation.
	c.post(t, page+"/reactivate", url.Values{}).wantRedirect(t, page+"?m=op_reactivated")
	wantText(t, c.get(t, page+"?m=op_reactivated").want(t, 200), "The tenant is active again.", "Freeze the tenant")
	r = c.post(t, page+"/reactivate", url.Values{}).want(t, 409)
	wantText(t, r, "Only a frozen tenant can be reactivated.")

	// Termination: the name must be typed; then it waits for a second person.
	r = c.post(t, page+"/terminate", url.Values{"confirm": {"Fjord"}}).want(t, 400)
	wantFieldError(t, r, "confirm", "Type the tenant's name exactly")
	c.post(t, page+"/terminate", url.Values{"confirm": {"Fjord Travel AS"}}).wantRedirect(t, page+"?m=op_termination_filed")
	wantText(t, c.get(t, page).want(t, 200), "Termination", "Active")

	// Approved, the tenant is gone and its deletion certificate is shown.
	e.do(t, second.session, "GET", "/api/v1/approvals", nil).want(t, 200).decode(t, &list)
	for _, a := range list.Items {
		if a.Status == skjold.ApprovalPending && a.Action == skjold.ActionTenantDeletion {
			e.do(t, second.session, "POST", "/api/v1/approvals/"+a.ID+"/approve", nil).want(t, 200)
		}
	}
	r = c.get(t, page).want(t, 200)
	wantText(t, r, "Terminated", "Deletion certificate", "Certificate checksum")
	if strings.Contains(string(r.body), `action="`+page+`/terminate"`) {
		t.Error("a terminated tenant still offers termination")
	}
	c.get(t, "/console/operator/tenants/"+missingID).want(t, 404)
}

// TestConsoleOperatorWorkInTenant has operator support work in tenant A under a live grant:
// a banner on every page names the tenant and the grant's end, the operator pages close
// while inside, and the moment the grant is revoked the banner and the access end. A cookie
// naming a tenant without a grant gives nothing.
func TestConsoleOperatorWorkInTenant(t *testing.T) {
	e := newEnv(t)
	c, support := e.operatorConsole(t, skjold.RoleSupport)
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")

	r := c.get(t, "/console/operator/grants").want(t, 200)
	wantText(t, r, "You hold no live grant.", support.user.ID)
	grant := e.grant(t, admin, support.user.ID)
	r = c.get(t, "/console/operator/grants").want(t, 200)
	wantText(t, r, "Tenant A", "ticket 42", "Work in this tenant")

	c.post(t, "/console/operator/grants/"+grant+"/enter", url.Values{}).wantRedirect(t, "/console/")
	if got := c.cookie(workCookie); got != e.a.id {
		t.Fatalf("work cookie %q, want tenant A's id", got)
	}
	r = c.get(t, "/console/").want(t, 200)
	wantText(t, r, "You are working in Tenant A under a support grant until", "Leave the tenant")
	if strings.Contains(string(r.body), `href="/console/operator/tenants"`) {
		t.Error("the operator's menu is shown while working in a tenant")
	}
	c.get(t, "/console/operator/tenants").want(t, 403) // inside a tenant, one is no operator caller
	wantText(t, c.get(t, "/console/sessions").want(t, 200), "You are working in Tenant A")

	// The tenant revokes the grant: the next page has no banner and the cookie is gone.
	e.keepAlive(t, admin)
	e.do(t, admin.session, "DELETE", "/api/v1/grants/"+grant, nil).want(t, 204)
	r = c.get(t, "/console/").want(t, 200)
	if strings.Contains(text(r.body), "You are working in") {
		t.Error("the banner stays after the grant was revoked")
	}
	if c.cookie(workCookie) != "" {
		t.Error("the work cookie stays after the grant was revoked")
	}
	c.get(t, "/console/operator/tenants").want(t, 200) // back on the operator's side
	r = c.post(t, "/console/operator/grants/"+grant+"/enter", url.Values{}).want(t, 403)
	wantText(t, r, "This grant has ended")

	// A cookie naming tenant B, which granted nothing, opens nothing there.
	u, _ := url.Parse(e.srv.URL + "/console/")
	c.client.Jar.SetCookies(u, []*http.Cookie{{Name: workCookie, Value: e.b.id, Path: "/console/"}})
	r = c.get(t, "/console/").want(t, 200)
	if strings.Contains(text(r.body), "You are working in") || c.cookie(workCookie) != "" {
		t.Error("a work cookie without a grant was honoured")
	}

	// Leaving ends the work on request.
	grant = e.grant(t, admin, support.user.ID)
	c.post(t, "/console/operator/grants/"+grant+"/enter", url.Values{}).wantRedirect(t, "/console/")
	c.post(t, "/console/operator/leave", url.Values{}).wantRedirect(t, "/console/?m=op_left")
	r = c.get(t, "/console/?m=op_left").want(t, 200)
	wantText(t, r, "You left the tenant.")
	if strings.Contains(text(r.body), "You are working in") {
		t.Error("the banner stays after leaving")
	}
	c.post(t, "/console/operator/grants/"+grant+"/revoke", url.Values{}).wantRedirect(t, "/console/operator/grants")
	wantText(t, c.get(t, "/console/operator/grants").want(t, 200), "You hold no live grant.", "ended early")
}

// TestConsoleOperatorNetwork bans an address and lifts the ban, and edits the block list;
// bad input is refused next to its field, and one's own address cannot be banned.
func TestConsoleOperatorNetwork(t *testing.T) {
	e := newEnv(t)
	c, s := e.operatorConsole(t, skjold.RoleAdmin)
	before := e.auditLength(t)
	for _, bad := range []struct{ addr, hours, field, want string }{
		{"", "1", "addr", "Fill in this field."},
		{"example.com", "1", "addr", "Enter an IP address"},
		{"198.51.100.7", "0", "hours", "from 1 to 8784"},
		{"198.51.100.7", "9000", "hours", "from 1 to 8784"},
		{"127.0.0.0/8", "1", "addr", "your own address"},
	} {
		r := c.post(t, "/console/operator/bans", url.Values{"addr": {bad.addr}, "hours": {bad.hours}}).want(t, 400)
		wantFieldError(t, r, bad.field, bad.want)
	}
	if n := e.auditLength(t); n != before {
		t.Errorf("refused bans changed the audit chain from %d to %d events", before, n)
	}
	c.post(t, "/console/operator/bans", url.Values{"addr": {"198.51.100.7"}, "hours": {"2"}}).wantRedirect(t, "/console/operator/network")
	r := c.get(t, "/console/operator/network?m=op_banned").want(t, 200)
	wantText(t, r, "The address is banned.", "198.51.100.7", "Banned by an operator")
	events, err := e.db.FindAuditEvents(operatorContext(), skjold.AuditFilter{After: before})
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Action != "security.ban" || last.Actor != "user:"+s.user.ID {
		t.Errorf("the ban is audited as %s by %s, want security.ban by the operator", last.Action, last.Actor)
	}
	if strings.Contains(e.logs.String(), "198.51.100.7") {
		t.Error("the banned address is in the log")
	}
	c.post(t, "/console/operator/bans/lift", url.Values{"addr": {"198.51.100.7"}}).wantRedirect(t, "/console/operator/network")
	r = c.get(t, "/console/operator/network").want(t, 200)
	wantText(t, r, "No address is banned.")
	r = c.post(t, "/console/operator/bans/lift", url.Values{"addr": {"198.51.100.7"}}).want(t, 404)
	wantText(t, r, "has ended or was already lifted")

	r = c.post(t, "/console/operator/blocklist", url.Values{"text": {"192.0.2.0/24\nnot a range\n"}}).want(t, 400)
	wantFieldError(t, r, "text", "Every line must be an IP address")
	wantText(t, r, "not a range") // the text stays for correcting
	c.post(t, "/console/operator/blocklist", url.Values{"text": {"192.0.2.0/24 # a test range\n"}}).
		wantRedirect(t, "/console/operator/network")
	wantText(t, c.get(t, "/console/operator/network").want(t, 200), "1 ranges are blocked now", "192.0.2.0/24")
}

// TestConsoleOperatorBackups runs a backup from the console, sees it on both targets and
// among the runs with its duration, and verifies it.
func TestConsoleOperatorBackups(t *testing.T) {
	e := newEnv(t)
	c, _ := e.operatorConsole(t, skjold.RoleOwner)
	wantText(t, c.get(t, "/console/operator/backups").want(t, 200), "No backup has run yet.")
	r := c.post(t, "/console/operator/backups", url.Values{}).want(t, 201)
	m := regexp.MustCompile(`Backup (\S+) is made\.`).FindStringSubmatch(text(r.body))
	if m == nil {
		t.Fatalf("no backup made: %.800s", text(r.body))
	}
	id := m[1]
	wantText(t, r, "backups-a", "backups-b", "Backup started by hand", "Succeeded")
	if !regexp.MustCompile(`\d+([.,]\d+)? s`).MatchString(text(r.body)) {
		t.Errorf("no duration shown for the run: %.1200s", text(r.body))
	}
	r = c.post(t, "/console/operator/backups/verify", url.Values{"id": {id}}).want(t, 200)
	wantText(t, r, "Verification of "+id, "Intact")
	if strings.Contains(text(r.body), "Damaged") {
		t.Errorf("a fresh backup verified as damaged: %.800s", text(r.body))
	}
	c.post(t, "/console/operator/backups/verify", url.Values{"id": {"20260101T000000Z-nothing"}}).want(t, 404)

	r = c.get(t, "/console/operator/health").want(t, 200)
	wantText(t, r, "Working", "sqlite", "Schema version", "Last backup", "Succeeded")
	if regexp.MustCompile(`Audit chain (\d[\d, ]*) events`).FindString(text(r.body)) == "" {
		t.Errorf("no audit chain length on the health page: %.1200s", text(r.body))
	}
	if regexp.MustCompile(`Schema version \d+`).FindString(text(r.body)) == "" {
		t.Errorf("no schema version on the health page: %.1200s", text(r.body))
	}
}

// TestConsoleOperatorStaff lists the operator's staff for those who manage staff; support
// staff, without that scope, are refused.
func TestConsoleOperatorStaff(t *testing.T) {
	e := newEnv(t)
	c, s := e.operatorConsole(t, skjold.RoleOwner)
	r := c.get(t, "/console/operator/staff").want(t, 200)
	wantText(t, r, s.user.Name, "Operator owner", "Not recorded", "Two-step login")
	sup, _ := e.operatorConsole(t, skjold.RoleSupport)
	sup.get(t, "/console/operator/staff").want(t, 403)
	r = sup.get(t, "/console/").want(t, 200)
	if strings.Contains(string(r.body), `href="/console/operator/staff"`) || !strings.Contains(string(r.body), `href="/console/operator/health"`) {
		t.Errorf("support's menu: %.1000s", text(r.body))
	}
	if strings.Contains(string(r.body), e.b.id) {
		t.Error("tenant id on the overview")
	}
}

// TestConsoleOperatorPagesAllLanguages renders every operator page in every language and
// fails on a message key shown raw.
func TestConsoleOperatorPagesAllLanguages(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, "", skjold.RoleOwner, "")
	for _, lang := range i18n.Languages {
		c := e.consoleClient(t)
		c.header.Set("Accept-Language", lang)
		c.login(t, s)
		pages := []*reply{c.post(t, "/console/operator/tenants", url.Values{"name": {"Språk " + lang}}).want(t, 201),
			c.post(t, "/console/operator/bans", url.Values{"addr": {"x"}, "hours": {"1"}}).want(t, 400),
			c.post(t, "/console/operator/backups", url.Values{}).want(t, 201)}
		for _, p := range []string{"tenants", "tenants/" + e.a.id, "grants", "network", "backups", "staff", "health"} {
			pages = append(pages, c.get(t, "/console/operator/"+p).want(t, 200))
		}
		for _, r := range pages {
			checkPage(t, r)
			if b := string(r.body); strings.Contains(b, "[[") || !strings.Contains(b, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: raw key or wrong language:\n%s", lang, r.path, text(r.body))
			}
		}
	}
}
