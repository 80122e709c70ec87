package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// TestLifecycle checks the tenant lifecycle [D5]: a freeze waits for a second person and
// then refuses every login, session, token and support read of the tenant while keeping its
// data; reactivation restores access; a lapsed freeze is flagged once; termination deletes
// every row of the tenant and leaves a journal line and a verifiable deletion certificate.
func TestLifecycle(t *testing.T, h Harness) {
	t.Run("Freeze", func(t *testing.T) { testFreeze(t, newEnv(t, h)) })
	t.Run("FreezeRequests", func(t *testing.T) { testFreezeRequests(t, newEnv(t, h)) })
	t.Run("FreezeOnOtherNode", func(t *testing.T) { testFreezeOtherNode(t, newEnv(t, h)) })
	t.Run("Lapse", func(t *testing.T) { testFreezeLapse(t, newEnv(t, h)) })
	t.Run("Termination", func(t *testing.T) { testTermination(t, newEnv(t, h)) })
	t.Run("TerminationHolds", func(t *testing.T) { testTerminationHolds(t, newEnv(t, h)) })
}

// testTerminationHolds checks that a tenant deletion is refused, when filed and when
// approved, while legal holds of the tenant are in force, naming them; that released and
// ended holds do not count; and that an approval overriding them deletes the tenant and
// names the holds in the certificate and the audit chain [D2, D5].
func testTerminationHolds(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	ctx := e.as(a, "")
	s := e.newSubject(ctx, anna())
	inv := e.newRecord(ctx, s.ID, "invoice", map[string]any{"invoice_number": "2026-0042", "invoice_date": "2026-11-02", "amount": json.Number("12490")})
	released := &skjold.Hold{Reason: "closed case"}
	must(t, e.db.PlaceHold(ctx, released))
	must(t, e.db.ReleaseHold(ctx, released.ID))
	must(t, e.db.PlaceHold(ctx, &skjold.Hold{Reason: "ended", Until: ptr(e.clock.Now().Add(time.Hour))}))
	e.clock.Add(2 * time.Hour)
	first, second := e.managers("mgr")

	// Only released and ended holds: the deletion may be filed without an override.
	waiting := &skjold.Approval{Action: skjold.ActionTenantDeletion, Target: a.ID}
	must(t, e.db.RequestApproval(first, waiting))
	if waiting.OverrideHolds {
		t.Error("a deletion filed without override_holds overrides them")
	}

	// A tenant-wide hold on the invoice, placed while the deletion waits, stops it.
	tenantWide := &skjold.Hold{Reason: "Tax audit 2026/17"}
	must(t, e.db.PlaceHold(ctx, tenantWide))
	subjectHold := &skjold.Hold{SubjectID: s.ID, Category: "invoice", Reason: "Dispute 88"}
	must(t, e.db.PlaceHold(ctx, subjectHold))
	_, err := e.db.DecideApproval(second, waiting.ID, true)
	wantHoldsNamed(t, err, tenantWide, subjectHold)
	if _, err := e.db.FindRecordByID(ctx, inv.ID); err != nil {
		t.Fatalf("the held invoice went: %v", err)
	}
	err = e.db.RequestApproval(first, &skjold.Approval{Action: skjold.ActionTenantDeletion, Target: a.ID})
	wantHoldsNamed(t, err, tenantWide, subjectHold)
	list, err := e.db.FindApprovals(second, skjold.Page{})
	must(t, err)
	if len(list) != 1 || list[0].Status != skjold.ApprovalPending {
		t.Fatalf("approvals after the refusals: %+v", list)
	}

	// Filed with the override, it goes ahead, and the certificate names both holds.
	del := &skjold.Approval{Action: skjold.ActionTenantDeletion, Target: a.ID, OverrideHolds: true}
	must(t, e.db.RequestApproval(first, del))
	got, err := e.db.DecideApproval(second, del.ID, true)
	must(t, err)
	if !got.OverrideHolds || got.Status != skjold.ApprovalApproved {
		t.Errorf("decided approval %+v", got)
	}
	cert, err := e.db.FindDeletionCertificate(e.op, a.ID)
	must(t, err)
	want := []skjold.OverriddenHold{{ID: tenantWide.ID, Reason: "Tax audit 2026/17"},
		{ID: subjectHold.ID, SubjectID: s.ID, Category: "invoice", Reason: "Dispute 88"}}
	if !slices.Equal(cert.OverriddenHolds, want) {
		t.Errorf("certificate names holds %+v, want %+v", cert.OverriddenHolds, want)
	}
	if !slices.ContainsFunc(e.events(0), func(ev *skjold.AuditEvent) bool {
		return ev.Action == "tenant.terminate" && slices.Contains(ev.Fields, "hold_overridden:"+tenantWide.ID) &&
			slices.Contains(ev.Fields, "hold_overridden:"+subjectHold.ID)
	}) {
		t.Error("the tenant.terminate audit event does not name the overridden holds")
	}
}

