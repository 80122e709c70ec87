package http

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestTenantFreeze freezes tenant A end to end through the four-eyes approval: filed by one
// operator manager, approved by another; then A's tokens, sessions and logins are refused
// while B works, and reactivation restores A's access.
func TestTenantFreeze(t *testing.T) {
	e := newEnv(t)
	first, second := e.activeStaff(t, "", skjold.RoleAdmin, ""), e.activeStaff(t, "", skjold.RoleAdmin, "")
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	until := e.clock.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	freeze := map[string]any{"action": skjold.ActionTenantFreeze, "target": e.a.id, "until": until}

	e.unchanged(t, func() {
		got := e.do(t, first.session, "POST", "/api/v1/approvals", map[string]any{"action": skjold.ActionTenantFreeze,
			"target": e.a.id}).wantError(t, 400, skjold.EINVALID)
		if got.Field != "until" {
			t.Errorf("a freeze without an end date is refused naming %q, want until", got.Field)
		}
	})
	var a skjold.Approval
	e.do(t, first.session, "POST", "/api/v1/approvals", freeze).want(t, 201).decode(t, &a)
	if a.Until == nil || !a.Until.Equal(until) || a.Status != skjold.ApprovalPending {
		t.Fatalf("filed freeze %+v, want pending until %v", a, until)
	}
	e.do(t, first.session, "POST", "/api/v1/approvals/"+a.ID+"/approve", nil).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, e.a.token, "GET", "/api/v1/categories", nil).want(t, 200)
	e.do(t, second.session, "POST", "/api/v1/approvals/"+a.ID+"/approve", nil).want(t, 200)

	refused := e.do(t, e.a.token, "GET", "/api/v1/categories", nil).wantError(t, 403, skjold.EFORBIDDEN)
	if refused.Message != "this tenant's account is frozen" {
		t.Errorf("a frozen tenant's token is refused with %q", refused.Message)
	}
	e.do(t, agent.session, "GET", "/api/v1/auth/session", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.loginReply(t, agent.user.Email, agent.password, "").wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, e.b.token, "GET", "/api/v1/categories", nil).want(t, 200)
	var tn skjold.Tenant
	e.do(t, e.operator, "GET", "/api/v1/tenants/"+e.a.id, nil).want(t, 200).decode(t, &tn)
	if tn.Status != skjold.TenantFrozen || tn.FrozenUntil == nil || !tn.FrozenUntil.Equal(until) {
		t.Errorf("frozen tenant reads %+v", tn)
	}

	var active skjold.Tenant
	e.do(t, e.operator, "POST", "/api/v1/tenants/"+e.a.id+"/reactivate", nil).want(t, 200).decode(t, &active)
	if active.Status != skjold.TenantActive || active.FrozenUntil != nil {
		t.Errorf("reactivated tenant reads %+v", active)
	}
	e.do(t, e.operator, "POST", "/api/v1/tenants/"+e.a.id+"/reactivate", nil).wantError(t, 409, skjold.ECONFLICT)
	e.do(t, e.operator, "POST", "/api/v1/tenants/"+missingID+"/reactivate", nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, e.a.token, "GET", "/api/v1/categories", nil).want(t, 200)
	e.login(t, agent.user.Email, agent.password, "")
}

