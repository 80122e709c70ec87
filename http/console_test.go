package http

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
	"github.com/skjold-project/skjold/netguard"
)

// consoleClient is a browser without JavaScript: it keeps cookies, does not follow
// redirects (tests look at them), and fills in the form's CSRF field as the page would.
type consoleClient struct {
	e      *env
	client *http.Client
	header http.Header // sent with every request
}

func (e *env) consoleClient(t *testing.T) *consoleClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{e: e, header: http.Header{}, client: &http.Client{Transport: e.client.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// cookie returns the value of the cookie name that the client sends to the console.
func (c *consoleClient) cookie(name string) string {
	u, _ := url.Parse(c.e.srv.URL + "/console/")
	for _, ck := range c.client.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func (c *consoleClient) send(t *testing.T, method, path string, form url.Values) *reply {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = c.header.Clone()
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	r := &reply{method: method, path: path, status: resp.StatusCode, header: resp.Header}
	if r.body, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	return r
}

func (c *consoleClient) get(t *testing.T, path string) *reply {
	t.Helper()
	return c.send(t, "GET", path, nil)
}

// post sends a form, with the CSRF token its page would hold (the session's, or for the
// forms shown before login the browser's), unless the form sets one.
func (c *consoleClient) post(t *testing.T, path string, form url.Values) *reply {
	t.Helper()
	form = maps.Clone(form) // the caller's values stay as they are
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") {
		token := c.cookie(csrfCookie)
		switch path {
		case "/console/login", "/console/forgot", "/console/reset", "/console/language":
			token = c.cookie(preCookie) // the forms before login carry the browser's token
		}
		form.Set("csrf", token)
	}
	return c.send(t, "POST", path, form)
}

// wantRedirect fails the test unless r redirects (303) to a location starting with prefix.
func (r *reply) wantRedirect(t *testing.T, prefix string) *reply {
	t.Helper()
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("%s %s: %d to %q, want 303 to %s…; body %.300s", r.method, r.path, r.status, loc, prefix, r.body)
	}
	return r
}

// login logs s in through the console's forms (with a fresh code for a second factor) and
// leaves the client with an active session.
func (c *consoleClient) login(t *testing.T, s *staff) {
	t.Helper()
	c.get(t, "/console/login").want(t, 200)
	c.post(t, "/console/login", url.Values{"email": {s.user.Email}, "password": {s.password}}).wantRedirect(t, "/console/")
	if s.secret != "" {
		c.get(t, "/console/").wantRedirect(t, "/console/login/code")
		code := ""
		if len(s.recovery) > 0 { // a recovery code moves no clock, which would idle-lock other sessions
			code, s.recovery = s.recovery[0], s.recovery[1:]
		} else {
			code = c.e.freshCode(t, s.secret)
		}
		c.post(t, "/console/login/code", url.Values{"code": {code}}).wantRedirect(t, "/console/")
	}
	c.get(t, "/console/").want(t, 200)
}

// text returns the page's visible words, roughly: the markup without tags.
func text(body []byte) string {
	return strings.Join(strings.Fields(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(string(body), " ")), " ")
}

func wantText(t *testing.T, r *reply, want ...string) {
	t.Helper()
	got := text(r.body)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s %s: page does not say %q:\n%.1500s", r.method, r.path, w, got)
		}
	}
}

// TestConsoleHeaders checks what every console page carries: the content security policy
// that allows only Skjold's own files and no inline code, no caching, and a CSRF field in
// every form; and that static files are cached for good under their hash only.
func TestConsoleHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.consoleClient(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	pages := []string{"/console/login", "/console/forgot", "/console/reset"}
	for _, p := range pages {
		checkPage(t, c.get(t, p).want(t, 200))
	}
	c.login(t, s)
	for _, p := range []string{"/console/", "/console/sessions", "/console/password"} {
		checkPage(t, c.get(t, p).want(t, 200))
	}
	page := c.get(t, "/console/")
	css := regexp.MustCompile(`href="(/console/static/[0-9a-f]{12}/console\.css)"`).FindSubmatch(page.body)
	if css == nil {
		t.Fatalf("no stylesheet link in %s", page.body)
	}
	r := c.get(t, string(css[1])).want(t, 200)
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || r.header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("static file headers: %v", r.header)
	}
	c.get(t, "/console/static/000000000000/console.css").want(t, 404)
	c.get(t, "/console/no-such-page").want(t, 404)
	c.get(t, "/").wantRedirect(t, "/console/")
}

