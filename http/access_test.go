package http

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// caller is one kind of caller of the authorisation table. All of them belong to tenant A
// or to the operator.
type caller struct {
	name     string
	token    string      // bearer secret: an API token or a session token; "" for none
	authed   bool        // the secret is live
	operator bool        // an operator token or operator staff
	person   *staff      // the logged-in person; nil for API tokens
	scopes   []string    // tenant scopes, or operator scopes
	header   http.Header // more headers: the tenant a support grant reads
}

// expect returns the status a route needing p must give c: 401, 403, or 0 for admitted.
func (c *caller) expect(p perm) int {
	switch {
	case p.public:
		return 0
	case !c.authed:
		return 401
	case allowed(p, c.operator, c.person != nil, c.scopes):
		return 0
	}
	return 403
}

// reachesOther reports whether c, admitted to a route needing p, reaches tenant B's objects
// through it. A tenant caller never does. An operator does through a route that needs an
// operator scope, which is for every tenant, unless the route keeps its objects apart per
// tenant (tenantOnly: operators have their own, as with staff accounts: operators never
// manage a tenant's people).
func (c *caller) reachesOther(p perm, tenantOnly bool) bool {
	return c.operator && !tenantOnly && p.op != ""
}

// callers makes every kind of caller: without live credentials, the operator's token, the
// operator's staff and tenant A's staff of every role logged in with session tokens,
// operator support reading A under A's grant, and tenant A's tokens of every scope.
func (e *env) callers(t *testing.T) []*caller {
	t.Helper()
	revoked := e.createToken(t, e.a.token, "revoked", skjold.AllScopes...)
	e.do(t, e.a.token, "DELETE", "/api/v1/tokens/"+revoked.ID, nil).want(t, 204)
	past := e.clock.Now().Add(-time.Hour)
	expired := &skjold.Token{Name: "expired", TenantID: e.a.id, Scopes: skjold.AllScopes, ExpiresAt: &past}
	if err := e.db.CreateToken(localContext(), expired); err != nil {
		t.Fatal(err)
	}
	ended := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	e.do(t, ended.session, "POST", "/api/v1/auth/logout", nil).want(t, 204)
	callers := []*caller{
		{name: "no credentials"},
		{name: "garbage token", token: "garbage"},
		{name: "unknown token", token: "skjold_t_" + strings.Repeat("A", 43)},
		{name: "revoked token", token: revoked.Secret},
		{name: "expired token", token: expired.Secret},
		{name: "unknown session", token: "skjold_s_" + strings.Repeat("A", 43)},
		{name: "ended session", token: ended.session},
		// An operator admin's scopes less staff management.
		{name: "operator token", token: e.operator, authed: true, operator: true,
			scopes: []string{skjold.ScopeOperatorManage, skjold.ScopeOperatorRead}},
	}
	for _, role := range []string{skjold.RoleOwner, skjold.RoleAdmin, skjold.RoleSupport} {
		s := e.activeStaff(t, "", role, "")
		callers = append(callers, &caller{name: "operator " + role, token: s.session, authed: true, operator: true, person: s,
			scopes: skjold.RoleScopes(true, role)})
	}
	exporter := []string{skjold.ScopeRead, skjold.ScopeExport}
	e.createProfile(t, e.a.id, "exporter", strings.Join(exporter, ","))
	for _, role := range []string{skjold.RoleOwner, skjold.RoleAdmin, skjold.RoleAgent, skjold.RoleAuditor, skjold.RoleCustom} {
		profile, scopes := "", skjold.RoleScopes(false, role)
		if role == skjold.RoleCustom {
			profile, scopes = "exporter", exporter
		}
		s := e.activeStaff(t, e.a.id, role, profile)
		callers = append(callers, &caller{name: "tenant " + role, token: s.session, authed: true, person: s, scopes: scopes})
	}
	// Operator support reading tenant A's data under A's grant is a reader of A [A7].
	support := e.activeStaff(t, "", skjold.RoleSupport, "")
	e.grant(t, e.activeStaff(t, e.a.id, skjold.RoleAdmin, ""), support.user.ID)
	callers = append(callers, &caller{name: "operator support under tenant A's grant", token: support.session, authed: true,
		person: support, scopes: []string{skjold.ScopeRead}, header: http.Header{tenantHeader: {e.a.id}}})
	for _, scope := range skjold.AllScopes {
		tok := e.createToken(t, e.a.token, scope, scope)
		callers = append(callers, &caller{name: "tenant token " + scope, token: tok.Secret, authed: true, scopes: []string{scope}})
	}
	return append(callers, &caller{name: "tenant token all scopes", token: e.a.token, authed: true, scopes: skjold.AllScopes})
}

// object is which object a request on a route that takes one is about.
type object int

const (
	noObject object = iota
	own             // tenant A's; for sessions, the caller's own
	other           // tenant B's
	missing         // one that never existed
)

func (o object) String() string {
	return [...]string{"", "own", "other tenant's", "missing"}[o]
}

// missingID has the shape of an id, and no object has it.
const missingID = "01900000-0000-7000-8000-000000000000"

// pick returns the id of the object o.
func pick(o object, ownID, otherID string) string {
	switch o {
	case own:
		return ownID
	case other:
		return otherID
	}
	return missingID
}

// request is a well-formed request on a route.
type request struct {
	path string
	body any
	// token, when set, is sent instead of the caller's secret: a fresh session of the same
	// person, for a request that ends the session it is sent with.
	token string
	// refusal is the status an admitted caller gets for a reason of its own (such as having
	// no second factor to give); 0 when the request succeeds.
	refusal int
	// done, when set, records what a successful request changed (a new password).
	done func()
}

// builder makes the request a caller sends on a route about object o.
type builder struct {
	objects bool // the route is about one object: it is called with own, other and missing ones
	// tenantOnly: the objects are kept apart per tenant even for operators, who have their
	// own (the operator's approvals; the grants given to them) and reach no tenant's.
	tenantOnly bool
	build      func(t *testing.T, c *caller, o object) request
}

// fixtures are the objects of tenants A and B that the authorisation table's requests are
// about.
type fixtures struct {
	subA, subB   *skjold.Subject
	recA, recB   *skjold.Record
	userA, userB *staff // agents of A and B: the targets of the user routes, and B's session owner
	login        *staff // an agent of A who logs in through the public route
	// The second persons of the four-eyes flow, who file the approvals the callers decide
	// and give the support grants: an owner of A, an admin of B, an owner of the operator.
	reqA, reqB, reqOp *staff
	grantee           *staff // operator support, whom tenants grant access
}

