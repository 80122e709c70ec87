package http

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// The console's configuration and people pages: requests for the route × caller matrix,
// and what an administrator sees and is refused on each page.

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
		// fresh makes a new object for every request: one of tenant A, one of tenant B, or
		// none. The operator sees every tenant's tokens, so for its callers "another's"
		// object is a missing one.
		fresh := func(prefix, suffix string, newA, newB func(t *testing.T) string) consoleBuild {
			return func(t *testing.T, c *consoleCaller, o object) consoleCall {
				id := missingID
				switch {
				case o == own:
					id = newA(t)
				case o == other && !c.op:
					id = newB(t)
				}
				return consoleCall{path: prefix + id + suffix, form: url.Values{}}
			}
		}
		tokenOf := func(tenantID string) func(t *testing.T) string {
			return func(t *testing.T) string {
				tok := &skjold.Token{Name: "doomed", TenantID: tenantID, Scopes: []string{skjold.ScopeRead}}
				if err := e.db.CreateToken(localContext(), tok); err != nil {
					t.Fatal(err)
				}
				return tok.ID
			}
		}
		set := skjold.DefaultSessionSettings()
		p := set.Password
		subject := e.createSubject(t, e.a.token, map[string]string{"name": "Cora", "email": "cora@example.com"})
		n := 0
		return map[string]consoleBuild{
			"GET /console/settings": get("/console/settings"),
			"POST /console/settings/session": post("/console/settings/session", url.Values{
				"min_length": {strconv.Itoa(p.MinLength)}, "classes": {strconv.Itoa(p.Classes)},
				"max_age_days": {strconv.Itoa(p.MaxAgeDays)}, "history": {strconv.Itoa(p.History)},
				"idle_minutes": {strconv.Itoa(set.IdleMinutes)}, "session_hours": {strconv.Itoa(set.SessionHours)}}),
			"POST /console/settings/networks":  post("/console/settings/networks", url.Values{"allowed_networks": {""}}),
			"POST /console/settings/privacy":   post("/console/settings/privacy", url.Values{"controller": {"Fjord Travel AS"}}),
			"POST /console/settings/four-eyes": post("/console/settings/four-eyes", url.Values{"four_eyes": set.FourEyes}),
			"GET /console/holds":               get("/console/holds"),
			"POST /console/holds":              post("/console/holds", url.Values{"reason": {"audit of 2026"}, "category": {"invoice"}}),
			"POST /console/holds/{id}/release": fresh("/console/holds/", "/release", e.holdOf(e.a.token), e.holdOf(e.b.token)),
			"GET /console/purposes":            get("/console/purposes"),
			"POST /console/purposes": post("/console/purposes", url.Values{"name": {"console_matrix"},
				"legal_basis": {skjold.BasisContract}, "channels": {skjold.ChannelEmail}}),
			"GET /console/contact-check": get("/console/contact-check"),
			"POST /console/contact-check": post("/console/contact-check", url.Values{"subject_id": {subject.ID},
				"purpose": {"newsletter"}, "channel": {skjold.ChannelEmail}}),
			"GET /console/categories": get("/console/categories"),
			"POST /console/categories": post("/console/categories", url.Values{"name": {"console_matrix"},
				"legal_basis": {skjold.BasisContract}, "purposes": {"contract"}, "fields": {"note string"}, "retention_period": {"P1Y"},
				"retention_from": {skjold.RetentionFromCreated}}),
			"POST /console/categories/dry-run": post("/console/categories/dry-run", url.Values{"days": {"30"}}),
			"GET /console/tokens":              get("/console/tokens"),
			"POST /console/tokens": func(_ *testing.T, c *consoleCaller, _ object) consoleCall {
				scope := skjold.ScopeRead
				if c.op {
					scope = skjold.ScopeOperatorRead
				}
				return consoleCall{path: "/console/tokens", form: url.Values{"name": {"matrix"}, "scopes": {scope}}}
			},
			"POST /console/tokens/{id}/revoke": fresh("/console/tokens/", "/revoke", tokenOf(e.a.id), tokenOf(e.b.id)),
			"GET /console/profiles":            get("/console/profiles"),
			"POST /console/profiles": post("/console/profiles", url.Values{"name": {"console_matrix"},
				"scopes": {skjold.ScopeRead}}),
			"POST /console/profiles/{name}/delete": func(t *testing.T, _ *consoleCaller, _ object) consoleCall {
				n++
				name := fmt.Sprintf("doomed_console_%d", n)
				e.createProfile(t, e.a.id, name, skjold.ScopeRead)
				return consoleCall{path: "/console/profiles/" + name + "/delete", form: url.Values{}}
			},
			"GET /console/register":     get("/console/register"),
			"GET /console/register.csv": get("/console/register.csv"),
		}
	})
}

