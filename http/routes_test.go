package http

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Scopes and stages as routes.go may name them.
var (
	operatorScopes = []string{skjold.ScopeOperatorManage, skjold.ScopeOperatorRead, skjold.ScopeOperatorStaff}
	loginStages    = []string{skjold.StageSecondFactor, skjold.StageChangePassword, skjold.StageEnrolTwoFactor, skjold.StageLocked,
		skjold.StageConfirmEmail}
	publicRoutes = []string{"GET /healthz", "GET /livez", "GET /readyz", "GET /api/v1/openapi.json", "POST /api/v1/auth/login",
		"POST /api/v1/auth/reset", "POST /api/v1/auth/reset/complete",
		"POST /api/v1/requests/{id}/verify", "GET /api/v1/downloads/{secret}"} // the code and the link are the credentials
)

// permString renders a permission as testdata/routes.golden and openapi.json's
// x-skjold-permission write it: "public"; "self"; "tenant:<scope>"; an operator scope
// ("operator.read"); "tenant:<scope> or operator.<scope>"; each followed by
// " (also in stages …)" when the route is open in login stages.
func permString(p perm) string {
	var s string
	switch {
	case p.public:
		return "public"
	case p.self:
		s = "self"
	case p.scope != "" && p.op != "":
		s = "tenant:" + p.scope + " or " + p.op
	case p.scope != "":
		s = "tenant:" + p.scope
	case p.op != "":
		s = p.op
	default:
		return "none"
	}
	if len(p.stages) > 0 {
		s += " (also in stages " + strings.Join(p.stages, ", ") + ")"
	}
	return s
}

// permProblems returns what is wrong with the permissions routes declare: a route that
// declares none (nobody could call it), an unknown scope or stage, a public route that is
// not meant to be, or one listed twice.
func permProblems(routes []route) []string {
	var problems []string
	seen := map[string]bool{}
	for _, rt := range routes {
		p := rt.perm
		switch {
		case seen[rt.pattern]:
			problems = append(problems, rt.pattern+" is listed twice")
		case p.public != slices.Contains(publicRoutes, rt.pattern):
			problems = append(problems, rt.pattern+": only "+strings.Join(publicRoutes, ", ")+" may be public")
		case p.public && (p.scope != "" || p.op != "" || p.self || len(p.stages) > 0):
			problems = append(problems, rt.pattern+": a public route needs nothing else")
		case !p.public && p.scope == "" && p.op == "" && !p.self:
			problems = append(problems, rt.pattern+" declares no permission: nobody could call it")
		case p.self && (p.scope != "" || p.op != ""):
			problems = append(problems, rt.pattern+": a self route opens to every logged-in user; a scope beside it would be ignored")
		case p.scope != "" && !slices.Contains(skjold.AllScopes, p.scope):
			problems = append(problems, fmt.Sprintf("%s needs unknown tenant scope %q", rt.pattern, p.scope))
		case p.op != "" && !slices.Contains(operatorScopes, p.op):
			problems = append(problems, fmt.Sprintf("%s needs unknown operator scope %q", rt.pattern, p.op))
		}
		for _, st := range p.stages {
			if !slices.Contains(loginStages, st) {
				problems = append(problems, fmt.Sprintf("%s opens in unknown stage %q", rt.pattern, st))
			}
		}
		seen[rt.pattern] = true
	}
	return problems
}

