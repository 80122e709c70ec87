package http

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// factOf returns the text of the overview's fact with the element id, or "".
func factOf(r *reply, id string) string {
	m := regexp.MustCompile(`id="` + id + `">(.*?)</(?:dd|p)>`).FindSubmatch(r.body)
	if m == nil {
		return ""
	}
	return text(m[1])
}

// TestConsoleDashboardFacts shows a tenant's auditor the security events of the last seven
// days (by time and action, naming nobody), the last retention sweep, and the last backup
// and drill with their outcome; an agent sees none of it, and another tenant's events stay
// out of the count.
func TestConsoleDashboardFacts(t *testing.T) {
	e := newEnv(t)
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	auditor := e.activeStaff(t, e.a.id, skjold.RoleAuditor, "")
	c := e.consoleClient(t)
	c.login(t, auditor)
	e.createSubject(t, e.a.token, map[string]string{"name": "Anna Berg"}) // no security event
	e.loginReply(t, agent.user.Email, "not the password", "").want(t, 401)

	page := c.get(t, "/console/").want(t, 200)
	checkPage(t, page)
	wantText(t, page, "Security and upkeep", "auth.login_failed", "Last retention sweep", "Last backup", "Last restore drill")
	for _, id := range []string{"last-sweep", "last-backup", "last-drill"} {
		if got := factOf(page, id); got != "None yet" {
			t.Errorf("%s before any run: %q", id, got)
		}
	}
	count := factOf(page, "security-count")
	if !regexp.MustCompile(`^Security events in the last 7 days: [1-9][0-9]*\.$`).MatchString(count) {
		t.Errorf("security count %q", count)
	}
	if strings.Contains(text(page.body), "subject.create") {
		t.Error("the security events list a subject's creation")
	}
	for _, personal := range []string{agent.user.Email, agent.user.ID, "127.0.0.1"} {
		if strings.Contains(string(page.body), personal) {
			t.Errorf("the overview shows %q", personal)
		}
	}

	ctx := operatorContext()
	for _, run := range []struct{ slot, action, status string }{
		{"backup@2026-12-01T02:00:00Z", "backup.completed", skjold.RunOK},
		{"drill@2026-12-01T03:00:00Z", "drill.failed", skjold.RunFailed},
	} {
		if ok, err := e.db.ClaimBackupRun(ctx, run.slot); !ok || err != nil {
			t.Fatalf("claim %s: %v %v", run.slot, ok, err)
		}
		if err := e.db.FinishBackupRun(ctx, run.slot, run.action, &skjold.BackupRun{Status: run.status, Error: "target x"}); err != nil {
			t.Fatal(err)
		}
	}
	swept := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	e.metrics.ObserveSweep(&skjold.SweepReport{Started: swept.Add(-time.Minute), Finished: swept})
	page = c.get(t, "/console/").want(t, 200)
	if got := factOf(page, "last-backup"); !strings.Contains(got, "Succeeded") {
		t.Errorf("last backup %q", got)
	}
	if got := factOf(page, "last-drill"); !strings.Contains(got, "Failed") {
		t.Errorf("last drill %q", got)
	}
	if got := factOf(page, "last-sweep"); got == "None yet" || !strings.Contains(got, "2026") {
		t.Errorf("last sweep %q", got)
	}
	if strings.Contains(text(page.body), "target x") {
		t.Error("the overview shows a backup run's error, which is the operator's")
	}

	// Norwegian and Polish say it in their words.
	for lang, want := range map[string]string{"nb": "Sikkerhet og vedlikehold", "pl": "Bezpieczeństwo i utrzymanie"} {
		c.post(t, "/console/account/language", map[string][]string{"lang": {lang}})
		wantText(t, c.get(t, "/console/").want(t, 200), want)
	}

	ac := e.consoleClient(t)
	ac.login(t, agent)
	if strings.Contains(text(ac.get(t, "/console/").want(t, 200).body), "Security and upkeep") {
		t.Error("an agent sees the security facts")
	}
	auditorB := e.activeStaff(t, e.b.id, skjold.RoleAuditor, "")
	bc := e.consoleClient(t)
	bc.login(t, auditorB)
	if strings.Contains(text(bc.get(t, "/console/").want(t, 200).body), "auth.login_failed") {
		t.Error("tenant B's overview shows tenant A's failed login")
	}
}
