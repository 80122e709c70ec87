package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// consoleGETPages returns the path of every console page that a GET opens, read from the
// route table's golden file (http/testdata/console_routes.golden, which a test keeps equal
// to the routes), so that a page added to the console is walked here without a change to
// this test. Static files and downloads (CSV, JSON, PDF) are not pages; a route with a parameter in its path (a detail
// page) needs data of its section and is walked by that section's journey, whose page()
// runs the same checks; the not-found page is walked through a path no route has.
func consoleGETPages(t *testing.T) (pages, skipped []string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "http", "testdata", "console_routes.golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "GET" {
			continue
		}
		path := strings.ReplaceAll(fields[1], "{$}", "")
		switch {
		case strings.HasPrefix(path, "/console/static/"):
		case strings.HasSuffix(path, ".csv") || strings.HasSuffix(path, ".json") || strings.HasSuffix(path, "/pdf"):
			// a download, not a page: the browser saves it instead of showing it
		case strings.Contains(path, "{"):
			skipped = append(skipped, path)
		default:
			pages = append(pages, path)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(pages) < 8 {
		t.Fatalf("only %d console pages in the golden file: %v", len(pages), pages)
	}
	return append(pages, "/console/no-such-page"), skipped
}

// TestConsoleBrowserAccessibility is journey (h) over the whole console: every page that a
// GET opens, as a visitor, as a tenant's agent and as the operator's owner, in English,
// Norwegian and Polish, shows no raw message key, is in its language, has no serious or
// critical axe-core violation, and works with the keyboard alone (tab.page). Where a page
// sends the caller elsewhere (a login step, a page their role may not open), the page they
// land on is the one checked.
func TestConsoleBrowserAccessibility(t *testing.T) {
	t.Parallel()
	pages, skipped := consoleGETPages(t)
	if len(skipped) > 0 {
		t.Logf("pages with a parameter, walked by their sections' journeys: %v", skipped)
	}
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	op := readToken(t, data)
	oneTime := readFile(t, filepath.Join(data, "initial-operator-password"))
	langs := []string{"en", "nb", "pl"}

	walk := func(b *tab, who string) {
		b.t.Helper()
		for _, p := range pages {
			b.open(p)
			name := who + strings.ReplaceAll(strings.TrimSuffix(p, "/"), "/", "-")
			b.page(name)
			b.t.Logf("%s %s: checked at %s", b.lang, p, b.location())
		}
	}
	// choose saves lang as the logged-in person's language through the page's own form.
	choose := func(b *tab, lang string) {
		b.t.Helper()
		b.open("/console/")
		b.do(chromedp.SetValue("#lang-select", lang))
		b.submit("footer button")
		b.lang = lang
	}

	t.Run("visitor", func(t *testing.T) {
		t.Parallel()
		for _, lang := range langs {
			walk(newTab(t, s, lang), "visitor")
		}
	})
	t.Run("agent", func(t *testing.T) {
		t.Parallel()
		tenantToken := createTenant(t, s, op, "Fjordklinikken AS")
		email, agentOneTime := createUser(t, s, tenantToken, "Ola Agent", "agent")
		b := newTab(t, s, "en")
		b.login(email, agentOneTime)
		b.wantPath("/console/password")
		const pw = "copper-Lantern-meadow-61"
		b.fill("#old_password", agentOneTime)
		b.fill("#password", pw)
		b.fill("#repeat", pw)
		b.submit("main button[type=submit]")
		b.wantPath("/console/")
		for _, lang := range langs {
			choose(b, lang)
			walk(b, "agent")
		}
	})
	t.Run("owner", func(t *testing.T) {
		t.Parallel()
		b := newTab(t, s, "en")
		b.login("owner@skjold.local", oneTime)
		b.wantPath("/console/password")
		const pw = "granite-Orchard-heron-36"
		b.fill("#old_password", oneTime)
		b.fill("#password", pw)
		b.fill("#repeat", pw)
		b.submit("main button[type=submit]")
		b.wantPath("/console/two-factor")
		b.submit("main form button[type=submit]")
		secret := eval[string](b, `document.querySelector(".secret code").textContent`)
		b.fill("#code", code(t, secret, map[string]bool{}))
		b.submit("main form[action='/console/two-factor/confirm'] button")
		b.wantText("Keep your recovery codes")
		b.submit("a.button")
		b.wantPath("/console/")
		for _, lang := range langs {
			choose(b, lang)
			walk(b, "owner")
		}
	})
}

// TestAxeNotInBinary: the vendored axe-core is for the tests only. The skjold binary does
// not depend on the test helper that embeds it, and the console's static files do not hold it.
func TestAxeNotInBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	if !strings.Contains(string(out), "github.com/skjold-project/skjold/web\n") {
		t.Fatalf("go list -deps does not list the web package:\n%s", out)
	}
	if strings.Contains(string(out), "internal/browsertest") {
		t.Error("the skjold binary depends on internal/browsertest, which embeds axe-core")
	}
	files, err := os.ReadDir(filepath.Join("..", "..", "web", "static"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join("..", "..", "web", "static", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f.Name(), "axe") || strings.Contains(string(raw), "axe-core") {
			t.Errorf("web/static/%s holds axe-core", f.Name())
		}
	}
}
