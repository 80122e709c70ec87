package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleBrowserSettings is the configuration journey: a tenant administrator changes
// the password policy and idle minutes, adds a purpose and a legal hold, runs the retention
// dry run and sees what would be erased, creates an API token whose secret is shown once
// and works on the API, and revokes it.
func TestConsoleBrowserSettings(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	tenantToken := createTenant(t, s, readToken(t, data), "Fjordline Tours AS")
	email, oneTime := createUser(t, s, tenantToken, "Ingrid Admin", "admin")

	// A subject with an enquiry, which retention erases 30 days after it was made.
	var subject created
	if code := s.call(t, "POST", "/api/v1/subjects", tenantToken, map[string]string{"name": "Dag"}, &subject); code != 201 {
		t.Fatalf("create subject: %d", code)
	}
	enquiry := map[string]any{"category": "enquiry", "data": map[string]string{"message": "A cabin for two?", "topic": "booking"}}
	if code := s.call(t, "POST", "/api/v1/subjects/"+subject.ID+"/records", tenantToken, enquiry, nil); code != 201 {
		t.Fatalf("create record: %d", code)
	}

	b := newTab(t, s, "en")
	const pw = "granite-Puffin-meadow-58"
	adminFirstLogin(t, b, email, oneTime, pw)
	b.wantText("Settings", "Legal holds", "Purposes", "API tokens")

	// Password policy and idle minutes; a value out of range is refused next to its field.
	b.open("/console/settings")
	b.page("settings")
	b.fill("#idle_minutes", "0")
	b.submit("form[action='/console/settings/session'] button[type=submit]")
	b.wantText("Choose between 1 and 240 minutes.")
	if got := eval[string](b, `document.getElementById("idle_minutes").getAttribute("aria-invalid")`); got != "true" {
		t.Errorf("the refused field is not marked invalid: %q", got)
	}
	b.page("settings-error")
	b.fill("#min_length", "14")
	b.fill("#idle_minutes", "20")
	b.submit("form[action='/console/settings/session'] button[type=submit]")
	b.wantText("The settings are saved.")
	if got := eval[string](b, `document.getElementById("min_length").value + "/" + document.getElementById("idle_minutes").value`); got != "14/20" {
		t.Errorf("the settings page shows %s, want 14/20", got)
	}
	if got := eval[string](b, `document.body.dataset.idleSeconds`); got != "1200" {
		t.Errorf("the page locks after %s seconds, want 1200", got)
	}
	var set struct {
		Password struct {
			MinLength int `json:"min_length"`
		} `json:"password"`
		IdleMinutes int `json:"idle_minutes"`
	}
	if code := s.call(t, "GET", "/api/v1/settings/session", tenantToken, nil, &set); code != 200 || set.Password.MinLength != 14 || set.IdleMinutes != 20 {
		t.Errorf("the API reads %d: %+v", code, set)
	}

	// A purpose based on consent, with its notice.
	b.open("/console/purposes")
	b.fill("#name", "offers")
	b.fill("#legal_basis", "consent")
	b.fill("#description", "Seasonal offers.")
	b.fill("#notice", "We send you our seasonal offers by e-mail. You can withdraw your consent at any time.")
	b.do(chromedp.Click("#channel-email"))
	b.submit("form[action='/console/purposes'] button[type=submit]")
	b.wantText("The purpose is saved.", "offers", "Seasonal offers.", "Version 1")
	b.page("purposes")

	// A legal hold on the invoices.
	b.open("/console/holds")
	b.fill("#reason", "Tax audit 2026")
	b.fill("#category", "invoice")
	b.submit("form[action='/console/holds'] button[type=submit]")
	b.wantText("The hold is placed.", "Tax audit 2026", "In force")
	b.page("holds")

	// The retention dry run lists the enquiry, erasing nothing.
	b.open("/console/categories")
	b.page("categories")
	b.fill("#days", "31")
	b.submit("form[action='/console/categories/dry-run'] button[type=submit]")
	b.wantText("Due for erasure within 31 days: 1.", subject.ID)
	if n := eval[int](b, `document.querySelectorAll("table[aria-describedby=dryrun-result] tbody tr").length`); n != 1 {
		t.Errorf("the dry run shows %d rows, want 1", n)
	}
	b.page("categories-dry-run")
	if code := s.call(t, "GET", "/api/v1/subjects/"+subject.ID, tenantToken, nil, nil); code != 200 {
		t.Errorf("the dry run erased the subject: %d", code)
	}

	// A token: the secret is shown once, works, and stops working when revoked.
	b.open("/console/tokens")
	b.fill("#name", "Booking system")
	b.do(chromedp.Click("#scope-read"))
	b.submit("form[action='/console/tokens'] button[type=submit]")
	b.wantText("Token Booking system is created", "It is shown only this once")
	secret := eval[string](b, `document.getElementById("token-secret-value").textContent`)
	b.page("tokens-created")
	if code := s.call(t, "GET", "/api/v1/subjects", secret, nil, nil); code != 200 {
		t.Fatalf("the new token reads subjects: %d", code)
	}
	b.open("/console/tokens")
	if strings.Contains(b.text(), secret) {
		t.Error("the token list shows the secret again")
	}
	b.submit(`button[aria-label="Revoke Booking system"]`)
	b.wantText("The token is revoked.", "Revoked")
	b.page("tokens")
	if code := s.call(t, "GET", "/api/v1/subjects", secret, nil, nil); code != 401 {
		t.Errorf("the revoked token answers %d, want 401", code)
	}

	for _, p := range []string{"profiles", "register", "contact-check"} {
		b.open("/console/" + p)
		b.wantPath("/console/" + p)
		b.page(p)
	}

	// Every configuration page in Norwegian and Polish, chosen and saved for the person.
	for _, lang := range []string{"nb", "pl"} {
		b.do(chromedp.SetValue("#lang-select", lang))
		b.submit("footer button")
		b.lang = lang
		for _, p := range []string{"settings", "holds", "purposes", "categories", "contact-check", "tokens", "profiles", "register"} {
			b.open("/console/" + p)
			b.wantPath("/console/" + p)
			b.page(p)
		}
	}
}
