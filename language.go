package skjold

import (
	"context"
	"slices"
)

// Languages are the languages Skjold speaks to people [I3], the default first.
var Languages = []string{"en", "nb", "pl"}

// ValidLanguage reports whether lang is one of Languages.
func ValidLanguage(lang string) bool { return slices.Contains(Languages, lang) }

type languageKey struct{}

// WithLanguage returns ctx carrying the language the caller reads, as far as it is known
// without an account (a console page's language), for e-mails to a person who has saved none.
func WithLanguage(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, languageKey{}, lang)
}

// LanguageFromContext returns the language WithLanguage put into ctx, or "".
func LanguageFromContext(ctx context.Context) string {
	lang, _ := ctx.Value(languageKey{}).(string)
	return lang
}

// PreferenceService keeps a person's own choices about how Skjold talks to them.
type PreferenceService interface {
	// Language returns the caller's saved language, "" when none is saved.
	// Errors: EFORBIDDEN (the caller is not a logged-in person).
	Language(ctx context.Context) (string, error)

	// SetLanguage saves the caller's language. Errors: EINVALID (not one of Languages),
	// EFORBIDDEN (the caller is not a logged-in person).
	SetLanguage(ctx context.Context, lang string) error
}
