package skjold

import (
	"context"
	"slices"
	"time"
)

// Token is a bearer API token. Its secret is random, shown once at creation and stored only as
// a hash. A tenant token acts within one tenant with its scopes; an operator token holds
// operator scopes (operator.read, operator.manage; never operator.staff) and reads no personal
// data.
type Token struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id,omitempty"`
	Operator  bool       `json:"operator"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	Purposes  []string   `json:"purposes,omitempty"` // the purposes it may state [A2]; empty: any registered
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// LastUsedAt is when the token last authenticated, to within a minute.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`

	// Secret is set only on the value returned by CreateToken.
	Secret string `json:"secret,omitempty"`
}

// Validate returns an EINVALID error when the token cannot be stored.
func (t *Token) Validate() error {
	if err := checkText("name", t.Name, 1, 100); err != nil {
		return err
	}
	if t.Operator != (t.TenantID == "") {
		return FieldError("tenant_id", "required", "a token belongs to exactly one tenant, or is an operator token")
	}
	known := AllScopes
	if t.Operator {
		known = OperatorTokenScopes
		if slices.Contains(t.Scopes, ScopeOperatorStaff) {
			return FieldError("scopes", "operator", "operator.staff needs a person who logged in with two factors, not a token")
		}
	}
	for _, s := range t.Scopes {
		if !slices.Contains(known, s) {
			return FieldError("scopes", "scope", "unknown scope; known scopes are %v", known)
		}
	}
	if len(t.Scopes) == 0 {
		return FieldError("scopes", "required", "a token needs at least one scope")
	}
	if t.Operator && len(t.Purposes) > 0 {
		return FieldError("purposes", "operator", "operator tokens state no purposes: they read no personal data")
	}
	return ValidPurposes(t.Purposes)
}

// TokenService issues, authenticates and revokes API tokens.
type TokenService interface {
	// CreateToken stores t and sets t.ID, t.CreatedAt and t.Secret, with at most the scopes
	// its maker holds. A tenant caller with the admin scope may create tokens of its own
	// tenant; an operator caller only operator tokens (a tenant's first token comes with
	// CreateTenant [A7]); a Local caller any. Errors: EINVALID, ENOTFOUND (tenant), EFORBIDDEN.
	CreateToken(ctx context.Context, t *Token) error

	// Authenticate returns the live token whose secret this is. It needs no caller.
	// Errors: EUNAUTHORIZED when the secret is unknown, revoked or expired.
	Authenticate(ctx context.Context, secret string) (*Token, error)

	// FindTokens returns the tokens visible to the caller (its tenant's, or every token for
	// an operator), without secrets. Errors: EFORBIDDEN.
	FindTokens(ctx context.Context, page Page) ([]*Token, error)

	// RevokeToken revokes a token at once. Errors: ENOTFOUND, EFORBIDDEN.
	RevokeToken(ctx context.Context, id string) error
}
