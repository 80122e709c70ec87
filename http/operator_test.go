package http

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestOperatorReadOnly walks every route an operator may call with a token that holds only
// operator.read [A7, B13]: the routes that need operator.read answer, every other one is
// refused with 403; no answer holds a personal value of a tenant's subjects or staff, and
// the database holds afterwards exactly what it held before (but for the token's last use
// and the audit chain, which records the reads).
func TestOperatorReadOnly(t *testing.T) {
	e := newEnv(t)
	reader := &skjold.Token{}
	e.do(t, e.operator, "POST", "/api/v1/tokens", map[string]any{"name": "dashboards", "operator": true,
		"scopes": []string{skjold.ScopeOperatorRead}}).want(t, 201).decode(t, reader)

	// Personal values the operator must never see: a subject's, a record's, a staff member's.
	personal := []string{"Solveig Nakkestad", "solveig.nakkestad@example.org", "+47 915 55 123", "1979-03-14",
		"Kvitsøy", "Oddbjørg Staffmember", "oddbjorg.staff@tenant-a.example"}
	sub := e.createSubject(t, e.a.token, map[string]string{"name": personal[0], "email": personal[1], "phone": personal[2],
		"birth_date": personal[3], "ref": "P-1"})
	e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "contact", "data": map[string]string{"city": personal[4]}})
	var staffer skjold.User
	e.do(t, e.a.token, "POST", "/api/v1/users", map[string]string{"email": personal[6], "name": personal[5],
		"role": skjold.RoleAgent}).want(t, 201).decode(t, &staffer)
	doomed := e.createSubject(t, e.a.token, map[string]string{"name": "Doomed Person", "ref": "P-2"})
	e.do(t, e.a.token, "DELETE", "/api/v1/subjects/"+doomed.ID, nil).want(t, 200)
	support := e.activeStaff(t, "", skjold.RoleSupport, "")
	grantID := e.grant(t, e.activeStaff(t, e.a.id, skjold.RoleAdmin, ""), support.user.ID)
	banned := netip.MustParseAddr("198.51.100.7")
	if err := e.db.Ban(t.Context(), netip.PrefixFrom(banned, 32), e.clock.Now().Add(time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	backupID := e.backupID(t)

	ids := map[string]string{"tenants": e.a.id, "grants": grantID, "backups": backupID, "tokens": reader.ID,
		"users": staffer.ID, "approvals": missingID, "sessions": missingID, "maintenance": missingID,
		"incidents": missingID, "compliance": missingID, "subprocessors": missingID, "copies": missingID, "media": missingID}
	bodies := map[string]any{
		"PUT /api/v1/blocklist":            map[string]string{"text": "192.0.2.0/24\n"},
		"POST /api/v1/tenants":             map[string]string{"name": "Tenant C"},
		"POST /api/v1/tokens":              map[string]any{"name": "x", "operator": true, "scopes": []string{skjold.ScopeOperatorRead}},
		"POST /api/v1/users":               map[string]string{"email": "new@ops.example", "name": "New", "role": skjold.RoleSupport},
		"PATCH /api/v1/users/{id}":         map[string]string{"name": "Renamed"},
		"PUT /api/v1/settings/session":     skjold.DefaultSessionSettings(),
		"POST /api/v1/approvals":           map[string]string{"action": skjold.ActionTenantDeletion, "target": e.a.id},
		"POST /api/v1/compliance/measures": map[string]string{"kind": "training", "description": "Staff training", "date": "2026-11-20"},
	}

	before := e.snapshot(t)
	walked := 0
	for _, rt := range testRoutes() {
		if rt.perm.op == "" {
			continue
		}
		walked++
		method, pattern, _ := strings.Cut(rt.pattern, " ")
		path := pattern
		if strings.Contains(path, "{id}") {
			kind := strings.Split(strings.TrimPrefix(path, "/api/v1/"), "/")[0]
			id, ok := ids[kind]
			if !ok {
				t.Errorf("%s: no object to call it about: add one to ids", rt.pattern)
				continue
			}
			path = strings.Replace(path, "{id}", id, 1)
		}
		path = strings.Replace(path, "{addr}", banned.String(), 1)
		path = strings.Replace(path, "{kind}", skjold.DocRoPA, 1)
		got := e.do(t, reader.Secret, method, path, bodies[rt.pattern])
		switch {
		case rt.perm.op != skjold.ScopeOperatorRead:
			got.wantError(t, 403, skjold.EFORBIDDEN)
		case got.status == 403 || got.status == 401:
			t.Errorf("%s: an operator.read route refused operator.read: %d %s", rt.pattern, got.status, got.body)
		}
		for _, v := range personal {
			if strings.Contains(string(got.body), v) {
				t.Errorf("%s answers an operator.read token with the personal value %q", rt.pattern, v)
			}
		}
	}
	if walked < 20 {
		t.Errorf("walked %d operator routes; routes.go has more", walked)
	}
	if after := e.snapshot(t); !slices.Equal(before, after) {
		for _, row := range after {
			if !slices.Contains(before, row) {
				t.Errorf("the operator.read token changed the database: new row %s", row)
			}
		}
		for _, row := range before {
			if !slices.Contains(after, row) {
				t.Errorf("the operator.read token changed the database: row gone %s", row)
			}
		}
	}
}

// snapshot returns every row of every table as text, sorted, less what a read may change: the
// audit chain (reads are audited) and tokens' last use.
func (e *env) snapshot(t *testing.T) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	tables, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'audit%' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	var rows []string
	for _, table := range names {
		r, err := db.QueryContext(ctx, "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var sb strings.Builder
			sb.WriteString(table)
			for i, c := range cols {
				if table == "tokens" && c == "last_used_at" {
					continue
				}
				fmt.Fprintf(&sb, " %s=%v", c, vals[i])
			}
			rows = append(rows, sb.String())
		}
		r.Close()
	}
	slices.Sort(rows)
	return rows
}