// cfgAdmin logs a new administrator of tenant A into the console.
func (e *env) cfgAdmin(t *testing.T, role string) (*consoleClient, *staff) {
	t.Helper()
	s := e.activeStaff(t, e.a.id, role, "")
	c := e.consoleClient(t)
	c.login(t, s)
	return c, s
}

// cfgFieldError returns the message the page shows next to field, or "".
func cfgFieldError(r *reply, field string) string {
	m := regexp.MustCompile(`<p class="field-error" id="` + regexp.QuoteMeta(field) + `-error">([^<]*)</p>`).FindSubmatch(r.body)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func cfgWantFieldError(t *testing.T, r *reply, field, want string) {
	t.Helper()
	if got := cfgFieldError(r, field); got != want {
		t.Errorf("%s %s: message next to %s = %q, want %q", r.method, r.path, field, got, want)
	}
}

func (e *env) cfgSettings(t *testing.T) *skjold.SessionSettings {
	t.Helper()
	var set skjold.SessionSettings
	e.do(t, e.a.token, "GET", "/api/v1/settings/session", nil).want(t, 200).decode(t, &set)
	return &set
}

// TestConsoleSettings changes the password policy and idle minutes, refuses out-of-range
// values next to their fields without saving anything, asks before an allow list shuts out
// the administrator, and takes actions out of four eyes only through an owner's approval.
func TestConsoleSettings(t *testing.T) {
	e := newEnv(t)
	c, _ := e.cfgAdmin(t, skjold.RoleAdmin)
	page := c.get(t, "/console/settings").want(t, 200)
	wantText(t, page, "Passwords and sessions", "Allowed networks", "Four eyes", "Privacy facts")
	if got := page.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	form := url.Values{"min_length": {"14"}, "classes": {"3"}, "max_age_days": {"0"}, "history": {"5"},
		"idle_minutes": {"0"}, "session_hours": {"12"}}
	r := c.post(t, "/console/settings/session", form).want(t, 400)
	cfgWantFieldError(t, r, "idle_minutes", "Choose between 1 and 240 minutes.")
	if !strings.Contains(string(r.body), `value="14"`) {
		t.Error("the refused form does not show the values entered")
	}
	if set := e.cfgSettings(t); set.Password.MinLength == 14 || set.IdleMinutes == 0 {
		t.Errorf("a refused form changed the settings: %+v", set)
	}
	form.Set("idle_minutes", "abc")
	cfgWantFieldError(t, c.post(t, "/console/settings/session", form).want(t, 400), "idle_minutes", "Enter a whole number.")
	form.Set("idle_minutes", "5")
	forged := url.Values{"csrf": {"forged"}}
	for k, v := range form {
		forged[k] = v
	}
	c.post(t, "/console/settings/session", forged).want(t, 403)
	if set := e.cfgSettings(t); set.IdleMinutes == 5 {
		t.Error("a form without the session's CSRF token changed the settings")
	}
	c.post(t, "/console/settings/session", form).wantRedirect(t, "/console/settings?m=settings_saved")
	set := e.cfgSettings(t)
	if set.Password.MinLength != 14 || set.Password.Classes != 3 || set.Password.History != 5 || set.IdleMinutes != 5 ||
		set.Password.BreachCheck {
		t.Errorf("saved settings = %+v", set)
	}
	wantText(t, c.get(t, "/console/settings?m=settings_saved"), "The settings are saved.")

	// Networks: a bad range is refused at its field; a list without the admin's own address
	// is saved only when confirmed.
	r = c.post(t, "/console/settings/networks", url.Values{"allowed_networks": {"10.0.0.0/33"}}).want(t, 400)
	cfgWantFieldError(t, r, "allowed_networks", "Enter IP addresses or CIDR ranges such as 192.0.2.0/24, one a line.")
	r = c.post(t, "/console/settings/networks", url.Values{"allowed_networks": {"127.0.0.0/8\n192.0.2.0/24"}})
	r.wantRedirect(t, "/console/settings?m=settings_saved")
	if got := e.cfgSettings(t).AllowedNetworks; !slices.Equal(got, []string{"127.0.0.0/8", "192.0.2.0/24"}) {
		t.Errorf("allowed networks = %v", got)
	}
	r = c.post(t, "/console/settings/networks", url.Values{"allowed_networks": {"198.51.100.0/24"}}).want(t, 200)
	wantText(t, r, "is not in this list", "Save and lock myself out")
	if !strings.Contains(string(r.body), `name="confirm" value="yes"`) || !strings.Contains(string(r.body), "198.51.100.0/24") {
		t.Errorf("the warning does not carry the list and the confirmation: %s", text(r.body))
	}
	if got := e.cfgSettings(t).AllowedNetworks; len(got) != 2 {
		t.Errorf("an unconfirmed lock-out was saved: %v", got)
	}

	// Privacy facts.
	c.post(t, "/console/settings/privacy", url.Values{"controller": {"Fjord Travel AS"}, "contact": {"privacy@fjord.example"},
		"supervisory_authority": {"Datatilsynet"}, "recipients": {"Payroll bureau\nAccountant"}, "storage_location": {"Norway"},
		"language": {"nb"}}).
		wantRedirect(t, "/console/settings?m=settings_saved")
	var priv skjold.PrivacyNotice
	e.do(t, e.a.token, "GET", "/api/v1/settings/privacy", nil).want(t, 200).decode(t, &priv)
	if priv.Controller != "Fjord Travel AS" || !slices.Equal(priv.Recipients, []string{"Payroll bureau", "Accountant"}) ||
		priv.Language != "nb" {
		t.Errorf("privacy facts = %+v", priv)
	}
	wantText(t, c.get(t, "/console/settings").want(t, 200), "Norsk bokmål")
	r = c.post(t, "/console/settings/privacy", url.Values{"controller": {"Fjord Travel AS"}, "language": {"de"}}).want(t, 400)
	if !strings.Contains(string(r.body), `id="language-error"`) {
		t.Errorf("a refused e-mail language is not shown at its field: %.800s", text(r.body))
	}

	// Four eyes: an administrator cannot shrink the list; an owner files the reduction, and
	// the action stays guarded until a second person approves.
	keep := slices.DeleteFunc(slices.Clone(skjold.SensitiveActions), func(a string) bool { return a == skjold.ActionBulkExport })
	r = c.post(t, "/console/settings/four-eyes", url.Values{"four_eyes": keep}).want(t, 400)
	cfgWantFieldError(t, r, "four_eyes", "Only an owner can take an action out of four eyes.")
	owner, _ := e.cfgAdmin(t, skjold.RoleOwner)
	owner.post(t, "/console/settings/four-eyes", url.Values{"four_eyes": keep}).
		wantRedirect(t, "/console/settings?m=four_eyes_filed")
	if got := e.cfgSettings(t).FourEyes; !slices.Contains(got, skjold.ActionBulkExport) {
		t.Errorf("one owner took bulk_export out of four eyes alone: %v", got)
	}
	var approvals listBody[*skjold.Approval]
	e.do(t, e.a.token, "GET", "/api/v1/approvals", nil).want(t, 200).decode(t, &approvals)
	filed := slices.ContainsFunc(approvals.Items, func(a *skjold.Approval) bool {
		return a.Action == skjold.ActionFourEyesReduction && a.Target == skjold.ActionBulkExport && a.Status == skjold.ApprovalPending
	})
	if !filed {
		t.Errorf("no pending four_eyes_reduction for bulk_export: %+v", approvals.Items)
	}

	// The confirmed lock-out is saved, and the admin's session is refused from then on.
	c.post(t, "/console/settings/networks", url.Values{"allowed_networks": {"198.51.100.0/24"}, "confirm": {"yes"}}).
		wantRedirect(t, "/console/settings")
	if r := c.get(t, "/console/settings"); r.status == 200 {
		t.Errorf("the locked-out admin still opens the settings")
	}
}

// TestConsoleTokens creates a token whose secret is shown once and works on the API, and
// revokes it.
func TestConsoleTokens(t *testing.T) {
	e := newEnv(t)
	c, _ := e.cfgAdmin(t, skjold.RoleAdmin)
	r := c.post(t, "/console/tokens", url.Values{"name": {"Booking system"}}).want(t, 400)
	cfgWantFieldError(t, r, "scopes", "Choose at least one scope.")
	r = c.post(t, "/console/tokens", url.Values{"name": {"Booking system"}, "scopes": {skjold.ScopeRead}, "expires_at": {"2001-01-01"}}).want(t, 400)
	cfgWantFieldError(t, r, "expires_at", "Choose a date in the future.")
	r = c.post(t, "/console/tokens", url.Values{"name": {"Booking system"}, "scopes": {skjold.ScopeRead}, "expires_at": {"2099-12-31"}}).want(t, 201)
	m := regexp.MustCompile(`<code id="token-secret-value">([^<]+)</code>`).FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("no secret on the answer: %s", text(r.body))
	}
	secret := string(m[1])
	wantText(t, r, "It is shown only this once")
	e.do(t, secret, "GET", "/api/v1/subjects", nil).want(t, 200)
	list := c.get(t, "/console/tokens").want(t, 200)
	if strings.Contains(string(list.body), secret) {
		t.Error("the token list shows the secret again")
	}
	wantText(t, list, "Booking system")
	var tokens listBody[*skjold.Token]
	e.do(t, e.a.token, "GET", "/api/v1/tokens", nil).want(t, 200).decode(t, &tokens)
	i := slices.IndexFunc(tokens.Items, func(tk *skjold.Token) bool { return tk.Name == "Booking system" })
	if i < 0 || tokens.Items[i].ExpiresAt == nil || tokens.Items[i].ExpiresAt.Year() != 2099 {
		t.Fatalf("created token not listed with its expiry: %+v", tokens.Items)
	}
	c.post(t, "/console/tokens/"+tokens.Items[i].ID+"/revoke", nil).wantRedirect(t, "/console/tokens?m=token_revoked")
	e.do(t, secret, "GET", "/api/v1/subjects", nil).want(t, 401)
	wantText(t, c.get(t, "/console/tokens"), "Revoked")

	// A token limited to purposes; one not in the register is refused at its field.
	r = c.post(t, "/console/tokens", url.Values{"name": {"Mailer"}, "scopes": {skjold.ScopeRead}, "purposes": {"nope"}}).want(t, 400)
	cfgWantFieldError(t, r, "purposes", "This purpose is not in your purpose register.")
	c.post(t, "/console/tokens", url.Values{"name": {"Mailer"}, "scopes": {skjold.ScopeRead}, "purposes": {"newsletter"}}).want(t, 201)
	e.do(t, e.a.token, "GET", "/api/v1/tokens", nil).want(t, 200).decode(t, &tokens)
	i = slices.IndexFunc(tokens.Items, func(tk *skjold.Token) bool { return tk.Name == "Mailer" })
	if i < 0 || !slices.Equal(tokens.Items[i].Purposes, []string{"newsletter"}) {
		t.Errorf("purpose-bound token not listed with its purposes: %+v", tokens.Items)
	}
}