func (e *env) authzFixtures(t *testing.T) *fixtures {
	t.Helper()
	f := &fixtures{
		subA: e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "ref": "A-1"}),
		subB: e.createSubject(t, e.b.token, map[string]string{"name": "Bjørn", "ref": "B-1"}),
	}
	contact := map[string]any{"category": "contact", "data": map[string]string{"city": "Oslo"}}
	f.recA, f.recB = e.createRecord(t, e.a.token, f.subA.ID, contact), e.createRecord(t, e.b.token, f.subB.ID, contact)
	f.userA = e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	f.userB = e.activeStaff(t, e.b.id, skjold.RoleAgent, "")
	f.login = e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	f.reqA = e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	f.reqB = e.activeStaff(t, e.b.id, skjold.RoleAdmin, "")
	f.reqOp = e.activeStaff(t, "", skjold.RoleOwner, "")
	f.grantee = e.activeStaff(t, "", skjold.RoleSupport, "")
	return f
}

// approval has s file a second-factor reset of a fresh user of s's tenant (or of the
// operator), and returns the pending approval's id.
func (e *env) approval(t *testing.T, s *staff) string {
	t.Helper()
	role := skjold.RoleAgent
	if s.user.TenantID == "" {
		role = skjold.RoleSupport
	}
	target := e.newStaff(t, s.user.TenantID, role, "")
	e.keepAlive(t, s)
	var a skjold.Approval
	e.do(t, s.session, "POST", "/api/v1/approvals", map[string]string{"action": skjold.ActionTwoFactorReset,
		"target": target.user.ID}).want(t, 201).decode(t, &a)
	return a.ID
}

// keepAlive makes sure that s's session is active, should the clock have jumped past its
// idle limit (unlock it) or its lifetime (log in again).
func (e *env) keepAlive(t *testing.T, s *staff) {
	t.Helper()
	switch r := e.do(t, s.session, "GET", "/api/v1/auth/session", nil); {
	case r.status == 401:
		s.session = e.freshSession(t, s)
	case bytes.Contains(r.body, []byte(`"stage":"locked"`)):
		e.do(t, s.session, "POST", "/api/v1/auth/unlock", map[string]string{"password": s.password}).want(t, 204)
	}
}

// grant has s, a tenant's admin, grant operator user userID support access, and returns the
// grant's id.
func (e *env) grant(t *testing.T, s *staff, userID string) string {
	t.Helper()
	e.keepAlive(t, s)
	var g skjold.Grant
	e.do(t, s.session, "POST", "/api/v1/grants", map[string]any{"user_id": userID, "hours": 1, "reason": "ticket 42"}).
		want(t, 201).decode(t, &g)
	return g.ID
}

// sessionID logs s in once more and returns the new session's id, whatever its stage.
func (e *env) sessionID(t *testing.T, s *staff) string {
	t.Helper()
	var b loginBody
	e.loginReply(t, s.user.Email, s.password, "").want(t, 200).decode(t, &b)
	return b.Session.ID
}

// fresh returns a builder whose object is made anew for every request, as routes that
// delete or suspend need; newA and newB make an object of A and of B and return its id.
func fresh(prefix, suffix string, body any, newA, newB func(t *testing.T) string) builder {
	return builder{objects: true, build: func(t *testing.T, _ *caller, o object) request {
		id := missingID
		switch o {
		case own:
			id = newA(t)
		case other:
			id = newB(t)
		}
		return request{path: prefix + id + suffix, body: body}
	}}
}

