package store

import (
	"context"

	"github.com/skjold-project/skjold"
)

// totpLabel binds sealed TOTP secrets to their use; the user id binds them to their owner.
const totpLabel = "totp"

// recoveryCodeCount is how many recovery codes an enrolment hands out.
const recoveryCodeCount = 10

var errCode = skjold.Errorf(skjold.EUNAUTHORIZED, "invalid or already used code")

// checkSecondFactor accepts a TOTP code (each time step once) or an unused recovery code,
// resetting the account's count of wrong codes, and counts a wrong one (see codeFailed).
func (db *DB) checkSecondFactor(ctx context.Context, u *skjold.User, cr *credentials, code string) error {
	if until := optTime(cr.lockedUntil); until != nil && db.now().Before(*until) {
		return skjold.Errorf(skjold.ETOOMANY, "too many failed attempts: try again in a few minutes")
	}
	secret, err := db.keys.OpenSecret(totpLabel, u.ID, cr.keyID.String, cr.totp)
	if err != nil {
		return err
	}
	src := sourceOf(ctx)
	if step, ok := db.auth.OTP.Verify(string(secret), code, db.now(), cr.lastStep); ok {
		used := false
		err := db.write(ctx, func(tx *Tx) error { // the step only grows: a concurrent replay loses
			res, err := tx.exec("UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", step, u.ID, step)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			if used = n == 1; used {
				return tx.codesPassed(u.ID)
			}
			return nil
		})
		if err != nil || used {
			return err
		}
		return db.codeFailed(ctx, u, "replayed_code", errCode)
	}
	hash := db.auth.OTP.HashRecoveryCode(code)
	used := false
	err = db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM recovery_codes WHERE user_id = ? AND hash = ?", u.ID, hash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			used = true
			tx.audit(userEvent(u, "auth.recovery_code_used", src))
			return tx.codesPassed(u.ID)
		}
		return nil
	})
	if err != nil || used {
		return err
	}
	return db.codeFailed(ctx, u, "second_factor", errCode)
}

// codesPassed resets the count of wrong codes after a correct one.
func (tx *Tx) codesPassed(userID string) error {
	_, err := tx.exec("UPDATE users SET failed_codes = 0 WHERE id = ?", userID)
	return err
}

// SecondFactor accepts a code for the caller's session.
func (db *DB) SecondFactor(ctx context.Context, code string) error {
	c, u, cr, release, err := db.sessionUser(ctx)
	if err != nil {
		return err
	}
	defer release()
	if !u.TwoFactor {
		return skjold.Errorf(skjold.EINVALID, "this account has no second factor enrolled")
	}
	if err := db.checkSecondFactor(ctx, u, cr, code); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE sessions SET second_factor = 1 WHERE id = ?", c.SessionID)
		tx.audit(userEvent(u, "auth.second_factor", c.Source, "session:"+c.SessionID))
		return err
	})
}

// sessionUser returns the logged-in caller with its user and credentials, holding the
// account's check slot (see inflight) until release is called.
func (db *DB) sessionUser(ctx context.Context) (c *skjold.Caller, u *skjold.User, cr *credentials, release func(), err error) {
	if err := db.authReady(); err != nil {
		return nil, nil, nil, nil, err
	}
	if c, err = sessionCaller(ctx); err != nil {
		return nil, nil, nil, nil, err
	}
	if release, err = db.attempts.begin(c.UserID); err != nil {
		return nil, nil, nil, nil, err
	}
	u, err = scanUser(db.queryRow(ctx, selectUsers+" WHERE u.id = ?", c.UserID))
	if err == nil {
		cr, err = db.credentials(ctx, u.ID)
	}
	if err != nil {
		release()
		return nil, nil, nil, nil, notFound(err, "user")
	}
	return c, u, cr, release, nil
}

// BeginTwoFactor makes a TOTP secret for the caller, pending until ConfirmTwoFactor.
func (db *DB) BeginTwoFactor(ctx context.Context) (*skjold.OTPEnrolment, error) {
	c, u, _, release, err := db.sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if u.TwoFactor {
		return nil, skjold.Errorf(skjold.ECONFLICT, "a second factor is already enrolled")
	}
	enr, err := db.auth.OTP.Enrol(db.auth.Issuer, u.Email)
	if err != nil {
		return nil, err
	}
	keyID, sealed, err := db.keys.SealSecret(totpLabel, u.ID, []byte(enr.Secret))
	if err != nil {
		return nil, err
	}
	err = db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE users SET totp_key_id = ?, totp_pending = ? WHERE id = ? AND totp_secret IS NULL",
			keyID, sealed, u.ID)
		if err == nil {
			err = tx.recordMasterKey(keyID)
		}
		tx.audit(userEvent(u, "auth.2fa_begin", c.Source))
		return err
	})
	return enr, err
}

// ConfirmTwoFactor enables the pending secret with a first code and returns recovery codes.
func (db *DB) ConfirmTwoFactor(ctx context.Context, code string) ([]string, error) {
	c, u, cr, release, err := db.sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if u.TwoFactor || cr.pending == nil {
		return nil, skjold.Errorf(skjold.EINVALID, "start the enrolment first")
	}
	secret, err := db.keys.OpenSecret(totpLabel, u.ID, cr.keyID.String, cr.pending)
	if err != nil {
		return nil, err
	}
	step, ok := db.auth.OTP.Verify(string(secret), code, db.now(), 0)
	if !ok {
		return nil, db.codeFailed(ctx, u, "second_factor", errCode)
	}
	codes, hashes, err := db.auth.OTP.RecoveryCodes(recoveryCodeCount)
	if err != nil {
		return nil, err
	}
	err = db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ?
			WHERE id = ? AND totp_pending = ?`, step, u.ID, cr.pending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return skjold.Errorf(skjold.ECONFLICT, "the enrolment changed meanwhile; start again")
		}
		if err := tx.replaceRecoveryCodes(u.ID, hashes); err != nil {
			return err
		}
		if err := tx.codesPassed(u.ID); err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE sessions SET second_factor = 1 WHERE id = ?", c.SessionID); err != nil {
			return err
		}
		tx.audit(userEvent(u, "auth.2fa_enabled", c.Source))
		return nil
	})
	return codes, err
}

func (tx *Tx) replaceRecoveryCodes(userID string, hashes [][]byte) error {
	if _, err := tx.exec("DELETE FROM recovery_codes WHERE user_id = ?", userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.exec("INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)", userID, h); err != nil {
			return err
		}
	}
	return nil
}