// TestConsoleHoldsPurposesCategories places and releases a hold, adds a purpose and starts
// its next notice version, and runs the retention dry run, each refused input shown next
// to its field.
func TestConsoleHoldsPurposesCategories(t *testing.T) {
	e := newEnv(t)
	c, _ := e.cfgAdmin(t, skjold.RoleAdmin)

	r := c.post(t, "/console/holds", url.Values{"reason": {""}, "category": {"invoice"}}).want(t, 400)
	cfgWantFieldError(t, r, "reason", "Say why the data must be kept.")
	r = c.post(t, "/console/holds", url.Values{"reason": {"Tax audit"}, "until": {"2001-02-03"}}).want(t, 400)
	cfgWantFieldError(t, r, "until", "Choose a date in the future.")
	c.post(t, "/console/holds", url.Values{"reason": {"Tax audit"}, "category": {"invoice"}}).wantRedirect(t, "/console/holds?m=hold_placed")
	var holds listBody[*skjold.Hold]
	e.do(t, e.a.token, "GET", "/api/v1/holds", nil).want(t, 200).decode(t, &holds)
	if len(holds.Items) != 1 || holds.Items[0].Reason != "Tax audit" {
		t.Fatalf("holds = %+v", holds.Items)
	}
	wantText(t, c.get(t, "/console/holds"), "Tax audit", "In force")
	c.post(t, "/console/holds/"+holds.Items[0].ID+"/release", nil).wantRedirect(t, "/console/holds?m=hold_released")
	wantText(t, c.get(t, "/console/holds"), "Released")

	r = c.post(t, "/console/purposes", url.Values{"name": {"offers"}, "legal_basis": {skjold.BasisConsent}}).want(t, 400)
	cfgWantFieldError(t, r, "notice", "A purpose based on consent needs the notice people are shown.")
	r = c.post(t, "/console/purposes", url.Values{"name": {"Offers!"}, "legal_basis": {skjold.BasisContract}}).want(t, 400)
	cfgWantFieldError(t, r, "name", "Use small letters, digits and underscores, starting with a letter.")
	for _, notice := range []string{"We send offers monthly.", "We send offers weekly."} {
		c.post(t, "/console/purposes", url.Values{"name": {"offers"}, "legal_basis": {skjold.BasisConsent},
			"notice": {notice}, "channels": {skjold.ChannelEmail}}).wantRedirect(t, "/console/purposes?m=purpose_saved")
	}
	wantText(t, c.get(t, "/console/purposes?edit=offers"), "Version 2", "We send offers weekly.", "Change purpose offers")

	r = c.post(t, "/console/categories/dry-run", url.Values{"days": {"0"}}).want(t, 400)
	cfgWantFieldError(t, r, "days", "Choose between 1 and 366 days.")
	r = c.post(t, "/console/categories", url.Values{"name": {"trips"}, "legal_basis": {skjold.BasisContract}, "purposes": {"contract"},
		"fields": {"destination string required\nstart date"}, "retention_period": {"five years"}, "retention_from": {"created"}}).want(t, 400)
	cfgWantFieldError(t, r, "retention_period", "Enter a period such as P5Y (five years) or P30D (30 days).")
	c.post(t, "/console/categories", url.Values{"name": {"trips"}, "legal_basis": {skjold.BasisContract}, "purposes": {"contract"},
		"fields": {"destination string required\nstart date"}, "retention_period": {"P1D"}, "retention_from": {"created"}}).
		wantRedirect(t, "/console/categories?m=category_saved")
	var cat skjold.Category
	e.do(t, e.a.token, "GET", "/api/v1/categories/trips", nil).want(t, 200).decode(t, &cat)
	if len(cat.Fields) != 2 || !cat.Fields[0].Required || cat.Fields[1].Type != skjold.TypeDate || cat.Retention.Period != "P1D" {
		t.Errorf("category = %+v", cat)
	}
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Dag"})
	e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "trips", "data": map[string]string{"destination": "Bergen"}})
	r = c.post(t, "/console/categories/dry-run", url.Values{"days": {"30"}}).want(t, 200)
	wantText(t, r, "within 30 days", sub.ID)
	if !strings.Contains(string(r.body), "<code>trips</code>") {
		t.Errorf("the dry run does not list the trips record: %s", text(r.body))
	}
	// Changing a category keeps its fields as they are.
	c.post(t, "/console/categories", url.Values{"name": {"trips"}, "legal_basis": {skjold.BasisContract}, "purposes": {"contract"},
		"retention_period": {"P2Y"}, "retention_from": {"created"}}).wantRedirect(t, "/console/categories?m=category_saved")
	e.do(t, e.a.token, "GET", "/api/v1/categories/trips", nil).want(t, 200).decode(t, &cat)
	if len(cat.Fields) != 2 || cat.Retention.Period != "P2Y" {
		t.Errorf("changed category = %+v", cat)
	}
}

