package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/skjold-project/skjold/internal/browsertest"
)

// The console's journeys, in a real headless Chromium (one for the whole test binary, see
// TestMain) against a real `skjold serve` on a throwaway data directory. Each asserts what
// the person sees. With -screenshots DIR they save a screenshot of every page at desktop
// and at 360 px phone width; docs/screenshots/ holds the committed set:
//
//	go test ./cmd/skjold -run TestConsoleBrowser -screenshots ../../docs/screenshots

var screenshots = flag.String("screenshots", "", "save the console's screenshots in this directory")

// tab is one browser tab with cookies of its own, on one server, in one language.
type tab struct {
	t    *testing.T
	ctx  context.Context
	s    *server
	lang string
}

func newTab(t *testing.T, s *server, lang string) *tab {
	t.Helper()
	ctx := browsertest.Tab(t)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}}); err != nil {
		t.Fatal(err)
	}
	return &tab{t: t, ctx: ctx, s: s, lang: lang}
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open loads a console path.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.s.url+path), chromedp.WaitReady("body"))
}

// fill types value into the field sel.
func (b *tab) fill(sel, value string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(sel), chromedp.SetValue(sel, value))
}

// submit clicks the button sel and waits until the browser has left the page it was on
// and the next one has loaded.
func (b *tab) submit(sel string) {
	b.t.Helper()
	eval[bool](b, `window.__skjoldOld = true`)
	b.do(chromedp.Click(sel))
	b.waitFor(`!window.__skjoldOld && document.readyState === "complete"`, 30*time.Second)
}

// waitFor polls the page until the JavaScript condition holds, or fails after limit. A
// poll that meets a page being replaced counts as not yet.
func (b *tab) waitFor(cond string, limit time.Duration) {
	b.t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: %v (at %s: %.400s)", cond, err, b.location(), b.text())
		}
	}
}