// authzRequests returns, for every route, how to make a well-formed request that an admitted
// caller's own objects let succeed.
func (e *env) authzRequests(f *fixtures) map[string]builder {
	fixed := func(path string, body any) builder {
		return builder{build: func(*testing.T, *caller, object) request { return request{path: path, body: body} }}
	}
	refusing := func(path string, body any, refusal int) builder {
		return builder{build: func(*testing.T, *caller, object) request { return request{path: path, body: body, refusal: refusal} }}
	}
	asked := map[string]int{}
	about := func(prefix, ownID, otherID, suffix string, body any) builder {
		return builder{objects: true, build: func(_ *testing.T, _ *caller, o object) request {
			return request{path: prefix + pick(o, ownID, otherID) + suffix, body: body}
		}}
	}
	// person makes the request of a self route, about the caller's own account: s is nil
	// for a token, which is refused.
	person := func(build func(t *testing.T, c *caller, s *staff) request) builder {
		return builder{build: func(t *testing.T, c *caller, _ object) request { return build(t, c, c.person) }}
	}
	subjectOf := func(token string) func(t *testing.T) string {
		return func(t *testing.T) string { return e.createSubject(t, token, map[string]string{"name": "Doomed"}).ID }
	}
	recordOf := func(token, subjectID string) func(t *testing.T) string {
		return func(t *testing.T) string {
			return e.createRecord(t, token, subjectID, map[string]any{"category": "contact", "data": map[string]string{"city": "Molde"}}).ID
		}
	}
	tokenOf := func(tenantID string) func(t *testing.T) string {
		return func(t *testing.T) string {
			tok := &skjold.Token{Name: "doomed", TenantID: tenantID, Scopes: []string{skjold.ScopeRead}}
			if err := e.db.CreateToken(localContext(), tok); err != nil {
				t.Fatal(err)
			}
			return tok.ID
		}
	}
	userOf := func(tenantID string) func(t *testing.T) string {
		role := skjold.RoleAgent
		if tenantID == "" {
			role = skjold.RoleSupport
		}
		return func(t *testing.T) string { return e.newStaff(t, tenantID, role, "").user.ID }
	}
	// staffObject is a route about a staff account: tenant A's for A's callers, the
	// operator's own for operator callers, B's as the other tenant's.
	staffObject := func(suffix string, body any, forA, forOp, forB func(t *testing.T) string) builder {
		return builder{objects: true, tenantOnly: true, build: func(t *testing.T, c *caller, o object) request {
			id := missingID
			switch {
			case o == own && c.operator:
				id = forOp(t)
			case o == own:
				id = forA(t)
			case o == other:
				id = forB(t)
			}
			return request{path: "/api/v1/users/" + id + suffix, body: body}
		}}
	}
	fixedID := func(id string) func(*testing.T) string { return func(*testing.T) string { return id } }
	decide := func(verb string) builder {
		return builder{objects: true, tenantOnly: true, build: func(t *testing.T, c *caller, o object) request {
			id := missingID
			switch {
			case o == own && c.operator:
				id = e.approval(t, f.reqOp)
			case o == own:
				id = e.approval(t, f.reqA)
			case o == other:
				id = e.approval(t, f.reqB)
			}
			r := request{path: "/api/v1/approvals/" + id + "/" + verb}
			if c.person == nil {
				r.refusal = 403 // four eyes are two people, not tokens
			}
			return r
		}}
	}
	category := map[string]any{"fields": []map[string]string{{"name": "note", "type": "string"}},
		"purposes": []string{"contract"}, "legal_basis": "contract", "retention": map[string]string{"period": "P1Y", "from": "created"}}
	contact := map[string]any{"category": "contact", "data": map[string]string{"city": "Bergen"}}
	n := 0
	m := map[string]builder{
		"GET /healthz":             fixed("/healthz", nil),
		"GET /livez":               fixed("/livez", nil),
		"GET /readyz":              fixed("/readyz", nil),
		"GET /api/v1/openapi.json": fixed("/api/v1/openapi.json", nil),
		"GET /metrics":             fixed("/metrics", nil),
		"GET /api/v1/cluster":      fixed("/api/v1/cluster", nil),

		"POST /api/v1/auth/login": fixed("/api/v1/auth/login",
			map[string]string{"email": f.login.user.Email, "password": f.login.password, "session": skjold.SessionToken}),
		"POST /api/v1/auth/logout": person(func(t *testing.T, c *caller, s *staff) request {
			if s == nil {
				return request{path: "/api/v1/auth/logout"}
			}
			return request{path: "/api/v1/auth/logout", token: e.freshSession(t, s)}
		}),
		"GET /api/v1/auth/session": fixed("/api/v1/auth/session", nil),
		"POST /api/v1/auth/second-factor": person(func(t *testing.T, c *caller, s *staff) request {
			if s == nil || s.secret == "" {
				return request{path: "/api/v1/auth/second-factor", body: map[string]string{"code": "123456"}, refusal: 400}
			}
			return request{path: "/api/v1/auth/second-factor", body: map[string]string{"code": s.recovery[0]},
				done: func() { s.recovery = s.recovery[1:] }}
		}),
		"POST /api/v1/auth/unlock": person(func(t *testing.T, c *caller, s *staff) request {
			if s == nil {
				return request{path: "/api/v1/auth/unlock", body: map[string]string{"password": newPassword()}}
			}
			return request{path: "/api/v1/auth/unlock", body: map[string]string{"password": s.password}}
		}),
		// Callers here are confirmed: the routes answer that there is nothing to confirm.
		"POST /api/v1/auth/email-confirmation": refusing("/api/v1/auth/email-confirmation",
			map[string]string{"code": "12345678"}, 409),
		"POST /api/v1/auth/email-confirmation/code": refusing("/api/v1/auth/email-confirmation/code", nil, 409),
		"POST /api/v1/auth/password": person(func(t *testing.T, c *caller, s *staff) request {
			pw := newPassword()
			if s == nil {
				return request{path: "/api/v1/auth/password", body: map[string]string{"old_password": pw, "new_password": pw}}
			}
			return request{path: "/api/v1/auth/password", body: map[string]string{"old_password": s.password, "new_password": pw},
				done: func() { s.password = pw }}
		}),
		"POST /api/v1/auth/two-factor": person(func(t *testing.T, c *caller, s *staff) request {
			if s != nil && s.secret != "" {
				return request{path: "/api/v1/auth/two-factor", refusal: 409}
			}
			return request{path: "/api/v1/auth/two-factor"}
		}),
		"POST /api/v1/auth/two-factor/confirm": person(func(t *testing.T, c *caller, s *staff) request {
			if s == nil || s.secret != "" {
				return request{path: "/api/v1/auth/two-factor/confirm", body: map[string]string{"code": "123456"}, refusal: 400}
			}
			// The enrolment begins with the caller's own secret, so that it is refused where
			// the confirmation is.
			var begin struct {
				Secret string `json:"secret"`
			}
			r := e.do(t, c.token, "POST", "/api/v1/auth/two-factor", nil)
			if r.status != 200 {
				return request{path: "/api/v1/auth/two-factor/confirm", body: map[string]string{"code": "123456"}}
			}
			r.decode(t, &begin)
			return request{path: "/api/v1/auth/two-factor/confirm", body: map[string]string{"code": e.code(t, begin.Secret)},
				done: func() { s.secret = begin.Secret }}
		}),
		"POST /api/v1/auth/reset": fixed("/api/v1/auth/reset", map[string]string{"email": "nobody@staff.example"}),
		"POST /api/v1/auth/reset/complete": {build: func(t *testing.T, _ *caller, _ object) request {
			s := e.newStaff(t, e.a.id, skjold.RoleAgent, "")
			e.do(t, "", "POST", "/api/v1/auth/reset", map[string]string{"email": s.user.Email}).want(t, 202)
			return request{path: "/api/v1/auth/reset/complete",
				body: map[string]string{"token": e.waitResetToken(t, s.user.Email, 1), "password": newPassword()}}
		}},
		"GET /api/v1/sessions": {objects: true, build: func(_ *testing.T, c *caller, o object) request {
			self := f.userA.user.ID
			if c.person != nil {
				self = c.person.user.ID
			}
			return request{path: "/api/v1/sessions?user_id=" + pick(o, self, f.userB.user.ID)}
		}},
		"DELETE /api/v1/sessions/{id}": {objects: true, build: func(t *testing.T, c *caller, o object) request {
			id := missingID
			switch {
			case o == own && c.person != nil:
				id = e.sessionID(t, c.person)
			case o == own:
				id = e.sessionID(t, f.userA)
			case o == other:
				id = e.sessionID(t, f.userB)
			}
			return request{path: "/api/v1/sessions/" + id}
		}},

		"POST /api/v1/users": {build: func(_ *testing.T, c *caller, _ object) request {
			n++
			body := map[string]string{"email": fmt.Sprintf("new-%d@staff.example", n), "name": "New Person", "role": skjold.RoleAgent}
			if c.operator {
				body["role"] = skjold.RoleSupport // operator staff: a tenant's people are the tenant's business
			}
			return request{path: "/api/v1/users", body: body}
		}},
		"GET /api/v1/users": fixed("/api/v1/users", nil),
		"GET /api/v1/users/{id}": staffObject("", nil, fixedID(f.userA.user.ID), fixedID(f.grantee.user.ID),
			fixedID(f.userB.user.ID)),
		"PATCH /api/v1/users/{id}": staffObject("", map[string]string{"name": "Renamed"}, fixedID(f.userA.user.ID),
			fixedID(f.grantee.user.ID), fixedID(f.userB.user.ID)),
		"POST /api/v1/users/{id}/suspend": staffObject("/suspend", nil, userOf(e.a.id), userOf(""), userOf(e.b.id)),
		"POST /api/v1/users/{id}/resume":  staffObject("/resume", nil, userOf(e.a.id), userOf(""), userOf(e.b.id)),
		"GET /api/v1/profiles":            fixed("/api/v1/profiles", nil),
		"GET /api/v1/profiles/{name}":     fixed("/api/v1/profiles/exporter", nil),
		"PUT /api/v1/profiles/{name}":     fixed("/api/v1/profiles/authz_test", map[string]any{"scopes": []string{skjold.ScopeAdmin}}),
		"DELETE /api/v1/profiles/{name}": {build: func(t *testing.T, _ *caller, _ object) request {
			n++
			name := fmt.Sprintf("doomed_%d", n)
			e.createProfile(t, e.a.id, name, skjold.ScopeRead)
			return request{path: "/api/v1/profiles/" + name}
		}},
		"GET /api/v1/settings/session":     fixed("/api/v1/settings/session", nil),
		"PUT /api/v1/settings/session":     fixed("/api/v1/settings/session", skjold.DefaultSessionSettings()),
		"GET /api/v1/settings/read-budget": fixed("/api/v1/settings/read-budget", nil),
		"PUT /api/v1/settings/read-budget": fixed("/api/v1/settings/read-budget", map[string]int{"per_minute": 900, "per_day": 9000}),
		"POST /api/v1/approvals": {objects: true, tenantOnly: true, build: func(_ *testing.T, c *caller, o object) request {
			target := pick(o, f.userA.user.ID, f.userB.user.ID)
			if o == own && c.operator {
				target = f.grantee.user.ID
			}
			r := request{path: "/api/v1/approvals", body: map[string]string{"action": skjold.ActionTwoFactorReset, "target": target}}
			if c.person == nil {
				r.refusal = 403 // four eyes are two people, not tokens
			}
			return r
		}},
		"GET /api/v1/approvals":               fixed("/api/v1/approvals", nil),
		"POST /api/v1/approvals/{id}/approve": decide("approve"),
		"POST /api/v1/approvals/{id}/reject":  decide("reject"),
		"POST /api/v1/grants": {build: func(_ *testing.T, c *caller, _ object) request {
			r := request{path: "/api/v1/grants", body: map[string]any{"user_id": f.grantee.user.ID, "hours": 1, "reason": "ticket 42"}}
			if c.person == nil {
				r.refusal = 403 // granted in person
			}
			return r
		}},
		"GET /api/v1/grants":          fixed("/api/v1/grants", nil),
		"GET /api/v1/operator/alerts": fixed("/api/v1/operator/alerts", nil),
		"PUT /api/v1/operator/alerts": {build: func(_ *testing.T, c *caller, _ object) request {
			r := request{path: "/api/v1/operator/alerts", body: map[string]any{"emails": []string{"ops@example.com"}, "actions": []string{"backup.failed"}}}
			if c.person == nil || c.person.user.Role != skjold.RoleOwner {
				r.refusal = 403 // an owner in person
			}
			return r
		}},
		"POST /api/v1/operator/alerts/test": {build: func(t *testing.T, _ *caller, _ object) request {
			e.alertRecipient(t)
			return request{path: "/api/v1/operator/alerts/test"}
		}},
		"POST /api/v1/operator/grant-requests": {build: func(_ *testing.T, c *caller, _ object) request {
			r := request{path: "/api/v1/operator/grant-requests", body: map[string]any{"tenant_id": e.a.id, "reason": "ticket 42", "hours": 1}}
			if c.person == nil {
				r.refusal = 403 // asked in person
			} else if asked[c.person.user.ID]++; asked[c.person.user.ID] > 1 {
				r.body.(map[string]any)["tenant_id"] = e.b.id // one pending request per person and tenant
			}
			return r
		}},
		"GET /api/v1/operator/grant-requests":               fixed("/api/v1/operator/grant-requests", nil), // an operator token's list is empty
		"POST /api/v1/operator/grant-requests/{id}/approve": decideRequest(e, "/approve", nil),
		"POST /api/v1/operator/grant-requests/{id}/deny":    decideRequest(e, "/deny", map[string]string{"reason": "not now"}),
		"GET /api/v1/register":                              fixed("/api/v1/register", nil),
		"GET /api/v1/compliance":                            fixed("/api/v1/compliance", nil),
		"GET /api/v1/maintenance":                           fixed("/api/v1/maintenance", nil),
		"POST /api/v1/maintenance": fixed("/api/v1/maintenance", map[string]string{"starts": "2099-01-01T22:00:00Z",
			"ends": "2099-01-01T23:00:00Z", "note": "Database upgrade"}),
		"DELETE /api/v1/maintenance/{id}": {build: func(t *testing.T, _ *caller, _ object) request {
			// Windows are the operator's, not a tenant's: a fresh one for every request.
			m := &skjold.Maintenance{Starts: time.Now().Add(48 * time.Hour), Ends: time.Now().Add(49 * time.Hour), Note: "doomed"}
			if err := e.db.ScheduleMaintenance(localContext(), m); err != nil {
				t.Fatal(err)
			}
			return request{path: "/api/v1/maintenance/" + m.ID}
		}},
		"GET /api/v1/incidents":                    e.incidentAuthz()["GET /api/v1/incidents"],
		"POST /api/v1/incidents":                   e.incidentAuthz()["POST /api/v1/incidents"],
		"GET /api/v1/incidents/{id}":               e.incidentAuthz()["GET /api/v1/incidents/{id}"],
		"PATCH /api/v1/incidents/{id}/decision":    e.incidentAuthz()["PATCH /api/v1/incidents/{id}/decision"],
		"GET /api/v1/incidents/{id}/timeline":      e.incidentAuthz()["GET /api/v1/incidents/{id}/timeline"],
		"POST /api/v1/incidents/{id}/timeline":     e.incidentAuthz()["POST /api/v1/incidents/{id}/timeline"],
		"POST /api/v1/incidents/{id}/scope":        e.incidentAuthz()["POST /api/v1/incidents/{id}/scope"],
		"POST /api/v1/incidents/{id}/close":        e.incidentAuthz()["POST /api/v1/incidents/{id}/close"],
		"POST /api/v1/incidents/{id}/acknowledge":  e.incidentAuthz()["POST /api/v1/incidents/{id}/acknowledge"],
		"GET /api/v1/incidents/{id}/drafts/{kind}": e.incidentAuthz()["GET /api/v1/incidents/{id}/drafts/{kind}"],
		"GET /api/v1/compliance/profile":           fixed("/api/v1/compliance/profile", nil),
		"GET /api/v1/compliance/documents/{kind}":  fixed("/api/v1/compliance/documents/ropa?lang=nb", nil),
		"GET /api/v1/compliance/measures":          fixed("/api/v1/compliance/measures", nil),
		"POST /api/v1/compliance/measures": fixed("/api/v1/compliance/measures", map[string]string{"kind": "training",
			"description": "Annual training", "date": "2026-11-20"}),
		"DELETE /api/v1/compliance/measures/{id}": {build: func(t *testing.T, c *caller, _ object) request {
			// Measures are the caller's scope's: a fresh one of that scope for every request.
			return request{path: "/api/v1/compliance/measures/" + e.measure(t, c.operator && c.header == nil)}
		}},
		"PUT /api/v1/compliance/profile": {build: func(_ *testing.T, c *caller, _ object) request {
			r := request{path: "/api/v1/compliance/profile", body: map[string]int{"max_idle_minutes": 15}}
			if !c.operator && c.person != nil && c.person.user.Role != skjold.RoleOwner {
				r.refusal = 403 // the tenant's owner changes its promises
			}
			return r
		}},
		"POST /api/v1/requests": {build: func(t *testing.T, _ *caller, _ object) request {
			return request{path: "/api/v1/requests", body: map[string]string{"type": "access", "email": e.requestSubject(t, e.a.token).Email}}
		}},
		"GET /api/v1/requests":                fixed("/api/v1/requests", nil),
		"GET /api/v1/requests/{id}":           fresh("/api/v1/requests/", "", nil, e.requestOf(e.a.token, false), e.requestOf(e.b.token, false)),
		"POST /api/v1/requests/{id}/verify":   e.verifyBuilder(),
		"POST /api/v1/requests/{id}/resend":   fresh("/api/v1/requests/", "/resend", nil, e.requestOf(e.a.token, false), e.requestOf(e.b.token, false)),
		"POST /api/v1/requests/{id}/extend":   fresh("/api/v1/requests/", "/extend", map[string]any{"months": 1, "reason": "backlog"}, e.requestOf(e.a.token, false), e.requestOf(e.b.token, false)),
		"POST /api/v1/requests/{id}/refuse":   fresh("/api/v1/requests/", "/refuse", map[string]string{"code": "other", "note": "duplicate"}, e.requestOf(e.a.token, false), e.requestOf(e.b.token, false)),
		"POST /api/v1/requests/{id}/complete": fresh("/api/v1/requests/", "/complete", map[string]any{}, e.requestOf(e.a.token, true), e.requestOf(e.b.token, false)),
		"GET /api/v1/downloads/{secret}":      e.downloadBuilder(),
		"GET /api/v1/settings/privacy":        fixed("/api/v1/settings/privacy", nil),
		"PUT /api/v1/settings/privacy":        fixed("/api/v1/settings/privacy", map[string]any{"controller": "Tenant A AS", "recipients": []string{"Airlines"}}),
		"GET /api/v1/settings/banner":         fixed("/api/v1/settings/banner", nil),
		"PUT /api/v1/settings/banner":         fixed("/api/v1/settings/banner", map[string]any{"origins": []string{"https://www.a.example"}}),
		"GET /api/v1/consent-receipts":        fixed("/api/v1/consent-receipts", nil),
		"DELETE /api/v1/grants/{id}": {objects: true, tenantOnly: true, build: func(t *testing.T, c *caller, o object) request {
			id := missingID
			switch {
			case o == own && c.operator && c.person != nil:
				id = e.grant(t, f.reqA, c.person.user.ID) // an operator ends the grants given to it
			case o == own:
				id = e.grant(t, f.reqA, f.grantee.user.ID)
			case o == other:
				id = e.grant(t, f.reqB, f.grantee.user.ID)
			}
			r := request{path: "/api/v1/grants/" + id}
			if c.operator && c.person == nil {
				r.refusal = 404 // an operator token is given no grants
			}
			return r
		}},
		"GET /api/v1/blocklist": fixed("/api/v1/blocklist", nil),
		"PUT /api/v1/blocklist": fixed("/api/v1/blocklist", map[string]string{"text": "# nobody blocked\n"}),
		"GET /api/v1/bans":      fixed("/api/v1/bans", nil),
		"DELETE /api/v1/bans/{addr}": {build: func(t *testing.T, _ *caller, _ object) request {
			n++
			addr := netip.AddrFrom4([4]byte{198, 51, byte(n >> 8), byte(n)})
			if err := e.db.Ban(t.Context(), netip.PrefixFrom(addr, 32), e.clock.Now().Add(time.Hour), "test"); err != nil {
				t.Fatal(err)
			}
			return request{path: "/api/v1/bans/" + addr.String()}
		}},
		"POST /api/v1/tenants":                 fixed("/api/v1/tenants", map[string]string{"name": "Tenant C"}),
		"GET /api/v1/tenants":                  fixed("/api/v1/tenants", nil),
		"GET /api/v1/tenants/{id}":             about("/api/v1/tenants/", e.a.id, e.b.id, "", nil),
		"POST /api/v1/tenants/{id}/reactivate": fresh("/api/v1/tenants/", "/reactivate", nil, e.frozenTenant, e.frozenTenant),
		"GET /api/v1/tenants/{id}/certificate": e.certificateRequests(),
		"POST /api/v1/tokens": {build: func(_ *testing.T, c *caller, _ object) request {
			if c.operator { // operators make operator tokens; a tenant's come from the tenant [A7]
				return request{path: "/api/v1/tokens", body: map[string]any{"name": "new", "operator": true,
					"scopes": []string{skjold.ScopeOperatorRead}}}
			}
			return request{path: "/api/v1/tokens", body: map[string]any{"name": "new", "scopes": []string{"admin"}, "tenant_id": e.a.id}}
		}},
		"GET /api/v1/tokens":            fixed("/api/v1/tokens", nil),
		"DELETE /api/v1/tokens/{id}":    fresh("/api/v1/tokens/", "", nil, tokenOf(e.a.id), tokenOf(e.b.id)),
		"GET /api/v1/categories":        fixed("/api/v1/categories", nil),
		"GET /api/v1/categories/{name}": fixed("/api/v1/categories/contact", nil),
		"PUT /api/v1/categories/{name}": fixed("/api/v1/categories/authz_test", category),
		"GET /api/v1/retention/plan":    fixed("/api/v1/retention/plan?days=60", nil),
		"PUT /api/v1/subjects/{id}/relationship": about("/api/v1/subjects/", f.subA.ID, f.subB.ID, "/relationship",
			map[string]string{"state": "active"}),
		"POST /api/v1/subjects":              fixed("/api/v1/subjects", map[string]string{"name": "Bo"}),
		"GET /api/v1/subjects":               fixed("/api/v1/subjects", nil),
		"GET /api/v1/subjects/{id}":          about("/api/v1/subjects/", f.subA.ID, f.subB.ID, "", nil),
		"PATCH /api/v1/subjects/{id}":        about("/api/v1/subjects/", f.subA.ID, f.subB.ID, "", map[string]string{"name": "Anna B"}),
		"DELETE /api/v1/subjects/{id}":       fresh("/api/v1/subjects/", "", nil, subjectOf(e.a.token), subjectOf(e.b.token)),
		"POST /api/v1/subjects/{id}/records": about("/api/v1/subjects/", f.subA.ID, f.subB.ID, "/records", contact),
		"GET /api/v1/subjects/{id}/records":  about("/api/v1/subjects/", f.subA.ID, f.subB.ID, "/records", nil),
		"GET /api/v1/records/{id}":           about("/api/v1/records/", f.recA.ID, f.recB.ID, "", nil),
		"PATCH /api/v1/records/{id}":         about("/api/v1/records/", f.recA.ID, f.recB.ID, "", map[string]any{"data": map[string]string{"city": "Bodø"}}),
		"DELETE /api/v1/records/{id}":        fresh("/api/v1/records/", "", nil, recordOf(e.a.token, f.subA.ID), recordOf(e.b.token, f.subB.ID)),
		"GET /api/v1/purposes":               fixed("/api/v1/purposes", nil),
		"PUT /api/v1/purposes/{name}": fixed("/api/v1/purposes/authz_test",
			map[string]any{"legal_basis": "consent", "notice": "Test notice.", "channels": []string{"email"}}),
		"GET /api/v1/subjects/{id}/consents": about("/api/v1/subjects/", f.subA.ID, f.subB.ID, "/consents", nil),
		"POST /api/v1/subjects/{id}/consents": about("/api/v1/subjects/", f.subA.ID, f.subB.ID, "/consents",
			map[string]any{"purpose": "newsletter", "granted": false, "source": "api"}),
		"PUT /api/v1/subjects/{id}/restriction":    fresh("/api/v1/subjects/", "/restriction", nil, subjectOf(e.a.token), subjectOf(e.b.token)),
		"DELETE /api/v1/subjects/{id}/restriction": fresh("/api/v1/subjects/", "/restriction", nil, subjectOf(e.a.token), subjectOf(e.b.token)),
		"PUT /api/v1/subjects/{id}/objection":      fresh("/api/v1/subjects/", "/objection", nil, subjectOf(e.a.token), subjectOf(e.b.token)),
		"DELETE /api/v1/subjects/{id}/objection":   fresh("/api/v1/subjects/", "/objection", nil, subjectOf(e.a.token), subjectOf(e.b.token)),
		"POST /api/v1/contact-check": {objects: true, build: func(_ *testing.T, _ *caller, o object) request {
			return request{path: "/api/v1/contact-check",
				body: map[string]any{"subject_id": pick(o, f.subA.ID, f.subB.ID), "purpose": "newsletter", "channel": "email"}}
		}},
		"POST /api/v1/contact-sms": {objects: true, build: func(_ *testing.T, _ *caller, o object) request {
			return request{path: "/api/v1/contact-sms",
				body: map[string]any{"subject_id": pick(o, f.subA.ID, f.subB.ID), "purpose": "newsletter", "text": "Hello."}}
		}},
		"POST /api/v1/subjects/{id}/erasure": fresh("/api/v1/subjects/", "/erasure", nil, subjectOf(e.a.token), subjectOf(e.b.token)),
		"POST /api/v1/holds":                 fixed("/api/v1/holds", map[string]string{"category": "invoice", "reason": "authz"}),
		"GET /api/v1/holds":                  fixed("/api/v1/holds", nil),
		"DELETE /api/v1/holds/{id}":          fresh("/api/v1/holds/", "", nil, e.holdOf(e.a.token), e.holdOf(e.b.token)),
		"GET /api/v1/erasure-journal":        fixed("/api/v1/erasure-journal", nil),
		"GET /api/v1/backups":                fixed("/api/v1/backups", nil),
		"POST /api/v1/backups":               fixed("/api/v1/backups", nil),
		"GET /api/v1/backups/runs":           fixed("/api/v1/backups/runs", nil),
		"POST /api/v1/backups/{id}/verify": {build: func(t *testing.T, _ *caller, _ object) request {
			return request{path: "/api/v1/backups/" + e.backupID(t) + "/verify"}
		}},
		"GET /api/v1/audit":        fixed("/api/v1/audit", nil),
		"GET /api/v1/audit/verify": fixed("/api/v1/audit/verify", nil),
		"POST /api/v1/import": fixed("/api/v1/import", map[string]any{"format": "csv",
			"data": base64.StdEncoding.EncodeToString([]byte("subject_id,record_id,created_at,ref,name\nx,,,AUTHZ-IMPORT,Authz\n"))}),
		"GET /api/v1/export": {build: func(t *testing.T, c *caller, _ object) request {
			if c.person == nil || c.operator || !holds(c.scopes, skjold.ScopeExport) || !holds(c.scopes, skjold.ScopeAdmin) {
				// Tenant A keeps exports under four eyes; filing an approval needs the admin scope.
				return request{path: "/api/v1/export?format=json", refusal: 403}
			}
			return request{path: "/api/v1/export?format=json&approval=" + e.exportApproval(t, c.person, f.reqA)}
		}},
	}
	for k, b := range e.dpaAuthzRequests(f) { // the DPA, sub-processors and registers (dpa_test.go)
		m[k] = b
	}
	return m
}

