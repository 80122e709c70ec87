package skjold

import (
	"context"
	"time"
)

// PasswordPolicy is a tenant's (or the operator's) rule for passwords [B2]. The zero value is
// not a policy: start from DefaultPasswordPolicy.
type PasswordPolicy struct {
	MinLength int `json:"min_length"` // characters; default 12, never below MinPasswordLength
	// Classes is how many of the four character classes (lower, upper, digit, other) a
	// password must mix; 0 to 4.
	Classes int `json:"classes"`
	// MaxAgeDays forces a change after so many days; 0 turns expiry off. The operators'
	// promise is a forced periodic change, so the default is 90 days, although NIST SP
	// 800-63B advises against it: a tenant that follows NIST sets 0.
	MaxAgeDays int `json:"max_age_days"`
	History    int `json:"history"` // the last N passwords are refused; 0 to 24
	// BreachCheck asks the configured k-anonymity range API whether the password is known
	// from breaches. Off by default: it needs an outbound connection.
	BreachCheck bool `json:"breach_check"`
}

// Password policy limits.
const (
	MinPasswordLength     = 8
	MaxPasswordLength     = 256 // long enough for any passphrase, short enough to hash cheaply
	DefaultPasswordLength = 12
	MaxPasswordHistory    = 24
)

// DefaultPasswordPolicy is the policy of a tenant that has not set its own: the operators'
// published promises.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{MinLength: DefaultPasswordLength, Classes: 3, MaxAgeDays: 90, History: 5}
}

// Validate returns an EINVALID error naming the setting at fault.
func (p *PasswordPolicy) Validate() error {
	switch {
	case p.MinLength < MinPasswordLength || p.MinLength > 128:
		return FieldError("min_length", "range", "min_length must be between %d and 128", MinPasswordLength)
	case p.Classes < 0 || p.Classes > 4:
		return FieldError("classes", "range", "classes must be between 0 and 4")
	case p.MaxAgeDays < 0 || p.MaxAgeDays > 3650:
		return FieldError("max_age_days", "range", "max_age_days must be between 0 (no expiry) and 3650")
	case p.History < 0 || p.History > MaxPasswordHistory:
		return FieldError("history", "range", "history must be between 0 and %d", MaxPasswordHistory)
	}
	return nil
}

// Expired reports whether a password set at changed has outlived the policy's maximum age.
func (p *PasswordPolicy) Expired(changed, now time.Time) bool {
	return p.MaxAgeDays > 0 && !now.Before(changed.AddDate(0, 0, p.MaxAgeDays))
}

// PasswordHasher turns passwords into slow salted hashes (argon2id) [B3] and checks them.
// Encoded hashes carry their own parameters, so that stronger parameters apply from the next
// login without invalidating anything.
type PasswordHasher interface {
	// Hash returns the encoded hash of password. Errors: EUNAVAILABLE when too many hashes
	// are already running (a flood must not exhaust memory).
	Hash(ctx context.Context, password string) (string, error)

	// Verify reports whether password matches encoded, and whether encoded should be
	// replaced by a fresh Hash because its parameters are weaker than the current ones.
	// With encoded == "" it does the same work and returns false, so that unknown accounts
	// cost as much as known ones (no timing oracle). Errors: EUNAVAILABLE, EINTERNAL for a
	// malformed stored hash.
	Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error)
}

// PasswordChecker decides whether a new password is acceptable under a policy.
type PasswordChecker interface {
	// CheckPassword returns an EINVALID error with field "password" and a rule naming the
	// reason (length, classes, common, personal, breached) when password is refused. personal
	// lists the account's own words (name, e-mail) that a password must not be built on. The
	// message never repeats the password. History is checked by the caller, which holds the
	// old hashes.
	CheckPassword(ctx context.Context, policy PasswordPolicy, password string, personal []string) error
}

// LockoutDelay is how long an account stays locked after its n-th consecutive failed login
// [B11]: nothing for the first four, then one minute, doubling each time, at most an hour.
// The delay grows fast enough to stop guessing and stays short enough that a locked-out
// owner is not shut out for a day.
func LockoutDelay(failures int) time.Duration {
	if failures < 5 {
		return 0
	}
	d := time.Minute << min(failures-5, 6)
	return min(d, time.Hour)
}
