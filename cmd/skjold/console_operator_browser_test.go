package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// TestConsoleBrowserOperator is the operator pages' journey: the operator owner, after the
// first login, creates a tenant, files its freeze (a second operator person approves it),
// sees it frozen and reactivates it, runs a backup and sees the run with its duration, bans
// an address and lifts the ban, and opens the health page.
func TestConsoleBrowserOperator(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "skjold-data")
	recipient, err := runCLI(t, nil, "backup", "keygen", "--out", filepath.Join(dir, "backup-identity.txt"))
	must(t, err)
	s := startServer(t, data, map[string]string{"SKJOLD_BACKUP_RECIPIENTS": strings.TrimSpace(recipient),
		"SKJOLD_BACKUP_DIRS": filepath.Join(dir, "backups")})
	b := newTab(t, s, "en")
	recovery := ownerFirstLogin(b, data)
	second := secondOperator(t, s, recovery)

	b.open("/console/operator/tenants")
	b.wantText("Tenants", "The organisations that use this Skjold.")
	b.submit("form[action='/console/operator/tenants'] button")
	b.wantText("Fill in this field.")
	b.fill("#name", "Fjord Travel AS")
	b.submit("form[action='/console/operator/tenants'] button")
	b.wantText("Fjord Travel AS is created", "it is shown only this once")
	b.page("operator-tenants")
	b.submit("section.created a")
	b.wantText("Fjord Travel AS", "Freeze the tenant", "Terminate the tenant")

	b.fill("#until", "2001-01-01")
	b.submit("form[action$='/freeze'] button")
	b.wantText("Choose a date after today.")
	b.page("operator-tenant-error")
	b.fill("#until", time.Now().AddDate(0, 3, 0).Format(time.DateOnly))
	b.submit("form[action$='/freeze'] button")
	b.wantText("The freeze is filed.", "Waiting for a second person")
	b.page("operator-tenant")
	tenantPage := eval[string](b, `location.pathname`)

	var approvals struct {
		Items []struct{ ID, Action string }
	}
	if code := s.call(t, "GET", "/api/v1/approvals", second, nil, &approvals); code != 200 || len(approvals.Items) != 1 {
		t.Fatalf("approvals: %d %+v", code, approvals)
	}
	if code := s.call(t, "POST", "/api/v1/approvals/"+approvals.Items[0].ID+"/approve", second, nil, nil); code != 200 {
		t.Fatalf("approve the freeze: %d", code)
	}
	b.open(tenantPage)
	b.wantText("Frozen", "Frozen until", "Reactivate the tenant")
	b.page("operator-tenant-frozen")
	b.submit("form[action$='/reactivate'] button")
	b.wantText("The tenant is active again.", "Active")

	b.open("/console/operator/backups")
	b.wantText("No backup has run yet.")
	b.submit("form.run-now button")
	b.wantText("is made.", "Backup started by hand", "Succeeded")
	if took := eval[string](b, `document.querySelector("td[data-label=Took]").textContent`); !strings.HasSuffix(took, " s") {
		t.Errorf("the run's duration reads %q", took)
	}
	b.page("operator-backups")
	b.submit("form[action='/console/operator/backups/verify'] button")
	b.wantText("Verification of", "Intact")

	b.open("/console/operator/network")
	b.fill("#addr", "198.51.100.7")
	b.fill("#hours", "2")
	b.submit("form[action='/console/operator/bans'] button")
	b.wantText("The address is banned.", "198.51.100.7", "Banned by an operator")
	b.page("operator-network")
	b.submit("form[action='/console/operator/bans/lift'] button")
	b.wantText("The ban is lifted.", "No address is banned.")

	b.open("/console/operator/health")
	b.wantText("System health", "Working", "sqlite", "Schema version", "events", "Last backup", "Succeeded")
	b.page("operator-health")
	b.open("/console/operator/staff")
	b.wantText("Operator owner", "Operator administrator")
	b.page("operator-staff")
	b.open("/console/operator/grants")
	b.wantText("You hold no live grant.")
	b.page("operator-grants")
}

// ownerFirstLogin logs the operator owner in for the first time through the console's
// pages (one-time password, own password, two-step enrolment) and returns the recovery
// codes shown.
func ownerFirstLogin(b *tab, data string) []string {
	b.t.Helper()
	oneTime := readFile(b.t, filepath.Join(data, "initial-operator-password"))
	b.login("owner@skjold.local", oneTime)
	b.wantPath("/console/password")
	b.fill("#old_password", oneTime)
	b.fill("#password", ownerPassword)
	b.fill("#repeat", ownerPassword)
	b.submit("main button[type=submit]")
	b.wantPath("/console/two-factor")
	b.submit("main form button[type=submit]")
	b.waitFor(`document.querySelector(".secret code") !== null`, 10*time.Second)
	secret := eval[string](b, `document.querySelector(".secret code").textContent`)
	b.fill("#code", code(b.t, secret, map[string]bool{}))
	b.submit("main form[action='/console/two-factor/confirm'] button")
	codes := eval[[]string](b, `Array.from(document.querySelectorAll("ol.codes code"), c => c.textContent)`)
	b.submit("a.button")
	b.wantPath("/console/")
	return codes
}

const ownerPassword = "violet-Harbour-crane-47"

// secondOperator has the owner (logged in through the API with a recovery code) create an
// operator administrator, who logs in, sets a password and enrols a second factor; it
// returns that person's session token: the second pair of eyes.
func secondOperator(t *testing.T, s *server, recovery []string) string {
	t.Helper()
	type login struct {
		Token string `json:"token"`
		Stage string `json:"stage"`
	}
	var owner login
	if code := s.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": "owner@skjold.local",
		"password": ownerPassword, "code": recovery[len(recovery)-1], "session": "token"}, &owner); code != 200 || owner.Stage != "active" {
		t.Fatalf("owner's API login: %d %+v", code, owner)
	}
	email, oneTime := createUser(t, s, owner.Token, "Second Person", "admin")
	var second login
	if code := s.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": oneTime,
		"session": "token"}, &second); code != 200 {
		t.Fatalf("second person's login: %d", code)
	}
	const pw = "amber-Lantern-otter-83"
	if code := s.call(t, "POST", "/api/v1/auth/password", second.Token,
		map[string]string{"old_password": oneTime, "new_password": pw}, nil); code != 204 {
		t.Fatalf("second person's password: %d", code)
	}
	var enrol struct{ Secret string }
	if code := s.call(t, "POST", "/api/v1/auth/two-factor", second.Token, nil, &enrol); code != 200 {
		t.Fatalf("second person's enrolment: %d", code)
	}
	c, err := totp.GenerateCode(enrol.Secret, time.Now())
	must(t, err)
	if code := s.call(t, "POST", "/api/v1/auth/two-factor/confirm", second.Token, map[string]string{"code": c}, nil); code != 200 {
		t.Fatalf("second person's second factor: %d", code)
	}
	return second.Token
}
