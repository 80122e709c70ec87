package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"github.com/xuri/excelize/v2"
)

// TestConsoleBrowserAccessRequest is journey (c): an agent registers an access request for a
// person found by e-mail address (posted, never in the address bar), the person's code
// from the outbox e-mail is entered (a wrong one first), the request is carried out, and the
// access package downloads as a ZIP, once.
func TestConsoleBrowserAccessRequest(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	tenantToken := createTenant(t, s, readToken(t, data), "Nordlys Reiser AS")
	const person = "ingrid.berg@nordlys.example"
	if code := s.call(t, "POST", "/api/v1/subjects", tenantToken, map[string]string{"name": "Ingrid Berg", "email": person}, nil); code != 201 {
		t.Fatalf("create subject: %d", code)
	}
	email, oneTime := createUser(t, s, tenantToken, "Siri Saksbehandler", "agent")
	b := newTab(t, s, "en")
	b.login(email, oneTime)
	const pw = "copper-Fjord-lantern-62"
	b.fill("#old_password", oneTime)
	b.fill("#password", pw)
	b.fill("#repeat", pw)
	b.submit("main button[type=submit]")
	b.wantPath("/console/")
	b.wantText("Open requests: 0.")

	b.submit("nav a[href='/console/requests']")
	b.wantText("Requests", "No requests match.")
	b.page("requests-empty")
	b.submit("main a[href='/console/requests/new']")
	b.wantPath("/console/requests/new")
	b.page("request-new")
	b.do(chromedp.SetValue("#type", "access"))
	b.fill("#email", "nobody@nordlys.example")
	b.submit("main button[type=submit]")
	b.wantText("No person matches.")
	b.page("request-new-error")
	b.fill("#email", person)
	b.submit("main button[type=submit]")
	if loc := b.location(); !strings.HasPrefix(loc, "/console/requests/") || strings.Contains(loc, "nordlys") || strings.Contains(loc, "%40") {
		t.Fatalf("after registering, the browser is at %s", loc)
	}
	id := strings.TrimPrefix(eval[string](b, `location.pathname`), "/console/requests/")
	b.wantText("Access request", "Waiting for verification", "Not verified yet", "A verification code is on its way")
	b.page("request-new-open")
	b.open("/console/")
	b.wantText("Open requests: 1.", "Access request", "due ")
	b.page("dashboard-requests")
	b.open("/console/requests/" + id)

	code := outboxCode(t, data, person)
	b.fill("#verify_code", "00000000")
	b.submit("form[action$='/verify'] button")
	b.wantText("The code is wrong.")
	b.fill("#verify_code", code)
	b.submit("form[action$='/verify'] button")
	b.wantText("identity is verified", "Verified ", "Carry out the request")
	b.page("request-verified")
	b.submit("#complete")
	b.wantText("Completed", "The access package is ready.", "Download the access package")
	b.page("request-completed")
	pkg := b.fetch(`fetch(document.getElementById("package-link").href)`)
	if _, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg))); err != nil || len(pkg) < 100 {
		t.Fatalf("the access package (%d bytes) is no ZIP: %v", len(pkg), err)
	}
	again := b.status(`fetch(document.getElementById("package-link").href)`)
	if again != 404 {
		t.Errorf("the package's link answered %d the second time, want 404", again)
	}

	b.open("/console/requests?state=closed")
	b.wantText("Access request", "Completed")
	b.page("requests-closed")
	b.open("/console/requests/" + id)
	if eval[bool](b, `document.getElementById("package-link") !== null`) {
		t.Error("the package's link is shown again")
	}
	if strings.Contains(s.stdout.String()+s.stderr.String(), person) {
		t.Error("the person's address is in the server's log")
	}

	// The same pages in Norwegian, from a browser that asks for it.
	nb := newTab(t, s, "nb")
	nb.login(email, pw)
	nb.wantText("Åpne henvendelser: 0.")
	nb.open("/console/requests?state=closed")
	nb.wantText("Henvendelser", "Innsynsbegjæring", "Gjennomført")
	nb.page("requests-closed")
	nb.open("/console/requests/" + id)
	nb.wantText("Bekreftet ")
	nb.page("request-completed")
	nb.open("/console/requests/new")
	nb.page("request-new")
}

