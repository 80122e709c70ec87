package http

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// permString renders a permission as testdata/routes.golden and openapi.json's
// x-skjold-permission write it.
func permString(p perm) string {
	var s string
	switch {
	case p.public:
		return "public"
	case p.self:
		s = "self"
	case p.scope != "" && p.op != "":
		s = "tenant:" + p.scope + " or operator:" + p.op
	case p.scope != "":
		s = "tenant:" + p.scope
	case p.op != "":
		s = "operator:" + p.op
	default:
		return "none"
	}
	if len(p.stages) > 0 {
		s += " (also in stages " + strings.Join(p.stages, ", ") + ")"
	}
	return s
}

// TestRoutesDeclarePermissions checks that every route declares who may call it, and pins the
// whole surface with its permissions in testdata/routes.golden, so that any change to who may
// call what shows in review. Run with -update after a deliberate change.
func TestRoutesDeclarePermissions(t *testing.T) {
	var golden strings.Builder
	seen := map[string]bool{}
	for _, rt := range testRoutes() {
		p := rt.perm
		switch {
		case seen[rt.pattern]:
			t.Errorf("%s is listed twice", rt.pattern)
		case p.public != slices.Contains([]string{"GET /healthz", "GET /api/v1/openapi.json"}, rt.pattern):
			t.Errorf("%s: only /healthz and /api/v1/openapi.json may be public", rt.pattern)
		case p.public && (p.scope != "" || p.op != "" || p.self):
			t.Errorf("%s: a public route needs no scope", rt.pattern)
		case !p.public && p.scope == "" && p.op == "" && !p.self:
			t.Errorf("%s declares no permission: nobody could call it", rt.pattern)
		case p.scope != "" && !slices.Contains(skjold.AllScopes, p.scope):
			t.Errorf("%s needs unknown scope %q", rt.pattern, p.scope)
		}
		seen[rt.pattern] = true
		fmt.Fprintf(&golden, "%-40s %s\n", rt.pattern, permString(p))
	}
	path := filepath.Join("testdata", "routes.golden")
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if golden.String() != string(want) {
		t.Errorf("routes and permissions differ from %s (run go test -update after a deliberate change):\n%s", path, golden.String())
	}
}

// role is one kind of caller of the authorisation table.
type role struct {
	name   string
	token  string
	authed bool     // the token is live
	op     bool     // an operator token
	scopes []string // a tenant token's scopes
}

// expect returns the status a route needing p must give role r: 401, 403, or 0 for allowed.
func (r role) expect(p perm) int {
	switch {
	case p.public:
		return 0
	case !r.authed:
		return 401
	case r.op && p.operator, !r.op && p.scope != "" && slices.Contains(r.scopes, p.scope):
		return 0
	}
	return 403
}

// roles makes tenant A's tokens of every kind, and the callers that must be refused.
func (e *env) roles(t *testing.T) []role {
	revoked := e.createToken(t, e.a.token, "revoked", skjold.AllScopes...)
	e.do(t, e.a.token, "DELETE", "/api/v1/tokens/"+revoked.ID, nil).want(t, 204)
	past := time.Now().Add(-time.Hour)
	expired := &skjold.Token{Name: "expired", TenantID: e.a.id, Scopes: skjold.AllScopes, ExpiresAt: &past}
	if err := e.db.CreateToken(operatorContext(), expired); err != nil {
		t.Fatal(err)
	}
	roles := []role{
		{name: "no token"},
		{name: "garbage token", token: "garbage"},
		{name: "unknown token", token: "skjold_t_" + strings.Repeat("A", 43)},
		{name: "revoked token", token: revoked.Secret},
		{name: "expired token", token: expired.Secret},
		{name: "operator token", token: e.operator, authed: true, op: true},
	}
	for _, scope := range skjold.AllScopes {
		tok := e.createToken(t, e.a.token, scope, scope)
		roles = append(roles, role{name: "tenant " + scope, token: tok.Secret, authed: true, scopes: []string{scope}})
	}
	return append(roles, role{name: "tenant all scopes", token: e.a.token, authed: true, scopes: skjold.AllScopes})
}