// wantHoldsNamed fails unless err is ECONFLICT naming every hold by id and reason.
func wantHoldsNamed(t *testing.T, err error, holds ...*skjold.Hold) {
	t.Helper()
	wantCode(t, err, skjold.ECONFLICT)
	for _, h := range holds {
		if !strings.Contains(err.Error(), h.ID) || !strings.Contains(err.Error(), h.Reason) {
			t.Errorf("the refusal %q does not name hold %s (%s)", err, h.ID, h.Reason)
		}
	}
}

// managers makes two operator staff members who manage tenants, named after tag, and
// returns them logged in: the four eyes.
func (e *env) managers(tag string) (first, second context.Context) {
	e.t.Helper()
	mgr := func(email string) context.Context {
		u := &skjold.User{Email: email, Name: "Manager", Role: skjold.RoleAdmin}
		e.activeUser(e.staff(), u)
		e.clock.Add(30 * time.Second)
		_, ctx := e.login(u.Email, goodPassword, e.code(mustSecret(e.t, e, u)))
		return ctx
	}
	return mgr("first." + tag + "@op.example"), mgr("second." + tag + "@op.example")
}

// freeze has first file and second approve a freeze of tn for days.
func (e *env) freeze(first, second context.Context, tn *tenant, days int) *skjold.Approval {
	e.t.Helper()
	until := e.clock.Now().AddDate(0, 0, days)
	a := &skjold.Approval{Action: skjold.ActionTenantFreeze, Target: tn.ID, Until: &until}
	must(e.t, e.db.RequestApproval(first, a))
	got, err := e.db.DecideApproval(second, a.ID, true)
	must(e.t, err)
	return got
}

// wantFrozen fails unless err is the frozen tenant's refusal.
func wantFrozen(t *testing.T, what string, err error) {
	t.Helper()
	if skjold.ErrorCode(err) != skjold.EFORBIDDEN || !strings.Contains(err.Error(), "frozen") {
		t.Errorf("%s of a frozen tenant: %v, want EFORBIDDEN naming the freeze", what, err)
	}
}

