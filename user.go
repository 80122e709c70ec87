package skjold

import (
	"strings"
	"time"
)

// User is one person with access: operator staff (TenantID "") or a tenant's staff [B1].
// E-mail addresses are unique across the whole installation, so that a login needs nothing
// else. A user never carries a password or second-factor secret out of the store.
type User struct {
	ID          string     `json:"id"`
	TenantID    string     `json:"tenant_id,omitempty"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Profile     string     `json:"profile,omitempty"`  // the custom profile, when Role is RoleCustom
	Scopes      []string   `json:"scopes"`             // effective scopes of the role or profile
	Purposes    []string   `json:"purposes,omitempty"` // the profile's purpose limit; empty: any registered
	Suspended   bool       `json:"suspended"`
	AccessUntil *time.Time `json:"access_until,omitempty"` // offboarding: suspended at this time [B8]
	TwoFactor   bool       `json:"two_factor"`             // a TOTP secret is enrolled
	// MustChangePassword is set for a one-time password from an admin or the first start [B5].
	MustChangePassword bool       `json:"must_change_password"`
	PasswordChangedAt  time.Time  `json:"password_changed_at"`
	TrainingAt         *time.Time `json:"training_at,omitempty"`  // last data-protection training [B15]
	AgreementAt        *time.Time `json:"agreement_at,omitempty"` // confidentiality agreement signed [B15]
	LastLoginAt        *time.Time `json:"last_login_at,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	// Pending is set until the person confirms Email with a code mailed to it: accounts
	// that a tenant's admin creates start so (see StageConfirmEmail).
	Pending bool `json:"pending"`
}

// Operator reports whether the user is operator staff.
func (u *User) Operator() bool { return u.TenantID == "" }

// NormalizeEmail returns the form in which addresses are stored and compared: trimmed, NFC and
// folded to lower case as email.go describes (the local part is case-sensitive in theory,
// never in practice), or an EINVALID error naming field when it is no address validEmail
// accepts. The message never repeats the address.
func NormalizeEmail(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText(field, s, 3, 254); err != nil {
		return "", err
	}
	if !validEmail(s) {
		return "", FieldError(field, "email", "%s must be a plain e-mail address such as name@example.com", field)
	}
	return foldEmail(s), nil
}

// Validate normalises the e-mail address and checks the user's fields. The role is checked
// against the kind of user; a custom role needs a profile name.
func (u *User) Validate() error {
	var err error
	if u.Email, err = NormalizeEmail("email", u.Email); err != nil {
		return err
	}
	if err := checkText("name", u.Name, 1, 200); err != nil {
		return err
	}
	if !ValidRole(u.Operator(), u.Role) {
		return FieldError("role", "role", "unknown role for this kind of user")
	}
	if (u.Role == RoleCustom) != (u.Profile != "") {
		return FieldError("profile", "profile", "a custom role needs a profile, and only a custom role has one")
	}
	return nil
}

// UserUpdate changes some of a user's settings; nil fields stay as they are.
type UserUpdate struct {
	Name        *string    `json:"name"`
	Role        *string    `json:"role"`
	Profile     *string    `json:"profile"`
	AccessUntil *time.Time `json:"access_until"`
	// ClearAccessUntil removes the offboarding date.
	ClearAccessUntil bool       `json:"clear_access_until"`
	TrainingAt       *time.Time `json:"training_at"`
	AgreementAt      *time.Time `json:"agreement_at"`
}