// authzRequests returns, for every route, a well-formed request on tenant A's objects that
// succeeds for a caller allowed to make it. Routes that delete get a fresh object each time.
func (e *env) authzRequests(t *testing.T) map[string]func(*testing.T) (string, any) {
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "ref": "A-1"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Oslo"}})
	category := map[string]any{"fields": []map[string]string{{"name": "note", "type": "string"}},
		"purposes": []string{"contract"}, "legal_basis": "contract", "retention": map[string]string{"period": "P1Y", "from": "created"}}
	fixed := func(path string, body any) func(*testing.T) (string, any) {
		return func(*testing.T) (string, any) { return path, body }
	}
	return map[string]func(*testing.T) (string, any){
		"GET /healthz":                  fixed("/healthz", nil),
		"GET /api/v1/openapi.json":      fixed("/api/v1/openapi.json", nil),
		"GET /metrics":                  fixed("/metrics", nil),
		"POST /api/v1/tenants":          fixed("/api/v1/tenants", map[string]string{"name": "Tenant C"}),
		"GET /api/v1/tenants":           fixed("/api/v1/tenants", nil),
		"GET /api/v1/tenants/{id}":      fixed("/api/v1/tenants/"+e.a.id, nil),
		"POST /api/v1/tokens":           fixed("/api/v1/tokens", map[string]any{"name": "new", "scopes": []string{"read"}, "tenant_id": e.a.id}),
		"GET /api/v1/tokens":            fixed("/api/v1/tokens", nil),
		"GET /api/v1/categories":        fixed("/api/v1/categories", nil),
		"GET /api/v1/categories/{name}": fixed("/api/v1/categories/contact", nil),
		"PUT /api/v1/categories/{name}": fixed("/api/v1/categories/authz_test", category),
		"POST /api/v1/subjects":         fixed("/api/v1/subjects", map[string]string{"name": "Bo"}),
		"GET /api/v1/subjects":          fixed("/api/v1/subjects", nil),
		"GET /api/v1/subjects/{id}":     fixed("/api/v1/subjects/"+sub.ID, nil),
		"PATCH /api/v1/subjects/{id}":   fixed("/api/v1/subjects/"+sub.ID, map[string]string{"name": "Anna B"}),
		"POST /api/v1/subjects/{id}/records": fixed("/api/v1/subjects/"+sub.ID+"/records",
			map[string]any{"category": "contact", "data": map[string]string{"city": "Bergen"}}),
		"GET /api/v1/subjects/{id}/records": fixed("/api/v1/subjects/"+sub.ID+"/records", nil),
		"GET /api/v1/records/{id}":          fixed("/api/v1/records/"+rec.ID, nil),
		"PATCH /api/v1/records/{id}":        fixed("/api/v1/records/"+rec.ID, map[string]any{"data": map[string]string{"city": "Bodø"}}),
		"GET /api/v1/audit":                 fixed("/api/v1/audit", nil),
		"GET /api/v1/audit/verify":          fixed("/api/v1/audit/verify", nil),
		"DELETE /api/v1/tokens/{id}": func(t *testing.T) (string, any) {
			return "/api/v1/tokens/" + e.createToken(t, e.a.token, "doomed", "read").ID, nil
		},
		"DELETE /api/v1/subjects/{id}": func(t *testing.T) (string, any) {
			return "/api/v1/subjects/" + e.createSubject(t, e.a.token, map[string]string{"name": "Doomed"}).ID, nil
		},
		"DELETE /api/v1/records/{id}": func(t *testing.T) (string, any) {
			r := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Molde"}})
			return "/api/v1/records/" + r.ID, nil
		},
	}
}

