package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestApprovals checks the four-eyes flow and support grants: a role elevation and a
// second-factor reset wait for a second person, nobody approves their own request, and
// operator staff read a tenant's data only under a live grant.
func TestApprovals(t *testing.T, h Harness) {
	t.Run("FourEyes", func(t *testing.T) { testFourEyes(t, newEnv(t, h)) })
	t.Run("SupportGrants", func(t *testing.T) { testGrants(t, newEnv(t, h)) })
	t.Run("TenantDeletion", func(t *testing.T) { testTenantDeletion(t, newEnv(t, h)) })
}

// adminCtx makes an active tenant admin (or owner) and returns its logged-in context.
func (e *env) adminCtx(tn *tenant, email, role string) (*skjold.User, context.Context) {
	e.t.Helper()
	u := &skjold.User{TenantID: tn.ID, Email: email, Name: "Admin " + role, Role: role}
	e.activeUser(e.staff(), u)
	e.clock.Add(30 * time.Second) // a fresh TOTP step for this login
	_, ctx := e.login(u.Email, goodPassword, e.code(mustSecret(e.t, e, u)))
	return u, ctx
}

func testFourEyes(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	_, first := e.adminCtx(a, "owner1@fjord.example", skjold.RoleOwner)
	_, second := e.adminCtx(a, "owner2@fjord.example", skjold.RoleOwner)
	agent := &skjold.User{TenantID: a.ID, Email: "agent@fjord.example", Name: "Agnes", Role: skjold.RoleAgent}
	e.activeUser(first, agent)

	// Nobody switches four eyes off alone, not even an owner in person [B14]: an owner files
	// it, and a second person approves.
	_, adminCtx := e.adminCtx(a, "admin@fjord.example", skjold.RoleAdmin)
	set, err := e.db.SessionSettings(adminCtx)
	must(t, err)
	set.FourEyes = []string{skjold.ActionTwoFactorReset}
	wantCode(t, e.db.PutSessionSettings(adminCtx, set), skjold.EFORBIDDEN)
	wantCode(t, e.db.PutSessionSettings(e.as(a, ""), set), skjold.EFORBIDDEN)
	wantCode(t, e.db.PutSessionSettings(first, set), skjold.EFORBIDDEN)
	set.FourEyes = []string{skjold.ActionBulkExport, skjold.ActionBulkExport}
	wantCode(t, e.db.PutSessionSettings(adminCtx, set), skjold.EINVALID)
	e.checkFourEyesReduction(first, adminCtx)

	// Raising a role directly is refused while four eyes are required.
	admin := skjold.RoleAdmin
	_, err = e.db.UpdateUser(first, agent.ID, skjold.UserUpdate{Role: &admin})
	wantCode(t, err, skjold.EFORBIDDEN)
	req := &skjold.Approval{Action: skjold.ActionRoleElevation, Target: agent.ID, Role: skjold.RoleAdmin}
	must(t, e.db.RequestApproval(first, req))
	if req.Status != skjold.ApprovalPending {
		t.Fatalf("filed approval status %s", req.Status)
	}
	_, err = e.db.DecideApproval(first, req.ID, true)
	wantCode(t, err, skjold.EFORBIDDEN) // not one's own
	wantCode(t, e.db.RequestApproval(e.as(a, ""), &skjold.Approval{Action: skjold.ActionTwoFactorReset, Target: agent.ID}), skjold.EFORBIDDEN)
	got, err := e.db.DecideApproval(second, req.ID, true)
	must(t, err)
	if got.Status != skjold.ApprovalApproved || got.DecidedBy == "" {
		t.Errorf("decided approval = %+v", got)
	}
	u, err := e.db.FindUserByID(first, agent.ID)
	must(t, err)
	if u.Role != skjold.RoleAdmin {
		t.Errorf("after approval the role is %s, want admin", u.Role)
	}
	_, err = e.db.DecideApproval(second, req.ID, false)
	wantCode(t, err, skjold.ECONFLICT) // decided once

	// A second-factor reset always takes four eyes; the user enrols again.
	reset := &skjold.Approval{Action: skjold.ActionTwoFactorReset, Target: agent.ID}
	must(t, e.db.RequestApproval(second, reset))
	got, err = e.db.DecideApproval(first, reset.ID, true)
	must(t, err)
	id, _ := e.login(agent.Email, goodPassword, "")
	if id.Stage != skjold.StageEnrolTwoFactor {
		t.Errorf("after a 2FA reset, the (now admin) user's stage is %s, want enrol_two_factor", id.Stage)
	}
	// A lapsed request cannot be approved; approvals of another tenant are not found.
	lapsed := &skjold.Approval{Action: skjold.ActionRoleElevation, Target: agent.ID, Role: skjold.RoleOwner}
	must(t, e.db.RequestApproval(first, lapsed))
	b := e.newTenant("Vistula Clinic")
	_, other := e.adminCtx(b, "owner@vistula.example", skjold.RoleOwner)
	_, err = e.db.DecideApproval(other, lapsed.ID, true)
	wantCode(t, err, skjold.ENOTFOUND)
	e.clock.Add(skjold.ApprovalLifetime)
	_, err = e.db.DecideApproval(second, lapsed.ID, true)
	wantCode(t, err, skjold.ECONFLICT)
	if e.countActions("approval.approved") != 3 || e.countActions("approval.request") != 4 { // one each taking bulk_export out
		t.Error("approval requests and decisions are not all audited")
	}
}

