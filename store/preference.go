package store

import (
	"context"

	"github.com/skjold-project/skjold"
)

// person returns the caller's user id, or EFORBIDDEN for a caller that is not a person.
func person(ctx context.Context) (string, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil || c.UserID == "" {
		return "", skjold.Errorf(skjold.EFORBIDDEN, "this needs a logged-in user, not an API token")
	}
	return c.UserID, nil
}

// Language returns the caller's saved language, "" when none is saved.
func (db *DB) Language(ctx context.Context) (string, error) {
	id, err := person(ctx)
	if err != nil {
		return "", err
	}
	var lang string
	if err := db.queryRow(ctx, "SELECT language FROM users WHERE id = ?", id).Scan(&lang); err != nil {
		return "", notFound(err, "user")
	}
	return lang, nil
}

// SetLanguage saves the caller's language.
func (db *DB) SetLanguage(ctx context.Context, lang string) error {
	if !skjold.ValidLanguage(lang) {
		return skjold.FieldError("language", "language", "language must be one of %v", skjold.Languages)
	}
	id, err := person(ctx)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE users SET language = ? WHERE id = ?", lang, id)
		return err
	})
}