// TestAuthorization calls every route as every kind of caller: callers without a live token
// get 401, callers without the permission routes.go declares get 403, and allowed callers
// get through (their well-formed request succeeds).
func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	roles := e.roles(t)
	requests := e.authzRequests(t)
	cases := 0
	for _, rt := range testRoutes() {
		request, ok := requests[rt.pattern]
		if !ok {
			t.Errorf("no request for route %s: add one to authzRequests", rt.pattern)
			continue
		}
		method, _, _ := strings.Cut(rt.pattern, " ")
		for _, r := range roles {
			cases++
			t.Run(rt.pattern+"/"+r.name, func(t *testing.T) {
				path, body := request(t)
				got := e.do(t, r.token, method, path, body)
				switch want := r.expect(rt.perm); want {
				case 401:
					got.wantError(t, 401, skjold.EUNAUTHORIZED)
					if got.header.Get("WWW-Authenticate") != `Bearer realm="skjold"` {
						t.Errorf("401 without WWW-Authenticate: %v", got.header)
					}
				case 403:
					got.wantError(t, 403, skjold.EFORBIDDEN)
				default:
					if got.status == 401 || got.status == 403 || got.status >= 300 {
						t.Errorf("allowed caller got %d: %s", got.status, got.body)
					}
				}
			})
		}
	}
	t.Logf("%d route × role cases", cases)
}

// TestAuthorizationHeader checks the forms of the Authorization header that are refused.
func TestAuthorizationHeader(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"", "Bearer", "Bearer ", "Bearer" + e.a.token, "Basic " + e.a.token, e.a.token,
		"Bearer " + e.a.token + "x", "Bearer " + e.a.token[:len(e.a.token)-1], "Bearer " + e.b.token + "," + e.a.token} {
		e.send(t, "GET", "/api/v1/categories", http.Header{"Authorization": {h}}, nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	}
	// The scheme is case-insensitive (RFC 7235); spaces around the token do not matter.
	for _, h := range []string{"bearer " + e.a.token, "BEARER " + e.a.token, "Bearer  " + e.a.token + " "} {
		e.send(t, "GET", "/api/v1/categories", http.Header{"Authorization": {h}}, nil).want(t, 200)
	}
}

// TestMalformedIDs calls every route that takes an id with ids of the wrong shape: each is
// not found, and nothing changes.
func TestMalformedIDs(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	bodies := map[string]any{
		"PATCH /api/v1/subjects/{id}":        map[string]string{"name": "X"},
		"PATCH /api/v1/records/{id}":         map[string]any{"data": map[string]string{"city": "X"}},
		"POST /api/v1/subjects/{id}/records": map[string]any{"category": "contact", "data": map[string]string{"city": "X"}},
	}
	ids := []string{"123", "not-an-id", strings.ToUpper(sub.ID), sub.ID + "0", sub.ID[1:], "%20" + sub.ID,
		"00000000-0000-0000-0000-00000000000g", "%00", "'%20OR%201=1--"}
	for _, rt := range testRoutes() {
		if !strings.Contains(rt.pattern, "{id}") {
			continue
		}
		token := e.a.token
		if !rt.perm.public && rt.perm.scope == "" {
			token = e.operator
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		for _, id := range ids {
			e.unchanged(t, func() {
				e.do(t, token, method, strings.Replace(path, "{id}", id, 1), bodies[rt.pattern]).wantError(t, 404, skjold.ENOTFOUND)
			})
		}
	}
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/api/v1/nothing"}, {"GET", "/api/v2/subjects"}, {"PUT", "/api/v1/subjects"},
		{"POST", "/api/v1/audit"}, {"GET", "/api/v1/subjects/"},
	} {
		r := e.do(t, e.a.token, c.method, c.path, nil)
		if r.status != 404 && r.status != 405 {
			t.Errorf("%s %s: %d", c.method, c.path, r.status)
			continue
		}
		r.wantError(t, r.status, skjold.ENOTFOUND)
	}
}
