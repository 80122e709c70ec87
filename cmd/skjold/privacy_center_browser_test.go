package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The privacy center's journeys in the real browser, against a real `skjold serve`: a data
// subject asks for their data, confirms with the mailed code and downloads the package
// from the status page; and every privacy-center page in three languages, with no raw
// message key and no serious axe-core violation.

// pcSetup starts a server with a tenant whose privacy facts are set, and returns the server,
// the tenant's token and its privacy center's path.
func pcSetup(t *testing.T, name string) (*server, string, string) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	tok := createTenant(t, s, readToken(t, data), name)
	facts := map[string]any{"controller": name, "contact": "personvern@fjordklinikken.example",
		"supervisory_authority": "Datatilsynet, Postboks 458 Sentrum, 0105 Oslo", "recipients": []string{"Norsk Helsenett SF"},
		"storage_location": "Norway (EEA)"}
	if code := s.call(t, "PUT", "/api/v1/settings/privacy", tok, facts, nil); code != 200 {
		t.Fatalf("privacy facts: %d", code)
	}
	return s, tok, "/p/fjordklinikken-as/"
}

// TestPrivacyCenterBrowserAccess: (a) a subject requests access by e-mail, reads the code
// from the outbox, verifies, and after staff complete the request downloads the package
// from the status page, once.
func TestPrivacyCenterBrowserAccess(t *testing.T) {
	t.Parallel()
	s, tok, base := pcSetup(t, "Fjordklinikken AS")
	const addr = "kari.nordmann@pc.example"
	if code := s.call(t, "POST", "/api/v1/subjects", tok, map[string]string{"name": "Kari Nordmann", "email": addr}, nil); code != 201 {
		t.Fatalf("create subject: %d", code)
	}
	b := newTab(t, s, "en")
	b.open(base)
	b.wantText("How Fjordklinikken AS handles your personal data", "Datatilsynet", "Norsk Helsenett SF")
	b.do(chromedp.Click(`a[href="` + base + `request?type=access"]`))
	b.waitFor(`location.pathname.endsWith("/request") && document.readyState === "complete"`, 10*time.Second)
	if got := eval[string](b, `document.querySelector("#type").value`); got != "access" {
		t.Errorf("the form chose %q", got)
	}
	b.fill("#email", addr)
	b.submit("main form button[type=submit]")
	b.wantText("Confirm your request")
	id := eval[string](b, `document.querySelector("input[name=id]").value`)
	b.fill("#code", outboxCode(t, s.data, addr))
	b.submit("main form button[type=submit]")
	b.wantPath(base + "status")
	b.wantText("Being handled", "Answer due by")

	if code := s.call(t, "POST", "/api/v1/requests/"+id+"/complete", tok, map[string]any{}, nil); code != 200 {
		t.Fatalf("complete: %d", code)
	}
	outboxMail(t, s.data, addr) // the link e-mail
	b.open(base + "status")
	b.wantText("Completed", "Download my data")
	fetchPackage := `(async () => {
  const f = document.querySelector("#package-form");
  const r = await fetch(f.action, {method: "POST", body: new URLSearchParams(new FormData(f))});
  const bytes = new Uint8Array(await r.arrayBuffer());
  return r.status + " " + r.headers.get("Content-Type") + " " + String.fromCharCode(bytes[0], bytes[1]) + " " + bytes.length;
})()`
	got := pcEval(t, b, fetchPackage)
	var status, ctype, magic string
	var size int
	if _, err := fmt.Sscan(got, &status, &ctype, &magic, &size); err != nil || status != "200" || ctype != "application/zip" || magic != "PK" || size < 100 {
		t.Fatalf("package download: %q", got)
	}
	if again := pcEval(t, b, fetchPackage); again[:3] != "404" {
		t.Errorf("a second download: %q", again)
	}
}

// TestPrivacyCenterBrowserLanguages: (f) every privacy-center page in English, Norwegian
// bokmål and Polish: in its language, no raw message key, no serious or critical axe-core
// violation, usable with the keyboard.
func TestPrivacyCenterBrowserLanguages(t *testing.T) {
	t.Parallel()
	s, _, base := pcSetup(t, "Fjordklinikken AS")
	for _, lang := range []string{"en", "nb", "pl"} {
		b := newTab(t, s, lang)
		b.open(base)
		b.page("privacy-notice")
		b.open(base + "request")
		b.page("privacy-request")
		b.submit("main form button[type=submit]") // nothing filled in
		b.page("privacy-request-invalid")
		b.fill("#email", "nobody@pc.example")
		b.submit("main form button[type=submit]")
		b.page("privacy-verify")
		b.fill("#code", "00000000")
		b.submit("main form button[type=submit]")
		b.page("privacy-verify-wrong")
		b.open(base + "status")
		b.page("privacy-status-none")
		b.open("/p/no-such-tenant/")
		b.page("privacy-not-found")
	}
}

// pcEval runs an async expression in the page and returns its string.
func pcEval(t *testing.T, b *tab, js string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	return v
}
