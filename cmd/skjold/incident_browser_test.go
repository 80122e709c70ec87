package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleBrowserIncident is the breach register's journey [F2]: a read token leaks and is
// revoked; the tenant's admin opens an incident from the revocation in the audit log (the
// form comes prefilled), records it (a missing description first), scopes it from the audit
// chain by the token (two people), records the decision, reads the drafts to the authority
// and to the people concerned in Norwegian and Polish, and closes it. An operator incident
// that affects the tenant is then acknowledged from the tenant's console.
func TestConsoleBrowserIncident(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	opToken := readToken(t, data)
	tenantToken := createTenant(t, s, opToken, "Fjordline Tours AS")
	var leaky created
	if code := s.call(t, "POST", "/api/v1/tokens", tenantToken, map[string]any{"name": "booking widget", "scopes": []string{"read"}}, &leaky); code != 201 {
		t.Fatalf("create token: %d", code)
	}
	for _, name := range []string{"Dag Dahl", "Eli Eng", "Finn Fosse"} {
		var sub created
		if code := s.call(t, "POST", "/api/v1/subjects", tenantToken, map[string]string{"name": name}, &sub); code != 201 {
			t.Fatalf("create subject: %d", code)
		}
		if name != "Finn Fosse" { // the leaked token read two of the three
			if code := s.call(t, "GET", "/api/v1/subjects/"+sub.ID, leaky.Secret, nil, nil); code != 200 {
				t.Fatalf("read through the token: %d", code)
			}
		}
	}
	if code := s.call(t, "DELETE", "/api/v1/tokens/"+leaky.ID, tenantToken, nil, nil); code != 204 && code != 200 {
		t.Fatalf("revoke the token: %d", code)
	}

	email, oneTime := createUser(t, s, tenantToken, "Ingrid Admin", "admin")
	b := newTab(t, s, "en")
	adminFirstLogin(t, b, email, oneTime, "granite-Puffin-meadow-58")

	// The revocation in the audit log offers to open an incident, prefilled from the event.
	b.open("/console/audit")
	b.wantText("token.revoke", "Open an incident")
	b.submit("a.incident-open")
	b.wantText("Record an incident")
	if got := eval[string](b, `document.getElementById("title").value`); got != "Suspected breach: token.revoke" {
		t.Errorf("the form's summary is prefilled with %q", got)
	}
	if got := eval[string](b, `document.getElementById("description").value`); !strings.Contains(got, "token:"+leaky.ID) {
		t.Errorf("the description does not name the token: %q", got)
	}
	b.page("incident-new")
	setText(b, "description", "")
	b.submit("form[action='/console/incidents'] button[type=submit]")
	b.wantText("Fill in this field.")
	if got := eval[string](b, `document.getElementById("description").getAttribute("aria-invalid")`); got != "true" {
		t.Errorf("the missing description is not marked: %q", got)
	}
	b.page("incident-new-error")
	setText(b, "description", "The booking widget's read token was published in a public repository and used from an unknown address.")
	b.fill("#categories", "contact")
	b.fill("#subjects", "3")
	b.fill("#records", "3")
	setText(b, "consequences", "Names of customers known to a third party; risk of phishing.")
	setText(b, "measures", "Token revoked; widget redeployed with a new token.")
	b.fill("#contact", "Data protection officer, personvern@fjordline.example")
	b.submit("form[action='/console/incidents'] button[type=submit]")
	b.wantText("The incident is recorded.", "Suspected breach: token.revoke", "left (deadline")
	b.page("incident-recorded")
	incidentPage := eval[string](b, `location.pathname`)

	// Scope from the audit chain: the two people the token read, no names.
	b.do(chromedp.SetValue("#who", "token"))
	b.fill("#scope_id", "not-a-token")
	b.submit("form[action$='/scope'] button")
	b.wantText("Enter the id of a token or a user as the audit log shows it.")
	b.fill("#scope_id", leaky.ID)
	b.submit("form[action$='/scope'] button")
	b.wantText("audit events touched 2 people.", "subject.read")
	if strings.Contains(b.text(), "Dag Dahl") {
		t.Error("the scoping shows a person's name")
	}
	b.page("incident-scope")
	b.open(incidentPage)
	b.wantText("People found in the audit log")
	if got := eval[string](b, `document.getElementById("incident-scoped").textContent`); got != "2" {
		t.Errorf("people found in the audit log: %q, want 2", got)
	}

	b.do(chromedp.SetValue("#notify_authority", "on"))
	b.do(chromedp.Click("#notify_authority"))
	setText(b, "reason", "Names of three customers exposed; low risk, but the authority is told within the deadline.")
	b.submit("form[action$='/decision'] button")
	b.wantText("The decision is recorded.", "the authority is to be notified")
	setText(b, "text", "Customers contacted by telephone.")
	b.submit("form[action$='/note'] button")
	b.wantText("The note is added to the timeline.", "Customers contacted by telephone.", "Audit log searched")

	// Drafts in Norwegian and Polish, rendered by the shared document partial.
	b.open(incidentPage + "/drafts/breach-authority?lang=nb")
	b.wantText("Melding om brudd på personopplysningssikkerheten til tilsynsmyndigheten", "Bruddets art",
		"Kategorier av personopplysninger: contact.", "Registrerte funnet i revisjonsloggen", "personvern@fjordline.example",
		"Token revoked; widget redeployed")
	if lang := eval[string](b, `document.querySelector("article.document").lang`); lang != "nb" {
		t.Errorf("the draft's language is %q", lang)
	}
	b.page("incident-draft-authority")
	b.open(incidentPage + "/drafts/breach-subjects?lang=pl")
	b.wantText("Zawiadomienie o naruszeniu ochrony danych osobowych", "Co się stało", "Z kim się kontaktować")
	b.page("incident-draft-subjects")

	b.open(incidentPage)
	setText(b, "note", "Handled; no misuse seen.")
	b.submit("form[action$='/close'] button")
	b.wantText("The incident is closed.", "Closed", "Clock stopped")
	if n := eval[int](b, `document.querySelectorAll("form[action$='/note'], form[action$='/scope']").length`); n != 0 {
		t.Errorf("a closed incident still offers %d forms", n)
	}
	b.page("incident-closed")

	// The operator records an incident that affects the tenant; its admin acknowledges it.
	var tenants struct{ Items []struct{ ID, Name string } }
	if code := s.call(t, "GET", "/api/v1/tenants", opToken, nil, &tenants); code != 200 {
		t.Fatalf("tenants: %d", code)
	}
	var tenantID string
	for _, tn := range tenants.Items {
		if tn.Name == "Fjordline Tours AS" {
			tenantID = tn.ID
		}
	}
	now := time.Now().UTC()
	var opInc created
	if code := s.call(t, "POST", "/api/v1/incidents", opToken, map[string]any{"title": "Mail relay compromised",
		"description": "The outgoing mail relay's credentials were stolen.", "detected_at": now.Add(-2 * time.Hour).Format(time.RFC3339),
		"aware_at": now.Add(-time.Hour).Format(time.RFC3339), "tenants": []string{tenantID}}, &opInc); code != 201 {
		t.Fatalf("operator incident: %d", code)
	}
	b.open("/console/incidents")
	b.wantText("Mail relay compromised", "not acknowledged yet")
	b.page("incident-list")
	b.open("/console/incidents/" + opInc.ID)
	b.wantText("Acknowledge the notice", "Your organisation")
	b.submit("form[action$='/acknowledge'] button")
	b.wantText("Your acknowledgement is recorded.", "acknowledged ")
	b.page("incident-acknowledged")
	var got struct {
		Tenants []struct {
			AcknowledgedAt string `json:"acknowledged_at"`
		}
	}
	if code := s.call(t, "GET", "/api/v1/incidents/"+opInc.ID, opToken, nil, &got); code != 200 || len(got.Tenants) != 1 || got.Tenants[0].AcknowledgedAt == "" {
		t.Errorf("the operator does not see the acknowledgement: %d %+v", code, got)
	}
}

// setText sets a text area's value (chromedp's SetValue refuses text areas).
func setText(b *tab, id, value string) {
	b.t.Helper()
	v, _ := json.Marshal(value)
	eval[bool](b, `(document.getElementById("`+id+`").value = `+string(v)+`) !== null`)
}