// TestConsoleProfilesRegisterContact creates, changes and deletes a profile, downloads the
// register as the API writes it, and checks a contact.
func TestConsoleProfilesRegisterContact(t *testing.T) {
	e := newEnv(t)
	c, _ := e.cfgAdmin(t, skjold.RoleOwner)
	r := c.post(t, "/console/profiles", url.Values{"name": {"helpdesk"}}).want(t, 400)
	cfgWantFieldError(t, r, "scopes", "Choose at least one scope.")
	c.post(t, "/console/profiles", url.Values{"name": {"helpdesk"}, "scopes": {skjold.ScopeRead}}).
		wantRedirect(t, "/console/profiles?m=profile_saved")
	c.post(t, "/console/profiles", url.Values{"name": {"helpdesk"}, "scopes": {skjold.ScopeRead, skjold.ScopeWrite},
		"purposes": {"newsletter"}}).wantRedirect(t, "/console/profiles?m=profile_saved")
	var p skjold.Profile
	e.do(t, e.a.token, "GET", "/api/v1/profiles/helpdesk", nil).want(t, 200).decode(t, &p)
	if !slices.Equal(p.Scopes, []string{skjold.ScopeRead, skjold.ScopeWrite}) || !slices.Equal(p.Purposes, []string{"newsletter"}) {
		t.Errorf("profile = %+v", p)
	}
	c.post(t, "/console/profiles/helpdesk/delete", nil).wantRedirect(t, "/console/profiles?m=profile_deleted")
	e.do(t, e.a.token, "GET", "/api/v1/profiles/helpdesk", nil).want(t, 404)

	page := c.get(t, "/console/register").want(t, 200)
	wantText(t, page, "Download as CSV")
	csv := c.get(t, "/console/register.csv").want(t, 200)
	api := e.do(t, e.a.token, "GET", "/api/v1/register?format=csv", nil).want(t, 200)
	if string(csv.body) != string(api.body) || !strings.HasPrefix(strings.TrimPrefix(string(csv.body), "\ufeff"), "user_id,name,email") {
		t.Errorf("console CSV differs from the API's:\n%s\n---\n%s", csv.body, api.body)
	}
	if csv.header.Get("Cache-Control") != "no-store" || !strings.Contains(csv.header.Get("Content-Disposition"), "register.csv") {
		t.Errorf("CSV headers %v", csv.header)
	}

	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Eva", "email": "eva@example.com"})
	r = c.post(t, "/console/contact-check", url.Values{"subject_id": {""}, "purpose": {"newsletter"}, "channel": {"email"}}).want(t, 400)
	cfgWantFieldError(t, r, "subject_id", "Fill in this field.")
	r = c.post(t, "/console/contact-check", url.Values{"subject_id": {sub.ID}, "purpose": {"newsletter"}, "channel": {"email"}}).want(t, 200)
	wantText(t, r, "Do not contact this person.", "The person has not given consent.")
	if strings.Contains(r.path, sub.ID) {
		t.Error("the subject's id is in the URL")
	}
}

