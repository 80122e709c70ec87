package http

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// tenantAData is tenant A's objects, as A reads them back.
type tenantAData struct {
	subject  skjold.Subject
	record   skjold.Record
	category skjold.Category
	tokens   []skjold.Token
	events   int // audit events of tenant A
}

func (e *env) readTenantA(t *testing.T, subjectID, recordID string) tenantAData {
	t.Helper()
	var d tenantAData
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+subjectID+"?purpose=credit_check", nil).want(t, 200).decode(t, &d.subject)
	e.do(t, e.a.token, "GET", "/api/v1/records/"+recordID, nil).want(t, 200).decode(t, &d.record)
	e.do(t, e.a.token, "GET", "/api/v1/categories/a_private", nil).want(t, 200).decode(t, &d.category)
	var tokens struct{ Items []skjold.Token }
	e.do(t, e.a.token, "GET", "/api/v1/tokens", nil).want(t, 200).decode(t, &tokens)
	d.tokens = tokens.Items
	for _, ev := range e.auditEvents(t, e.operator, "") {
		// Reads by A's own tokens are audited too: count only what others did in A's tenant.
		if ev.TenantID == e.a.id && !strings.HasSuffix(ev.Action, ".read") {
			d.events++
		}
	}
	return d
}

// auditEvents returns every audit event token may see, following every page.
func (e *env) auditEvents(t *testing.T, token, query string) []*skjold.AuditEvent {
	t.Helper()
	var all []*skjold.AuditEvent
	after := "0"
	for {
		var page struct {
			Items []*skjold.AuditEvent `json:"items"`
			Next  string               `json:"next"`
		}
		e.do(t, token, "GET", "/api/v1/audit?limit=500&after="+after+query, nil).want(t, 200).decode(t, &page)
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		after = page.Next
	}
}

