package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestReadBudget checks the read budgets against bulk copying [B16]: every subject a read
// returns is charged to the token or person reading, beyond the budget reads are refused
// with EREADBUDGET and a time to wait, the first refusal of a window is a security event,
// other callers are unaffected, and parallel reads, also through two nodes, never both pass
// a budget only one of them fits.
func TestReadBudget(t *testing.T, h Harness) {
	t.Run("Settings", func(t *testing.T) { testReadBudgetSettings(t, newEnv(t, h)) })
	t.Run("Charges", func(t *testing.T) { testReadBudgetCharges(t, newEnv(t, h)) })
	t.Run("Export", func(t *testing.T) { testReadBudgetExport(t, newEnv(t, h)) })
	t.Run("Parallel", func(t *testing.T) { testReadBudgetParallel(t, newEnv(t, h)) })
}

// reader returns a context acting in tn as actor (a token, or a person when user is set),
// with the read scope.
func (e *env) reader(tn *tenant, actor, user string) context.Context {
	return skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{Actor: actor, UserID: user, TenantID: tn.ID,
		Scopes: []string{skjold.ScopeRead, skjold.ScopeExport}, Source: "127.0.0.1", Role: skjold.RoleAgent})
}

// setBudget sets tn's read budget as its administrator.
func (e *env) setBudget(tn *tenant, perMinute, perDay int) {
	e.t.Helper()
	must(e.t, e.db.PutReadBudget(e.as(tn, ""), &skjold.ReadBudget{PerMinute: perMinute, PerDay: perDay}))
}

// unlimitedReads lifts tn's read budget as far as an operator may: for tests of other
// concerns that read far more in a minute of the fixed clock than a person would.
func (e *env) unlimitedReads(tn *tenant) {
	e.t.Helper()
	const most = 100_000_000 // the highest bound Skjold lets an operator set
	must(e.t, e.db.PutReadBudget(e.operatorAs(skjold.ScopeOperatorManage),
		&skjold.ReadBudget{PerMinute: most, PerDay: most, MaxPerMinute: most, MaxPerDay: most}))
	e.setBudget(tn, most, most)
}

// budgetError returns the *skjold.Error of a refused read, failing the test unless err is
// EREADBUDGET with the rule (window) want.
func budgetError(t *testing.T, err error, rule string) *skjold.Error {
	t.Helper()
	var be *skjold.Error
	if !errors.As(err, &be) || be.Code != skjold.EREADBUDGET || be.Rule != rule {
		t.Fatalf("error = %v, want %s (%s)", err, skjold.EREADBUDGET, rule)
	}
	return be
}

func testReadBudgetSettings(t *testing.T, e *env) {
	a := e.newTenant("Budget AS")
	got, err := e.db.ReadBudget(e.as(a, ""))
	must(t, err)
	if *got != skjold.DefaultReadBudget() {
		t.Errorf("a new tenant's budget = %+v, want the defaults %+v", *got, skjold.DefaultReadBudget())
	}
	for _, bad := range []struct {
		b     skjold.ReadBudget
		field string
	}{
		{skjold.ReadBudget{PerMinute: 0, PerDay: 10}, "per_minute"},
		{skjold.ReadBudget{PerMinute: 20, PerDay: 10}, "per_day"},
		{skjold.ReadBudget{PerMinute: skjold.DefaultMaxPerMinute + 1, PerDay: skjold.DefaultMaxPerDay}, "per_minute"},
		{skjold.ReadBudget{PerMinute: 10, PerDay: skjold.DefaultMaxPerDay + 1}, "per_day"},
		{skjold.ReadBudget{PerMinute: 10, PerDay: 10, MaxPerMinute: 1_000_000}, "max_per_minute"}, // the operator's
	} {
		var fe *skjold.Error
		if err := e.db.PutReadBudget(e.as(a, ""), &bad.b); !errors.As(err, &fe) || fe.Code != skjold.EINVALID || fe.Field != bad.field {
			t.Errorf("PutReadBudget(%+v) = %v, want EINVALID on %s", bad.b, err, bad.field)
		}
	}
	reader := e.reader(a, "token:r", "")
	wantCode(t, e.db.PutReadBudget(reader, &skjold.ReadBudget{PerMinute: 10, PerDay: 10}), skjold.EFORBIDDEN)
	if got, _ := e.db.ReadBudget(e.as(a, "")); *got != skjold.DefaultReadBudget() {
		t.Errorf("refused changes changed the budget to %+v", *got)
	}

	seq := e.lastSeq()
	e.setBudget(a, 50, 500)
	if got, _ := e.db.ReadBudget(reader); got.PerMinute != 50 || got.PerDay != 500 || got.MaxPerMinute != skjold.DefaultMaxPerMinute {
		t.Errorf("after PUT 50/500: %+v", *got)
	}
	if evs := e.events(seq); len(evs) != 1 || evs[0].Action != "settings.update" || evs[0].Fields[0] != "read_budget" {
		t.Errorf("events of a budget change: %v", evs)
	}

	// The operator's budget is the default of tenants that set none and the bound of all;
	// lowering the bounds lowers every tenant's budget that was above them.
	b := e.newTenant("Defaults AS")
	wantCode(t, e.db.PutReadBudget(e.op, &skjold.ReadBudget{PerMinute: 10, PerDay: 100, MaxPerMinute: 40, MaxPerDay: 400}),
		skjold.EFORBIDDEN) // an operator caller without operator.manage
	var fe *skjold.Error
	if err := e.db.PutReadBudget(e.staff(), &skjold.ReadBudget{PerMinute: 100, PerDay: 1000, MaxPerMinute: 40, MaxPerDay: 400}); !errors.As(err, &fe) || fe.Field != "per_minute" {
		t.Errorf("operator defaults above the operator's bounds: %v", err)
	}
	must(t, e.db.PutReadBudget(e.staff(), &skjold.ReadBudget{PerMinute: 10, PerDay: 100, MaxPerMinute: 40, MaxPerDay: 400}))
	want := map[*tenant]skjold.ReadBudget{
		a: {PerMinute: 40, PerDay: 400, MaxPerMinute: 40, MaxPerDay: 400},
		b: {PerMinute: 10, PerDay: 100, MaxPerMinute: 40, MaxPerDay: 400},
	}
	for tn, w := range want {
		if got, err := e.db.ReadBudget(e.as(tn, "")); err != nil || *got != w {
			t.Errorf("%s: budget %+v (%v), want %+v", tn.Name, got, err, w)
		}
	}
	if got, _ := e.db.ReadBudget(e.staff()); *got != (skjold.ReadBudget{PerMinute: 10, PerDay: 100, MaxPerMinute: 40, MaxPerDay: 400}) {
		t.Errorf("the operator's budget reads %+v", *got)
	}
}