func testGrants(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	_, admin := e.adminCtx(a, "admin@fjord.example", skjold.RoleAdmin)
	support := &skjold.User{Email: "support@op.example", Name: "Sven", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), support)

	_, err := e.db.ActiveGrant(t.Context(), a.ID, support.ID)
	wantCode(t, err, skjold.EFORBIDDEN)
	g := &skjold.Grant{UserID: support.ID, Reason: "ticket 4711"}
	wantCode(t, e.db.CreateGrant(admin, g, 9), skjold.EINVALID) // over the default maximum of 8 hours
	wantCode(t, e.db.CreateGrant(e.as(a, ""), g, 2), skjold.EFORBIDDEN)
	agentOfA := &skjold.Grant{UserID: e.firstUserOf(admin), Reason: "ticket 4711"}
	wantCode(t, e.db.CreateGrant(admin, agentOfA, 2), skjold.ENOTFOUND) // only operator staff
	must(t, e.db.CreateGrant(admin, g, 2))
	live, err := e.db.ActiveGrant(t.Context(), a.ID, support.ID)
	must(t, err)
	if live.ID != g.ID || !live.ExpiresAt.Equal(e.clock.Now().Add(2*time.Hour)) {
		t.Errorf("active grant = %+v", live)
	}
	// The tenant's allow list binds its support staff too.
	set, err := e.db.SessionSettings(admin)
	must(t, err)
	set.AllowedNetworks = []string{"10.0.0.0/8"}
	must(t, e.db.PutSessionSettings(admin, set))
	from := func(addr string) context.Context {
		return skjoldCtx(t, &skjold.Caller{Actor: "user:" + support.ID, Operator: true, Source: addr, UserID: support.ID})
	}
	_, err = e.db.ActiveGrant(from("192.0.2.1"), a.ID, support.ID)
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.ActiveGrant(from("10.0.0.9"), a.ID, support.ID)
	must(t, err)
	e.clock.Add(2 * time.Hour)
	_, err = e.db.ActiveGrant(t.Context(), a.ID, support.ID)
	wantCode(t, err, skjold.EFORBIDDEN) // expired
	g2 := &skjold.Grant{UserID: support.ID, Reason: "ticket 4712"}
	must(t, e.db.CreateGrant(admin, g2, 1))
	must(t, e.db.RevokeGrant(admin, g2.ID))
	_, err = e.db.ActiveGrant(t.Context(), a.ID, support.ID)
	wantCode(t, err, skjold.EFORBIDDEN) // revoked
	grants, err := e.db.FindGrants(admin)
	must(t, err)
	if len(grants) != 2 {
		t.Errorf("FindGrants = %d, want 2", len(grants))
	}
}

// firstUserOf returns the id of the caller itself, a tenant user.
func (e *env) firstUserOf(ctx context.Context) string {
	return skjold.CallerFromContext(ctx).UserID
}

// TestRegister checks the register of authorised persons and the training reminders.
func TestRegister(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a := e.newTenant("Fjord Travel AS")
	_, admin := e.adminCtx(a, "admin@fjord.example", skjold.RoleAdmin)
	trained := e.clock.Now().Add(-24 * time.Hour)
	agent := &skjold.User{TenantID: a.ID, Email: "agent@fjord.example", Name: "Agnes", Role: skjold.RoleAgent, TrainingAt: &trained}
	e.activeUser(admin, agent)
	e.rawExec(e.raw(), "INSERT INTO profiles (tenant_id, name, scopes) VALUES (?, ?, ?)", a.ID, "settings", "admin")
	clerk := &skjold.User{TenantID: a.ID, Email: "clerk@fjord.example", Name: "Clerk", Role: skjold.RoleCustom, Profile: "settings"}
	e.newUser(e.tenantOwner(a.ID), clerk)
	support := &skjold.User{Email: "support@op.example", Name: "Sven", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), support)
	g := &skjold.Grant{UserID: support.ID, Reason: "ticket 4711"}
	must(t, e.db.CreateGrant(admin, g, 2))

	reg, err := e.db.Register(admin)
	must(t, err)
	got := map[string]*skjold.RegisterEntry{}
	for _, r := range reg {
		got[r.Email] = r
	}
	if len(reg) != 3 || got["clerk@fjord.example"] != nil {
		t.Fatalf("register has %d entries %v; want admin, agent and the support grant, not the settings-only clerk", len(reg), got)
	}
	if got["agent@fjord.example"].TrainingDue || !got["admin@fjord.example"].TrainingDue {
		t.Error("training due is wrong: the agent trained yesterday, the admin never")
	}
	if got["support@op.example"].Via != "grant:"+g.ID {
		t.Errorf("support entry via %q", got["support@op.example"].Via)
	}
	_, err = e.db.Register(e.staff())
	wantCode(t, err, skjold.EFORBIDDEN)

	// Reminders: once for each person due, not again within 30 days, again after a year.
	n, err := e.db.RemindTraining(t.Context())
	must(t, err)
	if n != 2 { // the admin and the support user (operator staff); not the trained agent nor the clerk
		t.Errorf("first reminders: %d, want 2", n)
	}
	if n, _ = e.db.RemindTraining(t.Context()); n != 0 {
		t.Errorf("reminded again at once: %d", n)
	}
	e.clock.Add(skjold.TrainingInterval)
	if n, _ = e.db.RemindTraining(t.Context()); n != 3 {
		t.Errorf("a year later: %d reminders, want 3 (the agent's training lapsed too)", n)
	}
	if e.countActions("register.training_due") != 5 {
		t.Error("reminders are not all audited")
	}
}

