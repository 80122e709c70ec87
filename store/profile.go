package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/skjold-project/skjold"
)

// purposePrefix marks a purpose limit among the scopes of a token or profile. Both are
// stored in one column ("read,write,purpose:contract"), so that limiting purposes needed no
// schema change; no scope has this prefix.
const purposePrefix = "purpose:"

// joinGrants returns the stored form of scopes and a purpose limit.
func joinGrants(scopes, purposes []string) string {
	all := slices.Clone(scopes)
	for _, p := range purposes {
		all = append(all, purposePrefix+p)
	}
	return strings.Join(all, ",")
}

// splitGrants parses joinGrants's form. purposes is nil when there is no limit.
func splitGrants(s string) (scopes, purposes []string) {
	scopes = []string{}
	if s == "" {
		return scopes, nil
	}
	for _, g := range strings.Split(s, ",") {
		if p, ok := strings.CutPrefix(g, purposePrefix); ok {
			purposes = append(purposes, p)
		} else {
			scopes = append(scopes, g)
		}
	}
	return scopes, purposes
}

// CheckStatedPurpose refuses a stated purpose the caller's tenant never registered, or one
// outside the caller's token's or profile's purposes.
func (db *DB) CheckStatedPurpose(ctx context.Context) error {
	c := skjold.CallerFromContext(ctx)
	if c == nil || c.Purpose == "" || c.TenantID == "" {
		return nil
	}
	if _, err := db.purpose(ctx, db.rowFunc, c.TenantID, c.Purpose); skjold.ErrorCode(err) == skjold.ENOTFOUND {
		return skjold.FieldError("purpose", "registered", "the stated purpose is not in the tenant's register of purposes (GET /api/v1/purposes)")
	} else if err != nil {
		return err
	}
	if c.Purposes != nil && !slices.Contains(c.Purposes, c.Purpose) {
		return skjold.Errorf(skjold.EFORBIDDEN, "this caller may state only the purposes %s", strings.Join(c.Purposes, ", "))
	}
	return nil
}

// checkGrantable refuses scopes and purposes that the caller lacks, and purposes its tenant
// never registered: nobody gives more than they hold (the access-rights hierarchy).
func (tx *Tx) checkGrantable(c *skjold.Caller, tenantID string, scopes, purposes []string) error {
	for _, s := range scopes {
		if !c.Local && !c.Can(s) {
			return skjold.FieldError("scopes", "hierarchy", "you cannot give a scope you do not hold")
		}
	}
	if len(purposes) == 0 && c.Purposes != nil && !c.Local {
		return skjold.FieldError("purposes", "hierarchy", "you may state only some purposes: list them, at most those")
	}
	for _, p := range purposes {
		if c.Purposes != nil && !c.Local && !slices.Contains(c.Purposes, p) {
			return skjold.FieldError("purposes", "hierarchy", "you cannot give a purpose you may not state yourself")
		}
		var one int
		err := tx.queryRow("SELECT 1 FROM purposes WHERE tenant_id = ? AND name = ?", tenantID, p).Scan(&one)
		if err := notFoundAs(err, skjold.FieldError("purposes", "registered", "every purpose must be in the tenant's register of purposes")); err != nil {
			return err
		}
	}
	return nil
}

// profileAdmin returns the caller when it may manage its tenant's profiles.
func profileAdmin(ctx context.Context) (*skjold.Caller, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	if err := mayManage(c, c.TenantID); err != nil {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "managing profiles needs the admin scope")
	}
	return c, nil
}

func scanProfile(s scanner) (*skjold.Profile, error) {
	var p skjold.Profile
	var grants string
	if err := s.Scan(&p.TenantID, &p.Name, &grants); err != nil {
		return nil, err
	}
	p.Scopes, p.Purposes = splitGrants(grants)
	if p.Purposes == nil {
		p.Purposes = []string{}
	}
	return &p, nil
}

// FindProfiles returns the caller's tenant's profiles ordered by name.
func (db *DB) FindProfiles(ctx context.Context) ([]*skjold.Profile, error) {
	c, err := profileAdmin(ctx)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, scanProfile, "SELECT tenant_id, name, scopes FROM profiles WHERE tenant_id = ? ORDER BY name", c.TenantID)
}