func (b *tab) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + location.search + location.hash`))
	return loc
}

func (b *tab) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// wantPath fails unless the browser shows path (without the query).
func (b *tab) wantPath(path string) {
	b.t.Helper()
	if got := eval[string](b, `location.pathname`); got != path {
		b.t.Fatalf("at %s, want %s: %.600s", b.location(), path, b.text())
	}
}

// wantText fails unless the page says each of want.
func (b *tab) wantText(want ...string) {
	b.t.Helper()
	got := b.text()
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Errorf("page %s does not say %q:\n%s", b.location(), w, got)
		}
	}
}

// page checks what every page must be, and saves its screenshots when asked: in its
// language, with no message key shown raw, with no serious or critical axe-core violation,
// and usable with the keyboard alone (see accessible).
func (b *tab) page(name string) {
	b.t.Helper()
	if lang := eval[string](b, `document.documentElement.lang`); lang != b.lang {
		b.t.Errorf("%s: page language %q, want %q", name, lang, b.lang)
	}
	if html := eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, "[[") {
		b.t.Errorf("%s: a raw message key on the page:\n%s", name, b.text())
	}
	b.screenshots(name)
	b.accessible(name)
	b.weight(name)
}

// maxPageWeight is the most a console page may weigh with its style sheets and scripts,
// uncompressed [I1].
const maxPageWeight = 150 << 10

// weight fails the test when the page's HTML, style sheets and scripts together weigh more
// than maxPageWeight bytes uncompressed. The HTML is measured as the browser holds it; the
// style sheets and scripts are fetched again (static files, which no read audits).
func (b *tab) weight(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	total, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(async () => {
  let n = new TextEncoder().encode("<!doctype html>" + document.documentElement.outerHTML).length;
  const urls = [...document.querySelectorAll("link[rel=stylesheet][href], script[src]")].map(e => e.href || e.src);
  for (const u of urls) n += (await (await fetch(u)).arrayBuffer()).byteLength;
  return n;
})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: page weight: %v", name, err)
	}
	if total > maxPageWeight {
		b.t.Errorf("%s (%s): the page weighs %d bytes with its CSS and JavaScript, over %d", name, b.location(), total, maxPageWeight)
	}
	if total < 1000 {
		b.t.Errorf("%s: the page weighs only %d bytes: not measured", name, total)
	}
}

// accessible fails the test when axe-core finds a serious or critical violation on the
// page, or when the keyboard alone cannot reach an interactive element or shows no focus
// on it. The page is left as it was, but for the focus.
func (b *tab) accessible(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	violations, err := browsertest.Axe(ctx)
	if err != nil {
		b.t.Fatalf("%s: axe-core: %v (at %s)", name, err, b.location())
	}
	for _, v := range violations {
		b.t.Errorf("%s (%s, %s): %s", name, b.location(), b.lang, v)
	}
	problems, err := browsertest.Keyboard(ctx)
	if err != nil {
		b.t.Fatalf("%s: keyboard walk: %v (at %s)", name, err, b.location())
	}
	for _, p := range problems {
		b.t.Errorf("%s (%s, %s): keyboard: %s", name, b.location(), b.lang, p)
	}
}

// screenshots saves the page at desktop and at phone width, when -screenshots is given.
func (b *tab) screenshots(name string) {
	b.t.Helper()
	if *screenshots == "" {
		return
	}
	for _, size := range []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 800}, {"phone", 360, 740}} {
		var png []byte
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		err := chromedp.Do(ctx, chromedp.EmulateViewport(size.width, size.height), chromedp.Func(
			func(ctx context.Context, t *chromedp.Target) (err error) {
				png, err = chromedp.FullScreenshot(100)(ctx, t)
				return err
			}))
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		file := filepath.Join(*screenshots, fmt.Sprintf("%s-%s-%s.png", name, b.lang, size.name))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do(chromedp.EmulateViewport(1280, 800))
}

// code returns the current TOTP code of secret, waiting for the next time step when the
// current one's code was used already (each is accepted once).
func code(t *testing.T, secret string, used map[string]bool) string {
	t.Helper()
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c, err := totp.GenerateCode(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !used[c] {
			used[c] = true
			return c
		}
	}
	t.Fatal("no fresh TOTP code within 40 s")
	return ""
}

// TestConsoleBrowserFirstLogin is journey (a): the operator owner's first login with the
// one-time password, the forced change (a too-short password refused by its rule first),
// two-step enrolment with the QR code and a code computed here, the recovery codes shown
// once, and the overview; then logging out and in again with the second step.
func TestConsoleBrowserFirstLogin(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	oneTime := readFile(t, filepath.Join(data, "initial-operator-password"))
	b := newTab(t, s, "en")

	b.open("/")
	b.wantPath("/console/login")
	b.wantText("Log in to Skjold with your work e-mail address and password.")
	b.page("login")
	b.fill("#email", "owner@skjold.local")
	b.fill("#password", "not-the-password")
	b.submit("main button[type=submit]")
	b.wantText("The e-mail address or password is wrong.")
	b.page("login-error")
	b.fill("#password", oneTime)
	b.submit("main button[type=submit]")

	b.wantPath("/console/password")
	b.wantText("Choose your own password", "At least 12 characters.", "Not one of your last 5 passwords.")
	b.page("password-forced")
	b.fill("#old_password", oneTime)
	b.fill("#password", "Short-1a")
	b.fill("#repeat", "Short-1a")
	b.submit("main button[type=submit]")
	b.wantText("The password must have at least 12 characters (and at most 256).", "(not met)")
	b.page("password-error")
	const pw = "violet-Harbour-crane-47"
	b.fill("#old_password", oneTime)
	b.fill("#password", pw)
	b.fill("#repeat", pw)
	b.submit("main button[type=submit]")

	b.wantPath("/console/two-factor")
	b.wantText("Your role needs a second step when you log in")
	b.page("two-factor-start")
	b.submit("main form button[type=submit]")
	b.waitFor(`document.querySelector("figure.qr svg[role=img]") !== null`, 10*time.Second)
	if n := eval[int](b, `document.querySelectorAll("figure.qr svg path").length`); n != 1 {
		t.Errorf("QR code drawn with %d paths", n)
	}
	secret := eval[string](b, `document.querySelector(".secret code").textContent`)
	b.page("two-factor-scan")
	used := map[string]bool{}
	b.fill("#code", code(t, secret, used))
	b.submit("main form[action='/console/two-factor/confirm'] button")

	b.wantText("Keep your recovery codes", "They are shown only now")
	codes := eval[[]string](b, `Array.from(document.querySelectorAll("ol.codes code"), c => c.textContent)`)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	if n := eval[int](b, `document.querySelectorAll("form[action='/console/account/recovery-codes.txt'] input[name=code]").length`); n != 10 {
		t.Errorf("the download form holds %d codes", n)
	}
	b.page("recovery-codes")
	b.submit("a.button")

	b.wantPath("/console/")
	b.wantText("Welcome, ", "Operator owner", "Two-step login", "On")
	b.page("dashboard")
	b.open("/console/sessions")
	b.wantText("My sessions", "this browser", "Browser")
	b.page("sessions")
	b.submit("header form.logout button")
	b.wantPath("/console/login")
	b.wantText("You are logged out.")

	b.fill("#email", "owner@skjold.local")
	b.fill("#password", pw)
	b.submit("main button[type=submit]")
	b.wantPath("/console/login/code")
	b.page("second-factor")
	b.fill("#code", "000000")
	b.submit("main button[type=submit]")
	b.wantText("The code is wrong or was already used.")
	b.fill("#code", codes[0])
	b.submit("main button[type=submit]")
	b.wantPath("/console/")
	b.wantText("Welcome, ")
}

// TestConsoleBrowserIdleLock is journey (d): with the tenant's idle time set to one minute,
// the page covers itself with the lock screen after a minute without requests; the server
// refuses the session too, and only the password opens it again.
func TestConsoleBrowserIdleLock(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	tenantToken := createTenant(t, s, readToken(t, data), "Nordlys Travel AS")
	var set map[string]any
	if code := s.call(t, "GET", "/api/v1/settings/session", tenantToken, nil, &set); code != 200 {
		t.Fatalf("settings: %d", code)
	}
	set["idle_minutes"] = 1
	if code := s.call(t, "PUT", "/api/v1/settings/session", tenantToken, set, nil); code != 200 {
		t.Fatalf("put settings: %d", code)
	}
	email, oneTime := createUser(t, s, tenantToken, "Kari Nordmann", "agent")
	b := newTab(t, s, "en")
	const pw = "amber-Tractor-lagoon-93"
	b.login(email, oneTime)
	b.wantPath("/console/password")
	b.fill("#old_password", oneTime)
	b.fill("#password", pw)
	b.fill("#repeat", pw)
	b.submit("main button[type=submit]")
	b.wantPath("/console/")
	loaded := time.Now()
	if got := eval[string](b, `document.body.dataset.idleSeconds`); got != "60" {
		t.Fatalf("the page locks after %q seconds, want 60", got)
	}
	b.waitFor(`!document.getElementById("lock").hidden`, 90*time.Second)
	if waited := time.Since(loaded); waited < 55*time.Second {
		t.Errorf("the lock screen came after %v, before the idle minute", waited)
	}
	covered := eval[bool](b, `(() => { const r = document.getElementById("lock").getBoundingClientRect();
		return r.top <= 0 && r.left <= 0 && r.width >= innerWidth && r.height >= innerHeight &&
			document.querySelector("main").hasAttribute("inert") && document.activeElement.id === "lock-password"; })()`)
	if !covered {
		t.Error("the lock screen does not cover the page, or the page behind it still takes input")
	}
	b.page("lock-screen")

	// The server refuses the session anyway: any page leads to the lock page.
	b.open("/console/sessions")
	b.wantPath("/console/lock")
	b.wantText("Skjold is locked", "Enter your password to go on.")
	b.page("lock")
	b.fill("#password", "wrong-Password-123")
	b.submit("main button[type=submit]")
	b.wantText("The password is wrong.")
	b.fill("#password", pw)
	b.submit("main button[type=submit]")
	b.wantPath("/console/sessions")
	b.wantText("My sessions")
}

// TestConsoleBrowserReset is journey (f): "forgot your password" sends an e-mail whose link
// opens the reset page, which takes the code from the link's fragment (never sent to the
// server), and sets a new password that then logs in.
func TestConsoleBrowserReset(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	b := newTab(t, s, "en")
	b.open("/console/login")
	b.submit("a[href='/console/forgot']")
	b.wantPath("/console/forgot")
	b.page("forgot")
	b.fill("#email", "owner@skjold.local")
	b.submit("main button[type=submit]")
	b.wantText("If the address belongs to an account, a link is on its way.")
	b.page("forgot-sent")

	link := resetLink(t, data, "owner@skjold.local")
	m := regexp.MustCompile(`^https://[^/]+(/console/reset)#token=(skjold_r_[A-Za-z0-9_-]+)$`).FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("the e-mail's link is %q, want https://…/console/reset#token=…", link)
	}
	b.open(m[1] + "#token=" + m[2]) // the link as e-mailed, on this test's port
	b.waitFor(`document.getElementById("token").value !== "" && location.hash === ""`, 10*time.Second)
	if eval[bool](b, `document.getElementById("token").offsetParent !== null`) {
		t.Error("the code field is shown although the link filled it in")
	}
	b.page("reset-from-link")
	const pw = "quiet-Meadow-falcon-58"
	b.fill("#password", pw)
	b.fill("#repeat", pw)
	b.submit("main button[type=submit]")
	b.wantPath("/console/login")
	b.wantText("Your new password is saved. Log in with it.")
	b.login("owner@skjold.local", pw)
	if loc := b.location(); loc != "/console/two-factor" && loc != "/console/password" {
		t.Errorf("after logging in with the new password the browser is at %s", loc)
	}
	if strings.Contains(s.stderr.String(), m[2]) || strings.Contains(s.stdout.String(), m[2]) {
		t.Error("the reset code is in the server's log")
	}
	// The link works once.
	b2 := newTab(t, s, "en")
	b2.open(m[1] + "#token=" + m[2])
	b2.waitFor(`location.hash === ""`, 10*time.Second)
	b2.fill("#password", "other-Meadow-falcon-77")
	b2.fill("#repeat", "other-Meadow-falcon-77")
	b2.submit("main button[type=submit]")
	b2.wantText("This reset link or code is invalid, used or expired.")
}

