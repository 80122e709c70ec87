package store

import (
	"context"
	"database/sql"
	"time"
	"unicode/utf8"

	"github.com/skjold-project/skjold"
)

const selectGrants = `SELECT id, tenant_id, user_id, reason, granted_by, created_at, expires_at, revoked_at FROM grants`

func scanGrant(s scanner) (*skjold.Grant, error) {
	var g skjold.Grant
	var created, expires int64
	var revoked sql.NullInt64
	if err := s.Scan(&g.ID, &g.TenantID, &g.UserID, &g.Reason, &g.GrantedBy, &created, &expires, &revoked); err != nil {
		return nil, err
	}
	g.CreatedAt, g.ExpiresAt, g.RevokedAt = fromMicros(created), fromMicros(expires), optTime(revoked)
	return &g, nil
}

// CreateGrant lets one operator staff member read the caller's tenant's personal data.
func (db *DB) CreateGrant(ctx context.Context, g *skjold.Grant, hours int) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	if !c.Can(skjold.ScopeAdmin) || c.UserID == "" {
		return skjold.Errorf(skjold.EFORBIDDEN, "support access is granted by a tenant's administrator in person")
	}
	set, err := db.sessionSettingsFor(ctx, c.TenantID)
	if err != nil {
		return err
	}
	if hours < 1 || hours > set.SupportMaxHours {
		return skjold.FieldError("hours", "range", "hours must be between 1 and the tenant's maximum of %d", set.SupportMaxHours)
	}
	if err := checkReason(g.Reason); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error { return tx.insertGrant(c, g, hours) })
}

// insertGrant creates a checked grant for an active operator staff member; approving a
// grant request uses it too, in the transaction that decides the request.
func (tx *Tx) insertGrant(c *skjold.Caller, g *skjold.Grant, hours int) error {
	db := tx.db
	{
		var tenant sql.NullString
		var suspended int
		err := tx.queryRow("SELECT tenant_id, suspended FROM users WHERE id = ?", g.UserID).Scan(&tenant, &suspended)
		if err != nil || tenant.Valid || suspended == 1 || !skjold.ValidID(g.UserID) {
			return errNotFound("operator user") // only active operator staff can be granted access
		}
		now := db.now().UTC().Truncate(time.Microsecond)
		g.ID, g.TenantID, g.GrantedBy, g.CreatedAt = newID(), c.TenantID, c.UserID, now
		g.ExpiresAt, g.RevokedAt = now.Add(time.Duration(hours)*time.Hour), nil
		_, err = tx.exec(`INSERT INTO grants (id, tenant_id, user_id, reason, granted_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, g.ID, g.TenantID, g.UserID, g.Reason, g.GrantedBy, micros(now), micros(g.ExpiresAt))
		tx.audit(event(c, "grant.create", "", "", []string{"grant:" + g.ID, "user:" + g.UserID, "hours:" + itoa(hours)}))
		return err
	}
}

func checkReason(reason string) error {
	if n := utf8.RuneCountInString(reason); n < 3 || n > 500 {
		return skjold.FieldError("reason", "required", "give a reason of 3 to 500 characters (a ticket number will do)")
	}
	return nil
}

// FindGrants lists the grants of the caller's tenant, or an operator user's own.
func (db *DB) FindGrants(ctx context.Context) ([]*skjold.Grant, error) {
	c := skjold.CallerFromContext(ctx)
	switch {
	case c == nil:
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator:
		return queryAll(ctx, db, scanGrant, selectGrants+" WHERE user_id = ? ORDER BY id", c.UserID)
	}
	return queryAll(ctx, db, scanGrant, selectGrants+" WHERE tenant_id = ? ORDER BY id", c.TenantID)
}

// RevokeGrant ends one of the caller's tenant's grants (or, for operator staff, one of
// their own) at once.
func (db *DB) RevokeGrant(ctx context.Context, id string) error {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	if !skjold.ValidID(id) {
		return errNotFound("grant")
	}
	return db.write(ctx, func(tx *Tx) error {
		q, arg := "UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND tenant_id = ?", c.TenantID
		if c.Operator {
			q, arg = "UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND user_id = ?", c.UserID
		}
		res, err := tx.exec(q, micros(db.now()), id, arg)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("grant")
		}
		tx.audit(event(c, "grant.revoke", "", "", []string{"grant:" + id}))
		return nil
	})
}

// ActiveGrant returns the live grant of an operator user in a tenant.
func (db *DB) ActiveGrant(ctx context.Context, tenantID, userID string) (*skjold.Grant, error) {
	none := skjold.Errorf(skjold.EFORBIDDEN, "operator staff read a tenant's personal data only with a live support grant from the tenant")
	if !skjold.ValidID(tenantID) {
		return nil, none
	}
	g, err := scanGrant(db.queryRow(ctx, selectGrants+` WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL
		AND expires_at > ? ORDER BY expires_at DESC LIMIT 1`, tenantID, userID, micros(db.now())))
	if err != nil {
		return nil, notFoundAs(err, none)
	}
	if err := db.refuseFrozen(ctx, tenantID); err != nil {
		return nil, err // a frozen tenant's data is kept, not read
	}
	if err := db.checkAddress(ctx, tenantID, "user:"+userID); err != nil {
		return nil, err // the tenant's allow list binds its support staff too [B10]
	}
	return g, nil
}