// TestConsoleBrowserFourEyesExport is journey (e): one owner asks for the tenant's export,
// cannot approve it, a second admin approves it on the approvals page (the overview tells
// them it waits), and the first downloads an XLSX that opens, once.
func TestConsoleBrowserFourEyesExport(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	var tenant struct {
		Tenant created `json:"tenant"`
		Token  created `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/tenants", readToken(t, data), map[string]string{"name": "Fjellklinikken AS"}, &tenant); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	// The operator's owner makes the tenant's first user, its owner, before the tenant holds
	// personal data; the owner then adds an admin directly, as nobody else could approve
	// the second account.
	const ownerEmail = "olga.owner@fjellklinikken.example"
	var first struct {
		OneTimePassword string `json:"one_time_password"`
	}
	operator := activate(t, s, "owner@skjold.local", readFile(t, filepath.Join(data, "initial-operator-password")))
	if code := s.call(t, "POST", "/api/v1/users", operator.token, map[string]string{"tenant_id": tenant.Tenant.ID,
		"email": ownerEmail, "name": "Olga Owner", "role": "owner"}, &first); code != 201 {
		t.Fatalf("create the owner: %d", code)
	}
	owner := activate(t, s, ownerEmail, first.OneTimePassword)
	adminEmail, adminOneTime := createUser(t, s, owner.token, "Arne Admin", "admin")
	if code := s.call(t, "POST", "/api/v1/subjects", tenant.Token.Secret, map[string]string{"name": "Øystein Ås"}, nil); code != 201 {
		t.Fatalf("create subject: %d", code)
	}
	admin := activate(t, s, adminEmail, adminOneTime)

	a := newTab(t, s, "en")
	a.loginWithCode(ownerEmail, owner)
	a.submit("nav a[href='/console/export']")
	a.wantText("A full export needs a second person", "You have not asked for an export yet.")
	a.page("export")
	a.submit("#ask-export")
	a.wantText("Your export is waiting for a second", "Waiting for a second person")
	a.page("export-asked")
	a.open("/console/approvals")
	a.wantText("Export all data", "Another person decides this.")
	if eval[int](a, `document.querySelectorAll("form[action$='/approve']").length`) != 0 {
		t.Error("the owner is offered to approve their own export")
	}
	a.page("approvals-own")

	b := newTab(t, s, "en")
	b.loginWithCode(adminEmail, admin)
	b.wantText("Approvals waiting for you", "Waiting for your decision: 1.", "Export all data")
	b.page("dashboard-approvals")
	b.submit("main a[href='/console/approvals']")
	b.page("approvals")
	b.submit("form[action$='/approve'] button")
	b.wantText("Approved. The action has been carried out.", "Decided lately", "Olga Owner")
	b.page("approvals-decided")

	a.open("/console/export")
	a.wantText("Approved", "Each approval gives one download.")
	a.page("export-approved")
	form := `document.querySelector("form.download")`
	a.do(chromedp.SetValue(`form.download select`, "xlsx"))
	xlsx := a.fetch(`fetch(` + form + `.action, {method: "POST", body: new URLSearchParams(new FormData(` + form + `))})`)
	f, err := excelize.OpenReader(bytes.NewReader(xlsx))
	if err != nil {
		t.Fatalf("the export (%d bytes) is no workbook: %v", len(xlsx), err)
	}
	defer f.Close()
	rows, err := f.GetRows("subject")
	if err != nil || len(rows) != 2 || !slices.Contains(rows[1], "Øystein Ås") {
		t.Errorf("the subject sheet = %q (%v)", rows, err)
	}
	a.submit("form.download button")
	a.wantText("This approval was used already")

	// The same pages in Polish, from a browser that asks for it.
	pl := newTab(t, s, "pl")
	pl.loginWithCode(adminEmail, admin)
	pl.wantText("Zatwierdzenia czekające na Ciebie", "Nic nie czeka na Twoje zatwierdzenie.")
	pl.page("dashboard-approvals")
	pl.open("/console/approvals")
	pl.wantText("Ostatnie decyzje", "Eksport wszystkich danych", "Zatwierdzone")
	pl.page("approvals-decided")
	pl.open("/console/export")
	pl.wantText("Wniosek o eksport")
	pl.page("export")
}

// fetch runs a fetch expression in the page (with the page's cookies) and returns the
// body of its answer, which must be 200.
func (b *tab) fetch(expr string) []byte {
	b.t.Helper()
	js := expr + `.then(async r => { if (!r.ok) { throw new Error("status " + r.status); }
		const bytes = new Uint8Array(await r.arrayBuffer()); let s = "";
		for (let i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
		return btoa(s); })`
	out := evalAsync[string](b, js)
	raw, err := base64.StdEncoding.DecodeString(out)
	if err != nil {
		b.t.Fatal(err)
	}
	return raw
}

// status runs a fetch expression in the page and returns the answer's status.
func (b *tab) status(expr string) int {
	b.t.Helper()
	return evalAsync[int](b, expr+`.then(r => r.status)`)
}

func evalAsync[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate: %v", err)
	}
	return v
}

// person is a user who has left the login steps behind: their password, second-factor key
// and recovery codes, and an API session.
type person struct {
	password, secret, token string
	recovery                []string
}

// activate takes a new user through the login steps by the API: the forced password
// change and, where the role needs it, two-step enrolment.
func activate(t *testing.T, s *server, email, oneTime string) *person {
	t.Helper()
	p := &person{password: "pewter-Glacier-otter-" + strings.Split(email, "@")[0][:3] + "9"}
	var login struct {
		Token string `json:"token"`
		Stage string `json:"stage"`
	}
	if code := s.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": oneTime, "session": "token"}, &login); code != 200 {
		t.Fatalf("login: %d", code)
	}
	p.token = login.Token
	if code := s.call(t, "POST", "/api/v1/auth/password", p.token, map[string]string{"old_password": oneTime, "new_password": p.password}, nil); code != 204 {
		t.Fatalf("password change: %d", code)
	}
	var enrol struct {
		Secret string `json:"secret"`
	}
	if code := s.call(t, "POST", "/api/v1/auth/two-factor", p.token, nil, &enrol); code != 200 {
		t.Fatalf("two-step enrolment: %d", code)
	}
	p.secret = enrol.Secret
	code, err := totp.GenerateCode(p.secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if st := s.call(t, "POST", "/api/v1/auth/two-factor/confirm", p.token, map[string]string{"code": code}, &confirmed); st != 200 {
		t.Fatalf("two-step confirmation: %d", st)
	}
	p.recovery = confirmed.RecoveryCodes
	return p
}

// loginWithCode logs p in through the console, the second step with a recovery code (the
// enrolment used this time step's code already).
func (b *tab) loginWithCode(email string, p *person) {
	b.t.Helper()
	b.login(email, p.password)
	b.wantPath("/console/login/code")
	b.fill("#code", p.recovery[0])
	p.recovery = p.recovery[1:]
	b.submit("main button[type=submit]")
	b.wantPath("/console/")
}
