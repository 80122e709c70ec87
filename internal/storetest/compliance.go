package storetest

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestCompliance checks `skjold compliance check`'s rules against live state [G4]: a tenant set
// up the way the seed documents describe passes every check, and breaking one promise at a
// time fails exactly the matching check.
func TestCompliance(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name  string
		brk   func(e *env, k *keptTenant)
		fails []string // scope:check; scope "tenant" is the kept tenant
	}{
		{"Kept", func(*env, *keptTenant) {}, nil},
		{"NoRecentBackup", func(e *env, k *keptTenant) {
			e.rawExec(e.raw(), "DELETE FROM backup_runs WHERE slot = ?", k.lastBackup)
		}, []string{"operator:backup_times", "tenant:backup_times"}},
		{"AdminWithoutSecondFactor", func(e *env, k *keptTenant) {
			e.rawExec(e.raw(), "UPDATE users SET totp_secret = NULL, totp_key_id = NULL WHERE id = ?", k.admin.ID)
		}, []string{"tenant:admin_two_factor"}},
		{"LongerIdle", func(e *env, k *keptTenant) {
			set, err := e.db.SessionSettings(k.ownerCtx)
			must(e.t, err)
			set.IdleMinutes = 30
			must(e.t, e.db.PutSessionSettings(k.ownerCtx, set))
		}, []string{"tenant:idle_lock"}},
		{"PastEndDateActive", func(e *env, k *keptTenant) {
			until := e.clock.Now().Add(time.Hour)
			_, err := e.db.UpdateUser(e.tenantOwner(k.ID), k.agent.ID, skjold.UserUpdate{AccessUntil: &until})
			must(e.t, err)
			e.clock.Add(2 * time.Hour) // the offboarding job has not run
		}, []string{"tenant:offboarding"}},
		{"TrainingOverdue", func(e *env, k *keptTenant) {
			old := e.clock.Now().AddDate(-2, 0, 0)
			_, err := e.db.UpdateUser(e.tenantOwner(k.ID), k.agent.ID, skjold.UserUpdate{TrainingAt: &old})
			must(e.t, err)
		}, []string{"tenant:training"}},
		{"NoRetentionPeriod", func(e *env, k *keptTenant) {
			raw := e.raw()
			var def string
			must(e.t, raw.QueryRow(e.rebind("SELECT definition FROM categories WHERE tenant_id = ? AND name = 'booking'"), k.ID).Scan(&def))
			def = replaceOnce(e.t, def, `"period":"P5Y"`, `"period":""`)
			e.rawExec(raw, "UPDATE categories SET definition = ? WHERE tenant_id = ? AND name = 'booking'", def, k.ID)
		}, []string{"tenant:retention"}},
		{"NewSubprocessorNotAccepted", func(e *env, k *keptTenant) {
			must(e.t, e.db.AddSubprocessor(e.op, newSubprocessor("Postkontoret AS", "smtp.postkontoret.example", "2025-04-01")))
		}, []string{"tenant:dpa"}},
		{"TamperedAuditChain", func(e *env, k *keptTenant) {
			e.dropAuditTriggers()
			e.rawExec(e.raw(), "UPDATE audit_events SET action = 'nothing' WHERE seq = 3")
		}, []string{"operator:audit_chain", "tenant:audit_chain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, h)
			k := e.keptTenant()
			tc.brk(e, k)
			rep, err := e.db.Compliance(e.op)
			must(t, err)
			if got := failing(rep, k.ID); !slices.Equal(got, tc.fails) {
				t.Fatalf("failing checks = %v, want %v\n%s", got, tc.fails, dumpReport(rep))
			}
			if rep.OK != (len(tc.fails) == 0) {
				t.Errorf("report OK = %v with failures %v", rep.OK, tc.fails)
			}
		})
	}
	t.Run("Access", func(t *testing.T) { testComplianceAccess(t, h) })
	t.Run("TrainingMail", func(t *testing.T) { testTrainingMail(t, h) })
	t.Run("Maintenance", func(t *testing.T) { testMaintenance(t, h) })
	t.Run("Documents", func(t *testing.T) { testComplianceDocuments(t, h) })
}

// keptTenant is a tenant that keeps every promise of the seeds: an owner and an admin with a
// second factor, a trained agent, retention periods on every category, and eight days of
// backups at 14:00 and 19:00 with a nightly off-site copy and restore drill.
type keptTenant struct {
	*tenant
	owner, admin, agent *skjold.User
	ownerCtx            context.Context
	lastBackup          string
}

