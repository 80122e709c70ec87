package skjold

import (
	"context"
	"slices"
	"strings"
)

// Roles [B7]. Operator staff have owner, admin or support; tenant staff have owner, admin,
// agent or auditor, or a custom profile (a named set of scopes) of their tenant.
const (
	RoleOwner   = "owner"
	RoleAdmin   = "admin"
	RoleSupport = "support" // operator only
	RoleAgent   = "agent"   // tenant only
	RoleAuditor = "auditor" // tenant only: read-only
	RoleCustom  = "custom"  // tenant only: the scopes of the user's profile
)

// Operator scopes. Operator callers hold these instead of tenant scopes; none of them reads
// a tenant's personal data (that takes a support grant from the tenant [A7]).
const (
	ScopeOperatorRead   = "operator.read"   // see tenants, metrics, the audit chain's state
	ScopeOperatorManage = "operator.manage" // create tenants, tokens, settings, block lists
	ScopeOperatorStaff  = "operator.staff"  // manage operator staff accounts
)

var roleScopes = map[bool]map[string][]string{
	true: { // operator
		RoleOwner:   {ScopeOperatorManage, ScopeOperatorRead, ScopeOperatorStaff},
		RoleAdmin:   {ScopeOperatorManage, ScopeOperatorRead, ScopeOperatorStaff},
		RoleSupport: {ScopeOperatorRead},
	},
	false: { // tenant
		RoleOwner:   {ScopeAdmin, ScopeAudit, ScopeExport, ScopeRead, ScopeWrite},
		RoleAdmin:   {ScopeAdmin, ScopeAudit, ScopeExport, ScopeRead, ScopeWrite},
		RoleAgent:   {ScopeRead, ScopeWrite},
		RoleAuditor: {ScopeAudit, ScopeRead},
	},
}

// OperatorTokenScopes are the scopes an operator API token may hold: an operator admin's,
// less staff management, which needs a person who logged in with two factors.
var OperatorTokenScopes = []string{ScopeOperatorManage, ScopeOperatorRead}

// RoleScopes returns the scopes of a predefined role, or nil when the role does not exist
// for that kind of user (RoleCustom's scopes come from the profile).
func RoleScopes(operator bool, role string) []string {
	return slices.Clone(roleScopes[operator][role])
}

// ValidRole reports whether role exists for operator staff (operator) or tenant staff.
func ValidRole(operator bool, role string) bool {
	_, ok := roleScopes[operator][role]
	return ok || (!operator && role == RoleCustom)
}

// Rank orders roles for the access-rights hierarchy: a user may give others only roles
// of at most their own rank, and raising a rank is a four-eyes action [B14].
func Rank(role string, scopes []string) int {
	switch {
	case role == RoleOwner:
		return 3
	case role == RoleAdmin || slices.Contains(scopes, ScopeAdmin) || slices.Contains(scopes, ScopeOperatorStaff):
		return 2
	}
	return 1
}

// NeedsTwoFactor reports whether a user with this role and these scopes must use a second
// factor [B6]: owners, admins, and custom profiles that can administer the tenant.
func NeedsTwoFactor(role string, scopes []string) bool { return Rank(role, scopes) >= 2 }

// Profile is a tenant's custom role: a named set of tenant scopes [B7], optionally limited to
// the purposes its users may state [A2].
type Profile struct {
	TenantID string   `json:"-"`
	Name     string   `json:"name"`
	Scopes   []string `json:"scopes"`
	// Purposes lists the purposes its users may state; empty: any their tenant registered.
	Purposes []string `json:"purposes"`
}

// Validate returns an EINVALID error naming the part at fault.
func (p *Profile) Validate() error {
	if !ValidName(p.Name) {
		return FieldError("name", "name", "profile name must be lower-case letters, digits and underscores")
	}
	if err := validScopes(p.Scopes, AllScopes); err != nil {
		return err
	}
	return ValidPurposes(p.Purposes)
}

// ValidPurposes returns an EINVALID error (field purposes) when a purpose limit names a
// purpose in a form no purpose has, or one twice.
func ValidPurposes(purposes []string) error {
	for i, p := range purposes {
		if !ValidName(p) {
			return FieldError("purposes", "name", "purposes are lower-case names such as credit_check")
		}
		if slices.Contains(purposes[:i], p) {
			return FieldError("purposes", "duplicate", "purposes names a purpose twice")
		}
	}
	return nil
}

// ProfileService manages a tenant's custom profiles [B7], under the same hierarchy as roles:
// nobody makes a profile with a scope or purpose they do not hold themselves.
type ProfileService interface {
	// FindProfiles returns the caller's tenant's profiles ordered by name. Errors: EFORBIDDEN.
	FindProfiles(ctx context.Context) ([]*Profile, error)

	// FindProfile returns one profile of the caller's tenant. Errors: ENOTFOUND, EFORBIDDEN.
	FindProfile(ctx context.Context, name string) (*Profile, error)

	// PutProfile creates or changes a profile and reports whether it was created. Scopes and
	// purposes the caller lacks are refused (EINVALID, rule hierarchy), as are purposes the
	// tenant never registered. Changing a profile that users hold ends their sessions and
	// revokes the tokens they made; raising its rank while role_elevation is under four eyes
	// is refused (EFORBIDDEN: make a new profile and raise its users through approvals).
	// Errors: EINVALID, EFORBIDDEN.
	PutProfile(ctx context.Context, p *Profile) (created bool, err error)

	// DeleteProfile deletes a profile nobody holds. Errors: ENOTFOUND, ECONFLICT (held), EFORBIDDEN.
	DeleteProfile(ctx context.Context, name string) error
}

func validScopes(scopes, known []string) error {
	if len(scopes) == 0 {
		return FieldError("scopes", "required", "at least one scope is needed")
	}
	for _, s := range scopes {
		if !slices.Contains(known, s) {
			return FieldError("scopes", "scope", "unknown scope; known scopes are %s", strings.Join(known, ", "))
		}
	}
	return nil
}