// TestAuthorization calls every route as every kind of caller, on tenant A's own objects and
// on tenant B's. Callers without live credentials get 401; callers without the permission
// routes.go declares get 403, whatever the object; admitted callers' requests on their own
// objects succeed; another tenant's objects answer 404, exactly as objects that do not exist,
// and never show up in what tenant A's callers are given.
func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	callers := e.callers(t)
	f := e.authzFixtures(t)
	requests := e.authzRequests(f)
	ofB := []string{e.b.id, f.subB.ID, f.recB.ID, f.userB.user.ID}
	cases := 0
	for _, rt := range testRoutes() {
		b, ok := requests[rt.pattern]
		if !ok {
			t.Errorf("no request for route %s: add one to authzRequests", rt.pattern)
			continue
		}
		objects := []object{noObject}
		if b.objects {
			objects = []object{own, other}
		}
		for _, c := range callers {
			for _, o := range objects {
				cases++
				t.Run(strings.TrimSpace(rt.pattern+"/"+c.name+" "+o.String()), func(t *testing.T) {
					e.checkAccess(t, rt, b, c, o, ofB)
				})
			}
		}
	}
	t.Logf("%d route × caller × object cases", cases)
}

// checkAccess sends one request of the authorisation table and checks the answer.
func (e *env) checkAccess(t *testing.T, rt route, b builder, c *caller, o object, ofB []string) {
	method, _, _ := strings.Cut(rt.pattern, " ")
	req := b.build(t, c, o)
	token := c.token
	if req.token != "" {
		token = req.token
	}
	events := e.auditLength(t)
	got := e.doWith(t, token, c.header, method, req.path, req.body)
	refused := true
	switch want := c.expect(rt.perm); {
	case want == 401:
		got.wantError(t, 401, skjold.EUNAUTHORIZED)
		if got.header.Get("WWW-Authenticate") != `Bearer realm="skjold"` {
			t.Errorf("401 without WWW-Authenticate: %v", got.header)
		}
	case want == 403:
		got.wantError(t, 403, skjold.EFORBIDDEN)
	case req.refusal != 0 && req.refusal != 404:
		got.want(t, req.refusal) // the caller's own reason, whatever the object
	case o == other && !c.reachesOther(rt.perm, b.tenantOnly):
		got.wantError(t, 404, skjold.ENOTFOUND)
		m := b.build(t, c, missing)
		if miss := e.doWith(t, token, c.header, method, m.path, m.body); miss.status != got.status || !bytes.Equal(miss.body, got.body) {
			t.Errorf("another tenant's object answers %d %s; a missing one %d %s", got.status, got.body, miss.status, miss.body)
		}
	case req.refusal != 0:
		got.want(t, req.refusal)
	default:
		refused = false
		if got.status < 200 || got.status > 299 {
			t.Errorf("admitted caller got %d: %s", got.status, got.body)
		} else if req.done != nil {
			req.done()
		}
	}
	if n := e.auditLength(t); refused && req.refusal == 0 && n != events {
		t.Errorf("the refused request changed the audit chain from %d to %d events", events, n)
	}
	if !c.operator && !refused {
		for _, id := range ofB {
			if bytes.Contains(got.body, []byte(id)) {
				t.Errorf("tenant B's id %s in the answer to tenant A's caller: %.300s…", id, got.body)
			}
		}
	}
}