// checkPage checks one page's headers and forms.
func checkPage(t *testing.T, r *reply) {
	t.Helper()
	const csp = "default-src 'self'; script-src 'self'; frame-ancestors 'none'"
	if got := r.header.Get("Content-Security-Policy"); !strings.HasPrefix(got, csp) {
		t.Errorf("%s: CSP %q", r.path, got)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q", r.path, r.header.Get("Cache-Control"))
	}
	body := string(r.body)
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "<style") {
		t.Errorf("%s: inline script or style", r.path)
	}
	forms := strings.Count(body, "<form ")
	if csrf := strings.Count(body, `name="csrf" value="`); forms == 0 || csrf != forms {
		t.Errorf("%s: %d forms, %d CSRF fields", r.path, forms, csrf)
	}
	if strings.Contains(body, `name="csrf" value=""`) {
		t.Errorf("%s: an empty CSRF field", r.path)
	}
	if strings.Contains(body, "[[") {
		t.Errorf("%s: a missing message: %s", r.path, body)
	}
}

// TestConsoleCSRF checks that a form without the right token changes nothing: not before
// login (another site cannot log a visitor in), and not in a session.
func TestConsoleCSRF(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	c := e.consoleClient(t)
	c.get(t, "/console/login").want(t, 200)
	form := url.Values{"email": {s.user.Email}, "password": {s.password}}
	for _, token := range []string{"", "forged"} {
		f := url.Values{"csrf": {token}}
		for k, v := range form {
			f[k] = v
		}
		c.post(t, "/console/login", f).want(t, 403)
		if c.cookie(sessionCookie) != "" {
			t.Fatal("a login without the form's token opened a session")
		}
	}
	c.login(t, s)
	c.post(t, "/console/logout", url.Values{"csrf": {c.cookie(preCookie)}}).want(t, 403)
	c.get(t, "/console/").want(t, 200) // still logged in
	// A bearer token is not a console credential.
	b := e.consoleClient(t)
	b.header.Set("Authorization", "Bearer "+s.session)
	b.get(t, "/console/").wantRedirect(t, "/console/login")
	c.post(t, "/console/logout", nil).wantRedirect(t, "/console/login?m=logged_out")
	c.get(t, "/console/").wantRedirect(t, "/console/login")
}

// TestConsoleLoginErrors checks the messages a refused login shows, in the reader's language,
// and that a failed console login counts like a failed API login.
func TestConsoleLoginErrors(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	c := e.consoleClient(t)
	c.header.Set("Accept-Language", "pl-PL,pl;q=0.9")
	c.get(t, "/console/login").want(t, 200)
	r := c.post(t, "/console/login", url.Values{"email": {""}, "password": {""}}).want(t, 400)
	wantText(t, r, "Wypełnij to pole.")
	r = c.post(t, "/console/login", url.Values{"email": {s.user.Email}, "password": {"wrong-" + s.password}}).want(t, 401)
	wantText(t, r, "Adres e-mail lub hasło jest nieprawidłowe.")
	if strings.Contains(string(r.body), s.password) {
		t.Error("the page shows the password back")
	}
}

