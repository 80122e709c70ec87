package skjold

import (
	"context"
	"time"
)

// Tenant is one of the operator's customers: a controller of personal data with its own
// key, categories, subjects and tokens.
type Tenant struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`                 // active, frozen or terminated
	FrozenUntil *time.Time `json:"frozen_until,omitempty"` // frozen: the agreed end of the freeze
	CreatedAt   time.Time  `json:"created_at"`
}

// Tenant lifecycle states [D5]: an active tenant works; a frozen one is refused every
// login and API call while its data is kept; a terminated one has no data left.
const (
	TenantActive     = "active"
	TenantFrozen     = "frozen"
	TenantTerminated = "terminated"
)

// DeletionCertificate is what a terminated tenant leaves for the operator: what was
// deleted, when, and a SHA-256 over the certificate's other fields (Body).
type DeletionCertificate struct {
	TenantID string           `json:"tenant_id"`
	Time     time.Time        `json:"time"`
	Deleted  map[string]int64 `json:"deleted"` // table → rows deleted
	KeyID    string           `json:"key_id"`  // the master key that wrapped the destroyed tenant key
	Hash     string           `json:"hash"`    // hex SHA-256 of the certificate without Hash

	// OverriddenHolds names the legal holds in force that the deletion overrode, as its
	// approval allowed (override_holds); none for a tenant without holds.
	OverriddenHolds []OverriddenHold `json:"overridden_holds,omitempty"`
}

// OverriddenHold is a legal hold a tenant deletion destroyed what it kept of: the hold's id,
// the subject it was on ("" for the whole tenant), its category ("" for all) and reason.
type OverriddenHold struct {
	ID        string `json:"id"`
	SubjectID string `json:"subject_id,omitempty"`
	Category  string `json:"category,omitempty"`
	Reason    string `json:"reason"`
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

	// ReactivateTenant ends a tenant's freeze. Errors: ENOTFOUND, ECONFLICT (not frozen),
	// EFORBIDDEN.
	ReactivateTenant(ctx context.Context, id string) (*Tenant, error)

	// FindDeletionCertificate returns a terminated tenant's certificate.
	// Errors: ENOTFOUND, EFORBIDDEN.
	FindDeletionCertificate(ctx context.Context, id string) (*DeletionCertificate, error)
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