// consoleCaller is one kind of caller of the console's authorisation table: a browser with
// or without a live session cookie of a person of tenant A or of the operator.
type consoleCaller struct {
	name   string
	client *consoleClient
	person *staff // nil: no live session
	op     bool
	scopes []string
}

// consoleCallers makes every kind of console caller: no cookie, a garbage or ended session,
// API and session tokens sent as bearers (which the console does not take), and a person of
// every role logged in through the console's forms, and operator support under a grant.
func (e *env) consoleCallers(t *testing.T) []*consoleCaller {
	t.Helper()
	bare := func(header http.Header) *consoleClient {
		c := e.consoleClient(t)
		for k, v := range header {
			c.header[k] = v
		}
		return c
	}
	garbage := bare(http.Header{"Cookie": {sessionCookie + "=skjold_s_" + strings.Repeat("A", 43)}})
	ended := e.consoleClient(t)
	ended.login(t, e.activeStaff(t, e.a.id, skjold.RoleAgent, ""))
	ended.post(t, "/console/logout", nil).wantRedirect(t, "/console/login")
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	callers := []*consoleCaller{
		{name: "no session", client: e.consoleClient(t)},
		{name: "garbage session cookie", client: garbage},
		{name: "ended session", client: ended},
		{name: "tenant API token as bearer", client: bare(http.Header{"Authorization": {"Bearer " + e.a.token}})},
		{name: "session token as bearer", client: bare(http.Header{"Authorization": {"Bearer " + agent.session}})},
	}
	login := func(name string, s *staff, op bool, scopes []string, header http.Header) {
		c := bare(header)
		c.login(t, s)
		callers = append(callers, &consoleCaller{name: name, client: c, person: s, op: op, scopes: scopes})
	}
	for _, role := range []string{skjold.RoleOwner, skjold.RoleAdmin, skjold.RoleSupport} {
		login("operator "+role, e.activeStaff(t, "", role, ""), true, skjold.RoleScopes(true, role), nil)
	}
	exporter := []string{skjold.ScopeRead, skjold.ScopeExport}
	e.createProfile(t, e.a.id, "exporter", strings.Join(exporter, ","))
	for _, role := range []string{skjold.RoleOwner, skjold.RoleAdmin, skjold.RoleAgent, skjold.RoleAuditor, skjold.RoleCustom} {
		profile, scopes := "", skjold.RoleScopes(false, role)
		if role == skjold.RoleCustom {
			profile, scopes = "exporter", exporter
		}
		login("tenant "+role, e.activeStaff(t, e.a.id, role, profile), false, scopes, nil)
	}
	support := e.activeStaff(t, "", skjold.RoleSupport, "")
	e.grant(t, e.activeStaff(t, e.a.id, skjold.RoleAdmin, ""), support.user.ID)
	// Under a grant, operator support acts as a reader of tenant A (supportCaller), so the
	// table expects what a tenant caller with the read scope gets.
	login("operator support under tenant A's grant", support, false, []string{skjold.ScopeRead},
		http.Header{tenantHeader: {e.a.id}})
	return callers
}

