package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The consent banner's journey (d) in the real browser: a test website served from another
// origin (its own server on 127.0.0.1, another port) embeds the banner of a real `skjold
// serve`. "Reject all" runs no tagged script and stores a receipt; "accept all" runs it;
// with Global Privacy Control set the banner opts out without a click and says so in the
// receipt. With -screenshots it saves the banner and the console's statistics page.

// bannerSite serves a page that embeds the tenant's banner and one tagged script.
func bannerSite(t *testing.T, s *server, slug string) *httptest.Server {
	t.Helper()
	html := `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fjordklinikken – opening hours</title>
<script src="` + s.url + `/p/` + slug + `/banner.js" defer></script>
<script type="text/plain" data-skjold-purpose="analytics">window.analyticsRan = true;</script>
</head><body><main><h1>Fjordklinikken</h1><p>Opening hours: Monday to Friday, 08:00 to 16:00.</p>
<p>Call 22 00 00 00 to book an appointment.</p></main></body></html>`
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(html))
	}))
	t.Cleanup(site.Close)
	return site
}

type bannerReceipt struct {
	Method  string          `json:"method"`
	GPC     bool            `json:"gpc"`
	Choices map[string]bool `json:"choices"`
}

// waitReceipts polls the API until the tenant has n receipts, and returns them.
func waitReceipts(t *testing.T, s *server, tok string, n int) []bannerReceipt {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var out struct{ Items []bannerReceipt }
		if code := s.call(t, "GET", "/api/v1/consent-receipts", tok, nil, &out); code != 200 {
			t.Fatalf("export receipts: %d", code)
		}
		if len(out.Items) >= n || time.Now().After(deadline) {
			if len(out.Items) != n {
				t.Fatalf("%d receipts, want %d: %+v", len(out.Items), n, out.Items)
			}
			return out.Items
		}
	}
}

// openSite opens the website in the tab (not a Skjold path).
func (b *tab) openSite(url string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url), chromedp.WaitReady("body"))
}

