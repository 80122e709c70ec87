package http

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		return map[string]consoleBuild{
			"GET /console/compliance": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/compliance"}
			},
			// Only an owner changes the profile: a tenant's admin is refused by the store.
			"POST /console/compliance/profile": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/compliance/profile", form: complianceForm("14:00, 19:00", "15"), refusals: []int{403}}
			},
		}
	})
}

func complianceForm(times, idle string) url.Values {
	return url.Values{"backup_times": {times}, "backup_zone": {"UTC"}, "daily_copies": {"7"}, "min_password_length": {"12"},
		"max_idle_minutes": {idle}, "offsite": {"on"}, "drill": {"on"}, "admin_two_factor": {"on"}, "offboarding": {"on"},
		"training": {"on"}, "retention": {"on"}, "audit_chain": {"on"}, "dpa": {"on"}}
}

// TestConsoleCompliance: an owner sees the tenant's checks with their evidence, and changes
// the profile; a bad time is refused next to its field and changes nothing; an admin sees
// the page but cannot change the profile.
func TestConsoleCompliance(t *testing.T) {
	e := newEnv(t)
	owner, _ := e.cfgAdmin(t, skjold.RoleOwner)
	page := owner.get(t, "/console/compliance").want(t, 200)
	wantText(t, page, "Compliance", "Backups at the promised times", "Sessions lock when idle", "Not configured", "What we promise")
	if !strings.Contains(string(page.body), "idle_minutes 15 (promised at most 15)") {
		t.Error("the page does not show the idle lock's evidence")
	}
	r := owner.post(t, "/console/compliance/profile", complianceForm("7pm", "10")).want(t, 400)
	if cfgFieldError(r, "backup_times") == "" {
		t.Errorf("a bad backup time is not refused next to its field:\n%s", r.body)
	}
	var p skjold.ComplianceProfile
	e.do(t, e.a.token, "GET", "/api/v1/compliance/profile", nil).want(t, 200).decode(t, &p)
	if p.MaxIdleMinutes != 15 {
		t.Fatalf("a refused form changed the profile: %+v", p)
	}
	owner.post(t, "/console/compliance/profile", complianceForm("14:00, 19:00", "10")).wantRedirect(t, "/console/compliance?m=compliance_saved")
	page = owner.get(t, "/console/compliance?m=compliance_saved").want(t, 200)
	wantText(t, page, "The compliance profile is saved.", "idle_minutes 15 (promised at most 10)")

	admin, _ := e.cfgAdmin(t, skjold.RoleAdmin)
	admin.get(t, "/console/compliance").want(t, 200)
	admin.post(t, "/console/compliance/profile", complianceForm("14:00", "30")).want(t, 403)
}

// TestConsoleMaintenanceBanner: a window within three days shows on every console page.
func TestConsoleMaintenanceBanner(t *testing.T) {
	e := newEnv(t)
	c, _ := e.cfgAdmin(t, skjold.RoleAdmin)
	page := c.get(t, "/console/").want(t, 200)
	if strings.Contains(string(page.body), "maintenance-banner") {
		t.Fatal("a banner without a window")
	}
	starts := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Minute)
	e.do(t, e.operator, "POST", "/api/v1/maintenance", map[string]string{"starts": starts.Format(time.RFC3339),
		"ends": starts.Add(time.Hour).Format(time.RFC3339), "note": "Database upgrade"}).want(t, 201)
	page = c.get(t, "/console/compliance").want(t, 200)
	wantText(t, page, "Planned maintenance from "+starts.Format("2006-01-02 15:04"), "Database upgrade")
}