// consoleCall is a well-formed request on a console route. refusals are the statuses an
// admitted caller may get for reasons of its own (a wrong code, nothing to confirm; 403 for
// an owner-only change the route admits every admin to).
type consoleCall struct {
	path     string
	form     url.Values // nil for GET
	client   *consoleClient
	refusals []int
}

// consoleRequests returns, for every console route, how to make a request that an admitted
// caller's own objects let succeed (or refuse for the caller's own reason).
func (e *env) consoleRequests(t *testing.T) map[string]consoleBuild {
	type build = consoleBuild
	get := func(path string) build {
		return func(*testing.T, *consoleCaller, object) consoleCall { return consoleCall{path: path} }
	}
	post := func(path string, form url.Values, refusals ...int) build {
		return func(*testing.T, *consoleCaller, object) consoleCall {
			return consoleCall{path: path, form: form, refusals: refusals}
		}
	}
	n := 0
	userB := e.activeStaff(t, e.b.id, skjold.RoleAgent, "")
	page := e.consoleClient(t).get(t, "/console/login")
	css := regexp.MustCompile(`/console/static/[0-9a-f]{12}/console\.css`).Find(page.body)
	requests := map[string]build{
		"GET /{$}":                          get("/"),
		"GET /console/static/{hash}/{file}": get(string(css)),
		"/console/": func(*testing.T, *consoleCaller, object) consoleCall {
			return consoleCall{path: "/console/nope", refusals: []int{404}}
		},
		"GET /console/login": get("/console/login"),
		"POST /console/login": func(*testing.T, *consoleCaller, object) consoleCall {
			n++ // a fresh unknown address each time: five failures would lock one out
			return consoleCall{path: "/console/login", form: url.Values{"email": {fmt.Sprintf("nobody-%d@staff.example", n)},
				"password": {"wrong-password-1"}}, refusals: []int{401}}
		},
		"GET /console/forgot":  get("/console/forgot"),
		"POST /console/forgot": post("/console/forgot", url.Values{"email": {"nobody@staff.example"}}),
		"GET /console/reset":   get("/console/reset"),
		"POST /console/reset": post("/console/reset", url.Values{"token": {"skjold_r_" + strings.Repeat("A", 43)},
			"password": {"violet-Harbour-crane-47"}, "repeat": {"violet-Harbour-crane-47"}}, 401),
		"POST /console/language":   post("/console/language", url.Values{"lang": {"en"}, "next": {"/console/forgot"}}),
		"GET /console/login/code":  get("/console/login/code"),
		"POST /console/login/code": post("/console/login/code", url.Values{"code": {"123456"}}, 400, 401),
		"GET /console/password":    get("/console/password"),
		"POST /console/password": post("/console/password", url.Values{"old_password": {"x"}, "password": {"violet-Harbour-crane-47"},
			"repeat": {"different-Harbour-crane-47"}}, 400),
		"GET /console/two-factor":          get("/console/two-factor"),
		"POST /console/two-factor":         post("/console/two-factor", nil, 409),
		"POST /console/two-factor/confirm": post("/console/two-factor/confirm", url.Values{"code": {"000000"}}, 400, 401, 409),
		"GET /console/confirm-email":       get("/console/confirm-email"),
		"POST /console/confirm-email":      post("/console/confirm-email", url.Values{"code": {"12345678"}}, 409),
		"POST /console/confirm-email/code": post("/console/confirm-email/code", url.Values{}, 409),
		"GET /console/lock":                get("/console/lock?next=/console/sessions"),
		"POST /console/unlock": func(_ *testing.T, c *consoleCaller, _ object) consoleCall {
			pw := "not-a-person"
			if c.person != nil {
				pw = c.person.password
			}
			return consoleCall{path: "/console/unlock", form: url.Values{"password": {pw}, "next": {"/console/sessions"}}}
		},
		"POST /console/logout": func(t *testing.T, c *consoleCaller, _ object) consoleCall {
			r := consoleCall{path: "/console/logout", form: url.Values{}}
			if c.person != nil { // a session of its own, so that the caller stays logged in
				r.client = e.consoleClient(t)
				for k, v := range c.client.header {
					r.client.header[k] = v
				}
				r.client.login(t, c.person)
			}
			return r
		},
		"POST /console/account/language": post("/console/account/language", url.Values{"lang": {"en"}, "next": {"/console/sessions"}}),
		"POST /console/account/recovery-codes.txt": post("/console/account/recovery-codes.txt",
			url.Values{"code": {"ABCD-EFGH-IJKL", "MNOP-QRST-UVWX"}}),
		"GET /console/{$}":      get("/console/"),
		"GET /console/sessions": get("/console/sessions"),
		"POST /console/sessions/{id}/revoke": func(t *testing.T, c *consoleCaller, o object) consoleCall {
			id := missingID
			switch {
			case o == own && c.person != nil:
				id = e.sessionID(t, c.person)
			case o == own:
				id = e.sessionID(t, userB) // never reached: no live session
			case o == other:
				id = e.sessionID(t, userB)
			}
			return consoleCall{path: "/console/sessions/" + id + "/revoke", form: url.Values{}}
		},
	}
	for _, more := range consoleRequestSets {
		maps.Copy(requests, more(e, t))
	}
	return requests
}

