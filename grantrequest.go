package skjold

import (
	"context"
	"time"
)

// GrantRequestLifetime is how long a support grant request waits for a tenant's decision.
const GrantRequestLifetime = 24 * time.Hour

// Grant request states. A pending request past its ExpiresAt reads as expired.
const (
	GrantRequestPending  = "pending"
	GrantRequestApproved = "approved"
	GrantRequestDenied   = "denied"
	GrantRequestExpired  = "expired"
)

// GrantRequest is an operator staff member's request to a tenant for a support grant: the
// tenant's admins approve it (which creates the Grant) or deny it with a reason.
type GrantRequest struct {
	ID          string     `json:"id"`
	TenantID    string     `json:"tenant_id"`
	UserID      string     `json:"user_id"` // the operator staff member who asks
	Reason      string     `json:"reason"`
	Hours       int        `json:"hours"`
	Status      string     `json:"status"`
	GrantID     string     `json:"grant_id,omitempty"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DenyReason  string     `json:"deny_reason,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	TenantName  string     `json:"tenant_name,omitempty"`  // for the requester's list
	RequestedBy string     `json:"requested_by,omitempty"` // the requester's name, for the tenant's list
}

// GrantRequestService lets operator staff ask tenants for support access.
type GrantRequestService interface {
	// RequestGrant files r (TenantID, Reason, Hours) for the calling operator staff member
	// and e-mails the tenant's admins in their languages; it sets the id, status and times.
	// Errors: EFORBIDDEN unless an operator person; EINVALID (reason, hours above the
	// tenant's support_max_hours); ENOTFOUND (tenant); ECONFLICT when the tenant is not
	// active or the person already has a pending request there.
	RequestGrant(ctx context.Context, r *GrantRequest) error

	// FindGrantRequests lists, newest first, the operator person's own requests, or the
	// caller's tenant's (for its admins). Errors: EFORBIDDEN.
	FindGrantRequests(ctx context.Context) ([]*GrantRequest, error)

	// ApproveGrantRequest creates the grant a pending request asks for, by the rules of
	// ApprovalService.CreateGrant, and returns it. Errors: EFORBIDDEN unless a tenant admin
	// in person; ENOTFOUND; ECONFLICT when the request is decided or expired; EINVALID when
	// the hours are now above the tenant's maximum.
	ApproveGrantRequest(ctx context.Context, id string) (*Grant, error)

	// DenyGrantRequest refuses a pending request with a reason the requester sees. Errors as
	// ApproveGrantRequest; EINVALID for the reason.
	DenyGrantRequest(ctx context.Context, id, reason string) error
}