// TestTenantCertificate terminates a tenant through the four-eyes approval and reads its
// deletion certificate.
func TestTenantCertificate(t *testing.T) {
	e := newEnv(t)
	c := e.createTenant(t, "Tenant C")
	asC := skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "test", TenantID: c.id, Scopes: skjold.AllScopes})
	if err := e.db.CreateSubject(asC, &skjold.Subject{Name: "Cecilie"}); err != nil {
		t.Fatal(err)
	}
	var hold skjold.Hold
	e.do(t, c.token, "POST", "/api/v1/holds", map[string]string{"reason": "Tax audit 2026/17"}).want(t, 201).decode(t, &hold)
	first, second := e.activeStaff(t, "", skjold.RoleAdmin, ""), e.activeStaff(t, "", skjold.RoleAdmin, "")
	// A legal hold in force refuses the deletion, naming it, unless the approval overrides it.
	refused := e.do(t, first.session, "POST", "/api/v1/approvals", map[string]any{"action": skjold.ActionTenantDeletion,
		"target": c.id}).wantError(t, 409, skjold.ECONFLICT)
	if refused.Field != "override_holds" || !strings.Contains(refused.Message, hold.ID) || !strings.Contains(refused.Message, hold.Reason) {
		t.Errorf("refusal %+v does not name the hold", refused)
	}
	var a skjold.Approval
	e.do(t, first.session, "POST", "/api/v1/approvals", map[string]any{"action": skjold.ActionTenantDeletion,
		"target": c.id, "override_holds": true}).want(t, 201).decode(t, &a)
	e.do(t, e.operator, "GET", "/api/v1/tenants/"+c.id+"/certificate", nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, second.session, "POST", "/api/v1/approvals/"+a.ID+"/approve", nil).want(t, 200)

	var cert skjold.DeletionCertificate
	e.do(t, e.operator, "GET", "/api/v1/tenants/"+c.id+"/certificate", nil).want(t, 200).decode(t, &cert)
	if cert.TenantID != c.id || cert.Deleted["subjects"] != 1 || cert.Deleted["tokens"] != 1 || cert.KeyID == "" ||
		!regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(cert.Hash) || !a.OverrideHolds ||
		len(cert.OverriddenHolds) != 1 || cert.OverriddenHolds[0].ID != hold.ID || cert.OverriddenHolds[0].Reason != hold.Reason {
		t.Errorf("certificate %+v", cert)
	}
	var tn skjold.Tenant
	e.do(t, e.operator, "GET", "/api/v1/tenants/"+c.id, nil).want(t, 200).decode(t, &tn)
	if tn.Status != skjold.TenantTerminated {
		t.Errorf("terminated tenant reads %+v", tn)
	}
	e.do(t, c.token, "GET", "/api/v1/categories", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.do(t, e.operator, "GET", "/api/v1/tenants/"+e.a.id+"/certificate", nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, e.operator, "POST", "/api/v1/tenants/"+c.id+"/reactivate", nil).wantError(t, 404, skjold.ENOTFOUND)
}

// fourEyes returns two operator managers acting through the store directly, for fixtures
// that need a tenant frozen or terminated without logging people in.
func fourEyes() (first, second context.Context) {
	mgr := func(id string) context.Context {
		return skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "user:" + id, Operator: true,
			UserID: id, Role: skjold.RoleAdmin, Scopes: skjold.RoleScopes(true, skjold.RoleAdmin)})
	}
	return mgr("fixture-manager-1"), mgr("fixture-manager-2")
}

// lifecycleTenant creates a tenant through the store and carries out action on it (a freeze
// for a month, or a termination) through the four eyes; it returns the tenant's id.
func (e *env) lifecycleTenant(t *testing.T, action string) string {
	t.Helper()
	tn := &skjold.Tenant{Name: "Lifecycle"}
	if _, err := e.db.CreateTenant(operatorContext(), tn); err != nil {
		t.Fatal(err)
	}
	first, second := fourEyes()
	until := e.clock.Now().Add(30 * 24 * time.Hour)
	a := &skjold.Approval{Action: action, Target: tn.ID, Until: &until}
	if err := e.db.RequestApproval(first, a); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.DecideApproval(second, a.ID, true); err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// frozenTenant makes a fresh frozen tenant, for the reactivation route.
func (e *env) frozenTenant(t *testing.T) string {
	return e.lifecycleTenant(t, skjold.ActionTenantFreeze)
}

// certificateRequests is the authorisation table's builder of the certificate route: two
// terminated tenants, made once, stand for "own" and "other" (operators reach both).
func (e *env) certificateRequests() builder {
	var own, other string
	return builder{objects: true, build: func(t *testing.T, _ *caller, o object) request {
		if own == "" {
			own, other = e.lifecycleTenant(t, skjold.ActionTenantDeletion), e.lifecycleTenant(t, skjold.ActionTenantDeletion)
		}
		return request{path: "/api/v1/tenants/" + pick(o, own, other) + "/certificate"}
	}}
}