// FindProfile returns one profile of the caller's tenant.
func (db *DB) FindProfile(ctx context.Context, name string) (*skjold.Profile, error) {
	c, err := profileAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidName(name) {
		return nil, errNotFound("profile")
	}
	p, err := scanProfile(db.queryRow(ctx, "SELECT tenant_id, name, scopes FROM profiles WHERE tenant_id = ? AND name = ?", c.TenantID, name))
	return p, notFound(err, "profile")
}

// PutProfile creates or changes a profile of the caller's tenant.
func (db *DB) PutProfile(ctx context.Context, p *skjold.Profile) (bool, error) {
	c, err := profileAdmin(ctx)
	if err != nil {
		return false, err
	}
	if err := p.Validate(); err != nil {
		return false, err
	}
	p.TenantID = c.TenantID
	if p.Purposes == nil {
		p.Purposes = []string{}
	}
	created := false
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.checkGrantable(c, c.TenantID, p.Scopes, p.Purposes); err != nil {
			return err
		}
		old, err := scanProfile(tx.queryRow("SELECT tenant_id, name, scopes FROM profiles WHERE tenant_id = ? AND name = ?", c.TenantID, p.Name))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			_, err = tx.exec("INSERT INTO profiles (tenant_id, name, scopes) VALUES (?, ?, ?)", c.TenantID, p.Name, joinGrants(p.Scopes, p.Purposes))
			if err == nil {
				tx.audit(event(c, "profile.create", "", "", append([]string{"profile:" + p.Name}, p.Scopes...)))
			}
			return err
		case err != nil:
			return err
		}
		return tx.changeProfile(ctx, c, old, p)
	})
	return created, err
}

// changeProfile stores p over old. Its holders' sessions end and the tokens they made are
// revoked, as when a person's role changes; a raise of rank waits for four eyes like a
// role elevation.
func (tx *Tx) changeProfile(ctx context.Context, c *skjold.Caller, old, p *skjold.Profile) error {
	var held int
	if err := tx.queryRow("SELECT COUNT(*) FROM users WHERE tenant_id = ? AND profile = ?", c.TenantID, p.Name).Scan(&held); err != nil {
		return err
	}
	if held > 0 && skjold.Rank(skjold.RoleCustom, p.Scopes) > skjold.Rank(skjold.RoleCustom, old.Scopes) {
		if err := tx.db.needsNoApproval(ctx, c.TenantID, skjold.ActionRoleElevation); err != nil {
			return skjold.Errorf(skjold.EFORBIDDEN, "raising a profile that people hold would raise them without a second person: make a new profile and raise them through POST /api/v1/approvals")
		}
	}
	if _, err := tx.exec("UPDATE profiles SET scopes = ? WHERE tenant_id = ? AND name = ?",
		joinGrants(p.Scopes, p.Purposes), c.TenantID, p.Name); err != nil {
		return err
	}
	fields := append([]string{"profile:" + p.Name}, p.Scopes...)
	if held > 0 {
		holders := "user_id IN (SELECT id FROM users WHERE tenant_id = ? AND profile = ?)"
		if _, err := tx.exec("UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND "+holders,
			micros(tx.db.now()), c.TenantID, p.Name); err != nil {
			return err
		}
		if err := tx.revokeSessions(c, holders, c.TenantID, p.Name); err != nil {
			return err
		}
		fields = append(fields, "sessions_ended", "tokens_revoked")
	}
	tx.audit(event(c, "profile.update", "", "", fields))
	tx.db.tokens.clear()
	return nil
}

// DeleteProfile deletes a profile of the caller's tenant that nobody holds.
func (db *DB) DeleteProfile(ctx context.Context, name string) error {
	c, err := profileAdmin(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidName(name) {
		return errNotFound("profile")
	}
	return db.write(ctx, func(tx *Tx) error {
		var held int
		if err := tx.queryRow("SELECT COUNT(*) FROM users WHERE tenant_id = ? AND profile = ?", c.TenantID, name).Scan(&held); err != nil {
			return err
		}
		if held > 0 {
			return skjold.Errorf(skjold.ECONFLICT, "%d people hold this profile: give them another role first", held)
		}
		res, err := tx.exec("DELETE FROM profiles WHERE tenant_id = ? AND name = ?", c.TenantID, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("profile")
		}
		tx.audit(event(c, "profile.delete", "", "", []string{"profile:" + name}))
		return nil
	})
}