func (e *env) keptTenant() *keptTenant {
	e.t.Helper()
	seeds := skjold.DefaultComplianceProfile()
	seeds.BackupZone = "UTC"
	must(e.t, e.db.PutComplianceProfile(e.local, &seeds))
	k := &keptTenant{tenant: e.newTenant("Mikrosystem Sp. z o.o.")}
	must(e.t, e.db.PutComplianceProfile(e.as(k.tenant, ""), &seeds))

	// Eight days of scheduled runs, from 1 March 14:00 to 9 March 19:00 (UTC).
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	e.clock.Add(day.Add(14 * time.Hour).Sub(e.clock.Now()))
	for d := range 9 {
		at := func(h int) time.Time { return day.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour) }
		for _, run := range []struct {
			kind string
			hour int
		}{{skjold.RunOffsite, 2}, {skjold.RunDrill, 4}, {skjold.RunBackup, 14}, {skjold.RunBackup, 19}} {
			when := at(run.hour)
			if when.Before(e.clock.Now()) {
				continue
			}
			e.clock.Add(when.Sub(e.clock.Now()) + 30*time.Second)
			slot := run.kind + "@" + when.Format(time.RFC3339)
			ok, err := e.db.ClaimBackupRun(e.t.Context(), slot)
			must(e.t, err)
			if !ok {
				e.t.Fatalf("slot %s taken", slot)
			}
			e.clock.Add(90 * time.Second)
			must(e.t, e.db.FinishBackupRun(e.t.Context(), slot, run.kind+".completed",
				&skjold.BackupRun{Status: skjold.RunOK, ManifestID: when.Format("20060102T150405Z") + "-x"}))
			if run.kind == skjold.RunBackup {
				k.lastBackup = slot
			}
		}
	}
	e.clock.Add(time.Date(2025, 3, 9, 21, 0, 0, 0, time.UTC).Sub(e.clock.Now()))

	var ctx context.Context
	k.owner, ctx = e.adminCtx(k.tenant, "owner@mikrosystem.example", skjold.RoleOwner)
	k.ownerCtx = ctx
	k.admin, _ = e.adminCtx(k.tenant, "admin@mikrosystem.example", skjold.RoleAdmin)
	k.agent = &skjold.User{TenantID: k.ID, Email: "agent@mikrosystem.example", Name: "Agnieszka", Role: skjold.RoleAgent}
	e.activeUser(ctx, k.agent)
	trained := e.clock.Now().AddDate(0, -2, 0)
	for _, u := range []*skjold.User{k.owner, k.admin, k.agent} {
		_, err := e.db.UpdateUser(e.tenantOwner(k.ID), u.ID, skjold.UserUpdate{TrainingAt: &trained})
		must(e.t, err)
	}
	booking := &skjold.Category{Name: "booking", Fields: []skjold.Field{{Name: "flight", Type: skjold.TypeString}},
		Purposes: []string{"marketing"}, LegalBasis: skjold.BasisConsent,
		Retention: skjold.Retention{Period: "P5Y", From: skjold.RetentionFromCreated}}
	_, err := e.db.PutCategory(e.as(k.tenant, ""), booking)
	must(e.t, err)
	_, err = e.db.Sweep(e.t.Context(), 100)
	must(e.t, err)
	dpa, err := e.db.DPA(ctx)
	must(e.t, err)
	_, err = e.db.AcceptDPA(ctx, dpa.Version)
	must(e.t, err)
	return k
}

// failing lists the failed checks as scope:check, "tenant" for tenantID's scope, sorted.
func failing(rep *skjold.ComplianceReport, tenantID string) []string {
	var out []string
	for _, sc := range rep.Scopes {
		name := sc.Scope
		if sc.TenantID == tenantID && tenantID != "" {
			name = "tenant"
		}
		for _, ch := range sc.Checks {
			if ch.Status == skjold.CheckFail {
				out = append(out, name+":"+ch.Check)
			}
		}
	}
	sort.Strings(out)
	return out
}

func dumpReport(rep *skjold.ComplianceReport) string {
	s := ""
	for _, sc := range rep.Scopes {
		for _, ch := range sc.Checks {
			s += fmt.Sprintf("%s %s %s %s %v\n", sc.Scope, ch.Requirement, ch.Check, ch.Status, ch.Evidence)
		}
	}
	return s
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	i := -1
	for j := 0; j+len(old) <= len(s); j++ {
		if s[j:j+len(old)] == old {
			if i >= 0 {
				t.Fatalf("%q occurs twice", old)
			}
			i = j
		}
	}
	if i < 0 {
		t.Fatalf("%q not found in %s", old, s)
	}
	return s[:i] + new + s[i+len(old):]
}