func testFreezeRequests(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	first, second := e.managers("mgr")
	_, tenantAdmin := e.adminCtx(a, "owner@fjord.example", skjold.RoleOwner)
	day := func(d int) *time.Time { u := e.clock.Now().AddDate(0, 0, d); return &u }
	for _, c := range []struct {
		name string
		ctx  context.Context
		a    skjold.Approval
		code string
	}{
		{"no end date", first, skjold.Approval{Target: a.ID}, skjold.EINVALID},
		{"end in the past", first, skjold.Approval{Target: a.ID, Until: day(-1)}, skjold.EINVALID},
		{"over two years", first, skjold.Approval{Target: a.ID, Until: day(2*366 + 1)}, skjold.EINVALID},
		{"unknown tenant", first, skjold.Approval{Target: "01900000-0000-7000-8000-000000000000", Until: day(30)}, skjold.ENOTFOUND},
		{"by the tenant itself", tenantAdmin, skjold.Approval{Target: a.ID, Until: day(30)}, skjold.EFORBIDDEN},
		{"by an operator token", e.op, skjold.Approval{Target: a.ID, Until: day(30)}, skjold.EFORBIDDEN},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := c.a
			req.Action = skjold.ActionTenantFreeze
			wantCode(t, e.db.RequestApproval(c.ctx, &req), c.code)
		})
	}
	// The end date is stored and read back; the requester cannot approve it.
	until := e.clock.Now().AddDate(0, 3, 0).Add(123 * time.Microsecond)
	req := &skjold.Approval{Action: skjold.ActionTenantFreeze, Target: a.ID, Until: &until}
	must(t, e.db.RequestApproval(first, req))
	list, err := e.db.FindApprovals(second, skjold.Page{})
	must(t, err)
	if len(list) != 1 || list[0].Until == nil || !list[0].Until.Equal(until) {
		t.Fatalf("filed freeze reads back as %+v, want until %v", list, until)
	}
	_, err = e.db.DecideApproval(first, req.ID, true)
	wantCode(t, err, skjold.EFORBIDDEN)
	if tn, _ := e.db.FindTenantByID(e.op, a.ID); tn.Status != skjold.TenantActive {
		t.Fatalf("frozen before the second person approved: %s", tn.Status)
	}
	// A role elevation keeps no end date.
	agent := &skjold.User{TenantID: a.ID, Email: "agent@fjord.example", Name: "Agnes", Role: skjold.RoleAgent}
	e.activeUser(tenantAdmin, agent)
	elev := &skjold.Approval{Action: skjold.ActionRoleElevation, Target: agent.ID, Role: skjold.RoleAdmin, Until: &until}
	must(t, e.db.RequestApproval(tenantAdmin, elev))
	if elev.Until != nil {
		t.Error("a role elevation kept an end date")
	}
	// An approval whose end date passed while it waited is not carried out.
	e.clock.Add(until.Sub(e.clock.Now()) - time.Minute)
	late := &skjold.Approval{Action: skjold.ActionTenantFreeze, Target: a.ID, Until: ptr(e.clock.Now().Add(30 * time.Second))}
	must(t, e.db.RequestApproval(first, late))
	e.clock.Add(time.Minute)
	_, err = e.db.DecideApproval(second, late.ID, true)
	wantCode(t, err, skjold.ECONFLICT)
}

