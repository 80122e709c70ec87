package skjold

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ValidID reports whether s has the shape of a Skjold id: a UUID in its canonical lower-case
// text form. Ids of any other shape are refused before they reach a query.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// checkText returns an EINVALID error naming field when s is not valid UTF-8, holds control
// characters, or its length in characters is outside [min, max].
func checkText(field, s string, min, max int) error {
	if !utf8.ValidString(s) {
		return FieldError(field, "utf8", "%s must be valid UTF-8", field)
	}
	n := utf8.RuneCountInString(s)
	if n < min || n > max {
		if min > 0 && n == 0 {
			return FieldError(field, "required", "%s is required", field)
		}
		return FieldError(field, "length", "%s must be %d to %d characters long", field, min, max)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return FieldError(field, "control", "%s must not contain control characters", field)
	}
	return nil
}
