package store

import (
	"context"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// resetLifetime is how long a reset link works [B4].
const resetLifetime = 30 * time.Minute

// resetsPerHour caps the reset e-mails one account receives; requests beyond it are
// answered as usual and send nothing.
const resetsPerHour = 3

// maxResetsInFlight bounds the reset requests being worked on in the background; beyond it
// a request is answered as usual and dropped (a flood must not pile up goroutines).
const maxResetsInFlight = 64

const resetPrefix = "skjold_r_"

// Unlock reopens an idle-locked session with the password.
func (db *DB) Unlock(ctx context.Context, password string) error {
	c, u, cr, release, err := db.sessionUser(ctx)
	if err != nil {
		return err
	}
	defer release()
	if until := optTime(cr.lockedUntil); until != nil && db.now().Before(*until) {
		return skjold.Errorf(skjold.ETOOMANY, "too many failed attempts: try again in a few minutes")
	}
	ok, _, err := db.Hasher().Verify(ctx, cr.hash, password)
	if err != nil {
		return err
	} else if !ok {
		return db.loginFailed(ctx, u, "unlock", skjold.Errorf(skjold.EUNAUTHORIZED, "wrong password"))
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE sessions SET locked = 0, last_seen_at = ? WHERE id = ?", micros(db.now()), c.SessionID)
		tx.audit(userEvent(u, "auth.session_unlocked", c.Source, "session:"+c.SessionID))
		return err
	})
}

// ChangePassword replaces the caller's password; the user's other sessions end.
func (db *DB) ChangePassword(ctx context.Context, old, new string) error {
	c, u, cr, release, err := db.sessionUser(ctx)
	if err != nil {
		return err
	}
	defer release()
	if until := optTime(cr.lockedUntil); until != nil && db.now().Before(*until) {
		return errLockedOut
	}
	ok, _, err := db.Hasher().Verify(ctx, cr.hash, old)
	if err != nil {
		return err
	} else if !ok { // a guess at the password, like a failed login: counted, and 401
		return db.loginFailed(ctx, u, "password_change", &skjold.Error{Code: skjold.EUNAUTHORIZED,
			Message: "the current password is wrong", Field: "old_password", Rule: "wrong"})
	}
	hash, err := db.newPasswordHash(ctx, u, cr.hash, new)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		if err := tx.setPassword(u, cr.hash, hash); err != nil {
			return err
		}
		tx.audit(userEvent(u, "auth.password_changed", c.Source))
		return tx.revokeSessions(c, "user_id = ? AND id <> ?", u.ID, c.SessionID)
	})
}

// newPasswordHash checks password against the policy of u's tenant and u's password
// history (the current hash and the last N), and returns its hash.
func (db *DB) newPasswordHash(ctx context.Context, u *skjold.User, current, password string) (string, error) {
	set, err := db.sessionSettingsFor(ctx, u.TenantID)
	if err != nil {
		return "", err
	}
	personal := []string{u.Name, u.Email}
	if err := db.auth.Checker.CheckPassword(ctx, set.Password, password, personal); err != nil {
		return "", err
	}
	old := []string{current}
	if set.Password.History > 1 {
		prev, err := queryAll(ctx, db, func(s scanner) (string, error) { var h string; return h, s.Scan(&h) },
			"SELECT hash FROM password_history WHERE user_id = ? ORDER BY created_at DESC LIMIT ?", u.ID, set.Password.History-1)
		if err != nil {
			return "", err
		}
		old = append(old, prev...)
	}
	if set.Password.History > 0 {
		for _, h := range old {
			if same, _, err := db.Hasher().Verify(ctx, h, password); err != nil {
				return "", err
			} else if same {
				return "", skjold.FieldError("password", "history", "this password was used recently; choose another")
			}
		}
	}
	return db.Hasher().Hash(ctx, password)
}

// setPassword replaces u's password hash (if it is still old) and keeps the old one in the
// history, trimmed to the longest history a policy may ask for.
func (tx *Tx) setPassword(u *skjold.User, old, hash string) error {
	now := micros(tx.db.now())
	// A lock from wrong second-factor codes stays: a new password is no second factor.
	res, err := tx.exec(`UPDATE users SET password_hash = ?, password_changed_at = ?, must_change = 0,
		failed_logins = 0, locked_until = CASE WHEN failed_codes > 0 THEN locked_until END
		WHERE id = ? AND password_hash = ?`, hash, now, u.ID, old)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return skjold.Errorf(skjold.ECONFLICT, "the password changed meanwhile; try again")
	}
	if _, err := tx.exec("INSERT INTO password_history (user_id, hash, created_at) VALUES (?, ?, ?)", u.ID, old, now); err != nil {
		return err
	}
	_, err = tx.exec(`DELETE FROM password_history WHERE user_id = ? AND created_at < (SELECT MIN(created_at) FROM
		(SELECT created_at FROM password_history WHERE user_id = ? ORDER BY created_at DESC LIMIT ?) AS recent)`,
		u.ID, u.ID, skjold.MaxPasswordHistory)
	return err
}

