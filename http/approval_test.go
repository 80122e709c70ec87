package http

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// fileApproval has s file an approval and returns it, pending.
func (e *env) fileApproval(t *testing.T, s *staff, body map[string]string) skjold.Approval {
	t.Helper()
	var a skjold.Approval
	e.do(t, s.session, "POST", "/api/v1/approvals", body).want(t, 201).decode(t, &a)
	if a.Status != skjold.ApprovalPending || a.RequestedBy != s.user.ID || a.Target != body["target"] ||
		!a.ExpiresAt.Equal(a.CreatedAt.Add(skjold.ApprovalLifetime)) {
		t.Fatalf("filed approval %+v", a)
	}
	return a
}

// decideApproval has token approve (or reject) approval id and returns the reply.
func (e *env) decideApproval(t *testing.T, token, id string, approve bool) *reply {
	t.Helper()
	verb := "/reject"
	if approve {
		verb = "/approve"
	}
	return e.do(t, token, "POST", "/api/v1/approvals/"+id+verb, nil)
}

// userRole returns the role of user id as tenant A's all-scope token reads it.
func (e *env) userRole(t *testing.T, id string) string {
	t.Helper()
	var u skjold.User
	e.do(t, e.a.token, "GET", "/api/v1/users/"+id, nil).want(t, 200).decode(t, &u)
	return u.Role
}