// TestConsolePasswordRules checks the forced password change: the policy is shown, and a
// refused password is refused by the same rule as the API, with that rule's message next to
// the field and the rule marked.
func TestConsolePasswordRules(t *testing.T) {
	e := newEnv(t)
	s := e.newStaff(t, e.a.id, skjold.RoleAgent, "")
	c := e.consoleClient(t)
	c.header.Set("Accept-Language", "nb")
	c.get(t, "/console/login").want(t, 200)
	c.post(t, "/console/login", url.Values{"email": {s.user.Email}, "password": {s.password}}).wantRedirect(t, "/console/")
	c.get(t, "/console/").wantRedirect(t, "/console/password")
	r := c.get(t, "/console/password").want(t, 200)
	wantText(t, r, "Velg ditt eget passord", "Minst 12 tegn.", "Ikke ett av de 5 siste passordene dine.")
	for _, tc := range []struct {
		pw, repeat string
		status     int
		want       string
	}{
		{"Short-1a", "Short-1a", 400, "Passordet må ha minst 12 tegn (og høyst 256)."},
		{"alllowercaseletters", "alllowercaseletters", 400, "Passordet må blande minst 3 av"},
		{"violet-Harbour-crane-47", "violet-Harbour-crane-48", 400, "De to passordene er ikke like."},
	} {
		r := c.post(t, "/console/password", url.Values{"old_password": {s.password}, "password": {tc.pw}, "repeat": {tc.repeat}})
		r.want(t, tc.status)
		wantText(t, r, tc.want)
	}
	r = c.post(t, "/console/password", url.Values{"old_password": {"wrong"}, "password": {"violet-Harbour-crane-47"},
		"repeat": {"violet-Harbour-crane-47"}}).want(t, 401)
	wantText(t, r, "Passordet er feil.")
	c.post(t, "/console/password", url.Values{"old_password": {s.password}, "password": {"violet-Harbour-crane-47"},
		"repeat": {"violet-Harbour-crane-47"}}).wantRedirect(t, "/console/")
	wantText(t, c.get(t, "/console/").want(t, 200), "Oversikt", "Saksbehandler")
}

// TestConsoleLanguage checks how the language is chosen: Accept-Language before a choice,
// the browser's choice before login, and a person's saved choice after, on any browser.
func TestConsoleLanguage(t *testing.T) {
	e := newEnv(t)
	s := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	c := e.consoleClient(t)
	c.header.Set("Accept-Language", "nb-NO")
	wantText(t, c.get(t, "/console/login"), "Logg inn")
	c.post(t, "/console/language", url.Values{"lang": {"pl"}, "next": {"/console/login"}}).wantRedirect(t, "/console/login")
	wantText(t, c.get(t, "/console/login"), "Zaloguj się")
	c.post(t, "/console/language", url.Values{"lang": {"xx"}, "next": {"/console/login"}}).want(t, 400)
	c.post(t, "/console/language", url.Values{"lang": {"en"}, "next": {"https://evil.example/"}}).wantRedirect(t, "/console/")
	c.login(t, s)
	c.post(t, "/console/account/language", url.Values{"lang": {"nb"}, "next": {"/console/sessions"}}).
		wantRedirect(t, "/console/sessions?m=language_saved")
	other := e.consoleClient(t)
	other.header.Set("Accept-Language", "en")
	other.login(t, s)
	wantText(t, other.get(t, "/console/sessions"), "Mine økter", "denne nettleseren")
}

