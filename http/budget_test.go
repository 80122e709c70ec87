package http

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestReadBudget pages through a tenant as a bulk copier would [B16]: with the default budget
// of 1000 subjects a minute, the third list of 500 is refused with 429, read_budget_exceeded
// and Retry-After, while another token and a person of the same tenant read on; the refusal
// is one security event however often it is repeated, and the next minute the token reads
// again.
func TestReadBudget(t *testing.T) {
	e := newEnv(t)
	ctx := skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "test", TenantID: e.a.id,
		Scopes: skjold.AllScopes})
	for i := range 600 {
		if err := e.db.CreateSubject(ctx, &skjold.Subject{Ref: fmt.Sprintf("BULK-%d", i), Name: "Bulk"}); err != nil {
			t.Fatal(err)
		}
	}
	tok := e.createToken(t, e.a.token, "copier", skjold.ScopeRead)
	copier, copierID := tok.Secret, tok.ID
	other := e.createToken(t, e.a.token, "other", skjold.ScopeRead).Secret
	person := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")

	list := func(token string) *reply { return e.do(t, token, "GET", "/api/v1/subjects?limit=500", nil) }
	seq := e.auditLength(t)
	passed := 0
	var refused *reply
	for range 150 {
		r := list(copier)
		if r.status != 200 {
			refused = r
			break
		}
		passed++
	}
	if passed != 2 || refused == nil {
		t.Fatalf("%d lists of 500 passed before a refusal, want 2 (1000 subjects a minute)", passed)
	}
	got := refused.wantError(t, 429, skjold.EREADBUDGET)
	if got.Rule != "minute" {
		t.Errorf("refusal %+v, want rule minute", got)
	}
	if s, err := strconv.Atoi(refused.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After %q, want 1 to 60 seconds", refused.header.Get("Retry-After"))
	}
	for range 5 { // refused again: still no data, and no more security events
		list(copier).wantError(t, 429, skjold.EREADBUDGET)
	}
	e.do(t, copier, "GET", "/api/v1/subjects?ref=BULK-1", nil).wantError(t, 429, skjold.EREADBUDGET)

	for who, token := range map[string]string{"another token": other, "a person": person.session} {
		var page struct{ Items []json.RawMessage }
		list(token).want(t, 200).decode(t, &page)
		if len(page.Items) != 500 {
			t.Errorf("%s read %d subjects, want 500: another caller's budget is its own", who, len(page.Items))
		}
	}

	alerts := 0
	for after := seq; ; {
		var page struct {
			Items []skjold.AuditEvent
			Next  string
		}
		e.do(t, e.a.token, "GET", "/api/v1/audit?limit=500&after="+strconv.FormatInt(after, 10), nil).want(t, 200).decode(t, &page)
		for _, ev := range page.Items {
			if ev.Action == "security.read_budget" {
				alerts++
				if ev.Actor != "token:"+copierID || ev.Fields[0] != "window:minute" || ev.Fields[1] != "budget:1000" {
					t.Errorf("security event %+v", ev)
				}
			}
			after = ev.Seq
		}
		if page.Next == "" {
			break
		}
	}
	if alerts != 1 {
		t.Errorf("%d security.read_budget events, want 1 for the window", alerts)
	}

	e.clock.Advance(61 * time.Second)
	list(copier).want(t, 200)
}

// TestReadBudgetSettings sets a tenant's budget through the API within the operator's bounds,
// and shows that it applies to the tenant's tokens at once.
func TestReadBudgetSettings(t *testing.T) {
	e := newEnv(t)
	var b skjold.ReadBudget
	e.do(t, e.a.token, "GET", "/api/v1/settings/read-budget", nil).want(t, 200).decode(t, &b)
	if b != skjold.DefaultReadBudget() {
		t.Errorf("default budget %+v", b)
	}
	e.unchanged(t, func() {
		got := e.do(t, e.a.token, "PUT", "/api/v1/settings/read-budget", map[string]int{"per_minute": 20000, "per_day": 20000}).wantError(t, 400, skjold.EINVALID)
		if got.Field != "per_minute" {
			t.Errorf("a budget above the operator's bound: %+v", got)
		}
	})
	e.do(t, e.operator, "PUT", "/api/v1/settings/read-budget", map[string]int{"per_minute": 100, "per_day": 1000,
		"max_per_minute": 200, "max_per_day": 2000}).want(t, 200)
	e.do(t, e.a.token, "PUT", "/api/v1/settings/read-budget", map[string]int{"per_minute": 3, "per_day": 1000}).want(t, 200).decode(t, &b)
	if b != (skjold.ReadBudget{PerMinute: 3, PerDay: 1000, MaxPerMinute: 200, MaxPerDay: 2000}) {
		t.Errorf("tenant A's budget %+v", b)
	}
	e.do(t, e.b.token, "GET", "/api/v1/settings/read-budget", nil).want(t, 200).decode(t, &b)
	if b.PerMinute != 100 {
		t.Errorf("tenant B's budget %+v: A's change must not reach it", b)
	}
	for i := range 4 {
		e.createSubject(t, e.a.token, map[string]string{"name": fmt.Sprintf("S%d", i)})
	}
	e.do(t, e.a.token, "GET", "/api/v1/subjects?limit=3", nil).want(t, 200)
	e.do(t, e.a.token, "GET", "/api/v1/subjects?limit=1", nil).wantError(t, 429, skjold.EREADBUDGET)
	e.do(t, e.b.token, "GET", "/api/v1/subjects?limit=4", nil).want(t, 200)
}
