package skjold

import (
	"context"
	"slices"
	"time"
)

// Sensitive actions that can need a second person's approval [B14]. Tenant deletion (crypto-
// shredding a tenant) is only ever done through an approval. Bulk export and restore are
// listed so that settings can name them now; their flows route through RequestApproval as
// they are built.
const (
	ActionRoleElevation  = "role_elevation"   // raising a user's rank in the hierarchy
	ActionTwoFactorReset = "two_factor_reset" // removing another user's second factor
	ActionTenantDeletion = "tenant_deletion"  // crypto-shredding a whole tenant
	ActionTenantFreeze   = "tenant_freeze"    // refusing a tenant's every login and call, data kept
	ActionBulkExport     = "bulk_export"
	ActionRestore        = "restore"
	// ActionFourEyesReduction takes one action (the approval's target) out of the four-eyes
	// list. It always takes a second person, or one owner could switch four eyes off and then
	// act alone.
	ActionFourEyesReduction = "four_eyes_reduction"
)

// SensitiveActions lists every action that can be put under four-eyes control.
var SensitiveActions = []string{ActionBulkExport, ActionRestore, ActionRoleElevation, ActionTenantDeletion, ActionTwoFactorReset}

// DefaultFourEyes is the list of actions that wait for approval when a tenant (or the
// operator) has set none: all of them, as the promises say.
func DefaultFourEyes() []string { return slices.Clone(SensitiveActions) }

// ApprovalLifetime is how long a request waits for its second person before it lapses.
const ApprovalLifetime = 72 * time.Hour

// Approval statuses.
const (
	ApprovalPending  = "pending"
	ApprovalApproved = "approved" // approved and carried out
	ApprovalRejected = "rejected"
)

// Approval is a sensitive action waiting for, or decided by, a second authorised person.
// Nobody approves their own request.
type Approval struct {
	ID          string     `json:"id"`
	TenantID    string     `json:"tenant_id,omitempty"`
	Action      string     `json:"action"`
	Target      string     `json:"target"`            // the object acted on: a user or tenant id
	Role        string     `json:"role,omitempty"`    // role elevation: the new role
	Profile     string     `json:"profile,omitempty"` // role elevation: the new custom profile
	Until       *time.Time `json:"until,omitempty"`   // tenant freeze: the agreed end of the freeze
	Status      string     `json:"status"`
	RequestedBy string     `json:"requested_by"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`

	// OverrideHolds lets a tenant deletion go ahead while legal holds of the tenant are in
	// force; without it the deletion is refused, naming them. Set when the deletion is filed.
	OverrideHolds bool `json:"override_holds,omitempty"`
}

// Grant is a tenant's time-limited permission for one operator staff member to read its
// personal data, for support [A7, B13]. Every read through it is audited under the grant.
type Grant struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id"`
	UserID    string     `json:"user_id"` // the operator staff member
	Reason    string     `json:"reason"`
	GrantedBy string     `json:"granted_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// ApprovalService runs the four-eyes flow and the support grants.
type ApprovalService interface {
	// RequestApproval files a sensitive action for a second person: a role elevation (the
	// target user's new role and profile), a second-factor reset (the target user enrols
	// again at the next login; this always takes four eyes [B6]), or, for operator staff, a
	// tenant deletion (the target tenant's key is destroyed). It sets the id, status,
	// requester and times. A tenant deletion while legal holds of the tenant are in force is
	// refused with ECONFLICT naming them, unless OverrideHolds is set.
	// Errors: EINVALID, ENOTFOUND (target), EFORBIDDEN, ECONFLICT.
	RequestApproval(ctx context.Context, a *Approval) error

	// FindApprovals lists the approvals of the caller's tenant (the operator's, for operator
	// callers), ordered by id, oldest first. Errors: EFORBIDDEN.
	FindApprovals(ctx context.Context, page Page) ([]*Approval, error)

	// DecideApproval approves (and carries out) or rejects a pending approval. The caller
	// must be another person than the requester, allowed to do the action itself. A tenant
	// deletion is checked for legal holds again, as when it was filed.
	// Errors: ENOTFOUND, EFORBIDDEN (own request, or not allowed), ECONFLICT (decided, lapsed,
	// or legal holds in force without OverrideHolds).
	DecideApproval(ctx context.Context, id string, approve bool) (*Approval, error)

	// CreateGrant lets one operator staff member read the caller's tenant's personal data
	// for hours (at most the tenant's maximum). Errors: EINVALID, ENOTFOUND (user).
	CreateGrant(ctx context.Context, g *Grant, hours int) error

	// FindGrants lists the grants of the caller's tenant, or the operator user's own.
	FindGrants(ctx context.Context) ([]*Grant, error)

	// RevokeGrant ends a grant at once. Errors: ENOTFOUND.
	RevokeGrant(ctx context.Context, id string) error

	// ActiveGrant returns the live grant of operator user userID in tenantID, when the
	// caller's address is within the tenant's allowed networks. Errors: EFORBIDDEN when
	// there is none, or the address is outside.
	ActiveGrant(ctx context.Context, tenantID, userID string) (*Grant, error)
}
