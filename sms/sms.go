// Package sms sends text messages: into an outbox directory (one file per message, for
// development and tests) or through a generic HTTPS gateway configured by URL, an
// authorisation header and a body template.
package sms

import (
	"strings"
	"unicode/utf8"

	"github.com/skjold-project/skjold"
)

// check validates a message: a number of 6 to 20 digits with an optional leading "+" (spaces,
// hyphens, dots and parentheses are dropped), and a body of 1 to MaxSMSBody characters. It
// returns the number in its compact form. Errors name the field, never the value.
func check(m skjold.SMS) (string, error) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(m.To) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case strings.ContainsRune(" -.()", r):
		default:
			return "", skjold.FieldError("to", "phone", "to must be a phone number")
		}
	}
	to := b.String()
	if n := len(strings.TrimPrefix(to, "+")); n < 6 || n > 20 {
		return "", skjold.FieldError("to", "phone", "to must be a phone number of 6 to 20 digits")
	}
	if n := utf8.RuneCountInString(m.Body); n == 0 || n > skjold.MaxSMSBody || !utf8.ValidString(m.Body) {
		return "", skjold.FieldError("body", "length", "an SMS body must be 1 to %d characters", skjold.MaxSMSBody)
	}
	return to, nil
}