func testFreeze(t *testing.T, e *env) {
	a, b := e.newTenant("Fjord Travel AS"), e.newTenant("Vistula Clinic")
	sub := e.newSubject(e.as(a, ""), anna())
	e.newRecord(e.as(a, ""), sub.ID, "contact", map[string]any{"city": "Oslo"})
	owner := &skjold.User{TenantID: a.ID, Email: "owner@fjord.example", Name: "Olga", Role: skjold.RoleOwner}
	e.activeUser(e.staff(), owner)
	e.clock.Add(30 * time.Second)
	ownerID, ownerCtx := e.login(owner.Email, goodPassword, e.code(mustSecret(t, e, owner)))
	support := &skjold.User{Email: "support@op.example", Name: "Sven", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), support)
	must(t, e.db.CreateGrant(ownerCtx, &skjold.Grant{UserID: support.ID, Reason: "ticket 4711"}, 8))
	first, second := e.managers("mgr")
	raw := e.raw()
	rowsOfA := func() int {
		return e.rawCount(raw, "SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", a.ID) +
			e.rawCount(raw, "SELECT COUNT(*) FROM records WHERE tenant_id = ?", a.ID) +
			e.rawCount(raw, "SELECT COUNT(*) FROM tokens WHERE tenant_id = ? AND revoked_at IS NULL", a.ID)
	}
	before := rowsOfA()
	if _, err := e.db.Authenticate(t.Context(), a.token.Secret); err != nil { // now cached
		t.Fatal(err)
	}

	got := e.freeze(first, second, a, 90)
	if got.Status != skjold.ApprovalApproved {
		t.Fatalf("freeze approval %+v", got)
	}
	_, err := e.db.Authenticate(t.Context(), a.token.Secret)
	wantFrozen(t, "a cached token", err)
	_, err = e.db.AuthenticateSession(t.Context(), ownerID.Session.Secret)
	wantCode(t, err, skjold.EUNAUTHORIZED) // the freeze ended it
	e.clock.Add(30 * time.Second)
	_, _, err = e.db.Login(e.anon(), skjold.Login{Email: owner.Email, Password: goodPassword, Code: e.code(mustSecret(t, e, owner))})
	wantFrozen(t, "a login", err)
	_, err = e.db.ActiveGrant(t.Context(), a.ID, support.ID)
	wantFrozen(t, "a support grant", err)
	if _, err := e.db.Authenticate(t.Context(), b.token.Secret); err != nil {
		t.Errorf("another tenant's token is refused: %v", err)
	}
	tn, err := e.db.FindTenantByID(e.op, a.ID)
	must(t, err)
	if tn.Status != skjold.TenantFrozen || tn.FrozenUntil == nil || !tn.FrozenUntil.Equal(*got.Until) {
		t.Errorf("frozen tenant reads %+v", tn)
	}
	if after := rowsOfA(); after != before {
		t.Errorf("the freeze changed the tenant's data or revoked its tokens: %d rows, want %d", after, before)
	}
	wantCode(t, e.db.RequestApproval(first, &skjold.Approval{Action: skjold.ActionTenantFreeze, Target: a.ID,
		Until: ptr(e.clock.Now().Add(time.Hour))}), skjold.ECONFLICT)

	// Reactivation restores access; only a frozen tenant can be reactivated.
	tn, err = e.db.ReactivateTenant(e.staff(), a.ID)
	must(t, err)
	if tn.Status != skjold.TenantActive || tn.FrozenUntil != nil {
		t.Errorf("reactivated tenant reads %+v", tn)
	}
	if _, err := e.db.Authenticate(t.Context(), a.token.Secret); err != nil {
		t.Errorf("the reactivated tenant's token is refused: %v", err)
	}
	e.clock.Add(30 * time.Second)
	e.login(owner.Email, goodPassword, e.code(mustSecret(t, e, owner)))
	if _, err := e.db.ActiveGrant(t.Context(), a.ID, support.ID); err != nil {
		t.Errorf("the support grant is refused after reactivation: %v", err)
	}
	_, err = e.db.ReactivateTenant(e.staff(), a.ID)
	wantCode(t, err, skjold.ECONFLICT)
	_, err = e.db.ReactivateTenant(e.staff(), "01900000-0000-7000-8000-000000000000")
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.ReactivateTenant(e.as(b, ""), a.ID)
	wantCode(t, err, skjold.EFORBIDDEN)
	if e.countActions("tenant.freeze") != 1 || e.countActions("tenant.reactivate") != 1 {
		t.Error("freeze and reactivation are not audited once each")
	}
}