// consoleBuild makes a request on one console route for a caller and an object.
type consoleBuild = func(t *testing.T, c *consoleCaller, o object) consoleCall

// consoleRequestSets are the requests of the console's sections (consoleSections), each
// added by the section's own test file's init, as its routes are by its file's init.
var consoleRequestSets []func(e *env, t *testing.T) map[string]consoleBuild

// TestConsoleAuthorization calls every console route as every kind of caller. Whoever has
// no live session cookie is sent to the login page (a bearer token is no console
// credential); a person whose role lacks the route's permission gets the 403 page; admitted
// callers' requests succeed or are refused for their own reason; another tenant's objects
// answer exactly as missing ones, and never show up in a page of tenant A's callers.
func TestConsoleAuthorization(t *testing.T) {
	e := newEnv(t)
	callers := e.consoleCallers(t)
	requests := e.consoleRequests(t)
	s := &Server{svc: Services{Auth: e.db}, pages: mustPages(t)}
	cases := 0
	for _, rt := range s.consoleRoutes() {
		build, ok := requests[rt.pattern]
		if !ok {
			t.Errorf("no request for console route %s: add one to consoleRequests", rt.pattern)
			continue
		}
		objects := []object{noObject}
		if strings.Contains(rt.pattern, "{id}") {
			objects = []object{own, other, missing}
		}
		for _, c := range callers {
			for _, o := range objects {
				cases++
				t.Run(strings.TrimSpace(rt.pattern+"/"+c.name+" "+o.String()), func(t *testing.T) {
					e.checkConsoleAccess(t, rt, build(t, c, o), c, o)
				})
			}
		}
	}
	t.Logf("%d console route × caller × object cases", cases)
}