func TestPrivacyBannerBrowser(t *testing.T) {
	t.Parallel()
	s, tok, _ := pcSetup(t, "Fjordklinikken AS")
	const slug = "fjordklinikken-as"
	if code := s.call(t, "PUT", "/api/v1/purposes/analytics", tok, map[string]any{"legal_basis": "consent",
		"description": "Visit statistics.", "notice": "We count visits to our pages anonymously to make them better."}, nil); code != 201 {
		t.Fatalf("purpose: %d", code)
	}
	site := bannerSite(t, s, slug)
	if code := s.call(t, "PUT", "/api/v1/settings/banner", tok, map[string]any{"origins": []string{site.URL},
		"purposes": []string{"analytics"}}, nil); code != 200 {
		t.Fatalf("banner settings: %d", code)
	}

	// Reject all: the tagged script never runs, and the receipt says so.
	b := newTab(t, s, "en")
	b.openSite(site.URL)
	b.waitFor(`!!document.querySelector(".skjold-banner [data-skjold-action=reject]") && getComputedStyle(document.querySelector(".skjold-banner")).position === "fixed"`, 15*time.Second)
	b.wantText("Your privacy on this website", "Reject all", "Accept all", "Choose")
	b.do(chromedp.Click(`.skjold-banner [data-skjold-action=choose]`))
	b.wantText("We count visits to our pages anonymously")
	b.screenshots("privacy-banner")
	b.accessible("privacy-banner") // axe-core and the keyboard, on the website with the banner open
	b.do(chromedp.Click(`.skjold-banner [data-skjold-action=reject]`))
	rs := waitReceipts(t, s, tok, 1)
	if rs[0].Method != "reject_all" || rs[0].GPC || rs[0].Choices["analytics"] {
		t.Errorf("the reject receipt: %+v", rs[0])
	}
	if ran := eval[bool](b, `window.analyticsRan === true || !document.querySelector('script[type="text/plain"][data-skjold-purpose=analytics]')`); ran {
		t.Error("the tagged script ran after reject all")
	}
	if cookies := eval[string](b, `document.cookie`); cookies != "" {
		t.Errorf("the banner set cookies: %q", cookies)
	}
	b.openSite(site.URL) // the choice is remembered: no banner, and still nothing runs
	b.waitFor(`!!document.querySelector(".skjold-reopen")`, 15*time.Second)
	if eval[bool](b, `!!document.querySelector(".skjold-banner") || window.analyticsRan === true`) {
		t.Error("a remembered rejection showed the banner again or ran the script")
	}

	// Accept all, in a fresh browser: the tagged script runs.
	a := newTab(t, s, "en")
	a.openSite(site.URL)
	a.waitFor(`!!document.querySelector(".skjold-banner [data-skjold-action=accept]")`, 15*time.Second)
	a.do(chromedp.Click(`.skjold-banner [data-skjold-action=accept]`))
	a.waitFor(`window.analyticsRan === true`, 10*time.Second)
	if rs := waitReceipts(t, s, tok, 2); rs[1].Method != "accept_all" || !rs[1].Choices["analytics"] {
		t.Errorf("the accept receipt: %+v", rs[1])
	}

	// A Norwegian visitor (navigator.language nb-NO) gets the banner in Norwegian bokmål.
	n := newTab(t, s, "nb")
	if _, err := chromedp.Call(n.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `Object.defineProperty(Navigator.prototype, "language", {get: () => "nb-NO"});`}); err != nil {
		t.Fatal(err)
	}
	n.openSite(site.URL)
	n.waitFor(`!!document.querySelector(".skjold-banner [data-skjold-action=reject]")`, 15*time.Second)
	n.wantText("Personvernet ditt på dette nettstedet", "Avvis alle", "Godta alle", "Velg selv")
	if lang := eval[string](n, `document.querySelector(".skjold-banner").lang`); lang != "nb" {
		t.Errorf("the Norwegian banner says lang=%q", lang)
	}
	n.screenshots("privacy-banner")

	// Global Privacy Control: an opt-out without a click, and a receipt saying so.
	g := newTab(t, s, "en")
	if _, err := chromedp.Call(g.ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: `navigator.globalPrivacyControl = true;`}); err != nil {
		t.Fatal(err)
	}
	g.openSite(site.URL)
	rs = waitReceipts(t, s, tok, 3)
	if rs[2].Method != "gpc" || !rs[2].GPC || rs[2].Choices["analytics"] {
		t.Errorf("the GPC receipt: %+v", rs[2])
	}
	if eval[bool](g, `!!document.querySelector(".skjold-banner") || window.analyticsRan === true`) {
		t.Error("with GPC the banner was shown or the tagged script ran")
	}

	// Staff see the statistics.
	email, oneTime := createUser(t, s, tok, "Ingrid Admin", "admin")
	c := newTab(t, s, "en")
	c.login(email, oneTime)
	const pw = "granite-Puffin-meadow-58"
	c.wantPath("/console/password")
	c.fill("#old_password", oneTime)
	c.fill("#password", pw)
	c.fill("#repeat", pw)
	c.submit("main button[type=submit]")
	if eval[string](c, `location.pathname`) == "/console/two-factor" {
		c.submit("main form button[type=submit]")
		c.waitFor(`document.querySelector(".secret code") !== null`, 10*time.Second)
		secret := eval[string](c, `document.querySelector(".secret code").textContent`)
		c.fill("#code", code(t, secret, map[string]bool{}))
		c.submit("main form[action='/console/two-factor/confirm'] button")
		c.submit("a.button")
	}
	c.open("/console/consent-banner")
	c.wantText("3 choices stored, 1 of them by Global Privacy Control", "/p/"+slug+"/banner.js", "33 %")
	if !strings.Contains(eval[string](c, `document.getElementById("origins").value`), site.URL) {
		t.Errorf("the settings do not show the website's origin %s", site.URL)
	}
	c.page("privacy-banner-stats")
}