// testTenantDeletion: crypto-shredding a tenant is filed by one operator manager and
// carried out only when another approves; then the tenant's tokens and sessions end.
func testTenantDeletion(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	admin := &skjold.User{TenantID: a.ID, Email: "admin@fjord.example", Name: "Ada", Role: skjold.RoleAdmin}
	e.activeUser(e.staff(), admin)
	e.clock.Add(30 * time.Second)
	adminID, tenantAdmin := e.login(admin.Email, goodPassword, e.code(mustSecret(t, e, admin)))
	mgr := func(email string) context.Context {
		u := &skjold.User{Email: email, Name: "Manager", Role: skjold.RoleAdmin}
		e.activeUser(e.staff(), u)
		e.clock.Add(30 * time.Second)
		_, ctx := e.login(u.Email, goodPassword, e.code(mustSecret(t, e, u)))
		return ctx
	}
	first, second := mgr("m1@op.example"), mgr("m2@op.example")
	del := &skjold.Approval{Action: skjold.ActionTenantDeletion, Target: a.ID}
	wantCode(t, e.db.RequestApproval(tenantAdmin, del), skjold.EFORBIDDEN) // a tenant does not delete itself this way
	must(t, e.db.RequestApproval(first, del))
	_, err := e.db.DecideApproval(first, del.ID, true)
	wantCode(t, err, skjold.EFORBIDDEN)
	if _, err := e.db.Authenticate(t.Context(), a.token.Secret); err != nil {
		t.Fatalf("the tenant is gone before the second person approved: %v", err)
	}
	_, err = e.db.DecideApproval(second, del.ID, true)
	must(t, err)
	if _, err := e.db.Authenticate(t.Context(), a.token.Secret); err == nil {
		t.Error("the deleted tenant's token still works")
	}
	if _, err := e.db.AuthenticateSession(t.Context(), adminID.Session.Secret); err == nil {
		t.Error("the deleted tenant's session still works")
	}
	wantCode(t, e.db.RequestApproval(first, &skjold.Approval{Action: skjold.ActionTenantDeletion, Target: a.ID}), skjold.ENOTFOUND)
}

// checkFourEyesReduction: taking an action out of four eyes is itself an approval, filed by
// an owner and approved by another owner or admin; until then the list is as it was.
func (e *env) checkFourEyesReduction(owner, admin context.Context) {
	t := e.t
	for _, bad := range []*skjold.Approval{
		{Action: skjold.ActionFourEyesReduction, Target: "everything"},
		{Action: skjold.ActionFourEyesReduction, Target: ""},
	} {
		wantCode(t, e.db.RequestApproval(owner, bad), skjold.EINVALID)
	}
	wantCode(t, e.db.RequestApproval(admin, &skjold.Approval{Action: skjold.ActionFourEyesReduction,
		Target: skjold.ActionBulkExport}), skjold.EFORBIDDEN) // an admin does not file it
	req := &skjold.Approval{Action: skjold.ActionFourEyesReduction, Target: skjold.ActionBulkExport}
	must(t, e.db.RequestApproval(owner, req))
	_, err := e.db.DecideApproval(owner, req.ID, true)
	wantCode(t, err, skjold.EFORBIDDEN) // not one's own
	if set, _ := e.db.SessionSettings(owner); !slices.Contains(set.FourEyes, skjold.ActionBulkExport) {
		t.Fatalf("four eyes %v lost bulk_export before a second person approved", set.FourEyes)
	}
	_, err = e.db.DecideApproval(admin, req.ID, true)
	must(t, err)
	set, err := e.db.SessionSettings(owner)
	must(t, err)
	want := slices.DeleteFunc(skjold.DefaultFourEyes(), func(x string) bool { return x == skjold.ActionBulkExport })
	if !slices.Equal(set.FourEyes, want) {
		t.Errorf("after the approval four eyes are %v, want %v", set.FourEyes, want)
	}
	// Putting it back needs nobody else.
	set.FourEyes = skjold.DefaultFourEyes()
	must(t, e.db.PutSessionSettings(owner, set))
}