// RequestReset e-mails a reset link to an active user with this address. The answer, and
// the time it takes, do not depend on whether the address is known: everything after the
// address's syntax check happens in the background, and its failures are logged.
func (db *DB) RequestReset(ctx context.Context, email string) error {
	if err := db.authReady(); err != nil {
		return err
	}
	email, err := skjold.NormalizeEmail("email", email)
	if err != nil {
		return err
	}
	select {
	case db.resetSlots <- struct{}{}:
	default:
		db.log.Warn("reset request dropped: too many in progress")
		return nil
	}
	db.bg.Add(1)
	go db.reset(email, sourceOf(ctx), skjold.LanguageFromContext(ctx))
	return nil
}

// reset makes and sends a reset link for the active user with this address, if any, and
// at most resetsPerHour an hour.
func (db *DB) reset(email, src, hint string) {
	defer func() { <-db.resetSlots; db.bg.Done() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := db.userByEmail(ctx, email)
	if err != nil || u == nil || db.inactive(u) != nil {
		if err != nil {
			db.log.Error("reset request failed", "err", err)
		}
		return
	}
	token := randomSecret(resetPrefix)
	now := db.now()
	sent := false
	err = db.write(ctx, func(tx *Tx) error {
		var recent int
		if err := tx.queryRow("SELECT COUNT(*) FROM password_resets WHERE user_id = ? AND created_at > ?",
			u.ID, micros(now.Add(-time.Hour))).Scan(&recent); err != nil || recent >= resetsPerHour {
			return err
		}
		sent = true
		tx.audit(userEvent(u, "auth.reset_requested", src))
		_, err := tx.exec("INSERT INTO password_resets (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
			hashSecret(token), u.ID, micros(now), micros(now.Add(resetLifetime)))
		return err
	})
	if err != nil {
		db.log.Error("reset request failed", "err", err)
	} else if sent {
		db.sendReset(ctx, u, token, hint)
	}
}

// sendReset e-mails the reset link in the person's saved language, else in hint (the
// language of the page the reset was asked on), else in English.
func (db *DB) sendReset(ctx context.Context, u *skjold.User, token, hint string) {
	lang := db.userLanguage(ctx, u.ID)
	if lang == "" {
		lang = hint
	}
	cat := i18n.Mail(lang)
	issuer := db.auth.Issuer
	body := mailBody(cat.T("mail.reset.intro", "issuer", issuer),
		cat.T("mail.reset.link", "minutes", int(resetLifetime/time.Minute)), db.auth.ResetURL+token,
		cat.T("mail.reset.api"), token, cat.T("mail.reset.ignore"))
	m := skjold.Message{To: u.Email, Subject: cat.T("mail.reset.subject", "issuer", issuer), Body: body}
	if err := db.auth.Mailer.Send(ctx, m); err != nil {
		db.log.Error("reset e-mail not sent", "err", err) // no address: it is personal data
	}
}

// CompleteReset sets a new password with a reset token; every session of the user ends.
func (db *DB) CompleteReset(ctx context.Context, token, password string) error {
	if err := db.authReady(); err != nil {
		return err
	}
	invalid := skjold.Errorf(skjold.EUNAUTHORIZED, "this reset link is invalid, used or expired; ask for a new one")
	if !strings.HasPrefix(token, resetPrefix) || len(token) != len(resetPrefix)+secretLen {
		return invalid
	}
	hash := hashSecret(token)
	var userID string
	err := db.queryRow(ctx, "SELECT user_id FROM password_resets WHERE hash = ? AND used_at IS NULL AND expires_at > ?",
		hash, micros(db.now())).Scan(&userID)
	if err != nil {
		return notFoundAs(err, invalid)
	}
	u, err := scanUser(db.queryRow(ctx, selectUsers+" WHERE u.id = ?", userID))
	if err != nil {
		return notFoundAs(err, invalid)
	}
	if db.inactive(u) != nil {
		return invalid
	}
	cr, err := db.credentials(ctx, u.ID)
	if err != nil {
		return err
	}
	newHash, err := db.newPasswordHash(ctx, u, cr.hash, password)
	if err != nil {
		return err
	}
	c := &skjold.Caller{Actor: "user:" + u.ID, TenantID: u.TenantID, Source: sourceOf(ctx)}
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec("UPDATE password_resets SET used_at = ? WHERE hash = ? AND used_at IS NULL", micros(db.now()), hash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return invalid // used by a concurrent request
		}
		if _, err := tx.exec("UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
			micros(db.now()), u.ID); err != nil {
			return err
		}
		if err := tx.setPassword(u, cr.hash, newHash); err != nil {
			return err
		}
		tx.audit(userEvent(u, "auth.password_reset", c.Source))
		return tx.revokeSessions(c, "user_id = ?", u.ID)
	})
}