// TestRoutesDeclarePermissions checks that every route declares who may call it, and pins the
// whole surface with its permissions in testdata/routes.golden, so that any change to who may
// call what shows in review. Run with -update after a deliberate change.
func TestRoutesDeclarePermissions(t *testing.T) {
	for _, p := range permProblems(testRoutes()) {
		t.Error(p)
	}
	var golden strings.Builder
	for _, rt := range testRoutes() {
		fmt.Fprintf(&golden, "%-40s %s\n", rt.pattern, permString(rt.perm))
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

// TestPermProblems checks that the check above catches each kind of mistake, a route without
// a permission first.
func TestPermProblems(t *testing.T) {
	for _, c := range []struct {
		name string
		rt   route
	}{
		{"no permission", route{pattern: "GET /api/v1/new", perm: perm{}}},
		{"only stages", route{pattern: "GET /api/v1/new", perm: perm{stages: []string{skjold.StageLocked}}}},
		{"listed twice", route{pattern: "GET /healthz", perm: public}},
		{"public by mistake", route{pattern: "GET /api/v1/new", perm: public}},
		{"unknown scope", route{pattern: "GET /api/v1/new", perm: tenant("root")}},
		{"tenant scope as operator scope", route{pattern: "GET /api/v1/new", perm: operator(skjold.ScopeAdmin)}},
		{"unknown stage", route{pattern: "GET /api/v1/new", perm: stage("asleep")}},
		{"self with a scope", route{pattern: "GET /api/v1/new", perm: perm{self: true, scope: skjold.ScopeRead}}},
	} {
		if got := permProblems(append(testRoutes(), c.rt)); len(got) != 1 {
			t.Errorf("%s: problems %q, want one", c.name, got)
		}
	}
}

// TestUndeclaredPermissionIsClosed checks that a route whose permission is the zero value
// refuses every caller: forgetting to declare one fails closed.
func TestUndeclaredPermissionIsClosed(t *testing.T) {
	e := newEnv(t)
	s := &Server{svc: Services{Tokens: e.db, Auth: e.db}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		metrics: NewMetrics("test", e.db.AuditLength)}
	h := s.guard(route{"GET /undeclared", perm{}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})})
	for name, secret := range map[string]string{
		"tenant token":     e.a.token,
		"operator token":   e.operator,
		"tenant owner":     e.activeStaff(t, e.a.id, skjold.RoleOwner, "").session,
		"operator owner":   e.activeStaff(t, "", skjold.RoleOwner, "").session,
		"operator support": e.activeStaff(t, "", skjold.RoleSupport, "").session,
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/undeclared", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("%s: a route without a permission answered %d", name, w.Code)
		}
	}
}

// allowed is the permission model routes.go promises, written out apart from perm.allows: a
// public route admits anyone; a self route any logged-in person; otherwise an operator
// needs the route's operator scope and a tenant caller its tenant scope.
func allowed(p perm, operator, person bool, scopes []string) bool {
	switch {
	case p.public:
		return true
	case p.self && person:
		return true
	case operator:
		return p.op != "" && slices.Contains(scopes, p.op)
	}
	return p.scope != "" && slices.Contains(scopes, p.scope)
}

