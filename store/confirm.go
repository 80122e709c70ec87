package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// Pending accounts. A staff address is unique across the installation, because a login
// gives nothing but the address and the password. Were a tenant admin's create refused for
// an address that has an account elsewhere, any admin could probe which addresses have
// accounts in other tenants. So an account that a tenant admin creates is pending: it keeps
// a placeholder in users.email and the address in pending_email (unique in the tenant only),
// and the create answers alike for every address free in the tenant. The person logs in
// with the address and the one-time password (matched by its SHA-256: it is 96 random
// bits), which opens a session in StageConfirmEmail and mails a code to the address. The
// code confirms the address; only then can it clash with another account, and only the
// address's owner, who holds the code, is told.
const (
	pendingPlaceholder    = "pending:"
	confirmationsPerHour  = 3
	confirmationLifetime  = 30 * time.Minute
	maxConfirmationErrors = 5
)

// errAddressTaken is told only to the holder of a confirmation code, who owns the address.
var errAddressTaken = skjold.Errorf(skjold.ECONFLICT, "this address already has an account in Skjold, so it cannot have a second one: log in with that account, or ask the administrator who added you to use another address")

var errNothingToConfirm = skjold.Errorf(skjold.ECONFLICT, "this account has no address waiting for confirmation")

// pendingUser returns the pending account with this address whose one-time password is
// password, or nil.
func (db *DB) pendingUser(ctx context.Context, email, password string) (*skjold.User, error) {
	u, err := scanUser(db.queryRow(ctx, selectUsers+" WHERE u.pending_email = ? AND u.otp_hash = ?",
		email, hashSecret(password)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return u, err
}

// pendingLogin opens a session in StageConfirmEmail for a pending account whose one-time
// password was given, and mails it a code. The account's other checks apply as in Login.
func (db *DB) pendingLogin(ctx context.Context, u *skjold.User, kind string) (*skjold.Session, *skjold.Identity, error) {
	release, err := db.attempts.begin(u.ID)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	cr, err := db.credentials(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	if until := optTime(cr.lockedUntil); until != nil && db.now().Before(*until) {
		return nil, nil, errLockedOut
	}
	if err := db.admit(ctx, u); err != nil {
		return nil, nil, err
	}
	s, id, err := db.openSession(ctx, u, kind, sourceOf(ctx), false)
	if err != nil {
		return nil, nil, err
	}
	if err := db.sendConfirmation(ctx, u); err != nil && !isCode(err, skjold.ETOOMANY) {
		db.log.Error("confirmation code not sent", "err", err)
	}
	return s, id, nil
}

func isCode(err error, code string) bool {
	var e *skjold.Error
	return errors.As(err, &e) && e.Code == code
}

// SendEmailConfirmation mails a new confirmation code to the caller's pending address.
func (db *DB) SendEmailConfirmation(ctx context.Context) error {
	c, err := sessionCaller(ctx)
	if err != nil {
		return err
	}
	u, err := scanUser(db.queryRow(ctx, selectUsers+" WHERE u.id = ?", c.UserID))
	if err != nil {
		return notFound(err, "user")
	}
	if !u.Pending {
		return errNothingToConfirm
	}
	return db.sendConfirmation(ctx, u)
}

// sendConfirmation stores a new code for the pending account u, at most
// confirmationsPerHour an hour, and mails it in the background.
func (db *DB) sendConfirmation(ctx context.Context, u *skjold.User) error {
	code, hash := newCode()
	now := db.now()
	err := db.write(ctx, func(tx *Tx) error {
		var n int
		var oldest sql.NullInt64
		if err := tx.queryRow("SELECT COUNT(*), MIN(sent_at) FROM email_confirmations WHERE user_id = ? AND sent_at > ?",
			u.ID, micros(now.Add(-time.Hour))).Scan(&n, &oldest); err != nil {
			return err
		}
		if n >= confirmationsPerHour {
			return &skjold.Error{Code: skjold.ETOOMANY, RetryAfter: fromMicros(oldest.Int64).Add(time.Hour).Sub(now),
				Message: fmt.Sprintf("%d codes were sent in the last hour: use the newest, or ask for another later", n)}
		}
		if _, err := tx.exec("INSERT INTO email_confirmations (user_id, sent_at) VALUES (?, ?)", u.ID, micros(now)); err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE users SET confirm_hash = ?, confirm_expires = ?, confirm_failures = 0 WHERE id = ?",
			hash, micros(now.Add(confirmationLifetime)), u.ID); err != nil {
			return err
		}
		tx.audit(userEvent(u, "user.confirmation_sent", sourceOf(ctx)))
		return nil
	})
	if err != nil {
		return err
	}
	lang := db.userLanguage(ctx, u.ID)
	if lang == "" {
		lang = skjold.LanguageFromContext(ctx) // the page the person logged in on
	}
	cat, issuer := i18n.Mail(lang), db.auth.Issuer
	body := mailBody(cat.T("mail.confirm.intro", "issuer", issuer),
		cat.T("mail.confirm.code", "minutes", int(confirmationLifetime/time.Minute)), code, cat.T("mail.confirm.ignore"))
	return db.mailInBackground(ctx, skjold.Message{To: u.Email, Subject: cat.T("mail.confirm.subject", "issuer", issuer), Body: body})
}

// ConfirmEmail confirms the caller's pending address with code. A wrong code counts; the
// fifth voids it. If the address already has another account, the account stays pending
// and the caller (who holds the code, so owns the address) is told; the event goes to the
// operator's audit log, not the tenant's, whose admin must not learn it.
func (db *DB) ConfirmEmail(ctx context.Context, code string) error {
	c, err := sessionCaller(ctx)
	if err != nil {
		return err
	}
	if !validCode(code) {
		return skjold.FieldError("code", "format", "code must be %d digits", codeDigits)
	}
	now := db.now()
	var answer error
	err = db.write(ctx, func(tx *Tx) error {
		u, err := scanUser(tx.queryRow(selectUsers+" WHERE u.id = ?", c.UserID))
		if err != nil {
			return notFound(err, "user")
		}
		if !u.Pending {
			return errNothingToConfirm
		}
		var want []byte
		var expires sql.NullInt64
		var failures int
		if err := tx.queryRow("SELECT confirm_hash, confirm_expires, confirm_failures FROM users WHERE id = ?", u.ID).
			Scan(&want, &expires, &failures); err != nil {
			return err
		}
		switch {
		case want == nil || !expires.Valid || !now.Before(fromMicros(expires.Int64)) || failures >= maxConfirmationErrors:
			answer = errWrongCode
			return nil
		case subtle.ConstantTimeCompare(hashSecret(code), want) != 1:
			failures++
			q := "UPDATE users SET confirm_failures = ? WHERE id = ?"
			if failures >= maxConfirmationErrors {
				q = "UPDATE users SET confirm_failures = ?, confirm_hash = NULL WHERE id = ?"
			}
			if _, err := tx.exec(q, failures, u.ID); err != nil {
				return err
			}
			tx.audit(userEvent(u, "user.confirmation_failed", c.Source))
			answer = errWrongCode
			return nil
		}
		var taken bool
		if err := tx.queryRow("SELECT EXISTS (SELECT 1 FROM users WHERE email = ?)", u.Email).Scan(&taken); err != nil {
			return err
		}
		if taken {
			if _, err := tx.exec("UPDATE users SET confirm_hash = NULL WHERE id = ?", u.ID); err != nil {
				return err
			}
			tx.audit(&skjold.AuditEvent{Actor: "user:" + u.ID, Action: "user.email_taken", Source: c.Source,
				Fields: []string{"user:" + u.ID, "tenant:" + u.TenantID}})
			answer = errAddressTaken
			return nil
		}
		_, err = tx.exec(`UPDATE users SET email = pending_email, pending_email = NULL, otp_hash = NULL,
			confirm_hash = NULL, confirm_expires = NULL, confirm_failures = 0 WHERE id = ?`, u.ID)
		if isUniqueViolation(err) { // taken by a confirm that committed since the check
			return errAddressTaken
		} else if err != nil {
			return err
		}
		tx.audit(userEvent(u, "user.email_confirmed", c.Source))
		return nil
	})
	if err != nil {
		return err
	}
	return answer
}
