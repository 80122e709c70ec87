package skjold

import (
	"context"
	"slices"
	"time"
)

// Session kinds. A browser holds its session in a cookie (and proves each change with a
// CSRF token); an API client holds a short-lived bearer session token.
const (
	SessionCookie = "cookie"
	SessionToken  = "token"
)

// Session stages: what a session may do now. Only StageActive reaches the API; the others
// allow just the step they name (and logging out).
const (
	StageActive         = "active"
	StageSecondFactor   = "second_factor"    // give a TOTP or recovery code
	StageChangePassword = "change_password"  // a one-time or expired password must be replaced [B5, B2]
	StageEnrolTwoFactor = "enrol_two_factor" // the role needs a second factor, none is enrolled [B6]
	StageLocked         = "locked"           // idle too long: give the password again [B9]
	StageConfirmEmail   = "confirm_email"    // give the code mailed to the account's address
)

// Session is a logged-in user's session [B9]. Its secret is shown once, at login, and
// stored only as a hash.
type Session struct {
	ID           string    `json:"id"`
	UserID       string    `json:"user_id"`
	TenantID     string    `json:"tenant_id,omitempty"`
	Kind         string    `json:"kind"`
	Source       string    `json:"source"`
	CreatedAt    time.Time `json:"created_at"`
	LastSeenAt   time.Time `json:"last_seen_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	SecondFactor bool      `json:"second_factor"` // the second factor was given in this session
	Locked       bool      `json:"locked"`        // locked by the idle timeout, until the password is given

	Secret string `json:"-"` // set only on the session returned by Login
	CSRF   string `json:"-"` // set only on the session returned by Login (cookie sessions)
}

// SessionSettings are a tenant's (or the operator's) session and password rules.
type SessionSettings struct {
	Password     PasswordPolicy `json:"password"`
	IdleMinutes  int            `json:"idle_minutes"`  // lock after so long without a request; default 15
	SessionHours int            `json:"session_hours"` // absolute lifetime of a session; default 12
	// AllowedNetworks limits logins, sessions and API tokens to these CIDR ranges [B10];
	// empty allows every address.
	AllowedNetworks []string `json:"allowed_networks"`
	// FourEyes lists the sensitive actions that wait for a second person's approval [B14].
	FourEyes []string `json:"four_eyes"`
	// SupportMaxHours caps the support grants the tenant gives operator staff [A7]; 0
	// refuses every grant.
	SupportMaxHours int `json:"support_max_hours"`
}

// DefaultSessionSettings are the settings of a tenant that has set none: the promises.
func DefaultSessionSettings() SessionSettings {
	return SessionSettings{Password: DefaultPasswordPolicy(), IdleMinutes: 15, SessionHours: 12, AllowedNetworks: []string{},
		FourEyes: DefaultFourEyes(), SupportMaxHours: 8}
}

// Validate returns an EINVALID error naming the setting at fault.
func (s *SessionSettings) Validate() error {
	switch {
	case s.IdleMinutes < 1 || s.IdleMinutes > 240:
		return FieldError("idle_minutes", "range", "idle_minutes must be between 1 and 240")
	case s.SessionHours < 1 || s.SessionHours > 24*7:
		return FieldError("session_hours", "range", "session_hours must be between 1 and 168")
	}
	if s.AllowedNetworks == nil {
		s.AllowedNetworks = []string{}
	}
	if s.FourEyes == nil {
		s.FourEyes = []string{}
	}
	for i, a := range s.FourEyes {
		if !slices.Contains(SensitiveActions, a) {
			return FieldError("four_eyes", "action", "unknown action; known actions are %v", SensitiveActions)
		}
		if slices.Contains(s.FourEyes[:i], a) {
			return FieldError("four_eyes", "duplicate", "four_eyes names an action twice")
		}
	}
	if s.SupportMaxHours < 0 || s.SupportMaxHours > 24*30 {
		return FieldError("support_max_hours", "range", "support_max_hours must be between 0 and 720")
	}
	nets, err := ParseNetworks("allowed_networks", s.AllowedNetworks)
	if err != nil {
		return err
	}
	for i, p := range nets {
		s.AllowedNetworks[i] = p.String() // stored masked, as they are matched
	}
	return s.Password.Validate()
}

// Login is what a person sends to log in.
type Login struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Code     string `json:"code"` // TOTP or recovery code, when the account has a second factor
	Kind     string `json:"session"`
}

// Identity is who a session secret or API token belongs to, and what it may do now.
type Identity struct {
	User    *User    // nil for an API token
	Session *Session // nil for an API token
	Token   *Token   // nil for a session
	Stage   string
}

// AuthService logs people in and out and manages staff accounts, passwords, second factors
// and sessions. Methods that act for a logged-in user take the caller from the context.
type AuthService interface {
	ProfileService

	// Login checks the e-mail and password (and code, when given and enrolled) and opens a
	// session in the stage that follows. Errors: EUNAUTHORIZED (the same answer for an
	// unknown address, a wrong password and a suspended account, whose right password is
	// counted as a failure), EFORBIDDEN (outside the allowed networks, frozen tenant),
	// ETOOMANY (locked out, or another attempt for the address in progress).
	Login(ctx context.Context, l Login) (*Session, *Identity, error)

	// AuthenticateSession returns the identity of a session secret and touches the
	// session. Errors: EUNAUTHORIZED (unknown, revoked, expired).
	AuthenticateSession(ctx context.Context, secret string) (*Identity, error)

	// VerifyCSRF reports whether token is the CSRF token of the session.
	VerifyCSRF(ctx context.Context, sessionID, token string) bool

	// SecondFactor accepts a TOTP or recovery code for the caller's session.
	// Errors: EUNAUTHORIZED (wrong or replayed code), ETOOMANY.
	SecondFactor(ctx context.Context, code string) error

	// Unlock reopens the caller's idle-locked session with the password. Errors: EUNAUTHORIZED.
	Unlock(ctx context.Context, password string) error

	// ChangePassword replaces the caller's password, checking the old one and the policy;
	// every other session of the user ends. Errors: EUNAUTHORIZED (a wrong old password,
	// counted like a failed login), ETOOMANY (locked out), EINVALID (policy).
	ChangePassword(ctx context.Context, old, new string) error

	// SendEmailConfirmation mails a new code to the address of the caller's pending account
	// (StageConfirmEmail), voiding the one before. Errors: ECONFLICT (nothing to confirm),
	// ETOOMANY (three codes in the last hour; RetryAfter says when the next may be sent).
	SendEmailConfirmation(ctx context.Context) error

	// ConfirmEmail confirms the caller's pending address with the mailed code. Errors:
	// EINVALID (a wrong or expired code; the fifth wrong one voids it), ECONFLICT (nothing to
	// confirm, or the address already has another account: told only to the code's holder).
	ConfirmEmail(ctx context.Context, code string) error

	// Logout ends the caller's session.
	Logout(ctx context.Context) error

	// FindSessions lists the live sessions of a user (the caller's own, or any user of the
	// caller's tenant for an admin). Errors: ENOTFOUND, EFORBIDDEN.
	FindSessions(ctx context.Context, userID string) ([]*Session, error)

	// RevokeSession ends one session: the caller's own, or any of its tenant for an admin.
	// Errors: ENOTFOUND.
	RevokeSession(ctx context.Context, id string) error

	// BeginTwoFactor makes a fresh TOTP secret for the caller, pending until confirmed.
	// Errors: ECONFLICT (already enrolled).
	BeginTwoFactor(ctx context.Context) (*OTPEnrolment, error)

	// ConfirmTwoFactor enables the pending secret when code matches it, and returns ten
	// recovery codes to show once. Errors: EINVALID (no pending secret), EUNAUTHORIZED.
	ConfirmTwoFactor(ctx context.Context, code string) ([]string, error)

	// RequestReset e-mails a single-use reset link when the address belongs to an active
	// user, and does nothing otherwise; the answer is the same either way [B4].
	// Errors: EINVALID (not an address), ETOOMANY.
	RequestReset(ctx context.Context, email string) error

	// CompleteReset sets a new password with a reset token and ends every session of the
	// user. Errors: EUNAUTHORIZED (unknown, used or expired token), EINVALID (policy).
	CompleteReset(ctx context.Context, token, password string) error

	// CreateUser creates a user with a one-time password, returned once, that must be
	// changed at first login. Errors: EINVALID (also for a role above the caller's own:
	// field role, rule hierarchy), ECONFLICT (e-mail taken), EFORBIDDEN, ENOTFOUND (tenant
	// or profile).
	CreateUser(ctx context.Context, u *User) (string, error)

	// FindUsers lists the users of the caller's tenant (operator staff, for an operator).
	FindUsers(ctx context.Context, page Page) ([]*User, error)

	// FindUserByID returns one user visible to the caller. Errors: ENOTFOUND.
	FindUserByID(ctx context.Context, id string) (*User, error)

	// UpdateUser changes a user. Errors: EINVALID (a new role above the caller's own),
	// ENOTFOUND, EFORBIDDEN (the user ranks above the caller, or the raise needs four eyes).
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*User, error)

	// SuspendUser suspends (or resumes) a user; suspension revokes every session and token
	// of the user at once [B8]. Errors: ENOTFOUND, EFORBIDDEN.
	SuspendUser(ctx context.Context, id string, suspend bool) error

	// SessionSettings returns the settings of the caller's tenant (the operator's, for
	// operator callers). PutSessionSettings replaces them. Errors: EINVALID, EFORBIDDEN.
	SessionSettings(ctx context.Context) (*SessionSettings, error)
	PutSessionSettings(ctx context.Context, s *SessionSettings) error
}
