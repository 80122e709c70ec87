package http

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestComplianceAPI: the operator sees its own checks and every tenant's, a tenant's admin
// token only its own tenant's, a read-only token nothing; the profile changes through PUT,
// a bad one with 400 and no change, and the report follows it.
func TestComplianceAPI(t *testing.T) {
	e := newEnv(t)
	a, b := e.createTenant(t, "Asysto AS"), e.createTenant(t, "MicroIT AS")

	var rep skjold.ComplianceReport
	e.do(t, e.operator, "GET", "/api/v1/compliance", nil).want(t, 200).decode(t, &rep)
	seen := map[string]bool{}
	for _, sc := range rep.Scopes {
		seen[sc.Scope] = true
	}
	if rep.Scopes[0].Scope != "operator" || !seen[a.id] || !seen[b.id] || rep.OK {
		t.Fatalf("operator report: %d scopes, first %q, ok %v; want operator first, both tenants, failing (no backups ran)",
			len(rep.Scopes), rep.Scopes[0].Scope, rep.OK)
	}
	e.do(t, a.token, "GET", "/api/v1/compliance", nil).want(t, 200).decode(t, &rep)
	if len(rep.Scopes) != 1 || rep.Scopes[0].TenantID != a.id {
		t.Fatalf("tenant report covers %+v, want only tenant a", rep.Scopes)
	}
	idle := func(rep *skjold.ComplianceReport) string {
		for _, ch := range rep.Scopes[0].Checks {
			if ch.Check == "idle_lock" {
				return ch.Status
			}
		}
		return ""
	}
	if idle(&rep) != skjold.CheckPass {
		t.Errorf("idle lock with the default 15 minutes: %s, want pass", idle(&rep))
	}
	reader := e.createToken(t, a.token, "reader", skjold.ScopeRead)
	e.do(t, reader.Secret, "GET", "/api/v1/compliance", nil).want(t, 403)

	// The tenant promises a 10-minute lock: its own 15 minutes now fail the check.
	var p skjold.ComplianceProfile
	e.do(t, a.token, "PUT", "/api/v1/compliance/profile", map[string]any{"max_idle_minutes": 10}).want(t, 200).decode(t, &p)
	if p.MaxIdleMinutes != 10 || len(p.BackupTimes) != 2 {
		t.Fatalf("profile after PUT: %+v", p)
	}
	e.unchanged(t, func() {
		e.do(t, a.token, "PUT", "/api/v1/compliance/profile", map[string]any{"backup_times": []string{"7pm"}}).want(t, 400)
	})
	e.do(t, a.token, "GET", "/api/v1/compliance", nil).want(t, 200).decode(t, &rep)
	if idle(&rep) != skjold.CheckFail {
		t.Errorf("idle lock of 15 minutes against a promised 10: %s, want fail", idle(&rep))
	}
	e.do(t, b.token, "GET", "/api/v1/compliance/profile", nil).want(t, 200).decode(t, &p)
	if p.MaxIdleMinutes != 15 {
		t.Errorf("another tenant's profile changed: %+v", p)
	}
}

// TestComplianceMetrics: every check is a gauge, 1 pass, 0 fail, -1 not configured.
func TestComplianceMetrics(t *testing.T) {
	e := newEnv(t)
	a := e.createTenant(t, "Trainingbot Sp. z o.o.")
	m := NewMetrics("test", func(context.Context) (int64, error) { return 0, nil })
	m.WatchCompliance(e.db.Compliance)
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`skjold_compliance_check{check="idle_lock",scope="` + a.id + `"} 1`,
		`skjold_compliance_check{check="backup_times",scope="operator"} 0`,
		`skjold_compliance_check{check="dpa",scope="` + a.id + `"} 0`, // no owner accepted the agreement yet
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestMaintenanceAPI: the operator schedules a window, a bad one is refused and stores
// nothing, a tenant sees the window, and the operator cancels it [E6].
func TestMaintenanceAPI(t *testing.T) {
	e := newEnv(t)
	e.unchanged(t, func() {
		e.do(t, e.operator, "POST", "/api/v1/maintenance", map[string]string{"starts": "tomorrow", "ends": "2099-01-01T23:00:00Z", "note": "x"}).
			wantError(t, 400, skjold.EINVALID)
	})
	var m skjold.Maintenance
	e.do(t, e.operator, "POST", "/api/v1/maintenance", map[string]string{"starts": "2099-01-01T22:00:00Z",
		"ends": "2099-01-01T23:30:00Z", "note": "Database upgrade"}).want(t, 201).decode(t, &m)
	var list struct{ Items []skjold.Maintenance }
	e.do(t, e.a.token, "GET", "/api/v1/maintenance", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != m.ID || list.Items[0].Note != "Database upgrade" {
		t.Fatalf("tenant sees %+v", list.Items)
	}
	e.do(t, e.a.token, "DELETE", "/api/v1/maintenance/"+m.ID, nil).want(t, 403)
	e.do(t, e.operator, "DELETE", "/api/v1/maintenance/"+m.ID, nil).want(t, 204)
	e.do(t, e.a.token, "GET", "/api/v1/maintenance", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("after the cancellation: %+v", list.Items)
	}
}
