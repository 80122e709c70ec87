package store

import (
	"context"

	"github.com/skjold-project/skjold"
)

// BreakGlassResetTwoFactor removes the second factor (TOTP secret and recovery codes) of the
// user with this id or e-mail address (of tenantID's people, or of the operator's staff when
// tenantID is ""), ends their sessions so that they log in again and enrol anew, and records
// auth.2fa_reset with "break_glass". It is the way back for a sole owner who lost their
// authenticator and their recovery codes, where no second person can approve a reset: only a
// command run on the server's own machine (Caller.Local, Operator), which holds the data
// directory and the master key, may use it. Returns the user as it was before the reset.
// Errors: EFORBIDDEN for any other caller, ENOTFOUND when there is no such user, EINVALID
// when the user has no second factor.
func (db *DB) BreakGlassResetTwoFactor(ctx context.Context, tenantID, user string) (*skjold.User, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil || !c.Local || !c.Operator {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "break-glass resets are made only on the server's own command line")
	}
	var u *skjold.User
	err := db.write(ctx, func(tx *Tx) error {
		q, args := selectUsers+" WHERE (u.id = ? OR u.email = ?)", []any{user, user}
		if tenantID == "" {
			q += " AND u.tenant_id IS NULL"
		} else {
			q, args = q+" AND u.tenant_id = ?", append(args, tenantID)
		}
		var err error
		if u, err = scanUser(tx.queryRow(q, args...)); err != nil {
			return notFound(err, "user")
		}
		if !u.TwoFactor {
			return skjold.Errorf(skjold.EINVALID, "the user has no second factor to reset")
		}
		if _, err := tx.exec(`UPDATE users SET totp_key_id = NULL, totp_secret = NULL, totp_pending = NULL,
			totp_last_step = 0 WHERE id = ?`, u.ID); err != nil {
			return err
		}
		if _, err := tx.exec("DELETE FROM recovery_codes WHERE user_id = ?", u.ID); err != nil {
			return err
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: u.TenantID, Action: "auth.2fa_reset", Source: c.Source,
			Fields: []string{"user:" + u.ID, "via:break_glass"}})
		return tx.revokeSessions(c, "user_id = ?", u.ID)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
