package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleBrowserDPA is the data processing agreement's journey [G1, G2]: the tenant's
// owner, asked on the dashboard, reads the agreement and accepts it, and the G1 check
// passes; the operator adds a sub-processor in the console; the owner is then asked to
// accept again, G1 fails, and the new version's annex names the sub-processor. The owner
// also records a copy handed over [D3] and a destroyed storage medium [D4].
func TestConsoleBrowserDPA(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	opToken := readToken(t, data)
	var tn struct {
		Tenant struct {
			ID string `json:"id"`
		} `json:"tenant"`
	}
	if code := s.call(t, "POST", "/api/v1/tenants", opToken, map[string]string{"name": "Asysto AS"}, &tn); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	// The operator owner logs in to the console, and (over the API) creates the tenant's
	// first user, its owner.
	op := newTab(t, s, "en")
	recovery := ownerFirstLogin(op, data)
	var opLogin struct {
		Token string `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": "owner@skjold.local",
		"password": ownerPassword, "code": recovery[len(recovery)-1], "session": "token"}, &opLogin); code != 200 {
		t.Fatalf("operator owner's API login: %d", code)
	}
	const email = "astrid.owner@asysto.example"
	var owner struct {
		OneTimePassword string `json:"one_time_password"`
	}
	if code := s.call(t, "POST", "/api/v1/users", opLogin.Token, map[string]string{"email": email, "name": "Astrid Owner",
		"role": "owner", "tenant_id": tn.Tenant.ID}, &owner); code != 201 {
		t.Fatalf("create the owner: %d", code)
	}
	oneTime := owner.OneTimePassword

	b := newTab(t, s, "en")
	const pw = "harbour-Lantern-birch-63"
	adminFirstLogin(t, b, email, oneTime, pw)
	b.wantText("Your data processing agreement has changed. Read the new version and accept it.")

	g1 := func() string {
		b.open("/console/compliance")
		return eval[string](b, `[...document.querySelectorAll("tr")].find(r => r.cells[0] && r.cells[0].textContent === "G1").className`)
	}
	if got := g1(); got != "compliance-fail" {
		t.Errorf("G1 before the acceptance: %q, want compliance-fail", got)
	}

	// The owner reads the agreement: the Article 28(3) clauses and the annexes from live data.
	b.submit("div.dpa-banner a")
	b.wantPath("/console/dpa")
	b.wantText("Data processing agreement", "Between Asysto AS (the controller)", "4. Instructions", "5. Confidentiality",
		"7. Sub-processors", "9. Deletion or return of the data", "10. Audits and information", "Annex 1: Sub-processors",
		"No sub-processors are engaged.", "Annex 3: Technical and organisational measures", "12 characters", "Not accepted yet.")
	b.page("dpa")
	b.submit("form[action='/console/dpa/accept'] button")
	b.wantText("The agreement is accepted. Thank you.", "in the console")
	b.page("dpa-accepted")
	if got := g1(); got != "compliance-pass" {
		t.Errorf("G1 after the acceptance: %q, want compliance-pass", got)
	}
	b.open("/console/")
	if strings.Contains(b.text(), "Your data processing agreement has changed") {
		t.Error("the dashboard still asks for an acceptance")
	}

	// The operator adds a sub-processor in the console; a bad date is refused first.
	op.open("/console/subprocessors")
	for sel, v := range map[string]string{"#name": "Postkontoret AS", "#service": "E-mail delivery",
		"#purpose": "Notices to data subjects", "#location": "Norway (Oslo)", "#hosts": "smtp.postkontoret.example",
		"#contract_date": "2026-11-01", "#effective_date": "2027-01-15"} {
		op.fill(sel, v)
	}
	op.submit("form[action='/console/subprocessors'] button[type=submit]")
	op.wantText("The sub-processor is added.", "Postkontoret AS", "smtp.postkontoret.example")
	op.page("dpa-subprocessors-operator")

	// The owner is asked to accept again, and G1 fails until then.
	b.open("/console/")
	b.wantText("Your data processing agreement has changed. Read the new version and accept it.")
	b.page("dpa-banner")
	if got := g1(); got != "compliance-fail" {
		t.Errorf("G1 after a new sub-processor: %q, want compliance-fail", got)
	}
	b.wantText("Your data processing agreement has changed")
	b.open("/console/dpa")
	b.wantText("The agreement has changed since version", "Postkontoret AS", "Norway (Oslo)", "2027-01-15")
	b.page("dpa-reaccept")
	b.open("/console/subprocessors")
	b.wantText("Postkontoret AS", "Object to this sub-processor")
	b.page("dpa-subprocessors")
	b.open("/console/dpa")
	b.submit("form[action='/console/dpa/accept'] button")
	b.wantText("The agreement is accepted. Thank you.")
	if got := g1(); got != "compliance-pass" {
		t.Errorf("G1 after accepting again: %q, want compliance-pass", got)
	}

	// A copy handed over, with its default delete-by date.
	b.open("/console/registers")
	b.fill("#what", "Recovered mailbox of the sales department")
	b.fill("#recipient", "Asysto AS, IT department")
	b.fill("#handed_over", "2026-12-01")
	b.submit("form[action='/console/registers/copies'] button[type=submit]")
	b.wantText("The register is updated.", "Recovered mailbox of the sales department", "2026-12-15", "Not confirmed yet")
	// A destroyed medium [D4].
	b.fill("#m-what", "Backup disk WD-1234")
	b.fill("#method", "Shredded")
	b.fill("#destroyed_by", "Stena Recycling AS")
	b.fill("#witness", "Head of IT")
	b.fill("#destroyed_on", "2026-12-02")
	b.submit("form[action='/console/registers/media'] button[type=submit]")
	b.wantText("Backup disk WD-1234", "Stena Recycling AS", "Head of IT", "Destruction certificate (PDF, at most 10 MB)")
	b.page("dpa-registers")
}
