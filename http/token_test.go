package http

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

func TestTokenCreate(t *testing.T) {
	e := newEnv(t)
	tok := e.createToken(t, e.a.token, "reader", "read")
	if !strings.HasPrefix(tok.Secret, "skjold_t_") || tok.TenantID != e.a.id || tok.Operator || tok.ExpiresAt != nil {
		t.Errorf("token %+v", tok)
	}
	e.do(t, tok.Secret, "GET", "/api/v1/categories", nil).want(t, 200)
	e.do(t, tok.Secret, "POST", "/api/v1/subjects", map[string]string{"name": "x"}).wantError(t, 403, skjold.EFORBIDDEN)

	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var expiring skjold.Token
	e.do(t, e.a.token, "POST", "/api/v1/tokens", map[string]any{"name": "soon", "scopes": []string{"read"}, "expires_at": future}).
		want(t, 201).decode(t, &expiring)
	if expiring.ExpiresAt == nil || expiring.ExpiresAt.Format(time.RFC3339) != future {
		t.Errorf("expires_at %v, want %s", expiring.ExpiresAt, future)
	}

	var op skjold.Token
	e.do(t, e.operator, "POST", "/api/v1/tokens", map[string]any{"name": "ops", "operator": true,
		"scopes": []string{skjold.ScopeOperatorRead}}).want(t, 201).decode(t, &op)
	if !strings.HasPrefix(op.Secret, "skjold_o_") || !op.Operator || op.TenantID != "" ||
		!slices.Equal(op.Scopes, []string{skjold.ScopeOperatorRead}) {
		t.Errorf("operator token %+v", op)
	}
	e.do(t, op.Secret, "GET", "/api/v1/tenants", nil).want(t, 200)
	e.do(t, op.Secret, "POST", "/api/v1/tenants", map[string]string{"name": "C"}).wantError(t, 403, skjold.EFORBIDDEN)

	for _, c := range []struct {
		name        string
		token       string
		body        string
		status      int
		code        string
		field, rule string
	}{
		{"tenant makes an operator token", e.a.token, `{"name":"x","operator":true}`, 403, skjold.EFORBIDDEN, "", ""},
		{"tenant makes another tenant's token", e.a.token, `{"name":"x","scopes":["read"],"tenant_id":"` + e.b.id + `"}`, 403, skjold.EFORBIDDEN, "", ""},
		{"no name", e.a.token, `{"scopes":["read"]}`, 400, skjold.EINVALID, "name", "required"},
		{"no scopes", e.a.token, `{"name":"x"}`, 400, skjold.EINVALID, "scopes", "required"},
		{"unknown scope", e.a.token, `{"name":"x","scopes":["root"]}`, 400, skjold.EINVALID, "scopes", "scope"},
		{"expired", e.a.token, `{"name":"x","scopes":["read"],"expires_at":"2001-01-01T00:00:00Z"}`, 400, skjold.EINVALID, "expires_at", "past"},
		{"not a time", e.a.token, `{"name":"x","scopes":["read"],"expires_at":"tomorrow"}`, 400, skjold.EINVALID, "expires_at", "datetime"},
		{"operator token with tenant scopes", e.operator, `{"name":"x","operator":true,"scopes":["read"]}`, 400, skjold.EINVALID, "scopes", "scope"},
		{"operator token without scopes", e.operator, `{"name":"x","operator":true}`, 400, skjold.EINVALID, "scopes", "required"},
		{"operator token with staff management", e.operator, `{"name":"x","operator":true,"scopes":["operator.staff"]}`, 400, skjold.EINVALID, "scopes", "operator"},
		{"operator names no tenant", e.operator, `{"name":"x","scopes":["read"]}`, 403, skjold.EFORBIDDEN, "", ""},
		// Operators reach a tenant's personal data only under a support grant [A7].
		{"operator makes a tenant's token", e.operator, `{"name":"x","scopes":["read"],"tenant_id":"` + e.a.id + `"}`, 403, skjold.EFORBIDDEN, "", ""},
		{"operator makes a missing tenant's token", e.operator, `{"name":"x","scopes":["read"],"tenant_id":"00000000-0000-7000-8000-000000000000"}`, 403, skjold.EFORBIDDEN, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.unchanged(t, func() {
				got := e.do(t, c.token, "POST", "/api/v1/tokens", c.body).wantError(t, c.status, c.code)
				if c.field != "" {
					wantRefusal(t, got, c.field, c.rule)
				}
			})
		})
	}
}