func (e *env) checkConsoleAccess(t *testing.T, rt route, req consoleCall, c *consoleCaller, o object) {
	method, _, found := strings.Cut(rt.pattern, " ")
	if !found {
		method = "GET"
	}
	client := c.client
	if req.client != nil {
		client = req.client
	}
	var got *reply
	if method == "POST" {
		got = client.post(t, req.path, req.form)
	} else {
		got = client.send(t, method, req.path, nil)
	}
	toLogin := got.status == http.StatusSeeOther && got.header.Get("Location") == "/console/login"
	switch {
	case !rt.perm.public && c.person == nil:
		if !toLogin {
			t.Errorf("a caller without a session got %d (to %q), want 303 to the login page", got.status, got.header.Get("Location"))
		}
	case !allowed(rt.perm, c.op, c.person != nil, c.scopes):
		got.want(t, http.StatusForbidden)
	case o == other || o == missing:
		got.want(t, http.StatusNotFound)
		wantText(t, got, "Page not found")
	case toLogin || (got.status == http.StatusForbidden && !slices.Contains(req.refusals, got.status)) || got.status >= 500 ||
		(got.status >= 400 && !slices.Contains(req.refusals, got.status)):
		t.Errorf("admitted caller got %d (to %q): %.500s", got.status, got.header.Get("Location"), text(got.body))
	}
	if c.person != nil && !c.op {
		for _, id := range []string{e.b.id} {
			if strings.Contains(string(got.body), id) {
				t.Errorf("tenant B's id %s in a page for tenant A's caller", id)
			}
		}
	}
}

func mustPages(t *testing.T) *web.Renderer {
	t.Helper()
	p, err := consolePages()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