// testFreezeOtherNode: a node that cached the token before the freeze refuses it once its
// cache entry expires (about a second).
func testFreezeOtherNode(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	other := e.h.Reopen(t, e.db, e.options(e.keys))
	if _, err := other.Authenticate(t.Context(), a.token.Secret); err != nil {
		t.Fatal(err)
	}
	first, second := e.managers("mgr")
	e.freeze(first, second, a, 30)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := other.Authenticate(t.Context(), a.token.Secret)
		if err != nil {
			wantFrozen(t, "a token on another node", err)
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("another node still takes the frozen tenant's token after 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testFreezeLapse(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	first, second := e.managers("mgr")
	flag := func(want int) {
		t.Helper()
		n, err := e.db.FlagLapsedFreezes(t.Context())
		must(t, err)
		if n != want {
			t.Errorf("FlagLapsedFreezes = %d, want %d", n, want)
		}
	}
	e.freeze(first, second, a, 1)
	flag(0)
	e.clock.Add(25 * time.Hour)
	flag(1)
	flag(0)
	_, err := e.db.Authenticate(t.Context(), a.token.Secret)
	wantFrozen(t, "a token after the freeze lapsed", err)
	_, err = e.db.ReactivateTenant(e.staff(), a.ID)
	must(t, err)
	first, second = e.managers("again") // the first ones' sessions ended
	e.freeze(first, second, a, 1)
	e.clock.Add(25 * time.Hour)
	flag(1)
	if n := e.countActions("tenant.freeze_lapsed"); n != 2 {
		t.Errorf("%d lapse events, want one per lapse (2)", n)
	}
}

// lifecycleKept are the tables with a tenant_id column that keep a terminated tenant's
// rows: the append-only logs, and the certificate itself.
var lifecycleKept = []string{"audit_events", "erasure_journal", "deletion_certificates"}

// columnTables returns, by introspecting the schema, every table with a column named col.
func (e *env) columnTables(raw *sql.DB, col string) []string {
	e.t.Helper()
	q := `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = ?`
	if e.h.Engine == store.Postgres {
		q = `SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = $1`
	}
	rows, err := raw.Query(q, col)
	must(e.t, err)
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		must(e.t, rows.Scan(&name))
		tables = append(tables, name)
	}
	must(e.t, rows.Err())
	if len(tables) < 3 {
		e.t.Fatalf("introspection found only %v with a %s column", tables, col)
	}
	return tables
}

// tenantCounts counts the rows of tenantID in every table with a tenant_id column (but the
// kept ones), and the rows of its users in every table with a user_id column.
func (e *env) tenantCounts(raw *sql.DB, tenantID string) map[string]int64 {
	e.t.Helper()
	counts := map[string]int64{}
	for _, table := range e.columnTables(raw, "tenant_id") {
		if !slices.Contains(lifecycleKept, table) {
			counts[table] = int64(e.rawCount(raw, "SELECT COUNT(*) FROM "+table+" WHERE tenant_id = ?", tenantID))
		}
	}
	for _, table := range e.columnTables(raw, "user_id") {
		if _, ok := counts[table]; !ok {
			counts[table] = int64(e.rawCount(raw, "SELECT COUNT(*) FROM "+table+
				" WHERE user_id IN (SELECT id FROM users WHERE tenant_id = ?)", tenantID))
		}
	}
	return counts
}

// fillTenant gives tn a row in every table that can hold one.
func (e *env) fillTenant(tn *tenant, email string) {
	e.t.Helper()
	ctx := e.as(tn, "")
	guardian := e.newSubject(ctx, anna())
	minor := e.newSubject(ctx, &skjold.Subject{Ref: "C-2002", Name: "Mia Berg"})
	e.newRecord(ctx, guardian.ID, "contact", map[string]any{"city": "Oslo"})
	raw, now := e.raw(), e.clock.Now().UnixMicro()
	e.rawExec(raw, "UPDATE subjects SET guardian_id = ? WHERE id = ?", guardian.ID, minor.ID)
	owner := &skjold.User{TenantID: tn.ID, Email: email, Name: "Olga", Role: skjold.RoleOwner}
	e.activeUser(e.staff(), owner) // sessions, password history, recovery codes
	e.clock.Add(30 * time.Second)
	_, ownerCtx := e.login(owner.Email, goodPassword, e.code(mustSecret(e.t, e, owner)))
	agent := &skjold.User{TenantID: tn.ID, Email: "agent." + email, Name: "Agnes", Role: skjold.RoleAgent}
	e.activeUser(ownerCtx, agent)
	must(e.t, e.db.RequestApproval(ownerCtx, &skjold.Approval{Action: skjold.ActionTwoFactorReset, Target: agent.ID}))
	support := &skjold.User{Email: "support." + email, Name: "Sven", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), support)
	must(e.t, e.db.CreateGrant(ownerCtx, &skjold.Grant{UserID: support.ID, Reason: "ticket 1"}, 2))
	set, err := e.db.SessionSettings(ownerCtx)
	must(e.t, err)
	set.IdleMinutes = 10
	must(e.t, e.db.PutSessionSettings(ownerCtx, set))
	must(e.t, e.db.CreateToken(ownerCtx, &skjold.Token{TenantID: tn.ID, Name: "extra", Scopes: []string{skjold.ScopeRead}}))
	e.rawExec(raw, "INSERT INTO profiles (tenant_id, name, scopes) VALUES (?, ?, ?)", tn.ID, "lifecycle", "read")
	e.rawExec(raw, "INSERT INTO password_resets (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
		[]byte(tn.ID), agent.ID, now, now+1)
	e.rawExec(raw, `INSERT INTO purposes (tenant_id, name, definition, notice_version, created_at, updated_at)
		VALUES (?, 'lifecycle_test', '{}', 1, ?, ?)`, tn.ID, now, now)
	e.rawExec(raw, `INSERT INTO purpose_notices (tenant_id, purpose, version, text, created_at)
		VALUES (?, 'lifecycle_test', 1, 'notice', ?)`, tn.ID, now)
	e.rawExec(raw, `INSERT INTO consents (id, tenant_id, subject_id, purpose, granted, source, notice_version, created_at)
		VALUES (?, ?, ?, 'lifecycle_test', 1, 'api', 1, ?)`, minor.ID, tn.ID, guardian.ID, now)
	e.rawExec(raw, `INSERT INTO contact_sends (tenant_id, subject_id, purpose, channel, sent_at)
		VALUES (?, ?, 'lifecycle_test', 'email', ?)`, tn.ID, guardian.ID, now)
	e.rawExec(raw, `INSERT INTO holds (id, tenant_id, subject_id, reason, created_by, created_at)
		VALUES (?, ?, ?, 'audit', 'test', ?)`, guardian.ID, tn.ID, guardian.ID, now)
	e.rawExec(raw, `INSERT INTO requests (id, tenant_id, subject_id, type, status, received_at, due_at, created_by)
		VALUES (?, ?, ?, 'access', 'received', ?, ?, 'test')`, minor.ID, tn.ID, guardian.ID, now, now)
	e.rawExec(raw, `INSERT INTO downloads (id, tenant_id, subject_id, request_id, token_hash, content, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, minor.ID, tn.ID, guardian.ID, minor.ID, []byte(minor.ID), []byte("zip"), now, now)
	e.rawExec(raw, `INSERT INTO grant_requests (id, tenant_id, user_id, reason, hours, status, created_at, expires_at)
		VALUES (?, ?, ?, 'ticket 2', 1, 'pending', ?, ?)`, minor.ID, tn.ID, support.ID, now, now)
	e.rawExec(raw, `INSERT INTO compliance_profiles (tenant_id, profile, updated_at) VALUES (?, '{}', ?)`, tn.ID, now)
	e.rawExec(raw, `INSERT INTO subject_logins (id, tenant_id, subject_id, code_expires_at, created_at) VALUES (?, ?, ?, ?, ?)`,
		minor.ID, tn.ID, guardian.ID, now, now)

	e.rawExec(raw, `INSERT INTO consent_receipts (id, tenant_id, consent_id, method, choices, notice_versions, gpc, ua_hash,
		created_at, expires_at) VALUES (?, ?, ?, 'gpc', '{}', '{}', 1, ?, ?, ?)`, minor.ID, tn.ID, strings.Repeat("a", 32), []byte("ua"), now, now)

	e.rawExec(raw, `INSERT INTO incidents (id, tenant_id, title, description, detected_at, aware_at, categories, subjects, records,
		consequences, measures, contact, status, created_at) VALUES (?, ?, 'lost laptop', 'x', ?, ?, '[]', 1, 1, '', '', '', 'open', ?)`,
		minor.ID, tn.ID, now, now, now)
	e.rawExec(raw, `INSERT INTO incident_entries (incident_id, tenant_id, at, actor, kind, text) VALUES (?, ?, ?, 'test', 'created', '')`,
		minor.ID, tn.ID, now)
	e.rawExec(raw, `INSERT INTO incidents (id, tenant_id, title, description, detected_at, aware_at, categories, subjects, records,
		consequences, measures, contact, status, created_at) VALUES (?, '', 'relay breach', 'x', ?, ?, '[]', 1, 1, '', '', '', 'open', ?)`,
		guardian.ID, now, now, now)
	e.rawExec(raw, `INSERT INTO incident_tenants (incident_id, tenant_id, notified_at) VALUES (?, ?, ?)`, guardian.ID, tn.ID, now)

	e.rawExec(raw, `INSERT INTO compliance_measures (id, tenant_id, kind, description, taken_on, created_at)
		VALUES (?, ?, 'training', 'annual training', '2026-11-20', ?)`, minor.ID, tn.ID, now)

	e.rawExec(raw, `INSERT INTO subproc_objections (subprocessor_id, tenant_id, user_id, reason, created_at)
		VALUES (?, ?, ?, '', ?)`, minor.ID, tn.ID, support.ID, now)
	e.rawExec(raw, `INSERT INTO dpa_acceptances (id, tenant_id, version, method, user_id, accepted_at)
		VALUES (?, ?, 'v', 'console', ?, ?)`, minor.ID, tn.ID, support.ID, now)
	e.rawExec(raw, `INSERT INTO register_copies (id, tenant_id, what, recipient, handed_over, delete_by, created_by, created_at)
		VALUES (?, ?, 'disk image', 'Lab AS', '2025-01-01', '2025-01-15', '', ?)`, minor.ID, tn.ID, now)
	e.rawExec(raw, `INSERT INTO register_media (id, tenant_id, what, method, destroyed_by, witness, destroyed_on, created_at)
		VALUES (?, ?, 'disk', 'shredded', 'IT', 'CEO', '2025-01-01', ?)`, minor.ID, tn.ID, now)
}

func testTermination(t *testing.T, e *env) {
	a, b := e.newTenant("Fjord Travel AS"), e.newTenant("Vistula Clinic")
	e.fillTenant(a, "owner@fjord.example")
	e.fillTenant(b, "owner@vistula.example")
	raw := e.raw()
	var keyID string
	must(t, raw.QueryRow(e.rebind("SELECT key_id FROM tenants WHERE id = ?"), a.ID).Scan(&keyID))
	beforeA, beforeB := e.tenantCounts(raw, a.ID), e.tenantCounts(raw, b.ID)
	for table, n := range beforeA {
		if n == 0 {
			t.Errorf("the fixture has no row of the tenant in %s: fill it in fillTenant", table)
		}
	}
	first, second := e.managers("mgr")
	// The fixture's legal hold refuses a deletion that does not override it.
	wantCode(t, e.db.RequestApproval(first, &skjold.Approval{Action: skjold.ActionTenantDeletion, Target: a.ID}), skjold.ECONFLICT)
	del := &skjold.Approval{Action: skjold.ActionTenantDeletion, Target: a.ID, OverrideHolds: true}
	must(t, e.db.RequestApproval(first, del))
	_, err := e.db.DecideApproval(second, del.ID, true)
	must(t, err)

	for table, n := range e.tenantCounts(raw, a.ID) {
		if n != 0 {
			t.Errorf("%d rows of the terminated tenant left in %s", n, table)
		}
	}
	if afterB := e.tenantCounts(raw, b.ID); !mapsEqual(afterB, beforeB) {
		t.Errorf("the other tenant's rows changed:\nbefore %v\nafter  %v", beforeB, afterB)
	}
	var wrapped []byte
	var destroyed sql.NullInt64
	must(t, raw.QueryRow(e.rebind("SELECT wrapped_key, destroyed_at FROM tenants WHERE id = ?"), a.ID).Scan(&wrapped, &destroyed))
	tn, err := e.db.FindTenantByID(e.op, a.ID)
	must(t, err)
	if wrapped != nil || !destroyed.Valid || tn.Status != skjold.TenantTerminated {
		t.Errorf("terminated tenant row: key %v, destroyed %v, status %s", wrapped != nil, destroyed, tn.Status)
	}
	journal, err := e.db.FindJournal(e.op, 0, skjold.MaxPageLimit)
	must(t, err)
	if !slices.ContainsFunc(journal, func(j *skjold.JournalEntry) bool {
		return j.TenantID == a.ID && j.SubjectID == "" && j.Kind == "tenant" && j.Reason == skjold.ErasedOnTermination
	}) {
		t.Errorf("no termination line in the erasure journal: %+v", journal)
	}

	cert, err := e.db.FindDeletionCertificate(e.op, a.ID)
	must(t, err)
	if !mapsEqual(cert.Deleted, nonZero(beforeA)) || cert.KeyID != keyID || cert.TenantID != a.ID || !cert.Time.Equal(e.clock.Now()) {
		t.Errorf("certificate %+v\nwant deleted %v, key %s", cert, beforeA, keyID)
	}
	unhashed := *cert
	unhashed.Hash = ""
	body, _ := json.Marshal(unhashed)
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != cert.Hash {
		t.Errorf("certificate hash %s is not the SHA-256 of its canonical JSON", cert.Hash)
	}
	if !slices.ContainsFunc(e.events(0), func(ev *skjold.AuditEvent) bool {
		return ev.Action == "tenant.terminate" && ev.TenantID == a.ID && slices.Contains(ev.Fields, "hash:"+cert.Hash)
	}) {
		t.Error("no tenant.terminate audit event with the certificate's hash")
	}
	if _, err := e.db.VerifyAuditChain(t.Context()); err != nil {
		t.Errorf("audit chain after termination: %v", err)
	}
	_, err = e.db.FindDeletionCertificate(e.op, b.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.FindDeletionCertificate(e.as(b, ""), a.ID)
	wantCode(t, err, skjold.EFORBIDDEN)
	_, _, err = e.db.Login(e.anon(), skjold.Login{Email: "owner@fjord.example", Password: goodPassword})
	wantCode(t, err, skjold.EUNAUTHORIZED)
	e.tamperCertificate(raw, a.ID, cert)
}

// tamperCertificate changes a stored certificate: alone, and with a matching hash column (the
// audit chain still holds the original hash); both are reported.
func (e *env) tamperCertificate(raw *sql.DB, tenantID string, cert *skjold.DeletionCertificate) {
	e.t.Helper()
	forged := *cert
	forged.Hash = ""
	forged.Deleted = map[string]int64{"subjects": 1}
	body, _ := json.Marshal(forged)
	e.rawExec(raw, "UPDATE deletion_certificates SET body = ? WHERE tenant_id = ?", string(body), tenantID)
	_, err := e.db.FindDeletionCertificate(e.op, tenantID)
	wantCode(e.t, err, skjold.EINTERNAL)
	sum := sha256.Sum256(body)
	e.rawExec(raw, "UPDATE deletion_certificates SET hash = ? WHERE tenant_id = ?", sum[:], tenantID)
	_, err = e.db.FindDeletionCertificate(e.op, tenantID)
	wantCode(e.t, err, skjold.EINTERNAL)
}

// nonZero returns counts without its zero entries.
func nonZero(counts map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range counts {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func mapsEqual(a, b map[string]int64) bool {
	a, b = nonZero(a), nonZero(b)
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
