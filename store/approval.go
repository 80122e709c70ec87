package store

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.ApprovalService = (*DB)(nil)

// needsNoApproval returns EFORBIDDEN when the tenant ("" for the operator) puts action
// under four-eyes control: it must then go through RequestApproval.
func (db *DB) needsNoApproval(ctx context.Context, tenantID, action string) error {
	set, err := db.sessionSettingsFor(ctx, tenantID)
	if err != nil {
		return err
	}
	if slices.Contains(set.FourEyes, action) {
		return skjold.Errorf(skjold.EFORBIDDEN, "%s needs a second person's approval: file it with POST /api/v1/approvals", action)
	}
	return nil
}

const selectApprovals = `SELECT id, tenant_id, action, target, role, profile, status, requested_by, decided_by,
	created_at, expires_at, decided_at, until, override_holds FROM approvals`

func scanApproval(s scanner) (*skjold.Approval, error) {
	var a skjold.Approval
	var created, expires int64
	var decided, until sql.NullInt64
	var override int
	if err := s.Scan(&a.ID, &a.TenantID, &a.Action, &a.Target, &a.Role, &a.Profile, &a.Status, &a.RequestedBy,
		&a.DecidedBy, &created, &expires, &decided, &until, &override); err != nil {
		return nil, err
	}
	a.OverrideHolds = override == 1
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = fromMicros(created), fromMicros(expires), optTime(decided)
	a.Until = optTime(until)
	return &a, nil
}

// personCaller returns the caller when it is a logged-in person: four eyes are two people,
// never a token.
func personCaller(ctx context.Context) (*skjold.Caller, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil || c.UserID == "" {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "approvals are filed and decided by logged-in people, not API tokens")
	}
	return c, nil
}

// RequestApproval files a role elevation or a second-factor reset for a second person.
func (db *DB) RequestApproval(ctx context.Context, a *skjold.Approval) error {
	c, err := personCaller(ctx)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		tenantID, err := tx.checkRequest(c, a)
		if err != nil {
			return err
		}
		now := db.now().UTC().Truncate(time.Microsecond)
		a.ID, a.TenantID, a.Status, a.RequestedBy = newID(), tenantID, skjold.ApprovalPending, c.UserID
		a.CreatedAt, a.ExpiresAt, a.DecidedBy, a.DecidedAt = now, now.Add(skjold.ApprovalLifetime), "", nil
		var until any // only a freeze has an end date
		if a.Action != skjold.ActionTenantFreeze {
			a.Until = nil
		} else if a.Until != nil {
			until = micros(*a.Until)
		}
		_, err = tx.exec(`INSERT INTO approvals (id, tenant_id, action, target, role, profile, status, requested_by,
			decided_by, created_at, expires_at, until, override_holds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)`,
			a.ID, a.TenantID, a.Action, a.Target, a.Role, a.Profile, a.Status, a.RequestedBy, micros(now),
			micros(a.ExpiresAt), until, boolInt(a.OverrideHolds))
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: a.TenantID, Action: "approval.request", Source: c.Source,
			Fields: []string{"approval:" + a.ID, "action:" + a.Action, "target:" + a.Target}})
		return err
	})
}

// checkRequest checks that the caller could do what it files, and returns the tenant whose
// people decide it ("" for the operator's).
func (tx *Tx) checkRequest(c *skjold.Caller, a *skjold.Approval) (string, error) {
	if a.Action != skjold.ActionTenantDeletion {
		a.OverrideHolds = false // only a deletion destroys what holds keep
	}
	switch a.Action {
	case skjold.ActionRoleElevation, skjold.ActionTwoFactorReset:
		u, err := tx.userForUpdate(c, a.Target)
		if err != nil {
			return "", err
		}
		if a.Action == skjold.ActionTwoFactorReset {
			a.Role, a.Profile = "", ""
		} else if _, err := tx.applyUserUpdate(c, u, skjold.UserUpdate{Role: &a.Role, Profile: &a.Profile}); err != nil {
			return "", err // the requester must be able to give the role too
		}
		return u.TenantID, nil
	case skjold.ActionTenantDeletion:
		if !c.Operator || !c.Can(skjold.ScopeOperatorManage) {
			return "", skjold.Errorf(skjold.EFORBIDDEN, "tenant deletion is filed by operator staff who manage tenants")
		}
		var destroyed sql.NullInt64
		if err := tx.queryRow("SELECT destroyed_at FROM tenants WHERE id = ?", a.Target).Scan(&destroyed); err != nil || destroyed.Valid {
			return "", notFound(errOr(err, sql.ErrNoRows), "tenant")
		}
		a.Role, a.Profile = "", ""
		_, err := tx.terminationHolds(a)
		return "", err
	case skjold.ActionTenantFreeze:
		return "", tx.checkFreeze(c, a)
	case skjold.ActionBulkExport:
		return checkBulkExport(c, a)
	case skjold.ActionFourEyesReduction:
		return tx.checkFourEyesReduction(c, a)
	}
	return "", skjold.FieldError("action", "action", "approvals can be filed for %s, %s, %s, %s, %s and %s", skjold.ActionRoleElevation,
		skjold.ActionTwoFactorReset, skjold.ActionBulkExport, skjold.ActionFourEyesReduction, skjold.ActionTenantFreeze,
		skjold.ActionTenantDeletion)
}

