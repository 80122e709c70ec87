package storetest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestIncidents checks the breach register [F2]: recording, the 72-hour clock and its two
// alerts (once each), the append-only timeline, the decision, scoping from the audit chain,
// closing, and an operator incident's notices to tenant owners with their acknowledgements.
func TestIncidents(t *testing.T, h Harness) {
	t.Run("Journey", func(t *testing.T) { testIncidentJourney(t, newEnv(t, h)) })
	t.Run("Clock", func(t *testing.T) { testIncidentClock(t, newEnv(t, h)) })
	t.Run("Operator", func(t *testing.T) { testIncidentOperator(t, newEnv(t, h)) })
	t.Run("Refusals", func(t *testing.T) { testIncidentRefusals(t, newEnv(t, h)) })
}

// newIncident is a tenant incident the controller became aware of at aware.
func newIncident(aware time.Time) *skjold.Incident {
	return &skjold.Incident{Title: "Leaked API token", Description: "A token was pasted into a public issue tracker.",
		DetectedAt: aware.Add(-time.Hour), AwareAt: aware, Categories: []string{"contact"}, Subjects: 40, Records: 80,
		Consequences: "Phishing", Measures: "Token revoked", Contact: "dpo@fjord.example"}
}

func testIncidentJourney(t *testing.T, e *env) {
	tn, other := e.newTenant("Fjord Travel AS"), e.newTenant("Other AS")
	// A leaked token reads two subjects; another token's reads are not the leak's.
	leak := &skjold.Caller{Actor: "token:" + tn.token.ID, TenantID: tn.ID, Scopes: skjold.AllScopes, Source: "198.51.100.9", Purpose: "contract"}
	lctx := skjold.NewContextWithCaller(t.Context(), leak)
	since := e.clock.Now()
	a := e.newSubject(e.as(tn, "contract"), &skjold.Subject{Ref: "A-1", Name: "Anna Berg", Email: "anna@example.com"})
	b := e.newSubject(e.as(tn, "contract"), &skjold.Subject{Ref: "B-1", Name: "Bo Lund"})
	e.newSubject(e.as(tn, "contract"), &skjold.Subject{Ref: "C-1", Name: "Cai Dahl"})
	for _, s := range []*skjold.Subject{a, b, a} {
		if _, err := e.db.FindSubjectByID(lctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Add(time.Hour)
	admin := e.tenantOwner(tn.ID)
	inc := newIncident(e.clock.Now().Add(-time.Minute))
	must(t, e.db.CreateIncident(admin, inc, nil))
	if inc.Status != skjold.IncidentOpen || inc.TenantID != tn.ID || !inc.Clock.Deadline.Equal(inc.AwareAt.Add(72*time.Hour)) {
		t.Fatalf("created: %+v", inc)
	}
	if _, err := e.db.FindIncident(e.tenantOwner(other.ID), inc.ID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("another tenant reads the incident: %v", err)
	}
	if _, err := e.db.FindIncident(e.staff(), inc.ID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("the operator reads a tenant's incident: %v", err)
	}
	res, err := e.db.ScopeIncident(admin, inc.ID, skjold.IncidentScope{Token: tn.token.ID, Since: since, Until: e.clock.Now()})
	must(t, err)
	if res.Subjects != 2 || res.Events != 3 || !slices.Equal(res.SubjectIDs, sortedIDs(a.ID, b.ID)) {
		t.Errorf("scope by token: %+v", res)
	}
	for _, f := range res.Fields {
		if strings.Contains(f.Name, "anna") || strings.Contains(f.Name, "Berg") {
			t.Errorf("the scope holds a personal value: %+v", res.Fields)
		}
	}
	byAddr, err := e.db.ScopeIncident(admin, inc.ID, skjold.IncidentScope{Address: "198.51.100.9", Since: since, Until: e.clock.Now()})
	must(t, err)
	if byAddr.Subjects != 2 {
		t.Errorf("scope by address: %+v", byAddr)
	}
	if none, err := e.db.ScopeIncident(admin, inc.ID, skjold.IncidentScope{Token: tn.token.ID, Since: since.Add(-time.Hour), Until: since}); err != nil || none.Events != 0 {
		t.Errorf("scope before the reads: %+v, %v", none, err)
	}
	if _, err := e.db.ScopeIncident(admin, inc.ID, skjold.IncidentScope{Token: tn.token.ID, Since: since, Until: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	got, err := e.db.FindIncident(admin, inc.ID)
	must(t, err)
	if got.ScopedSubjects == nil || *got.ScopedSubjects != 2 {
		t.Errorf("scoped subjects = %v, want 2", got.ScopedSubjects)
	}
	_, err = e.db.AddIncidentEntry(admin, inc.ID, "Token revoked, customer informed")
	must(t, err)
	dec, err := e.db.DecideIncident(admin, inc.ID, skjold.IncidentDecision{NotifyAuthority: true, NotifySubjects: false,
		Reason: "Contact data of 2 people; risk is low but not nil"}, true)
	must(t, err)
	if dec.Decision == nil || dec.Decision.AuthorityNotifiedAt == nil || !dec.Clock.Stopped {
		t.Errorf("after the decision: %+v %+v", dec.Decision, dec.Clock)
	}
	closed, err := e.db.CloseIncident(admin, inc.ID, "Handled")
	must(t, err)
	if closed.Status != skjold.IncidentClosed || closed.ClosedAt == nil {
		t.Errorf("closed: %+v", closed)
	}
	if _, err := e.db.AddIncidentEntry(admin, inc.ID, "late"); skjold.ErrorCode(err) != skjold.ECONFLICT {
		t.Errorf("a note on a closed incident: %v", err)
	}
	line, err := e.db.IncidentTimeline(admin, inc.ID)
	must(t, err)
	var kinds []string
	for _, en := range line {
		kinds = append(kinds, en.Kind)
	}
	if want := []string{"created", "scope", "scope", "scope", "scope", "note", "decision", "closed"}; !slices.Equal(kinds, want) {
		t.Errorf("timeline = %v, want %v", kinds, want)
	}
	for _, action := range []string{"incident.create", "incident.scope", "incident.note", "incident.decide", "incident.close"} {
		if e.countActions(action) == 0 {
			t.Errorf("no %s audit event", action)
		}
	}
}

func sortedIDs(ids ...string) []string { slices.Sort(ids); return ids }

// testIncidentClock: the warning comes 12 hours before the deadline, the overdue alert after
// it, each once; a decision not to notify stops the clock.
func testIncidentClock(t *testing.T, e *env) {
	tn := e.newTenant("Fjord Travel AS")
	owner, _ := e.newUser(e.staff(), &skjold.User{TenantID: tn.ID, Email: "owner@fjord.example", Name: "Ola Owner", Role: skjold.RoleOwner})
	must(t, e.db.SetLanguage(e.person(owner), "nb"))
	admin := e.tenantOwner(tn.ID)
	inc := newIncident(e.clock.Now())
	must(t, e.db.CreateIncident(admin, inc, nil))
	stopped := newIncident(e.clock.Now())
	must(t, e.db.CreateIncident(admin, stopped, nil))
	_, err := e.db.DecideIncident(admin, stopped.ID, skjold.IncidentDecision{Reason: "Encrypted, key not lost"}, false)
	must(t, err)
	flag := func(want int) {
		t.Helper()
		n, err := e.db.FlagIncidentDeadlines(t.Context())
		if err != nil || n != want {
			t.Fatalf("FlagIncidentDeadlines = %d, %v; want %d", n, err, want)
		}
	}
	e.clock.Add(60*time.Hour - time.Second)
	flag(0)
	e.clock.Add(time.Second) // 12 hours left
	flag(1)
	flag(0)
	got, err := e.db.FindIncident(admin, inc.ID)
	must(t, err)
	if got.Clock.Remaining != 12*3600 || got.Clock.Overdue {
		t.Errorf("clock 12 h before: %+v", got.Clock)
	}
	e.clock.Add(12*time.Hour - time.Second)
	flag(0)
	e.clock.Add(time.Second)
	flag(1)
	flag(0)
	if got, _ = e.db.FindIncident(admin, inc.ID); !got.Clock.Overdue || got.Clock.Remaining != 0 {
		t.Errorf("clock at the deadline: %+v", got.Clock)
	}
	if n, m := e.countActions("incident.deadline_near"), e.countActions("incident.overdue"); n != 1 || m != 1 {
		t.Errorf("alerts: %d deadline_near, %d overdue; want one each", n, m)
	}
	mails := e.mailsTo(owner.Email)
	var near, over bool
	for _, m := range mails {
		near = near || strings.Contains(m[1], inc.ID) && strings.Contains(m[1], "12")
		over = over || strings.Contains(m[0], "frist") && strings.Contains(m[1], inc.ID)
	}
	if !near || !over {
		t.Errorf("the owner's e-mails (nb) about the clock: %q", mails)
	}
	// An incident recorded late, already past its deadline, raises one overdue alert only.
	late := newIncident(e.clock.Now().Add(-100 * time.Hour))
	must(t, e.db.CreateIncident(admin, late, nil))
	flag(1)
	flag(0)
}

// testIncidentOperator: an operator incident e-mails the affected tenants' owners in their
// language; each tenant sees it read-only and acknowledges it once.
func testIncidentOperator(t *testing.T, e *env) {
	a, b, c := e.newTenant("Fjord Travel AS"), e.newTenant("Vistula Clinic"), e.newTenant("Unaffected AS")
	ownerA, _ := e.newUser(e.staff(), &skjold.User{TenantID: a.ID, Email: "owner@fjord.example", Name: "Ola", Role: skjold.RoleOwner})
	ownerB, _ := e.newUser(e.staff(), &skjold.User{TenantID: b.ID, Email: "owner@vistula.example", Name: "Ola", Role: skjold.RoleOwner})
	must(t, e.db.SetLanguage(e.person(ownerB), "pl"))
	clearOutbox(e)
	inc := newIncident(e.clock.Now())
	inc.Title = "Mail relay compromised"
	if err := e.db.CreateIncident(e.as(a, ""), newIncident(e.clock.Now()), []string{b.ID}); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Errorf("a tenant names other tenants: %v", err)
	}
	must(t, e.db.CreateIncident(e.staff(), inc, []string{a.ID, b.ID, a.ID}))
	if len(inc.Tenants) != 2 {
		t.Fatalf("tenants = %+v", inc.Tenants)
	}
	if m := e.mailsTo(ownerA.Email); len(m) != 1 || !strings.Contains(m[0][1], inc.ID) {
		t.Errorf("owner A's mail: %q", m)
	}
	if m := e.mailsTo(ownerB.Email); len(m) != 1 || !strings.Contains(m[0][0], "incydent") {
		t.Errorf("owner B's mail (pl): %q", m)
	}
	list, err := e.db.FindIncidents(e.tenantOwner(a.ID))
	must(t, err)
	if len(list) != 1 || len(list[0].Tenants) != 1 || list[0].Tenants[0].TenantID != a.ID {
		t.Fatalf("tenant A's list: %+v", list)
	}
	if list, _ := e.db.FindIncidents(e.tenantOwner(c.ID)); len(list) != 0 {
		t.Errorf("an unaffected tenant sees %d incidents", len(list))
	}
	if line, err := e.db.IncidentTimeline(e.tenantOwner(a.ID), inc.ID); err != nil || len(line) != 0 {
		t.Errorf("a tenant reads the operator's timeline: %d entries, %v", len(line), err)
	}
	if _, err := e.db.AddIncidentEntry(e.tenantOwner(a.ID), inc.ID, "mine"); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		t.Errorf("a tenant writes the operator's timeline: %v", err)
	}
	got, err := e.db.AcknowledgeIncident(e.person(ownerA), inc.ID)
	must(t, err)
	if got.Tenants[0].AcknowledgedAt == nil {
		t.Errorf("not acknowledged: %+v", got.Tenants[0])
	}
	if _, err := e.db.AcknowledgeIncident(e.person(ownerA), inc.ID); skjold.ErrorCode(err) != skjold.ECONFLICT {
		t.Errorf("acknowledged twice: %v", err)
	}
	if _, err := e.db.AcknowledgeIncident(e.tenantOwner(c.ID), inc.ID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("an unaffected tenant acknowledges: %v", err)
	}
	op, err := e.db.FindIncident(e.staff(), inc.ID)
	must(t, err)
	if op.Tenants[0].AcknowledgedAt == nil || op.Tenants[1].AcknowledgedAt != nil {
		t.Errorf("the operator's view of the acknowledgements: %+v %+v", op.Tenants[0], op.Tenants[1])
	}
}

func clearOutbox(e *env) {
	files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
	for _, f := range files {
		os.Remove(f)
	}
}

// testIncidentRefusals: bad input and wrong callers change nothing.
func testIncidentRefusals(t *testing.T, e *env) {
	tn := e.newTenant("Fjord Travel AS")
	admin := e.tenantOwner(tn.ID)
	now := e.clock.Now()
	for name, mod := range map[string]func(*skjold.Incident){
		"NoTitle":        func(i *skjold.Incident) { i.Title = "" },
		"AwareInFuture":  func(i *skjold.Incident) { i.AwareAt = now.Add(time.Hour) },
		"AwareBeforeDet": func(i *skjold.Incident) { i.AwareAt = i.DetectedAt.Add(-time.Hour) },
		"NegativeCount":  func(i *skjold.Incident) { i.Subjects = -1 },
		"NoDetected":     func(i *skjold.Incident) { i.DetectedAt = time.Time{} },
	} {
		inc := newIncident(now)
		mod(inc)
		if err := e.db.CreateIncident(admin, inc, nil); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	agent := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "user:agent", TenantID: tn.ID,
		Role: skjold.RoleAgent, Scopes: skjold.RoleScopes(false, skjold.RoleAgent)})
	if err := e.db.CreateIncident(agent, newIncident(now), nil); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		t.Errorf("an agent records an incident: %v", err)
	}
	support := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "user:support", Operator: true,
		Role: skjold.RoleSupport, Scopes: skjold.RoleScopes(true, skjold.RoleSupport)})
	if err := e.db.CreateIncident(support, newIncident(now), nil); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		t.Errorf("operator support records an incident: %v", err)
	}
	if err := e.db.CreateIncident(e.staff(), newIncident(now), []string{tn.token.ID}); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("an unknown tenant: %v", err)
	}
	if list, _ := e.db.FindIncidents(e.staff()); len(list) != 0 {
		t.Errorf("refused incidents were stored: %d", len(list))
	}
	inc := newIncident(now)
	must(t, e.db.CreateIncident(admin, inc, nil))
	for name, q := range map[string]skjold.IncidentScope{
		"None":      {Since: now.Add(-time.Hour), Until: now},
		"Two":       {Token: inc.ID, User: inc.ID, Since: now.Add(-time.Hour), Until: now},
		"BadAddr":   {Address: "not-an-ip", Since: now.Add(-time.Hour), Until: now},
		"Backwards": {Token: inc.ID, Since: now, Until: now.Add(-time.Hour)},
		"BadToken":  {Token: "x'--", Since: now.Add(-time.Hour), Until: now},
	} {
		if _, err := e.db.ScopeIncident(admin, inc.ID, q); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("scope %s: %v", name, err)
		}
	}
	if _, err := e.db.DecideIncident(admin, inc.ID, skjold.IncidentDecision{Reason: ""}, false); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Errorf("a decision without reason: %v", err)
	}
	if _, err := e.db.DecideIncident(admin, inc.ID, skjold.IncidentDecision{Reason: "no"}, true); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Errorf("notified without deciding to notify: %v", err)
	}
	if got, _ := e.db.FindIncident(admin, inc.ID); got.Decision != nil {
		t.Errorf("a refused decision was stored: %+v", got.Decision)
	}
	if _, err := e.db.FindIncident(admin, "not-an-id"); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("a malformed id: %v", err)
	}
}
