package password

import (
	"context"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go"
	"github.com/ccojocar/zxcvbn-go/match"
	"github.com/ccojocar/zxcvbn-go/matching"

	"github.com/skjold-project/skjold"
)

const (
	// minScore is the lowest zxcvbn score (0 to 4) accepted: 3 is "safely unguessable".
	minScore = 3

	// zxcvbn-go's work grows with the square of the length, and its l33t matcher multiplies
	// it by every substitution table the password's characters allow: 256 characters took
	// 35 s in a measurement. These bounds keep one check to about 50 ms at worst.
	maxScored = 64 // characters scored: a password whose first 64 are guessable is refused
	maxLeet   = 20 // longest password scored with l33t substitutions (P@ssw0rd)
)

// Checker decides whether a new password is acceptable under a policy. It implements
// skjold.PasswordChecker and is safe for concurrent use.
type Checker struct {
	breach *BreachChecker
}

var _ skjold.PasswordChecker = (*Checker)(nil)

// NewChecker returns a Checker that asks breach about passwords when a policy turns on
// BreachCheck. breach may be nil: then no policy's passwords are checked against breaches.
func NewChecker(breach *BreachChecker) *Checker {
	return &Checker{breach: breach}
}

// CheckPassword returns nil when password is acceptable under policy, or an EINVALID error
// with field "password" and the rule of the first check that refused it, in this order:
//   - "length": fewer than policy.MinLength (never less than skjold.MinPasswordLength) or
//     more than skjold.MaxPasswordLength characters;
//   - "classes": fewer than policy.Classes of lower-case letters, upper-case letters,
//     digits and other characters, by Unicode category;
//   - "personal": contains, ignoring case, one of the personal words of 3 or more
//     characters, or a piece of one (words are split at spaces and . _ - +; an e-mail
//     address also gives its local part and the pieces of that);
//   - "common": easy to guess (a zxcvbn score under 3, with the personal words as its
//     user inputs);
//   - "breached": found by the BreachChecker, asked only when policy.BreachCheck is set and
//     the Checker has one. When that service cannot be reached, CheckPassword returns its
//     EUNAVAILABLE error: with the check on, no password is accepted unchecked.
//
// Messages never contain the password or the personal words.
func (c *Checker) CheckPassword(ctx context.Context, policy skjold.PasswordPolicy, password string, personal []string) error {
	if err := checkLength(policy, password); err != nil {
		return err
	}
	if err := checkClasses(policy, password); err != nil {
		return err
	}
	words := personalWords(personal)
	if err := checkPersonal(password, words); err != nil {
		return err
	}
	if guessable(password, words) {
		return skjold.FieldError("password", "common",
			"password is too easy to guess; a few unrelated words make a strong one")
	}
	if !policy.BreachCheck || c.breach == nil {
		return nil
	}
	if breached, err := c.breach.Breached(ctx, password); err != nil {
		return err
	} else if breached {
		return skjold.FieldError("password", "breached",
			"password appears in known data breaches; choose another")
	}
	return nil
}

// guessable reports whether zxcvbn scores the start of password below minScore, with the
// personal words as user inputs.
func guessable(password string, words []string) bool {
	var filters []func(match.Matcher) bool
	if utf8.RuneCountInString(password) > maxLeet {
		filters = append(filters, matching.FilterL33tMatcher)
	}
	if runes := []rune(password); len(runes) > maxScored {
		password = string(runes[:maxScored])
	}
	return zxcvbn.PasswordStrength(password, words, filters...).Score < minScore
}

func checkLength(policy skjold.PasswordPolicy, password string) error {
	minLen := max(policy.MinLength, skjold.MinPasswordLength)
	if n := utf8.RuneCountInString(password); n < minLen || n > skjold.MaxPasswordLength {
		return skjold.FieldError("password", "length", "password must be between %d and %d characters",
			minLen, skjold.MaxPasswordLength)
	}
	return nil
}

func checkClasses(policy skjold.PasswordPolicy, password string) error {
	if n := countClasses(password); n < policy.Classes {
		return skjold.FieldError("password", "classes",
			"password must mix at least %d of: lower-case letters, upper-case letters, digits, other characters",
			policy.Classes)
	}
	return nil
}

// countClasses returns how many of lower-case letters, upper-case (or title-case) letters,
// decimal digits and other characters s holds.
func countClasses(s string) int {
	var lower, upper, digit, other int
	for _, r := range s {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r) || unicode.IsTitle(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			other = 1
		}
	}
	return lower + upper + digit + other
}

func checkPersonal(password string, words []string) error {
	lower := strings.ToLower(password)
	for _, w := range words {
		if strings.Contains(lower, w) {
			return skjold.FieldError("password", "personal",
				"password must not contain your name or e-mail address")
		}
	}
	return nil
}

// personalWords returns the lower-case words of 3 or more characters that a password must
// not contain: each of personal, the local part of an e-mail address, and their pieces.
func personalWords(personal []string) []string {
	var words []string
	for _, p := range personal {
		p = strings.ToLower(strings.TrimSpace(p))
		words = append(words, p)
		if i := strings.LastIndexByte(p, '@'); i >= 0 {
			p = p[:i]
			words = append(words, p)
		}
		words = append(words, strings.FieldsFunc(p, isSeparator)...)
	}
	words = slices.DeleteFunc(words, func(w string) bool { return utf8.RuneCountInString(w) < 3 })
	slices.Sort(words)
	return slices.Compact(words)
}

func isSeparator(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune("._-+", r)
}