// TestConsoleConfigPagesAllLanguages opens every configuration page, with the answers of its
// forms, in every language: no message key shows raw, including the keys made from values
// (legal bases, channels, actions, reasons, roles, scopes).
func TestConsoleConfigPagesAllLanguages(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Eva", "email": "eva@example.com"})
	e.do(t, e.a.token, "POST", "/api/v1/holds", map[string]string{"category": "invoice", "reason": "Tax audit"}).want(t, 201)
	for _, lang := range i18n.Languages {
		c, _ := e.cfgAdmin(t, skjold.RoleOwner)
		c.header.Set("Accept-Language", lang)
		c.post(t, "/console/account/language", url.Values{"lang": {lang}, "next": {"/console/"}})
		pages := map[string]*reply{}
		for _, p := range []string{"settings", "holds", "purposes", "purposes?edit=newsletter", "categories",
			"categories?edit=invoice", "contact-check", "tokens", "profiles", "register"} {
			pages[p] = c.get(t, "/console/"+p).want(t, 200)
		}
		pages["dry run"] = c.post(t, "/console/categories/dry-run", url.Values{"days": {"366"}}).want(t, 200)
		pages["contact"] = c.post(t, "/console/contact-check", url.Values{"subject_id": {sub.ID}, "purpose": {"newsletter"},
			"channel": {skjold.ChannelSMS}}).want(t, 200)
		pages["token"] = c.post(t, "/console/tokens", url.Values{"name": {"t"}, "scopes": {skjold.ScopeRead}}).want(t, 201)
		pages["lock-out"] = c.post(t, "/console/settings/networks", url.Values{"allowed_networks": {"192.0.2.0/24"}}).want(t, 200)
		pages["refused"] = c.post(t, "/console/settings/session", url.Values{"idle_minutes": {"0"}}).want(t, 400)
		for name, r := range pages {
			if b := string(r.body); strings.Contains(b, "[[") || !strings.Contains(b, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: raw key or wrong language:\n%s", lang, name, text(r.body))
			}
		}
	}
}