// TestPermAllows checks perm.allows and perm.allowsStage against the model for every route
// and every kind of caller and stage.
func TestPermAllows(t *testing.T) {
	var scopeSets [][]string
	for _, s := range append(slices.Clone(skjold.AllScopes), operatorScopes...) {
		scopeSets = append(scopeSets, []string{s})
	}
	scopeSets = append(scopeSets, nil, skjold.AllScopes, operatorScopes)
	for _, rt := range testRoutes() {
		if rt.perm.public {
			continue // the guard never asks
		}
		for _, scopes := range scopeSets {
			for _, operator := range []bool{false, true} {
				for _, person := range []bool{false, true} {
					c := &skjold.Caller{Operator: operator, Scopes: scopes, TenantID: "t"}
					if operator {
						c.TenantID = ""
					}
					if person {
						c.UserID = "u"
					}
					err := rt.perm.allows(c)
					if want := allowed(rt.perm, operator, person, scopes); (err == nil) != want ||
						(err != nil && skjold.ErrorCode(err) != skjold.EFORBIDDEN) {
						t.Errorf("%s: operator %v, person %v, scopes %v: allows = %v, want allowed %v", rt.pattern, operator,
							person, scopes, err, want)
					}
				}
			}
		}
		for _, st := range append([]string{skjold.StageActive}, loginStages...) {
			want := "" // open: the active stage, and the stages the route lists
			if st != skjold.StageActive && !slices.Contains(rt.perm.stages, st) {
				want = skjold.EFORBIDDEN
				if st == skjold.StageLocked {
					want = skjold.EUNAUTHORIZED // the password, given again, unlocks it
				}
			}
			if err := rt.perm.allowsStage(st); (err == nil) != (want == "") || err != nil && skjold.ErrorCode(err) != want {
				t.Errorf("%s in stage %s: allowsStage = %v, want code %q", rt.pattern, st, err, want)
			}
		}
	}
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
	// Owners hold every scope of their kind, and are people, as some routes want.
	owner, staffOwner := e.activeStaff(t, e.a.id, skjold.RoleOwner, ""), e.activeStaff(t, "", skjold.RoleOwner, "")
	bodies := map[string]any{
		"PATCH /api/v1/subjects/{id}":                    map[string]string{"name": "X"},
		"PATCH /api/v1/records/{id}":                     map[string]any{"data": map[string]string{"city": "X"}},
		"POST /api/v1/subjects/{id}/records":             map[string]any{"category": "contact", "data": map[string]string{"city": "X"}},
		"POST /api/v1/subjects/{id}/consents":            map[string]any{"purpose": "newsletter", "granted": true},
		"PATCH /api/v1/users/{id}":                       map[string]string{"name": "X"},
		"POST /api/v1/requests/{id}/verify":              map[string]string{"code": "12345678"},
		"POST /api/v1/requests/{id}/extend":              map[string]any{"months": 1, "reason": "X"},
		"POST /api/v1/requests/{id}/refuse":              map[string]string{"code": "other", "note": "X"},
		"POST /api/v1/requests/{id}/complete":            map[string]any{},
		"PUT /api/v1/subjects/{id}/relationship":         map[string]string{"state": "ended"},
		"POST /api/v1/operator/grant-requests/{id}/deny": map[string]string{"reason": "ticket 7"},
		"PATCH /api/v1/incidents/{id}/decision":          map[string]any{"notify_authority": false, "notify_subjects": false, "reason": "X"},
		"POST /api/v1/incidents/{id}/timeline":           map[string]string{"text": "X"},
		"POST /api/v1/incidents/{id}/scope":              map[string]string{"address": "192.0.2.1", "since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"},
		"POST /api/v1/incidents/{id}/close":              map[string]string{"note": "X"},

		"POST /api/v1/subprocessors/{id}/objection": map[string]string{"reason": "X"},
		"PUT /api/v1/media/{id}/certificate":        map[string]string{"certificate": base64.StdEncoding.EncodeToString(testPDF)},
	}
	ids := []string{"123", "not-an-id", strings.ToUpper(sub.ID), sub.ID + "0", sub.ID[1:], "%20" + sub.ID,
		"00000000-0000-0000-0000-00000000000g", "%00", "'%20OR%201=1--"}
	for _, rt := range testRoutes() {
		if !strings.Contains(rt.pattern, "{id}") {
			continue
		}
		token := owner.session
		if rt.perm.scope == "" {
			token = staffOwner.session
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
		{"GET", "/nothing"}, {"GET", "/api/v1/nothing"}, {"GET", "/api/v2/subjects"}, {"PUT", "/api/v1/subjects"},
		{"POST", "/api/v1/audit"}, {"GET", "/api/v1/subjects/"},
	} {
		r := e.do(t, e.a.token, c.method, c.path, nil)
		if r.status != 404 && r.status != 405 {
			t.Errorf("%s %s: %d", c.method, c.path, r.status)
			continue
		}
		if r.status == 405 {
			r.wantError(t, r.status, skjold.EMETHOD)
		} else {
			r.wantError(t, r.status, skjold.ENOTFOUND)
		}
	}
}

// TestMethodNotAllowed checks that a known path called with a method it does not take
// answers 405 with the methods it does take in Allow, and a path nobody serves 404.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/api/v1/subjects", "GET, HEAD, POST"},
		{"POST", "/api/v1/audit", "GET, HEAD"},
		{"POST", "/api/v1/subjects/0123456789abcdef0123456789abcdef", "GET, HEAD, PATCH, DELETE"},
		{"PUT", "/api/v1/records/x", "GET, HEAD, PATCH, DELETE"},
	} {
		r := e.do(t, e.a.token, c.method, c.path, nil)
		r.wantError(t, 405, skjold.EMETHOD)
		if got := r.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
	r := e.do(t, e.a.token, "DELETE", "/api/v1/nothing", nil)
	r.wantError(t, 404, skjold.ENOTFOUND)
	if r.header.Get("Allow") != "" {
		t.Errorf("404 with Allow %q", r.header.Get("Allow"))
	}
}
