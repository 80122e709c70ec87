package storetest

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestTokens checks the skjold.TokenService: issuing, authenticating, expiring and revoking
// tokens, and that a tenant sees and manages only its own.
func TestTokens(t *testing.T, h Harness) {
	t.Run("CreateAuthenticateRevoke", func(t *testing.T) {
		e := newEnv(t, h)
		tn := e.newTenant("Fjord Travel AS")
		ctx := e.as(tn, "")
		tok := &skjold.Token{TenantID: tn.ID, Name: "booking system", Scopes: []string{skjold.ScopeRead}}
		must(t, e.db.CreateToken(ctx, tok))
		if !skjold.ValidID(tok.ID) || tok.Secret == "" || !tok.CreatedAt.Equal(epoch) {
			t.Fatalf("created token = %+v", tok)
		}
		got, err := e.db.Authenticate(t.Context(), tok.Secret)
		must(t, err)
		if got.ID != tok.ID || got.Name != "booking system" || !slices.Equal(got.Scopes, []string{skjold.ScopeRead}) || got.TenantID != tn.ID {
			t.Errorf("Authenticate = %+v", got)
		}

		list, err := e.db.FindTokens(ctx, skjold.Page{})
		must(t, err)
		if len(list) != 2 {
			t.Fatalf("FindTokens = %d tokens, want the first token and the new one", len(list))
		}
		for _, lt := range list {
			if lt.Secret != "" {
				t.Errorf("FindTokens returned the secret of %s", lt.ID)
			}
		}

		must(t, e.db.RevokeToken(ctx, tok.ID))
		_, err = e.db.Authenticate(t.Context(), tok.Secret)
		wantCode(t, err, skjold.EUNAUTHORIZED)
		wantCode(t, e.db.RevokeToken(ctx, tok.ID), skjold.ENOTFOUND)
		list, err = e.db.FindTokens(ctx, skjold.Page{After: tn.token.ID})
		must(t, err)
		if len(list) != 1 || list[0].ID != tok.ID || list[0].RevokedAt == nil || !list[0].RevokedAt.Equal(epoch) {
			t.Errorf("after revocation, FindTokens after the first token = %+v, want %s revoked at %v", list, tok.ID, epoch)
		}
		if _, err := e.db.Authenticate(t.Context(), tn.token.Secret); err != nil {
			t.Errorf("revoking one token broke another: %v", err)
		}
	})

	t.Run("LastUsed", func(t *testing.T) {
		e := newEnv(t, h)
		tn := e.newTenant("Fjord Travel AS")
		e.clock.Add(time.Hour)
		_, err := e.db.Authenticate(t.Context(), tn.token.Secret)
		must(t, err)
		want := e.clock.Now()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			list, err := e.db.FindTokens(e.as(tn, ""), skjold.Page{})
			must(t, err)
			if u := list[0].LastUsedAt; u != nil && u.Equal(want) {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("last_used_at = %v, want %v", u, want)
			}
		}
	})

	t.Run("NoWiderThanItsMaker", func(t *testing.T) {
		// A caller that may administer but not read cannot mint itself a reading token.
		e := newEnv(t, h)
		tn := e.newTenant("Fjord Travel AS")
		adminOnly := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "user:x", TenantID: tn.ID,
			Scopes: []string{skjold.ScopeAdmin}, Source: "127.0.0.1"})
		wide := &skjold.Token{TenantID: tn.ID, Name: "escalation", Scopes: []string{skjold.ScopeAdmin, skjold.ScopeRead}}
		wantCode(t, e.db.CreateToken(adminOnly, wide), skjold.EINVALID)
		narrow := &skjold.Token{TenantID: tn.ID, Name: "admin script", Scopes: []string{skjold.ScopeAdmin}}
		must(t, e.db.CreateToken(adminOnly, narrow))
	})

	t.Run("RevokedOnAnotherNode", func(t *testing.T) {
		// A token revoked through one node stops working there at once, and on another
		// node sharing the database within a second (what that node may cache).
		e := newEnv(t, h)
		tn := e.newTenant("Fjord Travel AS")
		other := h.Reopen(t, e.db, e.options(e.keys))
		_, err := other.Authenticate(t.Context(), tn.token.Secret)
		must(t, err)
		must(t, e.db.RevokeToken(e.as(tn, ""), tn.token.ID))
		_, err = e.db.Authenticate(t.Context(), tn.token.Secret)
		wantCode(t, err, skjold.EUNAUTHORIZED)
		deadline := time.Now().Add(5 * time.Second) // generous: the bound is one second
		for {
			if _, err = other.Authenticate(t.Context(), tn.token.Secret); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the other node still accepts the revoked token after 5 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		wantCode(t, err, skjold.EUNAUTHORIZED)
	})

	t.Run("SecretNotStored", func(t *testing.T) {
		e := newEnv(t, h)
		tn := e.newTenant("Fjord Travel AS")
		raw := e.raw()
		rows, err := raw.Query("SELECT hash FROM tokens")
		must(t, err)
		defer rows.Close()
		for rows.Next() {
			var hash []byte
			must(t, rows.Scan(&hash))
			if bytes.Contains(hash, []byte(tn.token.Secret)) || len(hash) != 32 {
				t.Errorf("stored token hash %x is not a 32-byte hash of the secret", hash)
			}
		}
		must(t, rows.Err())
		e.noPlaintext(t, tn.token.Secret)
	})

	t.Run("Expiry", func(t *testing.T) {
		e := newEnv(t, h)
		tn := e.newTenant("Fjord Travel AS")
		expires := epoch.Add(time.Hour)
		tok := &skjold.Token{TenantID: tn.ID, Name: "temporary", Scopes: []string{skjold.ScopeRead}, ExpiresAt: &expires}
		must(t, e.db.CreateToken(e.as(tn, ""), tok))
		got, err := e.db.Authenticate(t.Context(), tok.Secret)
		must(t, err)
		if got.ExpiresAt == nil || !got.ExpiresAt.Equal(expires) {
			t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, expires)
		}
		e.clock.Add(59 * time.Minute)
		if _, err := e.db.Authenticate(t.Context(), tok.Secret); err != nil {
			t.Errorf("a minute before expiry: %v", err)
		}
		e.clock.Add(time.Minute)
		_, err = e.db.Authenticate(t.Context(), tok.Secret)
		wantCode(t, err, skjold.EUNAUTHORIZED)
		e.clock.Add(24 * time.Hour)
		_, err = e.db.Authenticate(t.Context(), tok.Secret)
		wantCode(t, err, skjold.EUNAUTHORIZED)
		if _, err := e.db.Authenticate(t.Context(), tn.token.Secret); err != nil {
			t.Errorf("a token without expiry expired: %v", err)
		}
	})

	t.Run("MalformedSecrets", func(t *testing.T) {
		e := newEnv(t, h)
		tn := e.newTenant("Fjord Travel AS")
		s := tn.token.Secret
		flipped := []byte(s)
		flipped[len(flipped)-1] ^= 1
		for _, secret := range []string{
			"", " ", "skjold_t_", "skjold_o_", "Bearer " + s, s + "x", s[:len(s)-1], " " + s, strings.ToUpper(s),
			string(flipped), "skjold_x_" + s[len("skjold_t_"):], "skjold_o_" + s[len("skjold_t_"):],
			"skjold_t_" + strings.Repeat("A", 43), "skjold_t_" + strings.Repeat("\xff", 43), "' OR 1=1 --",
		} {
			if _, err := e.db.Authenticate(t.Context(), secret); skjold.ErrorCode(err) != skjold.EUNAUTHORIZED {
				t.Errorf("Authenticate(%q) error = %v, want %s", secret, err, skjold.EUNAUTHORIZED)
			}
		}
	})

	t.Run("OtherTenants", func(t *testing.T) {
		e := newEnv(t, h)
		a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
		ctxA := e.as(a, "")
		wantCode(t, e.db.CreateToken(ctxA, &skjold.Token{TenantID: b.ID, Name: "x", Scopes: skjold.AllScopes}), skjold.EFORBIDDEN)
		wantCode(t, e.db.CreateToken(ctxA, &skjold.Token{Operator: true, Name: "x"}), skjold.EFORBIDDEN)
		list, err := e.db.FindTokens(ctxA, skjold.Page{})
		must(t, err)
		for _, tok := range list {
			if tok.TenantID != a.ID {
				t.Errorf("tenant A sees token %s of tenant %q", tok.ID, tok.TenantID)
			}
		}
		if len(list) != 1 {
			t.Errorf("tenant A sees %d tokens, want its own one", len(list))
		}
		wantCode(t, e.db.RevokeToken(ctxA, b.token.ID), skjold.ENOTFOUND)
		if _, err := e.db.Authenticate(t.Context(), b.token.Secret); err != nil {
			t.Errorf("tenant A revoked tenant B's token: %v", err)
		}
	})

	t.Run("Operator", func(t *testing.T) {
		e := newEnv(t, h)
		a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
		manager := e.operatorAs(skjold.OperatorTokenScopes...)
		op := &skjold.Token{Operator: true, Name: "ops", Scopes: []string{skjold.ScopeOperatorRead}}
		must(t, e.db.CreateToken(manager, op))
		got, err := e.db.Authenticate(t.Context(), op.Secret)
		must(t, err)
		if !got.Operator || got.TenantID != "" || !slices.Equal(got.Scopes, []string{skjold.ScopeOperatorRead}) {
			t.Errorf("operator token authenticates as %+v, want operator.read only", got)
		}
		if strings.HasPrefix(op.Secret, a.token.Secret[:9]) {
			t.Errorf("operator and tenant secrets share the prefix %q", a.token.Secret[:9])
		}
		n, err := e.db.CountOperatorTokens(t.Context())
		must(t, err)
		if n != 1 {
			t.Errorf("CountOperatorTokens = %d, want 1", n)
		}
		list, err := e.db.FindTokens(manager, skjold.Page{})
		must(t, err)
		var ids []string
		for _, tok := range list {
			ids = append(ids, tok.ID)
		}
		if !sameSet(ids, []string{a.token.ID, b.token.ID, op.ID}) {
			t.Errorf("operator sees tokens %v, want both tenants' and its own", ids)
		}
		// An operator never makes a tenant's token after the tenant's creation: it would read
		// the tenant's personal data without a support grant [A7]. Nor does it give a token
		// more than it holds, or staff management, which needs a person.
		wantCode(t, e.db.CreateToken(manager, &skjold.Token{TenantID: b.ID, Name: "support", Scopes: []string{skjold.ScopeRead}}),
			skjold.EFORBIDDEN)
		reader := e.operatorAs(skjold.ScopeOperatorRead)
		wantCode(t, e.db.CreateToken(reader, &skjold.Token{Operator: true, Name: "up", Scopes: []string{skjold.ScopeOperatorManage}}),
			skjold.EINVALID)
		owner := e.operatorAs(skjold.RoleScopes(true, skjold.RoleOwner)...)
		wantCode(t, e.db.CreateToken(owner, &skjold.Token{Operator: true, Name: "staff", Scopes: []string{skjold.ScopeOperatorStaff}}),
			skjold.EINVALID)
		// The command line on the server's host (data directory and master key) may: break glass.
		local := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "cli", Operator: true, Source: "local", Local: true})
		must(t, e.db.CreateToken(local, &skjold.Token{TenantID: b.ID, Name: "break-glass", Scopes: []string{skjold.ScopeAudit}}))
		// An operator may revoke any token (an incident), which reads nothing.
		must(t, e.db.RevokeToken(manager, a.token.ID))
		_, err = e.db.Authenticate(t.Context(), a.token.Secret)
		wantCode(t, err, skjold.EUNAUTHORIZED)
		must(t, e.db.RevokeToken(manager, op.ID))
		if n, _ := e.db.CountOperatorTokens(t.Context()); n != 0 {
			t.Errorf("CountOperatorTokens after revocation = %d, want 0", n)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		e := newEnv(t, h)
		tn := e.newTenant("Tenant A")
		for _, tok := range []*skjold.Token{
			{TenantID: tn.ID, Scopes: skjold.AllScopes},
			{TenantID: tn.ID, Name: strings.Repeat("n", 101), Scopes: skjold.AllScopes},
			{TenantID: tn.ID, Name: "x", Scopes: []string{"root"}},
			{TenantID: tn.ID, Name: "x"},
			{Operator: true, Name: "x", Scopes: []string{skjold.ScopeRead}},
			{Operator: true, TenantID: tn.ID, Name: "x"},
			{Name: "x", Scopes: skjold.AllScopes},
		} {
			wantCode(t, e.db.CreateToken(e.local, tok), skjold.EINVALID)
		}
		unknown := &skjold.Token{TenantID: "0193d6a4-0000-7000-8000-000000000000", Name: "x", Scopes: skjold.AllScopes}
		wantCode(t, e.db.CreateToken(e.local, unknown), skjold.ENOTFOUND)
		wantCode(t, e.db.CreateToken(t.Context(), &skjold.Token{Operator: true, Name: "x"}), skjold.EUNAUTHORIZED)
		_, err := e.db.FindTokens(t.Context(), skjold.Page{})
		wantCode(t, err, skjold.EUNAUTHORIZED)
		wantCode(t, e.db.RevokeToken(t.Context(), tn.token.ID), skjold.EUNAUTHORIZED)
		wantCode(t, e.db.RevokeToken(e.op, "not-an-id"), skjold.ENOTFOUND)
		list, err := e.db.FindTokens(e.op, skjold.Page{})
		must(t, err)
		if len(list) != 1 {
			t.Errorf("%d tokens after refused creations, want the first one only", len(list))
		}
	})
}

// operatorAs returns a context whose caller is an operator holding scopes.
func (e *env) operatorAs(scopes ...string) context.Context {
	return skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{Actor: "test", Operator: true, Source: "127.0.0.1",
		Scopes: scopes})
}
