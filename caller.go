package skjold

import (
	"context"
	"slices"
)

// Token scopes. A route declares the scope it needs; a token carries the scopes it was given.
const (
	ScopeRead   = "read"   // read subjects, records and categories
	ScopeWrite  = "write"  // create, change and delete subjects and records
	ScopeAdmin  = "admin"  // change categories and settings, manage the tenant's users and tokens
	ScopeAudit  = "audit"  // read the tenant's audit events
	ScopeExport = "export" // bulk reads and exports of the tenant's data [B16]
)

// AllScopes lists every scope a tenant token or profile can hold.
var AllScopes = []string{ScopeAdmin, ScopeAudit, ScopeExport, ScopeRead, ScopeWrite}

// Caller is who is acting, from where and why. It travels in the context so that every store
// method can scope its queries to the caller's tenant and write the audit event itself.
type Caller struct {
	Actor     string   // audit identity, e.g. "token:0193…", "user:0193…" or "cli"
	TenantID  string   // the tenant the caller acts in; "" for operator callers
	Operator  bool     // an operator (the business running Skjold), not a tenant
	Scopes    []string // what the caller may do: tenant scopes, or operator scopes
	Source    string   // client address, for the audit
	Purpose   string   // the purpose the caller stated for this request, if any
	Purposes  []string // the purposes the caller may state (its token's or profile's); nil: any registered
	UserID    string   // the logged-in user, if the caller is a person ("" for tokens)
	Role      string   // the user's role, for the access-rights hierarchy
	SessionID string   // the session the user acts through, if any
	// Local marks a command run on the server's own host with the data directory and the
	// master key (skjold token create …): the break-glass path, which may do what no API
	// caller may, such as make a tenant token after the tenant's creation. Whoever can run it
	// can read everything anyway; it is audited as actor "cli".
	Local bool
}

// Can reports whether the caller holds scope. Tenant and operator scopes have distinct
// names, so an operator caller never holds a tenant scope.
func (c *Caller) Can(scope string) bool {
	return c != nil && slices.Contains(c.Scopes, scope)
}

type callerKey struct{}

// NewContextWithCaller returns a copy of ctx that carries c.
func NewContextWithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller stored in ctx, or nil.
func CallerFromContext(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// TenantCaller returns the caller of ctx when it acts within a tenant, and an
// EUNAUTHORIZED or EFORBIDDEN error otherwise.
func TenantCaller(ctx context.Context) (*Caller, error) {
	c := CallerFromContext(ctx)
	switch {
	case c == nil:
		return nil, Errorf(EUNAUTHORIZED, "authentication required")
	case c.Operator || c.TenantID == "":
		return nil, Errorf(EFORBIDDEN, "this action needs a tenant token")
	}
	return c, nil
}

// OperatorCaller returns the caller of ctx when it is an operator, and an
// EUNAUTHORIZED or EFORBIDDEN error otherwise.
func OperatorCaller(ctx context.Context) (*Caller, error) {
	c := CallerFromContext(ctx)
	switch {
	case c == nil:
		return nil, Errorf(EUNAUTHORIZED, "authentication required")
	case !c.Operator:
		return nil, Errorf(EFORBIDDEN, "this action needs an operator token")
	}
	return c, nil
}
