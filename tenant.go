package skjold

import (
	"context"
	"time"
)

// Tenant is one of the operator's customers: a controller of personal data with its own
// key, categories, subjects and tokens.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate returns an EINVALID error when the tenant cannot be stored.
func (t *Tenant) Validate() error {
	return checkText("name", t.Name, 1, 200)
}

// TenantService manages tenants. Every method needs an operator caller.
type TenantService interface {
	// CreateTenant stores t with a fresh tenant key and the built-in categories, and returns
	// the tenant's first API token (holding every tenant scope) with its secret.
	// Errors: EINVALID, EFORBIDDEN.
	CreateTenant(ctx context.Context, t *Tenant) (*Token, error)

	// FindTenantByID returns one tenant. Errors: ENOTFOUND, EFORBIDDEN.
	FindTenantByID(ctx context.Context, id string) (*Tenant, error)

	// FindTenants returns tenants ordered by id, after the cursor, at most limit.
	// Errors: EFORBIDDEN.
	FindTenants(ctx context.Context, page Page) ([]*Tenant, error)

	// DestroyTenantKey crypto-shreds the tenant: its wrapped key is erased, so none of its
	// subjects' data can be decrypted again, by anyone. Errors: ENOTFOUND, EFORBIDDEN.
	DestroyTenantKey(ctx context.Context, id string) error
}

// Page selects a slice of an id-ordered list: items with an id after After, at most Limit.
type Page struct {
	After string
	Limit int
}

// Page size limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Normalize fills the default limit and caps it; it returns EINVALID for a malformed cursor.
func (p *Page) Normalize() error {
	if p.Limit == 0 {
		p.Limit = DefaultPageLimit
	}
	if p.Limit < 0 || p.Limit > MaxPageLimit {
		return FieldError("limit", "range", "limit must be between 1 and %d", MaxPageLimit)
	}
	if p.After != "" && !ValidID(p.After) {
		return FieldError("after", "id", "after must be an id")
	}
	return nil
}