// TestTenantIsolation calls every route with tenant B's all-scope token on tenant A's
// objects: whatever names A's objects is not found (or not allowed at all), no answer holds
// anything of A's, and A's data is unchanged afterwards.
func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	sA := e.createSubject(t, e.a.token, map[string]string{"ref": "A-1", "email": "anna@example.com",
		"phone": "+47 912 34 567", "name": "Anna Andersen", "birth_date": "1980-05-17"})
	rA := e.createRecord(t, e.a.token, sA.ID, map[string]any{"category": "contact",
		"data": map[string]string{"address": "Storgata 1", "city": "Oslo"}})
	tA := e.createToken(t, e.a.token, "a-reader", "read")
	category := map[string]any{"description": "Tenant A's own category.", "fields": []map[string]string{{"name": "secret_note", "type": "string"}},
		"purposes": []string{"contract"}, "legal_basis": "contract", "retention": map[string]string{"period": "P1Y", "from": "created"}}
	e.do(t, e.a.token, "PUT", "/api/v1/categories/a_private", category).want(t, 201)
	e.do(t, e.a.token, "PUT", "/api/v1/profiles/a_private", map[string]any{"scopes": []string{"read"}}).want(t, 201)
	sB := e.createSubject(t, e.b.token, map[string]string{"name": "Bjørn"})
	e.createRecord(t, e.b.token, sB.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Bergen"}})

	// A's people: a user, a session, an approval waiting for a second person, a support grant.
	ownerA, agentA := e.activeStaff(t, e.a.id, skjold.RoleOwner, ""), e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	sessionA := e.session(t, agentA.session).Session.ID
	var approvalA skjold.Approval
	e.do(t, ownerA.session, "POST", "/api/v1/approvals", map[string]string{"action": skjold.ActionTwoFactorReset,
		"target": agentA.user.ID}).want(t, 201).decode(t, &approvalA)
	grantee := e.activeStaff(t, "", skjold.RoleSupport, "")
	grantA := e.grant(t, ownerA, grantee.user.ID)
	var holdA skjold.Hold
	e.do(t, e.a.token, "POST", "/api/v1/holds", map[string]string{"subject_id": sA.ID, "reason": "A's litigation"}).
		want(t, 201).decode(t, &holdA)

	reqA := e.openRequest(t, e.a.token, sA, skjold.RequestAccess, "") // a data-subject request of A
	grantRequestA := e.fileGrantRequest(t, e.a.id)                    // support staff asked A for access
	incA := e.incidentOf(t, e.a.id)                                   // A's breach register
	opInc := e.incidentOf(t, "", e.a.id)                              // an operator incident that affects A only
	measureA := e.measure(t, false)                                   // an organisational measure of A

	var dpaSecrets []string // the DPA's and registers' objects of A (dpa_test.go)
	dpaCases := e.dpaIsolationCases(t, ownerA, &dpaSecrets)
	before := e.readTenantA(t, sA.ID, rA.ID)
	secretsOfA := []string{grantRequestA, e.a.id, sA.ID, rA.ID, "anna@example.com", "Anna Andersen", "Storgata", "Tenant A's own", "secret_note",
		agentA.user.ID, agentA.user.Email, sessionA, approvalA.ID, grantA, holdA.ID, "A's litigation", incA, opInc, measureA, "A's measure"}
	for _, tok := range before.tokens {
		secretsOfA = append(secretsOfA, tok.ID)
	}
	secretsOfA = append(secretsOfA, dpaSecrets...)

	bCategory := map[string]any{"fields": []map[string]string{{"name": "b_note", "type": "string"}},
		"purposes": []string{"contract"}, "legal_basis": "contract", "retention": map[string]string{"period": "P1Y", "from": "created"}}
	cases := []struct {
		pattern string
		path    string
		body    any
		status  int
		code    string   // the error code, for refusals
		shows   []string // what B must see of its own, for lists
	}{
		{pattern: "GET /healthz", path: "/healthz", status: 200},
		{pattern: "GET /livez", path: "/livez", status: 200},
		{pattern: "GET /readyz", path: "/readyz", status: 200},
		{pattern: "GET /api/v1/openapi.json", path: "/api/v1/openapi.json", status: 200},
		{pattern: "GET /metrics", path: "/metrics", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/tenants", path: "/api/v1/tenants", body: map[string]string{"name": "C"}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/tenants", path: "/api/v1/tenants", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/tenants/{id}", path: "/api/v1/tenants/" + e.a.id, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/tenants/{id}/reactivate", path: "/api/v1/tenants/" + e.a.id + "/reactivate", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/tenants/{id}/certificate", path: "/api/v1/tenants/" + e.a.id + "/certificate", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/tokens", path: "/api/v1/tokens", body: map[string]any{"name": "x", "scopes": []string{"read"}, "tenant_id": e.a.id},
			status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/tokens", path: "/api/v1/tokens", status: 200, shows: []string{`"name":"initial"`}},
		// The routes of people's own accounts take no API token, whoever's.
		{pattern: "POST /api/v1/auth/login", path: "/api/v1/auth/login", body: map[string]string{"email": "nobody@a.example",
			"password": "wrong-Password-12", "session": "token"}, status: 401, code: skjold.EUNAUTHORIZED},
		{pattern: "POST /api/v1/auth/logout", path: "/api/v1/auth/logout", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/auth/session", path: "/api/v1/auth/session", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/auth/second-factor", path: "/api/v1/auth/second-factor", body: map[string]string{"code": "123456"},
			status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/auth/unlock", path: "/api/v1/auth/unlock", body: map[string]string{"password": "x"},
			status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/auth/email-confirmation", path: "/api/v1/auth/email-confirmation",
			body: map[string]string{"code": "12345678"}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/auth/email-confirmation/code", path: "/api/v1/auth/email-confirmation/code",
			status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/auth/password", path: "/api/v1/auth/password",
			body: map[string]string{"old_password": "x", "new_password": "y"}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/auth/two-factor", path: "/api/v1/auth/two-factor", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/auth/two-factor/confirm", path: "/api/v1/auth/two-factor/confirm",
			body: map[string]string{"code": "123456"}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/auth/reset", path: "/api/v1/auth/reset", body: map[string]string{"email": "nobody@a.example"}, status: 202},
		{pattern: "POST /api/v1/auth/reset/complete", path: "/api/v1/auth/reset/complete",
			body: map[string]string{"token": "skjold_r_" + strings.Repeat("A", 43), "password": "x"}, status: 401, code: skjold.EUNAUTHORIZED},
		{pattern: "GET /api/v1/sessions", path: "/api/v1/sessions?user_id=" + agentA.user.ID, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "DELETE /api/v1/sessions/{id}", path: "/api/v1/sessions/" + sessionA, status: 403, code: skjold.EFORBIDDEN},
		// B's admin token makes users of B only, whatever tenant it names.
		{pattern: "POST /api/v1/users", path: "/api/v1/users", body: map[string]string{"email": "new@b.example", "name": "New",
			"role": "agent", "tenant_id": e.a.id}, status: 201},
		{pattern: "GET /api/v1/users", path: "/api/v1/users", status: 200, shows: []string{"new@b.example"}},
		{pattern: "GET /api/v1/users/{id}", path: "/api/v1/users/" + agentA.user.ID, status: 404, code: skjold.ENOTFOUND},
		{pattern: "PATCH /api/v1/users/{id}", path: "/api/v1/users/" + agentA.user.ID, body: map[string]string{"name": "Mallory"},
			status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/users/{id}/suspend", path: "/api/v1/users/" + agentA.user.ID + "/suspend", status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/users/{id}/resume", path: "/api/v1/users/" + agentA.user.ID + "/resume", status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/settings/session", path: "/api/v1/settings/session", status: 200},
		{pattern: "PUT /api/v1/settings/session", path: "/api/v1/settings/session", body: skjold.DefaultSessionSettings(), status: 200},
		{pattern: "GET /api/v1/settings/read-budget", path: "/api/v1/settings/read-budget", status: 200},
		{pattern: "PUT /api/v1/settings/read-budget", path: "/api/v1/settings/read-budget", body: map[string]int{"per_minute": 900, "per_day": 9000}, status: 200},
		{pattern: "GET /api/v1/compliance", path: "/api/v1/compliance", status: 200},
		{pattern: "GET /api/v1/compliance/profile", path: "/api/v1/compliance/profile", status: 200},
		{pattern: "PUT /api/v1/compliance/profile", path: "/api/v1/compliance/profile", body: map[string]int{"max_idle_minutes": 15}, status: 200},
		{pattern: "GET /api/v1/compliance/documents/{kind}", path: "/api/v1/compliance/documents/ropa", status: 200},
		{pattern: "GET /api/v1/compliance/documents/{kind}", path: "/api/v1/compliance/documents/toms?tenant=" + e.a.id, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/compliance/measures", path: "/api/v1/compliance/measures", body: map[string]string{"kind": "policy",
			"description": "B's measure", "date": "2026-11-01"}, status: 201},
		{pattern: "GET /api/v1/compliance/measures", path: "/api/v1/compliance/measures", status: 200, shows: []string{"B's measure"}},
		{pattern: "DELETE /api/v1/compliance/measures/{id}", path: "/api/v1/compliance/measures/" + measureA, status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/maintenance", path: "/api/v1/maintenance", status: 200},
		{pattern: "POST /api/v1/incidents", path: "/api/v1/incidents", body: incidentBody(), status: 201},
		{pattern: "GET /api/v1/incidents", path: "/api/v1/incidents", status: 200, shows: []string{"Leaked token"}},
		{pattern: "GET /api/v1/incidents/{id}", path: "/api/v1/incidents/" + incA, status: 404, code: skjold.ENOTFOUND},
		{pattern: "PATCH /api/v1/incidents/{id}/decision", path: "/api/v1/incidents/" + incA + "/decision",
			body: map[string]any{"notify_authority": false, "notify_subjects": false, "reason": "x"}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/incidents/{id}/timeline", path: "/api/v1/incidents/" + incA + "/timeline", status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/incidents/{id}/timeline", path: "/api/v1/incidents/" + incA + "/timeline",
			body: map[string]string{"text": "x"}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/incidents/{id}/scope", path: "/api/v1/incidents/" + incA + "/scope",
			body: map[string]string{"address": "192.0.2.1", "since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/incidents/{id}/close", path: "/api/v1/incidents/" + incA + "/close", body: map[string]string{"note": "x"},
			status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/incidents/{id}/acknowledge", path: "/api/v1/incidents/" + opInc + "/acknowledge", status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/incidents/{id}/drafts/{kind}", path: "/api/v1/incidents/" + incA + "/drafts/breach-authority", status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/maintenance", path: "/api/v1/maintenance", body: map[string]string{"starts": "2099-01-01T22:00:00Z", "ends": "2099-01-01T23:00:00Z", "note": "x"}, status: 403},
		{pattern: "DELETE /api/v1/maintenance/{id}", path: "/api/v1/maintenance/01900000-0000-7000-8000-000000000000", status: 403},
		// Four eyes are two people: a token neither files nor decides.
		{pattern: "POST /api/v1/approvals", path: "/api/v1/approvals", body: map[string]string{"action": skjold.ActionTwoFactorReset,
			"target": agentA.user.ID}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/approvals", path: "/api/v1/approvals", status: 200},
		{pattern: "POST /api/v1/approvals/{id}/approve", path: "/api/v1/approvals/" + approvalA.ID + "/approve", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/approvals/{id}/reject", path: "/api/v1/approvals/" + approvalA.ID + "/reject", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/grants", path: "/api/v1/grants", body: map[string]any{"user_id": grantee.user.ID, "hours": 1,
			"reason": "ticket 42"}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/grants", path: "/api/v1/grants", status: 200},
		{pattern: "GET /api/v1/register", path: "/api/v1/register", status: 200},
		{pattern: "POST /api/v1/requests", path: "/api/v1/requests", body: map[string]string{"type": "access", "email": "anna@example.com"},
			status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/requests", path: "/api/v1/requests", status: 200},
		{pattern: "GET /api/v1/requests/{id}", path: "/api/v1/requests/" + reqA.ID, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/requests/{id}/verify", path: "/api/v1/requests/" + reqA.ID + "/verify", body: map[string]string{"code": "1"},
			status: 400, code: skjold.EINVALID},
		{pattern: "POST /api/v1/requests/{id}/resend", path: "/api/v1/requests/" + reqA.ID + "/resend", status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/requests/{id}/extend", path: "/api/v1/requests/" + reqA.ID + "/extend",
			body: map[string]any{"months": 1, "reason": "x"}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/requests/{id}/refuse", path: "/api/v1/requests/" + reqA.ID + "/refuse",
			body: map[string]string{"code": "other", "note": "x"}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/requests/{id}/complete", path: "/api/v1/requests/" + reqA.ID + "/complete", body: map[string]any{},
			status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/downloads/{secret}", path: "/api/v1/downloads/skjold_d_" + strings.Repeat("A", 43), status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/settings/privacy", path: "/api/v1/settings/privacy", status: 200},
		{pattern: "PUT /api/v1/settings/privacy", path: "/api/v1/settings/privacy", body: map[string]string{"controller": "Tenant B AS"}, status: 200},
		{pattern: "GET /api/v1/settings/banner", path: "/api/v1/settings/banner", status: 200},
		{pattern: "PUT /api/v1/settings/banner", path: "/api/v1/settings/banner", body: map[string]any{"origins": []string{"https://b.example"}}, status: 200},
		{pattern: "GET /api/v1/consent-receipts", path: "/api/v1/consent-receipts", status: 200, shows: []string{`"items":[]`}},
		{pattern: "DELETE /api/v1/grants/{id}", path: "/api/v1/grants/" + grantA, status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/blocklist", path: "/api/v1/blocklist", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "PUT /api/v1/blocklist", path: "/api/v1/blocklist", body: map[string]string{"text": ""}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/bans", path: "/api/v1/bans", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "DELETE /api/v1/bans/{addr}", path: "/api/v1/bans/192.0.2.1", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "DELETE /api/v1/tokens/{id}", path: "/api/v1/tokens/" + tA.ID, status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/categories", path: "/api/v1/categories", status: 200, shows: []string{`"name":"contact"`}},
		{pattern: "GET /api/v1/categories/{name}", path: "/api/v1/categories/a_private", status: 404, code: skjold.ENOTFOUND},
		// Category names are per tenant: B's PUT makes B's own category, it does not replace A's.
		{pattern: "PUT /api/v1/categories/{name}", path: "/api/v1/categories/a_private", body: bCategory, status: 201},
		{pattern: "GET /api/v1/retention/plan", path: "/api/v1/retention/plan?days=366", status: 200},
		{pattern: "PUT /api/v1/subjects/{id}/relationship", path: "/api/v1/subjects/" + sA.ID + "/relationship",
			body: map[string]string{"state": "ended"}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/subjects", path: "/api/v1/subjects", body: map[string]string{"name": "Minor", "birth_date": "2020-01-01", "guardian_id": sA.ID},
			status: 400, code: skjold.EINVALID},
		{pattern: "GET /api/v1/subjects", path: "/api/v1/subjects", status: 200, shows: []string{sB.ID}},
		{pattern: "GET /api/v1/subjects", path: "/api/v1/subjects?email=anna@example.com", status: 200},
		{pattern: "GET /api/v1/subjects", path: "/api/v1/subjects?ref=A-1", status: 200},
		{pattern: "GET /api/v1/subjects", path: "/api/v1/subjects?phone=004791234567", status: 200},
		{pattern: "GET /api/v1/subjects/{id}", path: "/api/v1/subjects/" + sA.ID + "?purpose=credit_check", status: 404, code: skjold.ENOTFOUND},
		{pattern: "PATCH /api/v1/subjects/{id}", path: "/api/v1/subjects/" + sA.ID, body: map[string]string{"name": "Mallory"}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "PATCH /api/v1/subjects/{id}", path: "/api/v1/subjects/" + sB.ID, body: map[string]string{"guardian_id": sA.ID}, status: 400, code: skjold.EINVALID},
		{pattern: "DELETE /api/v1/subjects/{id}", path: "/api/v1/subjects/" + sA.ID, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/subjects/{id}/records", path: "/api/v1/subjects/" + sA.ID + "/records",
			body: map[string]any{"category": "contact", "data": map[string]string{"city": "X"}}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/subjects/{id}/records", path: "/api/v1/subjects/" + sA.ID + "/records", status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/records/{id}", path: "/api/v1/records/" + rA.ID, status: 404, code: skjold.ENOTFOUND},
		{pattern: "PATCH /api/v1/records/{id}", path: "/api/v1/records/" + rA.ID, body: map[string]any{"data": map[string]any{"city": nil}},
			status: 404, code: skjold.ENOTFOUND},
		{pattern: "DELETE /api/v1/records/{id}", path: "/api/v1/records/" + rA.ID, status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/purposes", path: "/api/v1/purposes", status: 200, shows: []string{`"name":"newsletter"`}},
		{pattern: "GET /api/v1/profiles", path: "/api/v1/profiles", status: 200},
		{pattern: "GET /api/v1/profiles/{name}", path: "/api/v1/profiles/a_private", status: 404, code: skjold.ENOTFOUND},
		{pattern: "DELETE /api/v1/profiles/{name}", path: "/api/v1/profiles/a_private", status: 404, code: skjold.ENOTFOUND},
		// Profile names are per tenant: B's PUT makes B's own profile, it does not replace A's.
		{pattern: "PUT /api/v1/profiles/{name}", path: "/api/v1/profiles/a_private", body: map[string]any{"scopes": []string{"write"}}, status: 201},
		// Purpose names are per tenant: B's PUT makes B's own purpose.
		{pattern: "PUT /api/v1/purposes/{name}", path: "/api/v1/purposes/a_private", body: map[string]string{"legal_basis": "contract"}, status: 201},
		{pattern: "GET /api/v1/subjects/{id}/consents", path: "/api/v1/subjects/" + sA.ID + "/consents", status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/subjects/{id}/consents", path: "/api/v1/subjects/" + sA.ID + "/consents",
			body: map[string]any{"purpose": "newsletter", "granted": false}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "PUT /api/v1/subjects/{id}/restriction", path: "/api/v1/subjects/" + sA.ID + "/restriction", status: 404, code: skjold.ENOTFOUND},
		{pattern: "DELETE /api/v1/subjects/{id}/restriction", path: "/api/v1/subjects/" + sA.ID + "/restriction", status: 404, code: skjold.ENOTFOUND},
		{pattern: "PUT /api/v1/subjects/{id}/objection", path: "/api/v1/subjects/" + sA.ID + "/objection", status: 404, code: skjold.ENOTFOUND},
		{pattern: "DELETE /api/v1/subjects/{id}/objection", path: "/api/v1/subjects/" + sA.ID + "/objection", status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/contact-check", path: "/api/v1/contact-check",
			body: map[string]any{"subject_id": sA.ID, "purpose": "newsletter", "channel": "email", "record": true}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/contact-sms", path: "/api/v1/contact-sms",
			body: map[string]any{"subject_id": sA.ID, "purpose": "newsletter", "text": "B's"}, status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/subjects/{id}/erasure", path: "/api/v1/subjects/" + sA.ID + "/erasure", status: 404, code: skjold.ENOTFOUND},
		{pattern: "POST /api/v1/holds", path: "/api/v1/holds", body: map[string]string{"subject_id": sA.ID, "reason": "B's"},
			status: 400, code: skjold.EINVALID},
		{pattern: "GET /api/v1/holds", path: "/api/v1/holds", status: 200},
		{pattern: "DELETE /api/v1/holds/{id}", path: "/api/v1/holds/" + holdA.ID, status: 404, code: skjold.ENOTFOUND},
		{pattern: "GET /api/v1/erasure-journal", path: "/api/v1/erasure-journal", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/backups", path: "/api/v1/backups", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/backups", path: "/api/v1/backups", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/backups/runs", path: "/api/v1/backups/runs", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/cluster", path: "/api/v1/cluster", status: 403, code: skjold.EFORBIDDEN},
		// Support access is asked for by operator people and decided by the tenant's admins in person.
		{pattern: "POST /api/v1/operator/grant-requests", path: "/api/v1/operator/grant-requests",
			body: map[string]any{"tenant_id": e.a.id, "reason": "x", "hours": 1}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/operator/grant-requests", path: "/api/v1/operator/grant-requests", status: 200},
		{pattern: "POST /api/v1/operator/grant-requests/{id}/approve", path: "/api/v1/operator/grant-requests/" + grantRequestA + "/approve",
			status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/operator/grant-requests/{id}/deny", path: "/api/v1/operator/grant-requests/" + grantRequestA + "/deny",
			body: map[string]string{"reason": "x"}, status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/operator/alerts", path: "/api/v1/operator/alerts", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "PUT /api/v1/operator/alerts", path: "/api/v1/operator/alerts", body: map[string]any{"emails": []string{"b@b.example"}},
			status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/operator/alerts/test", path: "/api/v1/operator/alerts/test", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "POST /api/v1/backups/{id}/verify", path: "/api/v1/backups/20261123T140000Z-1a2b3c4d/verify", status: 403, code: skjold.EFORBIDDEN},
		{pattern: "GET /api/v1/audit", path: "/api/v1/audit?limit=500", status: 200, shows: []string{sB.ID}},
		{pattern: "GET /api/v1/audit", path: "/api/v1/audit?subject_id=" + sA.ID, status: 200},
		{pattern: "GET /api/v1/audit/verify", path: "/api/v1/audit/verify", status: 403, code: skjold.EFORBIDDEN},
		// B's token holds the export scope, and B keeps bulk exports under four eyes.
		{pattern: "GET /api/v1/export", path: "/api/v1/export?format=json", status: 403, code: skjold.EFORBIDDEN},
		// A's ref is B's to use: B's import writes B's own subject, and skips nothing of A's.
		{pattern: "POST /api/v1/import", path: "/api/v1/import", body: map[string]any{"format": "csv",
			"data": base64.StdEncoding.EncodeToString([]byte("subject_id,record_id,created_at,ref\nx,,,A-1\n"))}, status: 200},
	}
	cases = append(cases, dpaCases...)
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.pattern] = true
		method, _, _ := strings.Cut(c.pattern, " ")
		r := e.do(t, e.b.token, method, c.path, c.body)
		if c.code != "" {
			r.wantError(t, c.status, c.code)
		} else {
			r.want(t, c.status)
		}
		for _, s := range secretsOfA {
			if strings.Contains(string(r.body), s) {
				t.Errorf("%s %s: tenant B's answer holds %q of tenant A's: %s", method, c.path, s, r.body)
			}
		}
		for _, s := range c.shows {
			if !strings.Contains(string(r.body), s) {
				t.Errorf("%s %s: tenant B does not see its own %q: %s", method, c.path, s, r.body)
			}
		}
		if strings.Contains(c.path, "email=") || strings.Contains(c.path, "ref=") || strings.Contains(c.path, "phone=") ||
			strings.Contains(c.path, "subject_id=") {
			var list struct{ Items []json.RawMessage }
			if r.decode(t, &list); len(list.Items) != 0 {
				t.Errorf("%s %s: tenant B found %d items", method, c.path, len(list.Items))
			}
		}
	}
	for _, rt := range testRoutes() {
		if !covered[rt.pattern] {
			t.Errorf("route %s is not covered: add a case to TestTenantIsolation", rt.pattern)
		}
	}

	after := e.readTenantA(t, sA.ID, rA.ID)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("tenant A's data changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if after.subject.BirthDate != "1980-05-17" || after.record.Data["address"] != "Storgata 1" || after.category.Description != "Tenant A's own category." {
		t.Errorf("tenant A's data reads back wrong: %+v", after)
	}
	e.do(t, tA.Secret, "GET", "/api/v1/categories", nil).want(t, 200) // A's token still works
}

func TestTenants(t *testing.T) {
	e := newEnv(t)
	var list struct{ Items []skjold.Tenant }
	e.do(t, e.operator, "GET", "/api/v1/tenants", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 2 || list.Items[0].ID > list.Items[1].ID {
		t.Fatalf("tenants %+v", list.Items)
	}
	var got skjold.Tenant
	e.do(t, e.operator, "GET", "/api/v1/tenants/"+e.a.id, nil).want(t, 200).decode(t, &got)
	if got.ID != e.a.id || got.Name != "Tenant A" {
		t.Errorf("tenant A reads back as %+v", got)
	}
	e.do(t, e.operator, "GET", "/api/v1/tenants/00000000-0000-7000-8000-000000000000", nil).wantError(t, 404, skjold.ENOTFOUND)
	for _, body := range []string{`{"name":""}`, `{}`, `{"name":"` + strings.Repeat("x", 201) + `"}`, `{"name":"a\u0000b"}`} {
		e.unchanged(t, func() { e.do(t, e.operator, "POST", "/api/v1/tenants", body).wantError(t, 400, skjold.EINVALID) })
	}
	// A tenant's first token holds every scope and works at once.
	c := e.createTenant(t, "Tenant C")
	e.do(t, c.token, "GET", "/api/v1/categories", nil).want(t, 200)
}
