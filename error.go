// Package skjold holds the domain of the Skjold data-protection server: tenants, subjects,
// categories, records, tokens and audit events, their validation rules, and the service
// interfaces that the storage, crypto and HTTP packages implement or consume.
//
// It imports no database, HTTP or crypto library.
package skjold

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Error codes. Exactly one function in the http package maps them to HTTP statuses.
const (
	ECONFLICT     = "conflict"             // the request conflicts with the current state (duplicate, in use)
	EFORBIDDEN    = "forbidden"            // the caller is known but may not do this
	EINTERNAL     = "internal"             // a fault on our side; details are logged, never shown
	EINVALID      = "invalid"              // the request is malformed or breaks a rule
	ENOTFOUND     = "not_found"            // no such object, or not visible to this caller
	EUNAUTHORIZED = "unauthorized"         // no valid credentials
	ETOOLARGE     = "too_large"            // the request body is over the size limit
	ETOOMANY      = "too_many"             // too many attempts or requests; wait and try again
	EREADBUDGET   = "read_budget_exceeded" // the caller read as many subjects as its budget allows [B16]
	EUNAVAILABLE  = "unavailable"          // shutting down or overloaded; try again
	EUNSUPPORTED  = "unsupported"          // the media type is not supported
	EMETHOD       = "method_not_allowed"   // the path exists but not with this method
	EPRECONDITION = "precondition_failed"  // If-Match named another version of the object than the current one
)

// Error is a domain error: a code from the list above, a message safe to show to the caller
// (it never carries personal data or secrets), and optionally the field and rule that failed.
type Error struct {
	Code    string
	Message string
	Field   string // the offending field name, if any
	Rule    string // the rule that refused the input, if any (e.g. "card_number")
	// RetryAfter is how long to wait before the same request can succeed, where that is
	// known (ETOOMANY, EREADBUDGET); the API sends it as Retry-After.
	RetryAfter time.Duration
	// Errors lists every field error when the input broke more than one rule, this one
	// first; nil otherwise. FieldErrors builds it.
	Errors []*Error
}

// FieldErrors joins the field errors found in one input: nil for none, the error itself for
// one, and for more the first (by field name, so that the answer is the same every time)
// carrying all of them in Errors.
func FieldErrors(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	all := slices.Clone(errs)
	slices.SortStableFunc(all, func(a, b *Error) int { return strings.Compare(a.Field, b.Field) })
	first := *all[0]
	first.Errors = all
	return &first
}

// fieldErrorOf returns err as a field error that FieldErrors may join with others, or nil
// when err is another kind of error (which must end the check at once).
func fieldErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e.Code == EINVALID && e.Field != "" && len(e.Errors) == 0 {
		return e
	}
	return nil
}

func (e *Error) Error() string {
	return fmt.Sprintf("skjold: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
// The message is shown to API clients: never format personal values into it.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error that names the field and the rule it broke.
func FieldError(field, rule, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Message: fmt.Sprintf(format, args...), Field: field, Rule: rule}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of the first *Error in err's chain, and
// "internal error" for any other error: causes of internal errors are logged, not shown.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