// testComplianceAccess: operators see every tenant, a tenant's admin only its own, an agent
// nothing; only the owner changes the profile, and a bad profile changes nothing.
func testComplianceAccess(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Asysto AS"), e.newTenant("Trainingbot Sp. z o.o.")
	_, ownerA := e.adminCtx(a, "owner@asysto.example", skjold.RoleOwner)
	_, adminA := e.adminCtx(a, "admin@asysto.example", skjold.RoleAdmin)
	agent := &skjold.User{TenantID: a.ID, Email: "agent@asysto.example", Name: "Agent", Role: skjold.RoleAgent}
	e.activeUser(ownerA, agent)
	e.clock.Add(30 * time.Second)
	_, agentCtx := e.login(agent.Email, goodPassword, "")

	rep, err := e.db.Compliance(e.op)
	must(t, err)
	if len(rep.Scopes) != 3 || rep.Scopes[0].Scope != "operator" {
		t.Fatalf("operator sees %d scopes (first %q), want operator + 2 tenants", len(rep.Scopes), rep.Scopes[0].Scope)
	}
	rep, err = e.db.Compliance(adminA)
	must(t, err)
	if len(rep.Scopes) != 1 || rep.Scopes[0].TenantID != a.ID {
		t.Fatalf("tenant admin sees %+v, want only its tenant", rep.Scopes)
	}
	if _, err := e.db.Compliance(agentCtx); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		t.Errorf("agent: err = %v, want EFORBIDDEN", err)
	}

	p := skjold.DefaultComplianceProfile()
	p.MaxIdleMinutes = 10
	if err := e.db.PutComplianceProfile(adminA, &p); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		t.Errorf("admin changes the profile: err = %v, want EFORBIDDEN", err)
	}
	must(t, e.db.PutComplianceProfile(ownerA, &p))
	bad := p
	bad.BackupTimes = []string{"25:00"}
	if err := e.db.PutComplianceProfile(ownerA, &bad); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Errorf("bad time: err = %v, want EINVALID", err)
	}
	got, err := e.db.ComplianceProfile(adminA)
	must(t, err)
	if got.MaxIdleMinutes != 10 || !slices.Equal(got.BackupTimes, []string{"14:00", "19:00"}) {
		t.Errorf("profile after a refused change = %+v", got)
	}
	if got, err := e.db.ComplianceProfile(e.as(b, "")); err != nil || got.MaxIdleMinutes != 15 {
		t.Errorf("other tenant's profile = %+v, %v; want the default", got, err)
	}
}

// testTrainingMail: a person whose annual training is due is e-mailed, and so is each owner
// and administrator of their tenant, each in the language they saved [B15, I3].
func testTrainingMail(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Asysto AS")
	owner, ownerCtx := e.adminCtx(tn, "owner@asysto.example", skjold.RoleOwner)
	admin, adminCtx := e.adminCtx(tn, "admin@asysto.example", skjold.RoleAdmin)
	must(t, e.db.SetLanguage(ownerCtx, "nb"))
	must(t, e.db.SetLanguage(adminCtx, "pl"))
	agent := &skjold.User{TenantID: tn.ID, Email: "agent@asysto.example", Name: "Ada Agent", Role: skjold.RoleAgent}
	e.activeUser(ownerCtx, agent)
	now := e.clock.Now()
	for _, u := range []*skjold.User{owner, admin} {
		_, err := e.db.UpdateUser(e.tenantOwner(tn.ID), u.ID, skjold.UserUpdate{TrainingAt: &now})
		must(t, err)
	}
	old, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
	for _, f := range old {
		must(t, os.Remove(f))
	}

	n, err := e.db.RemindTraining(t.Context())
	must(t, err)
	if n != 1 {
		t.Fatalf("%d reminders, want 1 (the agent)", n)
	}
	mails := e.outboxByRecipient()
	for addr, want := range map[string][]string{
		agent.Email: {"data-protection training due", "Your annual data-protection training", "No training is recorded yet."},
		owner.Email: {"opplæring i personvern må fornyes", "Ada Agent (agent@asysto.example)", "Ingen opplæring er registrert ennå."},
		admin.Email: {"czas na szkolenie z ochrony danych", "osoby Ada Agent (agent@asysto.example)", "Nie odnotowano jeszcze"},
	} {
		got, ok := mails[addr]
		if !ok {
			t.Errorf("no reminder to %s; the outbox has %d e-mails", addr, len(mails))
			continue
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("reminder to %s lacks %q:\n%s", addr, w, got)
			}
		}
	}
	if len(mails) != 3 {
		t.Errorf("%d e-mails, want 3 (the agent, the owner, the admin)", len(mails))
	}
	if n, _ := e.db.RemindTraining(t.Context()); n != 0 || len(e.outboxByRecipient()) != 3 {
		t.Errorf("reminded again at once: %d", n)
	}
}

