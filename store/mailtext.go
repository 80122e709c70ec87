package store

import (
	"context"
	"strings"
)

// E-mails go out in their recipient's language [I3]: a member of staff's in the language
// they saved in the console, a data subject's in their tenant's e-mail language (the
// privacy facts' language), English where neither is known. The texts are in the message
// catalogues' [mail.*] tables.

// mailBody joins an e-mail's paragraphs with blank lines.
func mailBody(paragraphs ...string) string {
	return strings.Join(paragraphs, "\n\n") + "\n"
}

// userLanguage returns the language a person saved, "" when none is saved or it cannot be
// read (the e-mail then goes out in English rather than not at all).
func (db *DB) userLanguage(ctx context.Context, userID string) string {
	var lang string
	if err := db.queryRow(ctx, "SELECT language FROM users WHERE id = ?", userID).Scan(&lang); err != nil {
		db.log.Error("e-mail language not read", "err", err)
		return ""
	}
	return lang
}

// subjectLanguage returns the language of the tenant's e-mails to its data subjects.
func (db *DB) subjectLanguage(ctx context.Context, tenantID string) string {
	n, err := db.privacyNotice(ctx, tenantID)
	if err != nil {
		db.log.Error("e-mail language not read", "err", err)
		return ""
	}
	return n.Language
}