// TestConsolePagesAllLanguages renders every page reachable so far in every language and
// fails on a message key shown raw.
func TestConsolePagesAllLanguages(t *testing.T) {
	e := newEnv(t)
	for _, lang := range i18n.Languages {
		c := e.consoleClient(t)
		c.header.Set("Accept-Language", lang)
		s := e.newStaff(t, "", skjold.RoleOwner, "")
		pages := map[string]*reply{}
		for _, p := range []string{"/console/login", "/console/forgot", "/console/reset", "/console/nope"} {
			pages[p] = c.get(t, p)
		}
		c.post(t, "/console/login", url.Values{"email": {s.user.Email}, "password": {s.password}}).wantRedirect(t, "/console/")
		pages["password"] = c.get(t, "/console/password")
		pw := newPassword()
		c.post(t, "/console/password", url.Values{"old_password": {s.password}, "password": {pw}, "repeat": {pw}})
		s.password = pw
		pages["two-factor"] = c.get(t, "/console/two-factor")
		pages["two-factor begun"] = c.post(t, "/console/two-factor", nil)
		m := regexp.MustCompile(`<code>([A-Z2-7]{16,})</code>`).FindSubmatch(pages["two-factor begun"].body)
		if m == nil {
			t.Fatalf("no key on the enrolment page: %s", pages["two-factor begun"].body)
		}
		pages["two-factor wrong"] = c.post(t, "/console/two-factor/confirm", url.Values{"code": {"000000"}})
		pages["recovery codes"] = c.post(t, "/console/two-factor/confirm", url.Values{"code": {e.code(t, string(m[1]))}}).want(t, 200)
		pages["dashboard"] = c.get(t, "/console/").want(t, 200)
		pages["sessions"] = c.get(t, "/console/sessions").want(t, 200)
		for name, r := range pages {
			if b := string(r.body); strings.Contains(b, "[[") || !strings.Contains(b, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: raw key or wrong language:\n%s", lang, name, b)
			}
		}
	}
}

// consolePublic lists the console routes open to everyone: the pages before login and the
// static files.
var consolePublicRoutes = []string{"GET /{$}", "GET /console/static/{hash}/{file}", "/console/", "GET /console/login",
	"POST /console/login", "GET /console/forgot", "POST /console/forgot", "GET /console/reset", "POST /console/reset",
	"POST /console/language"}

// TestConsoleRoutesDeclarePermissions pins the console's routes and the permission each
// declares in testdata/console_routes.golden, as TestRoutesDeclarePermissions does for the
// API. Run with -update after a deliberate change.
func TestConsoleRoutesDeclarePermissions(t *testing.T) {
	s := &Server{pages: mustPages(t)}
	var golden strings.Builder
	for _, rt := range s.consoleRoutes() {
		if rt.perm.public != slices.Contains(consolePublicRoutes, rt.pattern) {
			t.Errorf("%s: only %v may be public", rt.pattern, consolePublicRoutes)
		}
		if !rt.perm.public && rt.perm.scope == "" && rt.perm.op == "" && !rt.perm.self {
			t.Errorf("%s declares no permission", rt.pattern)
		}
		fmt.Fprintf(&golden, "%-45s %s\n", rt.pattern, permString(rt.perm))
	}
	for _, item := range consoleNav {
		if !slices.ContainsFunc(s.consoleRoutes(), func(rt route) bool {
			return rt.pattern == "GET "+item.href || rt.pattern == "GET "+item.href+"{$}"
		}) {
			t.Errorf("menu entry %s opens no page", item.href)
		}
	}
	path := filepath.Join("testdata", "console_routes.golden")
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if golden.String() != string(want) {
		t.Errorf("console routes differ from %s (run go test -update after a deliberate change):\n%s", path, golden.String())
	}
}

// TestConsoleFailuresFeedDetectors checks that a wrong password, code or reset code sent
// through a console form counts towards a ban exactly like one sent to the API.
func TestConsoleFailuresFeedDetectors(t *testing.T) {
	for _, pattern := range []string{"POST /console/login", "POST /console/login/code", "POST /console/unlock",
		"POST /console/reset", "POST /console/password"} {
		for _, status := range []int{http.StatusUnauthorized, http.StatusTooManyRequests} {
			r := httptestRequest(pattern)
			if got := threatKind(r, status); got != netguard.KindLoginFailed {
				t.Errorf("%s answering %d is seen as %q, want %q", pattern, status, got, netguard.KindLoginFailed)
			}
		}
	}
	if got := threatKind(httptestRequest("GET /console/sessions"), http.StatusSeeOther); got != "" {
		t.Errorf("a redirect to the login page is seen as %q", got)
	}
}

func httptestRequest(pattern string) *http.Request {
	method, path, _ := strings.Cut(pattern, " ")
	r, _ := http.NewRequest(method, "https://skjold.test"+path, nil)
	r.Pattern = pattern
	return r
}