// outboxByRecipient returns the decoded subject and body of every e-mail in the outbox, by
// recipient.
func (e *env) outboxByRecipient() map[string]string {
	e.t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
	out := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		must(e.t, err)
		head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
		var to, subject string
		for _, line := range strings.Split(head, "\r\n") {
			if s, ok := strings.CutPrefix(line, "To: "); ok {
				to = strings.Trim(strings.ToLower(s), "<> ")
			}
			if s, ok := strings.CutPrefix(line, "Subject: "); ok {
				dec, err := new(mime.WordDecoder).DecodeHeader(s)
				must(e.t, err)
				subject = dec
			}
		}
		plain, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
		must(e.t, err)
		out[to] = subject + "\n" + string(plain)
	}
	return out
}

// testMaintenance: the operator schedules a window; a bad one is refused and stores nothing;
// tenants see it; the announcement e-mails every active tenant's owner once, in their
// language, when the window is within three days [E6].
func testMaintenance(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Trainingbot Sp. z o.o."), e.newTenant("MicroIT AS")
	ownerA, ctxA := e.adminCtx(a, "owner@trainingbot.example", skjold.RoleOwner)
	ownerB, _ := e.adminCtx(b, "owner@microit.example", skjold.RoleOwner)
	must(t, e.db.SetLanguage(ctxA, "pl"))
	old, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
	for _, f := range old {
		must(t, os.Remove(f))
	}
	now := e.clock.Now()
	bad := &skjold.Maintenance{Starts: now.Add(-time.Hour), Ends: now.Add(time.Hour), Note: "Database upgrade"}
	wantCode(t, e.db.ScheduleMaintenance(e.op, bad), skjold.EINVALID)
	m := &skjold.Maintenance{Starts: now.Add(5 * 24 * time.Hour), Ends: now.Add(5*24*time.Hour + 2*time.Hour), Note: "Database upgrade"}
	wantCode(t, e.db.ScheduleMaintenance(ctxA, m), skjold.EFORBIDDEN)
	must(t, e.db.ScheduleMaintenance(e.op, m))
	list, err := e.db.FindMaintenance(e.as(b, ""))
	must(t, err)
	if len(list) != 1 || list[0].ID != m.ID || !list[0].Starts.Equal(m.Starts) {
		t.Fatalf("tenant sees %+v, want the one window", list)
	}

	if n, err := e.db.AnnounceMaintenance(t.Context()); err != nil || n != 0 {
		t.Fatalf("five days ahead: announced %d, %v; want none yet", n, err)
	}
	e.clock.Add(2*24*time.Hour + time.Hour) // now within three days
	if n, err := e.db.AnnounceMaintenance(t.Context()); err != nil || n != 1 {
		t.Fatalf("within three days: announced %d, %v; want 1", n, err)
	}
	mails := e.outboxByRecipient()
	if got := mails[ownerA.Email]; !strings.Contains(got, "planowana konserwacja") || !strings.Contains(got, "Database upgrade") {
		t.Errorf("owner A's announcement (Polish):\n%s", got)
	}
	if got := mails[ownerB.Email]; !strings.Contains(got, "planned maintenance") || !strings.Contains(got, m.Starts.UTC().Format("2006-01-02 15:04")) {
		t.Errorf("owner B's announcement (English):\n%s", got)
	}
	if len(mails) != 2 {
		t.Errorf("%d e-mails, want one per owner", len(mails))
	}
	if n, _ := e.db.AnnounceMaintenance(t.Context()); n != 0 {
		t.Errorf("announced again: %d", n)
	}
	wantCode(t, e.db.CancelMaintenance(e.op, "01900000-0000-7000-8000-000000000000"), skjold.ENOTFOUND)
	must(t, e.db.CancelMaintenance(e.op, m.ID))
	if list, _ := e.db.FindMaintenance(e.op); len(list) != 0 {
		t.Errorf("after the cancellation: %+v", list)
	}
}
