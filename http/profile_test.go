package http

import (
	"slices"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestProfiles manages custom profiles through the API [B7]: create, list, read, change and
// delete, under the hierarchy that rules roles, kept apart per tenant.
func TestProfiles(t *testing.T) {
	e := newEnv(t)
	reception := map[string]any{"scopes": []string{skjold.ScopeRead, skjold.ScopeWrite}, "purposes": []string{"contract"}}
	var p skjold.Profile
	e.do(t, e.a.token, "PUT", "/api/v1/profiles/reception", reception).want(t, 201).decode(t, &p)
	if p.Name != "reception" || !slices.Equal(p.Scopes, []string{"read", "write"}) || !slices.Equal(p.Purposes, []string{"contract"}) {
		t.Errorf("created profile %+v", p)
	}
	var list struct{ Items []skjold.Profile }
	e.do(t, e.a.token, "GET", "/api/v1/profiles", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "reception" {
		t.Errorf("profiles %+v", list.Items)
	}
	e.do(t, e.a.token, "GET", "/api/v1/profiles/reception", nil).want(t, 200)
	e.do(t, e.b.token, "GET", "/api/v1/profiles/reception", nil).wantError(t, 404, skjold.ENOTFOUND) // tenant B has none
	e.do(t, e.b.token, "DELETE", "/api/v1/profiles/reception", nil).wantError(t, 404, skjold.ENOTFOUND)

	// Nobody gives a scope they lack, a purpose they may not state, or one never registered.
	narrow := e.createToken(t, e.a.token, "narrow", skjold.ScopeAdmin, skjold.ScopeRead)
	for _, c := range []struct {
		token       string
		body        map[string]any
		field, rule string
	}{
		{narrow.Secret, map[string]any{"scopes": []string{skjold.ScopeExport}}, "scopes", "hierarchy"},
		{e.a.token, map[string]any{"scopes": []string{"root"}}, "scopes", "scope"},
		{e.a.token, map[string]any{"scopes": []string{}}, "scopes", "required"},
		{e.a.token, map[string]any{"scopes": []string{"read"}, "purposes": []string{"marketing"}}, "purposes", "registered"},
	} {
		e.unchanged(t, func() {
			wantRefusal(t, e.do(t, c.token, "PUT", "/api/v1/profiles/refused", c.body).wantError(t, 400, skjold.EINVALID), c.field, c.rule)
		})
	}
	e.do(t, e.a.token, "GET", "/api/v1/profiles/refused", nil).wantError(t, 404, skjold.ENOTFOUND)

	// A held profile: raising it waits for four eyes, deleting it is refused, and narrowing it
	// ends its holders' sessions, as a role change does.
	holder := e.activeStaff(t, e.a.id, skjold.RoleCustom, "reception")
	e.do(t, holder.session, "GET", "/api/v1/subjects", nil).want(t, 200)
	raise := map[string]any{"scopes": []string{skjold.ScopeAdmin, skjold.ScopeRead, skjold.ScopeWrite}}
	e.do(t, e.a.token, "PUT", "/api/v1/profiles/reception", raise).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, e.a.token, "DELETE", "/api/v1/profiles/reception", nil).wantError(t, 409, skjold.ECONFLICT)
	e.do(t, e.a.token, "PUT", "/api/v1/profiles/reception", map[string]any{"scopes": []string{skjold.ScopeRead}}).want(t, 200)
	e.do(t, holder.session, "GET", "/api/v1/subjects", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	holder.session = e.freshSession(t, holder)
	e.do(t, holder.session, "POST", "/api/v1/subjects", map[string]string{"name": "x"}).wantError(t, 403, skjold.EFORBIDDEN)

	e.do(t, e.a.token, "PATCH", "/api/v1/users/"+holder.user.ID, map[string]string{"role": skjold.RoleAgent}).want(t, 200)
	e.do(t, e.a.token, "DELETE", "/api/v1/profiles/reception", nil).want(t, 204)
	e.do(t, e.a.token, "GET", "/api/v1/profiles/reception", nil).wantError(t, 404, skjold.ENOTFOUND)
}

// TestStatedPurposes: a read may state only a purpose its tenant registered, and tokens and
// profiles can be limited to the purposes they may state [A2].
func TestStatedPurposes(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Kari", "birth_date": "1985-04-12"})
	path := "/api/v1/subjects/" + sub.ID + "?purpose="

	e.unchanged(t, func() {
		got := e.do(t, e.a.token, "GET", path+"marketing", nil).wantError(t, 400, skjold.EINVALID)
		wantRefusal(t, got, "purpose", "registered")
	})
	e.do(t, e.a.token, "GET", path+"credit_check", nil).want(t, 200)

	var limited skjold.Token
	e.do(t, e.a.token, "POST", "/api/v1/tokens", map[string]any{"name": "sales", "scopes": []string{"read", "admin"},
		"purposes": []string{"contract"}}).want(t, 201).decode(t, &limited)
	if !slices.Equal(limited.Purposes, []string{"contract"}) {
		t.Errorf("token purposes %v", limited.Purposes)
	}
	e.unchanged(t, func() {
		e.do(t, limited.Secret, "GET", path+"credit_check", nil).wantError(t, 403, skjold.EFORBIDDEN)
	})
	e.do(t, limited.Secret, "GET", path+"contract", nil).want(t, 200)
	e.do(t, limited.Secret, "GET", "/api/v1/subjects/"+sub.ID, nil).want(t, 200)

	// A limited maker gives at most its own purposes; nobody gives an unregistered one.
	for _, c := range []struct {
		token    string
		purposes []string
		rule     string
	}{
		{limited.Secret, nil, "hierarchy"},
		{limited.Secret, []string{"credit_check"}, "hierarchy"},
		{e.a.token, []string{"marketing"}, "registered"},
	} {
		got := e.do(t, c.token, "POST", "/api/v1/tokens", map[string]any{"name": "x", "scopes": []string{"read"},
			"purposes": c.purposes}).wantError(t, 400, skjold.EINVALID)
		wantRefusal(t, got, "purposes", c.rule)
	}

	// A custom profile limits its holders the same way.
	e.do(t, e.a.token, "PUT", "/api/v1/profiles/sales", map[string]any{"scopes": []string{"read"},
		"purposes": []string{"contract"}}).want(t, 201)
	seller := e.activeStaff(t, e.a.id, skjold.RoleCustom, "sales")
	e.do(t, seller.session, "GET", path+"credit_check", nil).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, seller.session, "GET", path+"contract", nil).want(t, 200)
}
