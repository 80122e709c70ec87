package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The subject's own view on the privacy center in the real browser, against a real
// `skjold serve`: (b) a subject logs in with the code from the outbox, withdraws a consent,
// and the API then refuses that purpose; (c) the "who accessed my data" list shows a staff
// member's read with its purpose, by role and not by name. Both check every page as the
// console's journeys do (language, no raw key, axe-core, keyboard) and save the screenshots
// (privacy-self-*) when -screenshots is given.

// selfSubject gives the tenant a consent purpose and a category with a purpose-bound field,
// and creates a subject with a booking who consented; it returns the subject's id and address.
func selfSubject(t *testing.T, s *server, tok string) (string, string) {
	t.Helper()
	const addr = "kari.nordmann@self.example"
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/api/v1/purposes/newsletter", map[string]any{"legal_basis": "consent", "description": "Health tips by e-mail",
			"notice": "Fjordklinikken sends you health tips by e-mail once a month. You can withdraw your consent at any time."}},
		{"PUT", "/api/v1/purposes/treatment", map[string]any{"legal_basis": "contract", "description": "Your treatment"}},
		{"PUT", "/api/v1/categories/appointment", map[string]any{"legal_basis": "contract", "purposes": []string{"treatment"},
			"description": "Appointments", "retention": map[string]string{"period": "P10Y", "from": "created"},
			"fields": []map[string]any{{"name": "clinic", "type": "string", "description": "Clinic"},
				{"name": "date", "type": "date", "description": "Date"},
				{"name": "allergy_notes", "type": "string", "description": "Allergy notes", "purposes": []string{"treatment"}}}}},
	} {
		if code := s.call(t, c.method, c.path, tok, c.body, nil); code != 200 && code != 201 {
			t.Fatalf("%s %s: %d", c.method, c.path, code)
		}
	}
	var sub struct {
		ID string `json:"id"`
	}
	if code := s.call(t, "POST", "/api/v1/subjects", tok, map[string]string{"name": "Kari Nordmann", "email": addr,
		"phone": "+4791234567"}, &sub); code != 201 {
		t.Fatalf("create subject: %d", code)
	}
	rec := map[string]any{"category": "appointment", "data": map[string]any{"clinic": "Ålesund", "date": "2026-11-20",
		"allergy_notes": "Penicillin"}}
	if code := s.call(t, "POST", "/api/v1/subjects/"+sub.ID+"/records", tok, rec, nil); code != 201 {
		t.Fatalf("create record: %d", code)
	}
	if code := s.call(t, "POST", "/api/v1/subjects/"+sub.ID+"/consents", tok, map[string]any{"purpose": "newsletter", "granted": true}, nil); code != 201 {
		t.Fatalf("consent: %d", code)
	}
	return sub.ID, addr
}

// selfLogin logs the subject in on the tab with the code from the outbox.
func (b *tab) selfLogin(base, addr string, shots bool) {
	b.t.Helper()
	b.open(base + "me")
	if shots {
		b.page("privacy-self-login")
	}
	b.fill("#email", addr)
	b.submit("main form button[type=submit]")
	if shots {
		b.page("privacy-self-code")
	}
	b.fill("#code", outboxCode(b.t, b.s.data, addr))
	b.submit("main form button[type=submit]")
	b.wantPath(base + "me")
}

// TestPrivacySelfBrowserWithdraw: (b) a subject logs in with a code, sees their data with
// the purpose-bound field, withdraws a consent, and the API then refuses that purpose.
func TestPrivacySelfBrowserWithdraw(t *testing.T) {
	t.Parallel()
	s, tok, base := pcSetup(t, "Fjordklinikken AS")
	id, addr := selfSubject(t, s, tok)
	if code := s.call(t, "GET", "/api/v1/subjects/"+id+"?purpose=newsletter", tok, nil, nil); code != 200 {
		t.Fatalf("read for the purpose before: %d", code)
	}
	b := newTab(t, s, "en")
	b.selfLogin(base, addr, false)
	b.wantText("The data held about you", "Kari Nordmann", addr, "Appointments", "Clinic", "Ålesund", "Allergy notes", "Penicillin")
	b.do(chromedp.Click(`a[href="` + base + `me/consents"]`))
	b.waitFor(`location.pathname.endsWith("/me/consents") && document.readyState === "complete"`, 10*time.Second)
	b.wantText("Health tips by e-mail", "You have given your consent", "once a month")
	b.submit(`form[action="` + base + `me/consents"] button[type=submit]`)
	b.wantText("Your consent is withdrawn", "You have withdrawn your consent", "Give my consent")
	if code := s.call(t, "GET", "/api/v1/subjects/"+id+"?purpose=newsletter", tok, nil, nil); code != 403 {
		t.Errorf("the API read for the withdrawn purpose: %d, want 403", code)
	}
	b.submit(".privacy-self-logout button")
	b.wantText("You are logged out", "Send me a code")
}

// TestPrivacySelfBrowserAccess: (c) a staff member reads the subject for a purpose; the
// subject's "who accessed my data" list shows the read with its purpose and the staff
// member's role, not their name. Every page of the subject's own view, in English,
// Norwegian bokmål and Polish, passes the page checks (and gives the screenshots).
func TestPrivacySelfBrowserAccess(t *testing.T) {
	t.Parallel()
	s, tok, base := pcSetup(t, "Fjordklinikken AS")
	id, addr := selfSubject(t, s, tok)
	email, oneTime := createUser(t, s, tok, "Arne Agent", "agent")
	staff := activate(t, s, email, oneTime)
	if code := s.call(t, "GET", "/api/v1/subjects/"+id+"?purpose=treatment", staff.token, nil, nil); code != 200 {
		t.Fatalf("the staff read: %d", code)
	}
	for _, lang := range []string{"en", "nb", "pl"} {
		b := newTab(t, s, lang)
		b.selfLogin(base, addr, true)
		b.page("privacy-self-data")
		b.open(base + "me/consents")
		b.page("privacy-self-consents")
		b.open(base + "me/access")
		b.page("privacy-self-access")
		if lang != "en" {
			continue
		}
		b.wantText("Who accessed your data", "Fjordklinikken AS: Agent", "Your treatment", "Read")
		if text := b.text(); strings.Contains(text, "Arne Agent") || strings.Contains(text, email) || strings.Contains(text, "Penicillin") {
			t.Errorf("the access list names the staff member or shows a value:\n%s", text)
		}
	}
}