// newSubjects creates n subjects in tn.
func (e *env) newSubjects(tn *tenant, n int) []*skjold.Subject {
	e.t.Helper()
	var out []*skjold.Subject
	for i := range n {
		out = append(out, e.newSubject(e.as(tn, ""), &skjold.Subject{Ref: fmt.Sprintf("B-%d", i), Name: "Budget"}))
	}
	return out
}

func testReadBudgetCharges(t *testing.T, e *env) {
	a := e.newTenant("Charges AS")
	subjects := e.newSubjects(a, 8)
	e.newRecord(e.as(a, ""), subjects[0].ID, "contact", map[string]any{"city": "Oslo"})
	e.newRecord(e.as(a, ""), subjects[0].ID, "contact", map[string]any{"city": "Bergen"})
	e.setBudget(a, 6, 9)
	tok, person, other := e.reader(a, "token:t1", ""), e.reader(a, "user:u1", "u1"), e.reader(a, "token:t2", "")
	page := func(ctx context.Context, limit int) error {
		_, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Page: skjold.Page{Limit: limit}})
		return err
	}
	seq := e.lastSeq()
	must(t, page(tok, 3))                                                              // 3 of 6
	recs, err := e.db.FindRecords(tok, skjold.RecordFilter{SubjectID: subjects[0].ID}) // two records of one subject: 4
	must(t, err)
	_, err = e.db.FindRecords(tok, skjold.RecordFilter{SubjectID: subjects[1].ID}) // none returned, none charged
	must(t, err)
	_, err = e.db.FindSubjectByID(tok, subjects[4].ID) // 5
	must(t, err)
	_, err = e.db.FindConsents(tok, subjects[5].ID) // 6
	must(t, err)
	refused := budgetError(t, page(tok, 1), "minute")
	if refused.RetryAfter <= 0 || refused.RetryAfter > time.Minute {
		t.Errorf("Retry-After %v, want within the minute", refused.RetryAfter)
	}
	_, err = e.db.FindSubjectByID(tok, subjects[0].ID)
	budgetError(t, err, "minute")
	_, err = e.db.FindRecordByID(tok, recs[0].ID)
	budgetError(t, err, "minute")
	_, err = e.db.SubjectData(tok, subjects[0].ID) // an access package counts too
	budgetError(t, err, "minute")
	// An update answers with the values the caller did not send: it is a read too, and a
	// refused one changes nothing.
	_, err = e.db.UpdateSubject(tok, subjects[0].ID, skjold.SubjectUpdate{Name: ptr("Changed")})
	budgetError(t, err, "minute")
	_, err = e.db.UpdateRecord(tok, recs[0].ID, map[string]any{"city": "Changed"})
	budgetError(t, err, "minute")
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM subjects WHERE updated_at <> created_at AND tenant_id = ?", a.ID); n != 0 {
		t.Errorf("%d subjects changed by refused updates", n)
	}
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM records WHERE updated_at <> created_at AND tenant_id = ?", a.ID); n != 0 {
		t.Errorf("%d records changed by refused updates", n)
	}
	must(t, page(other, 6))  // another token has a budget of its own
	must(t, page(person, 6)) // and so has a person
	budgetError(t, page(person, 1), "minute")
	budgetError(t, page(other, 8), "size") // more than a minute's budget in one request
	evs := e.events(seq)
	reads, alerts := 0, map[string]int{}
	for _, ev := range evs {
		switch ev.Action {
		case "subject.read", "consent.read", "record.read", "subject.export":
			reads++
		case "security.read_budget":
			alerts[ev.Actor]++
			if ev.TenantID != a.ID || ev.Fields[0] != "window:minute" || ev.Fields[1] != "budget:6" {
				t.Errorf("security event %+v", ev)
			}
		}
	}
	if reads != 19 || alerts["token:t1"] != 1 || alerts["user:u1"] != 1 || len(alerts) != 2 {
		t.Errorf("%d read events (want 19: refused reads are not audited as reads), security events %v (want one per caller and window)", reads, alerts)
	}

	// The next minute the token may read again, until the day's budget of 8 is spent.
	e.clock.Add(61 * time.Second)
	_, err = e.db.UpdateSubject(tok, subjects[1].ID, skjold.SubjectUpdate{Name: ptr("Renamed")}) // 7 of 9 today
	must(t, err)
	must(t, page(tok, 2))
	refused = budgetError(t, page(tok, 1), "day")
	if refused.RetryAfter < 23*time.Hour || refused.RetryAfter > 24*time.Hour {
		t.Errorf("Retry-After %v, want the rest of the day's window", refused.RetryAfter)
	}
	if n := e.countActions("security.read_budget"); n != 3 {
		t.Errorf("%d security.read_budget events, want 3", n)
	}
	e.clock.Add(24 * time.Hour)
	must(t, page(tok, 5))
}