// TestConsoleBrowserLanguages is journey (g): every page so far, in English, Norwegian and
// Polish, shows no raw message key and says it is in that language.
func TestConsoleBrowserLanguages(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	op := readToken(t, data)
	for _, c := range []struct{ lang, welcome, wrong string }{
		{"en", "Welcome, ", "The e-mail address or password is wrong."},
		{"nb", "Velkommen, ", "E-postadressen eller passordet er feil."},
		{"pl", "Witaj, ", "Adres e-mail lub hasło jest nieprawidłowe."},
	} {
		t.Run(c.lang, func(t *testing.T) {
			t.Parallel()
			tenantToken := createTenant(t, s, op, "Tenant "+c.lang)
			// A tenant's token creates its staff below admin; two-step login is open to
			// them too, so an agent sees every page.
			email, oneTime := createPendingUser(t, s, tenantToken, "Agent "+c.lang, "agent")
			b := newTab(t, s, c.lang)
			for _, p := range []string{"/console/login", "/console/forgot", "/console/reset", "/console/no-such-page"} {
				b.open(p)
				b.page(strings.TrimPrefix(strings.ReplaceAll(p, "/", "-"), "-console-"))
			}
			b.open("/console/login")
			b.fill("#email", email)
			b.fill("#password", "wrong")
			b.submit("main button[type=submit]")
			b.wantText(c.wrong)
			b.login(email, oneTime)
			// The admin gave the address: its owner confirms it with the mailed code.
			b.wantPath("/console/confirm-email")
			b.page("confirm-email")
			b.fill("#code", outboxCode(t, s.data, email))
			b.submit("main button[type=submit]")
			b.wantPath("/console/password")
			b.page("password")
			pw := "violet-Harbour-crane-47"
			b.fill("#old_password", oneTime)
			b.fill("#password", pw)
			b.fill("#repeat", pw)
			b.submit("main button[type=submit]")
			b.wantPath("/console/")
			b.open("/console/two-factor")
			b.page("two-factor")
			b.submit("main form button[type=submit]")
			secret := eval[string](b, `document.querySelector(".secret code").textContent`)
			b.page("two-factor-scan")
			b.fill("#code", "000000")
			b.submit("main form[action='/console/two-factor/confirm'] button")
			b.page("two-factor-retry")
			b.fill("#code", code(t, secret, map[string]bool{}))
			b.submit("main form[action='/console/two-factor/confirm'] button")
			b.page("recovery")
			b.open("/console/")
			b.wantText(c.welcome)
			b.page("overview")
			b.open("/console/sessions")
			b.page("my-sessions")
			b.open("/console/password")
			b.page("password-change")
			// The language chosen in the page is saved for the person.
			b.do(chromedp.SetValue("#lang-select", "pl"))
			b.submit("footer button")
			if got := eval[string](b, `document.documentElement.lang`); got != "pl" {
				t.Errorf("after choosing Polish the page is in %q", got)
			}
		})
	}
}