func TestTokenListAndRevoke(t *testing.T) {
	e := newEnv(t)
	tok := e.createToken(t, e.a.token, "reader", "read")
	var list struct{ Items []skjold.Token }
	r := e.do(t, e.a.token, "GET", "/api/v1/tokens", nil).want(t, 200)
	if r.decode(t, &list); len(list.Items) != 2 || strings.Contains(string(r.body), "skjold_t_") {
		t.Errorf("tenant A's tokens: %s", r.body)
	}
	if n := e.count(t, e.operator, "/api/v1/tokens"); n != 4 { // the operator's, A's two, B's
		t.Errorf("the operator sees %d tokens", n)
	}
	var opTokens struct{ Items []skjold.Token }
	e.do(t, e.operator, "GET", "/api/v1/tokens", nil).want(t, 200).decode(t, &opTokens)
	for _, ot := range opTokens.Items {
		if ot.Operator {
			e.do(t, e.a.token, "DELETE", "/api/v1/tokens/"+ot.ID, nil).wantError(t, 404, skjold.ENOTFOUND)
		}
	}
	e.do(t, e.a.token, "DELETE", "/api/v1/tokens/"+tok.ID, nil).want(t, 204)
	e.do(t, tok.Secret, "GET", "/api/v1/categories", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.do(t, e.a.token, "DELETE", "/api/v1/tokens/"+tok.ID, nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, e.a.token, "GET", "/api/v1/tokens", nil).want(t, 200).decode(t, &list)
	for _, lt := range list.Items {
		if lt.ID == tok.ID && lt.RevokedAt == nil {
			t.Errorf("revoked token listed without revoked_at: %+v", lt)
		}
	}
	// An operator may revoke any token.
	b2 := e.createToken(t, e.b.token, "b2", "read")
	e.do(t, e.operator, "DELETE", "/api/v1/tokens/"+b2.ID, nil).want(t, 204)
	e.do(t, b2.Secret, "GET", "/api/v1/categories", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
}

// TestOperatorMakesNoTenantTokens: neither an operator token nor an operator owner who logged in
// with two factors can give themselves a tenant's token, and so read its subjects, after the
// tenant was created: the tenant's first token comes with the tenant, and the rest are made
// by the tenant's own admins and tokens [A7]. An operator token holds the scopes it was given.
func TestOperatorMakesNoTenantTokens(t *testing.T) {
	e := newEnv(t)
	e.createSubject(t, e.a.token, map[string]string{"name": "Astrid Secret", "ref": "A-1"})
	owner := e.activeStaff(t, "", skjold.RoleOwner, "")
	for _, secret := range []string{e.operator, owner.session} {
		e.unchanged(t, func() {
			e.do(t, secret, "POST", "/api/v1/tokens", map[string]any{"name": "mine", "tenant_id": e.a.id,
				"scopes": skjold.AllScopes}).wantError(t, 403, skjold.EFORBIDDEN)
		})
		e.do(t, secret, "GET", "/api/v1/subjects", nil).wantError(t, 403, skjold.EFORBIDDEN)
	}
	// The only way in for an operator token: a new tenant, with its own first token.
	var created struct{ Token skjold.Token }
	e.do(t, e.operator, "POST", "/api/v1/tenants", map[string]string{"name": "Tenant C"}).want(t, 201).decode(t, &created)
	if created.Token.TenantID == "" || created.Token.TenantID == e.a.id {
		t.Errorf("tenant creation gave token %+v", created.Token)
	}
}