func testReadBudgetExport(t *testing.T, e *env) {
	a, _, _ := e.exportFixture() // three subjects
	_, first := e.adminCtx(a, "owner1@fjord.example", skjold.RoleOwner)
	_, second := e.adminCtx(a, "owner2@fjord.example", skjold.RoleOwner)
	e.setBudget(a, 2, 4)
	// An export approved by a second person is not charged: the approval is its limit.
	req := &skjold.Approval{Action: skjold.ActionBulkExport}
	must(t, e.db.RequestApproval(first, req))
	_, err := e.db.DecideApproval(second, req.ID, true)
	must(t, err)
	must(t, e.db.ExportTenant(first, req.ID, &memSink{}))
	if _, err := e.db.FindSubjects(first, skjold.SubjectFilter{Page: skjold.Page{Limit: 2}}); err != nil {
		t.Errorf("after an approved export of 3 subjects: %v", err)
	}

	// Without four eyes an export is charged to the day's budget, as one read of every
	// subject: the first fits (3 of 4, beyond a minute's 2), the second does not.
	e.noFourEyes(a)
	tok := e.reader(a, "token:exporter", "")
	seq := e.lastSeq()
	sink := &memSink{}
	must(t, e.db.ExportTenant(tok, "", sink))
	if len(sink.rows[skjold.SubjectCategory]) != 3 {
		t.Errorf("exported %d subjects", len(sink.rows[skjold.SubjectCategory]))
	}
	sink = &memSink{}
	budgetError(t, e.db.ExportTenant(tok, "", sink), "day")
	if len(sink.rows) != 0 {
		t.Errorf("a refused export fed %d categories", len(sink.rows))
	}
	exports := 0
	for _, ev := range e.events(seq) {
		if ev.Action == "tenant.export" {
			exports++
		}
	}
	if exports != 1 {
		t.Errorf("%d tenant.export events, want 1", exports)
	}
}

// testReadBudgetParallel reads in pairs, each read taking 3 of a budget of 5, at once and
// through two stores on one database (two nodes): exactly one of each pair may pass.
func testReadBudgetParallel(t *testing.T, e *env) {
	a := e.newTenant("Parallel AS")
	e.newSubjects(a, 3)
	e.setBudget(a, 5, 100)
	nodes := [2]interface {
		FindSubjects(context.Context, skjold.SubjectFilter) ([]*skjold.Subject, error)
	}{e.db, e.h.Reopen(t, e.db, e.options(e.keys))}
	for round := range 10 {
		ctx := e.reader(a, fmt.Sprintf("token:p%d", round), "")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = nodes[i%2].FindSubjects(ctx, skjold.SubjectFilter{Page: skjold.Page{Limit: 3}})
			})
		}
		wg.Wait()
		passed := 0
		for _, err := range errs {
			switch skjold.ErrorCode(err) {
			case "":
				passed++
			case skjold.EREADBUDGET:
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if passed != 1 {
			t.Fatalf("round %d: %d of 4 parallel reads of 3 passed a budget of 5, want exactly 1", round, passed)
		}
	}
}