// login fills in and sends the login form.
func (b *tab) login(email, password string) {
	b.t.Helper()
	b.open("/console/login")
	b.fill("#email", email)
	b.fill("#password", password)
	b.submit("main button[type=submit]")
}

// adminFirstLogin takes a tenant admin through the first login: a new password, and a
// second factor when the tenant asks for one.
func adminFirstLogin(t *testing.T, b *tab, email, oneTime, pw string) {
	t.Helper()
	b.login(email, oneTime)
	b.wantPath("/console/password")
	b.fill("#old_password", oneTime)
	b.fill("#password", pw)
	b.fill("#repeat", pw)
	b.submit("main button[type=submit]")
	if eval[string](b, `location.pathname`) == "/console/two-factor" {
		b.submit("main form button[type=submit]")
		b.waitFor(`document.querySelector(".secret code") !== null`, 10*time.Second)
		secret := eval[string](b, `document.querySelector(".secret code").textContent`)
		b.fill("#code", code(t, secret, map[string]bool{}))
		b.submit("main form[action='/console/two-factor/confirm'] button")
		b.submit("a.button")
	}
	b.wantPath("/console/")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// createTenant creates a tenant through the API and returns its first token.
func createTenant(t *testing.T, s *server, opToken, name string) string {
	t.Helper()
	var out struct {
		Token created `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/tenants", opToken, map[string]string{"name": name}, &out); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	return out.Token.Secret
}

// createUser creates a user of the token's tenant (or operator staff, for an operator's
// token), confirms its address over the API as its person would if the account is pending
// (see createPendingUser), and returns its address and one-time password.
func createUser(t *testing.T, s *server, token, name, role string) (string, string) {
	t.Helper()
	email, otp, pending := postUser(t, s, token, name, role)
	if !pending {
		return email, otp
	}
	var login struct{ Token string }
	creds := map[string]string{"email": email, "password": otp, "session": "token"}
	if code := s.call(t, "POST", "/api/v1/auth/login", "", creds, &login); code != 200 {
		t.Fatalf("first login: %d", code)
	}
	confirm := map[string]string{"code": outboxCode(t, s.data, email)}
	if code := s.call(t, "POST", "/api/v1/auth/email-confirmation", login.Token, confirm, nil); code != 204 {
		t.Fatalf("confirm the address: %d", code)
	}
	if code := s.call(t, "POST", "/api/v1/auth/logout", login.Token, nil, nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	return email, otp
}

// createPendingUser creates a user of the token's tenant and returns its address and
// one-time password; the account waits for the address to be confirmed.
func createPendingUser(t *testing.T, s *server, token, name, role string) (string, string) {
	t.Helper()
	email, otp, pending := postUser(t, s, token, name, role)
	if !pending {
		t.Fatalf("%s is not pending", email)
	}
	return email, otp
}

// postUser creates a user through the API and returns its address, one-time password and
// whether it waits for its address to be confirmed.
func postUser(t *testing.T, s *server, token, name, role string) (string, string, bool) {
	t.Helper()
	email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@console.example"
	var out struct {
		OneTimePassword string `json:"one_time_password"`
		Pending         bool   `json:"pending"`
	}
	body := map[string]string{"email": email, "name": name, "role": role}
	if code := s.call(t, "POST", "/api/v1/users", token, body, &out); code != 201 {
		t.Fatalf("create user: %d", code)
	}
	return email, out.OneTimePassword, out.Pending
}

// outboxMail waits for an e-mail to addr in the data directory's outbox, removes it, and
// returns its decoded body.
func outboxMail(t *testing.T, data, addr string) string {
	t.Helper()
	return outboxFind(t, data, addr, func(string) bool { return true })
}

// codeInMail is a one-time code on a line of its own.
var codeInMail = regexp.MustCompile(`(?m)^\d{8}\r?$`)

// outboxCode waits for an e-mail to addr with a one-time code in the outbox, removes it,
// and returns the code.
func outboxCode(t *testing.T, data, addr string) string {
	t.Helper()
	text := outboxFind(t, data, addr, codeInMail.MatchString)
	return strings.TrimSpace(codeInMail.FindString(text))
}

// outboxFind waits for an e-mail to addr in the data directory's outbox whose decoded body
// match accepts, removes it, and returns the body.
func outboxFind(t *testing.T, data, addr string, match func(body string) bool) string {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(data, "outbox", "*.eml"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil || msg.Header.Get("To") != addr {
				continue
			}
			var body io.Reader = msg.Body
			if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
				body = quotedprintable.NewReader(body)
			}
			text, _ := io.ReadAll(body)
			if match(string(text)) {
				os.Remove(f)
				return string(text)
			}
		}
	}
	t.Fatalf("no matching e-mail to %s in the outbox within 15 s", addr)
	return ""
}

// resetLink waits for the reset e-mail to addr in the outbox and returns the link in it.
func resetLink(t *testing.T, data, addr string) string {
	t.Helper()
	// Other mail may reach the same person meanwhile (a training reminder, say): wait for the link.
	link := regexp.MustCompile(`https://\S+#token=\S+`)
	return link.FindString(outboxFind(t, data, addr, link.MatchString))
}
