package skjold

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxTextLength is the longest string value a field accepts, in characters.
const MaxTextLength = 4000

// NormalizeValue checks v, a value decoded from JSON (string, json.Number, float64, bool),
// against the field's type and the input guard, and returns its canonical form. Errors name
// the field and the rule, never the value.
func (f *Field) NormalizeValue(v any) (any, error) {
	switch f.Type {
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, f.typeError("true or false")
	case TypeNumber, TypeInteger:
		return f.normalizeNumber(v)
	}
	s, ok := v.(string)
	if !ok {
		return nil, f.typeError("a string")
	}
	s, err := f.normalizeString(s)
	if err != nil {
		return nil, err
	}
	return s, CheckSensitive(f.Name, s, f.Allow)
}

func (f *Field) normalizeString(s string) (string, error) {
	if err := checkText(f.Name, s, 0, MaxTextLength); err != nil {
		return "", err
	}
	if f.Type == TypeEmail && emailLookalike(s) { // NFC would make it an ASCII look-alike
		return "", FieldError(f.Name, "email", "field %q holds a character that only looks like a letter of the alphabet", f.Name)
	}
	s = norm.NFC.String(s)
	switch f.Type {
	case TypeDate:
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return "", FieldError(f.Name, "date", "field %q must be a date as YYYY-MM-DD", f.Name)
		}
	case TypeDateTime:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return "", FieldError(f.Name, "datetime", "field %q must be a date and time in RFC 3339 form", f.Name)
		}
		s = t.Format(time.RFC3339Nano)
	case TypeEmail:
		s = strings.TrimSpace(s)
		if !validEmail(s) {
			return "", FieldError(f.Name, "email", "field %q must be an e-mail address", f.Name)
		}
	case TypePhone:
		s = strings.TrimSpace(s)
		if !validPhone(s) {
			return "", FieldError(f.Name, "phone", "field %q must be a phone number of 5 to 15 digits", f.Name)
		}
	}
	return s, nil
}

func (f *Field) normalizeNumber(v any) (any, error) {
	var text string
	switch n := v.(type) {
	case json.Number:
		text = n.String()
	case float64:
		text = strconv.FormatFloat(n, 'g', -1, 64)
	default:
		return nil, f.typeError("a number")
	}
	x, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return nil, f.typeError("a finite number")
	}
	if f.Type == TypeInteger {
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, f.typeError("a whole number")
		}
		return i, CheckSensitive(f.Name, text, f.Allow)
	}
	return x, CheckSensitive(f.Name, text, f.Allow)
}

func (f *Field) typeError(want string) error {
	return FieldError(f.Name, "type", "field %q must be %s", f.Name, want)
}

func validPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case '0' <= r && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')', r == '.':
		default:
			return false
		}
	}
	return digits >= 5 && digits <= 15
}

// Blind-index kinds: what a subject can be looked up by.
const (
	LookupEmail = "email"
	LookupPhone = "phone"
	LookupRef   = "ref"
)

// NormalizeLookup returns the form of a value that its blind index is computed over, so that
// "Anna@Example.com " and "anna@example.com" find the same subject, as do "+47 912 34 567" and
// "004791234567". E-mail addresses are folded as email.go describes: "İ" and the Kelvin sign
// never find "i" and "k".
func NormalizeLookup(kind, s string) string {
	if kind == LookupEmail {
		return foldEmail(strings.TrimSpace(s))
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	switch kind {
	case LookupPhone:
		var b strings.Builder
		if strings.HasPrefix(s, "+") {
			b.WriteByte('+')
		} else if strings.HasPrefix(s, "00") {
			b.WriteByte('+')
			s = s[2:]
		}
		for _, r := range s {
			if '0' <= r && r <= '9' {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return s
}

// ValidLookup reports whether a lookup value is worth a query: valid UTF-8, not empty, and not
// longer than any stored value can be.
func ValidLookup(s string) bool {
	return s != "" && utf8.ValidString(s) && len(s) <= 4*MaxTextLength
}