// TestApprovalRoleElevation raises an agent to admin under four eyes, the default: directly
// it is refused; filed, it waits for a second owner, not the requester; API tokens neither
// file nor decide; a rejected or lapsed approval changes nothing.
func TestApprovalRoleElevation(t *testing.T) {
	e := newEnv(t)
	first := e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	second := e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	elevate := map[string]string{"action": skjold.ActionRoleElevation, "target": agent.user.ID, "role": skjold.RoleAdmin}

	e.unchanged(t, func() {
		e.do(t, first.session, "PATCH", "/api/v1/users/"+agent.user.ID, map[string]string{"role": skjold.RoleAdmin}).
			wantError(t, 403, skjold.EFORBIDDEN)
		e.do(t, e.a.token, "POST", "/api/v1/approvals", elevate).wantError(t, 403, skjold.EFORBIDDEN)
	})
	a := e.fileApproval(t, first, elevate)
	if a.TenantID != e.a.id || a.Role != skjold.RoleAdmin || e.userRole(t, agent.user.ID) != skjold.RoleAgent {
		t.Fatalf("approval %+v; the agent's role must wait for it", a)
	}
	e.decideApproval(t, first.session, a.ID, true).wantError(t, 403, skjold.EFORBIDDEN)
	e.decideApproval(t, e.a.token, a.ID, true).wantError(t, 403, skjold.EFORBIDDEN)
	var done skjold.Approval
	e.decideApproval(t, second.session, a.ID, true).want(t, 200).decode(t, &done)
	if done.Status != skjold.ApprovalApproved || done.DecidedBy != second.user.ID || done.DecidedAt == nil {
		t.Errorf("approved %+v", done)
	}
	if got := e.userRole(t, agent.user.ID); got != skjold.RoleAdmin {
		t.Errorf("after approval the agent's role is %s, want admin", got)
	}
	e.decideApproval(t, second.session, a.ID, false).wantError(t, 409, skjold.ECONFLICT)

	// Rejected, or lapsed after 72 hours, an elevation is not carried out.
	other := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	elevate["target"] = other.user.ID
	rejected := e.fileApproval(t, first, elevate)
	e.decideApproval(t, second.session, rejected.ID, false).want(t, 200).decode(t, &done)
	if done.Status != skjold.ApprovalRejected || done.DecidedBy != second.user.ID {
		t.Errorf("rejected %+v", done)
	}
	e.decideApproval(t, second.session, rejected.ID, true).wantError(t, 409, skjold.ECONFLICT)
	lapsed := e.fileApproval(t, first, elevate)
	e.clock.Advance(skjold.ApprovalLifetime)
	second.session = e.freshSession(t, second)
	e.decideApproval(t, second.session, lapsed.ID, true).wantError(t, 409, skjold.ECONFLICT)
	if got := e.userRole(t, other.user.ID); got != skjold.RoleAgent {
		t.Errorf("after a rejected and a lapsed approval the other agent is %s, want agent", got)
	}

	var list struct {
		Items []skjold.Approval `json:"items"`
	}
	e.do(t, second.session, "GET", "/api/v1/approvals", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 3 || list.Items[0].ID != a.ID || list.Items[2].Status != skjold.ApprovalPending {
		t.Errorf("approvals listed: %+v", list.Items)
	}
}

// TestApprovalTwoFactorReset resets an admin's second factor with a second person's
// approval: the admin's sessions end and the next login must enrol a second factor anew.
func TestApprovalTwoFactorReset(t *testing.T) {
	e := newEnv(t)
	first := e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	second := e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")

	a := e.fileApproval(t, first, map[string]string{"action": skjold.ActionTwoFactorReset, "target": admin.user.ID})
	e.do(t, admin.session, "GET", "/api/v1/auth/session", nil).want(t, 200) // nothing happens before approval
	e.decideApproval(t, second.session, a.ID, true).want(t, 200)
	e.do(t, admin.session, "GET", "/api/v1/auth/session", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	if _, stage := e.login(t, admin.user.Email, admin.password, ""); stage != skjold.StageEnrolTwoFactor {
		t.Errorf("login after the reset in stage %s, want %s", stage, skjold.StageEnrolTwoFactor)
	}
	var u skjold.User
	e.do(t, first.session, "GET", "/api/v1/users/"+admin.user.ID, nil).want(t, 200).decode(t, &u)
	if u.TwoFactor {
		t.Errorf("after the reset the admin reads as %+v", u)
	}
}

// TestSupportGrant has operator support read tenant A's personal data under a grant from A's
// admin [A7, B13]: read-only, in A alone, audited under the grant in A's log, capped by A's
// maximum, and ended by revocation.
func TestSupportGrant(t *testing.T) {
	e := newEnv(t)
	support := e.activeStaff(t, "", skjold.RoleSupport, "")
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	subA := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	subB := e.createSubject(t, e.b.token, map[string]string{"name": "Bjørn"})
	inA, inB := http.Header{tenantHeader: {e.a.id}}, http.Header{tenantHeader: {e.b.id}}
	read := func(h http.Header, id string) *reply {
		return e.doWith(t, support.session, h, "GET", "/api/v1/subjects/"+id, nil)
	}
	read(inA, subA.ID).wantError(t, 403, skjold.EFORBIDDEN)
	read(nil, subA.ID).wantError(t, 403, skjold.EFORBIDDEN)
	e.doWith(t, e.a.token, inB, "GET", "/api/v1/subjects/"+subA.ID, nil).want(t, 200) // tenants' callers ignore it

	g := e.giveGrant(t, admin, support, 2)
	var s skjold.Subject
	read(inA, subA.ID).want(t, 200).decode(t, &s)
	if s.ID != subA.ID {
		t.Errorf("the support user read %+v, want subject %s", s, subA.ID)
	}
	e.unchanged(t, func() {
		e.doWith(t, support.session, inA, "POST", "/api/v1/subjects", map[string]string{"name": "Bo"}).
			wantError(t, 403, skjold.EFORBIDDEN)
		e.doWith(t, support.session, inA, "PATCH", "/api/v1/subjects/"+subA.ID, map[string]string{"name": "Bo"}).
			wantError(t, 403, skjold.EFORBIDDEN)
	})
	read(inB, subB.ID).wantError(t, 403, skjold.EFORBIDDEN)
	e.wantGrantRead(t, subA.ID, support.user.ID, g.ID)

	var mine struct {
		Items []skjold.Grant `json:"items"`
	}
	e.do(t, support.session, "GET", "/api/v1/grants", nil).want(t, 200).decode(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].ID != g.ID {
		t.Errorf("the support user's grants: %+v", mine.Items)
	}
	e.do(t, admin.session, "DELETE", "/api/v1/grants/"+g.ID, nil).want(t, 204)
	read(inA, subA.ID).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, admin.session, "DELETE", "/api/v1/grants/"+g.ID, nil).wantError(t, 404, skjold.ENOTFOUND)
}

// giveGrant has admin grant operator user s support access for hours, and returns the grant.
func (e *env) giveGrant(t *testing.T, admin, s *staff, hours int) skjold.Grant {
	t.Helper()
	var g skjold.Grant
	e.do(t, admin.session, "POST", "/api/v1/grants", map[string]any{"user_id": s.user.ID, "hours": hours,
		"reason": "ticket 4711"}).want(t, 201).decode(t, &g)
	if g.TenantID != admin.user.TenantID || g.UserID != s.user.ID || g.GrantedBy != admin.user.ID ||
		!g.ExpiresAt.Equal(g.CreatedAt.Add(time.Duration(hours)*time.Hour)) {
		t.Fatalf("grant %+v", g)
	}
	return g
}

// wantGrantRead fails the test unless tenant A's audit log shows operator user userID
// reading subject subjectID under grant grantID.
func (e *env) wantGrantRead(t *testing.T, subjectID, userID, grantID string) {
	t.Helper()
	var events struct {
		Items []skjold.AuditEvent `json:"items"`
	}
	e.do(t, e.a.token, "GET", "/api/v1/audit?subject_id="+subjectID, nil).want(t, 200).decode(t, &events)
	for _, ev := range events.Items {
		if ev.Action == "subject.read" && strings.HasPrefix(ev.Actor, "user:"+userID) &&
			strings.Contains(ev.Actor, "grant:"+grantID) {
			return
		}
	}
	t.Errorf("tenant A's audit shows no read under grant %s: %+v", grantID, events.Items)
}

// TestSupportGrantLimits checks who may grant, and for how long: the tenant's maximum,
// 8 hours by default, as the tenant sets it.
func TestSupportGrantLimits(t *testing.T) {
	e := newEnv(t)
	support := e.activeStaff(t, "", skjold.RoleSupport, "")
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	give := func(token, userID string, hours int) *reply {
		return e.do(t, token, "POST", "/api/v1/grants", map[string]any{"user_id": userID, "hours": hours, "reason": "ticket 4711"})
	}
	e.unchanged(t, func() {
		wantRefusal(t, give(admin.session, support.user.ID, 9).wantError(t, 400, skjold.EINVALID), "hours", "range")
		wantRefusal(t, give(admin.session, support.user.ID, 0).wantError(t, 400, skjold.EINVALID), "hours", "range")
		give(e.a.token, support.user.ID, 1).wantError(t, 403, skjold.EFORBIDDEN)
		give(admin.session, admin.user.ID, 1).wantError(t, 404, skjold.ENOTFOUND) // not operator staff
	})
	e.giveGrant(t, admin, support, 8)

	var set skjold.SessionSettings
	e.do(t, admin.session, "GET", "/api/v1/settings/session", nil).want(t, 200).decode(t, &set)
	if set.SupportMaxHours != 8 || len(set.FourEyes) != len(skjold.SensitiveActions) {
		t.Errorf("default settings %+v: want support_max_hours 8 and every action under four eyes", set)
	}
	set.SupportMaxHours = 4
	e.do(t, admin.session, "PUT", "/api/v1/settings/session", set).want(t, 200)
	wantRefusal(t, give(admin.session, support.user.ID, 5).wantError(t, 400, skjold.EINVALID), "hours", "range")
	e.giveGrant(t, admin, support, 4)
}