// errOr returns err, or def when err is nil.
func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// FindApprovals lists the approvals of the caller's tenant, or the operator's.
func (db *DB) FindApprovals(ctx context.Context, page skjold.Page) ([]*skjold.Approval, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	if err := page.Normalize(); err != nil {
		return nil, err
	}
	return queryAll(ctx, db, scanApproval, selectApprovals+" WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?",
		c.TenantID, page.After, page.Limit)
}

// DecideApproval approves and carries out, or rejects, a pending approval.
func (db *DB) DecideApproval(ctx context.Context, id string, approve bool) (*skjold.Approval, error) {
	c, err := personCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("approval")
	}
	var out *skjold.Approval
	err = db.write(ctx, func(tx *Tx) error {
		a, err := scanApproval(tx.queryRow(selectApprovals+" WHERE id = ? AND tenant_id = ?", id, c.TenantID))
		if err != nil {
			return notFound(err, "approval")
		}
		switch now := db.now(); {
		case a.Status != skjold.ApprovalPending:
			return skjold.Errorf(skjold.ECONFLICT, "this approval was already decided")
		case !now.Before(a.ExpiresAt):
			return skjold.Errorf(skjold.ECONFLICT, "this approval lapsed; file it again")
		case a.RequestedBy == c.UserID:
			return skjold.Errorf(skjold.EFORBIDDEN, "nobody approves their own request: a second person must")
		}
		if approve {
			if err := tx.carryOut(c, a); err != nil {
				return err
			}
		}
		out = a
		return tx.decide(c, a, approve)
	})
	// A freeze or deletion holds on this node at once: the token cache is cleared, and it
	// never caches a frozen tenant's tokens (see Authenticate).
	lifecycle := out != nil && (out.Action == skjold.ActionTenantDeletion || out.Action == skjold.ActionTenantFreeze)
	if err == nil && lifecycle && out.Status == skjold.ApprovalApproved {
		db.forgetTenant(out.Target)
	}
	if err == nil && out.Action == skjold.ActionFourEyesReduction {
		db.settings.clear()
	}
	return out, err
}

// decide records the decision on a.
func (tx *Tx) decide(c *skjold.Caller, a *skjold.Approval, approve bool) error {
	a.Status = skjold.ApprovalRejected
	if approve {
		a.Status = skjold.ApprovalApproved
	}
	now := tx.db.now().UTC().Truncate(time.Microsecond)
	a.DecidedBy, a.DecidedAt = c.UserID, &now
	_, err := tx.exec("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
		a.Status, a.DecidedBy, micros(now), a.ID)
	tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: a.TenantID, Action: "approval." + a.Status, Source: c.Source,
		Fields: []string{"approval:" + a.ID, "action:" + a.Action, "user:" + a.Target}})
	return err
}

// carryOut does what an approval asks, as the approver: the approver must be allowed to do
// it (manage the user, give the role).
func (tx *Tx) carryOut(c *skjold.Caller, a *skjold.Approval) error {
	if a.Action == skjold.ActionTenantDeletion {
		if !c.Operator || !c.Can(skjold.ScopeOperatorManage) {
			return skjold.Errorf(skjold.EFORBIDDEN, "tenant deletion is approved by operator staff who manage tenants")
		}
		return tx.terminateTenant(c, a)
	}
	if a.Action == skjold.ActionTenantFreeze {
		return tx.freezeTenant(c, a)
	}
	if a.Action == skjold.ActionBulkExport {
		_, err := checkBulkExport(c, a) // the export itself runs later, once, as its requester
		return err
	}
	if a.Action == skjold.ActionFourEyesReduction {
		return tx.reduceFourEyes(c, a)
	}
	u, err := tx.userForUpdate(c, a.Target)
	if err != nil {
		return err
	}
	switch a.Action {
	case skjold.ActionRoleElevation:
		fields, err := tx.applyUserUpdate(c, u, skjold.UserUpdate{Role: &a.Role, Profile: &a.Profile})
		if err != nil {
			return err
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: u.TenantID, Action: "user.update", Source: c.Source,
			Fields: append([]string{"user:" + u.ID, "approval:" + a.ID}, fields...)})
		return tx.saveUser(u)
	case skjold.ActionTwoFactorReset:
		_, err := tx.exec(`UPDATE users SET totp_key_id = NULL, totp_secret = NULL, totp_pending = NULL,
			totp_last_step = 0 WHERE id = ?`, u.ID)
		if err == nil {
			_, err = tx.exec("DELETE FROM recovery_codes WHERE user_id = ?", u.ID)
		}
		if err != nil {
			return err
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: u.TenantID, Action: "auth.2fa_reset", Source: c.Source,
			Fields: []string{"user:" + u.ID, "approval:" + a.ID}})
		return tx.revokeSessions(c, "user_id = ?", u.ID) // the user logs in again and enrols anew
	}
	return skjold.Errorf(skjold.EINVALID, "unknown approval action")
}
