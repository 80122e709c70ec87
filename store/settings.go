package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"

	"github.com/skjold-project/skjold"
)

const sessionSettings = "session"

// tenantSettings are a tenant's session settings with the allow list parsed once.
type tenantSettings struct {
	skjold.SessionSettings
	networks []netip.Prefix
}

// allows reports whether source may reach the tenant.
func (s *tenantSettings) allows(source string) bool { return skjold.AddrAllowed(s.networks, source) }

// sessionSettingsFor returns the session and password settings of a tenant ("" for the
// operator), or the defaults when it has set none. Every authenticated request needs them,
// so they are cached for recentTTL.
func (db *DB) sessionSettingsFor(ctx context.Context, tenantID string) (*tenantSettings, error) {
	if s, _, ok := db.settings.get(tenantID); ok {
		return s, nil
	}
	_, gen, _ := db.settings.get(tenantID)
	s := skjold.DefaultSessionSettings()
	var value string
	err := db.queryRow(ctx, "SELECT value FROM settings WHERE tenant_id = ? AND name = ?", tenantID, sessionSettings).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal([]byte(value), &s); err != nil {
			return nil, err
		}
	}
	nets, err := skjold.ParseNetworks("allowed_networks", s.AllowedNetworks)
	if err != nil {
		return nil, err
	}
	ts := &tenantSettings{SessionSettings: s, networks: nets}
	db.settings.put(tenantID, ts, gen)
	return ts, nil
}

// SessionSettings returns the settings of the caller's tenant, or the operator's.
func (db *DB) SessionSettings(ctx context.Context) (*skjold.SessionSettings, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	s, err := db.sessionSettingsFor(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	cp := s.SessionSettings
	cp.AllowedNetworks = slices.Clone(cp.AllowedNetworks) // the cached value stays as read
	cp.FourEyes = slices.Clone(cp.FourEyes)
	return &cp, nil
}

// PutSessionSettings replaces the settings of the caller's tenant, or the operator's.
func (db *DB) PutSessionSettings(ctx context.Context, s *skjold.SessionSettings) error {
	c := skjold.CallerFromContext(ctx)
	if err := mayManage(c, c.TenantID); err != nil {
		return skjold.Errorf(skjold.EFORBIDDEN, "changing settings needs an administrator")
	}
	if err := s.Validate(); err != nil {
		return err
	}
	cur, err := db.sessionSettingsFor(ctx, c.TenantID)
	if err != nil {
		return err
	}
	for _, a := range cur.FourEyes {
		if !slices.Contains(s.FourEyes, a) {
			// Otherwise one person could switch four eyes off and then act alone [B14].
			return skjold.Errorf(skjold.EFORBIDDEN, "taking %s out of four-eyes control needs a second person: an owner files %s with target %s (POST /api/v1/approvals)",
				a, skjold.ActionFourEyesReduction, a)
		}
	}
	value, err := json.Marshal(s)
	if err != nil {
		return err
	}
	err = db.write(ctx, func(tx *Tx) error {
		now := micros(db.now())
		res, err := tx.exec("UPDATE settings SET value = ?, updated_at = ? WHERE tenant_id = ? AND name = ?",
			string(value), now, c.TenantID, sessionSettings)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.exec("INSERT INTO settings (tenant_id, name, value, updated_at) VALUES (?, ?, ?, ?)",
				c.TenantID, sessionSettings, string(value), now); err != nil {
				return err
			}
		}
		tx.audit(event(c, "settings.update", "", "", []string{sessionSettings}))
		return nil
	})
	db.settings.clear()
	return err
}

// sessionSettings reads the settings of a tenant ("" for the operator) inside the write, or
// the defaults when it has set none.
func (tx *Tx) sessionSettings(tenantID string) (skjold.SessionSettings, error) {
	s := skjold.DefaultSessionSettings()
	var value string
	err := tx.queryRow("SELECT value FROM settings WHERE tenant_id = ? AND name = ?", tenantID, sessionSettings).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return s, nil
	case err != nil:
		return s, err
	}
	return s, json.Unmarshal([]byte(value), &s)
}

// checkFourEyesReduction checks a request to take a.Target out of the four-eyes list of the
// caller's tenant (or the operator's): filed by an owner in person, who may manage the
// settings, for an action the list holds.
func (tx *Tx) checkFourEyesReduction(c *skjold.Caller, a *skjold.Approval) (string, error) {
	if err := mayManage(c, c.TenantID); err != nil || c.Role != skjold.RoleOwner {
		return "", skjold.Errorf(skjold.EFORBIDDEN, "only an owner files taking an action out of four-eyes control")
	}
	set, err := tx.sessionSettings(c.TenantID)
	if err != nil {
		return "", err
	}
	if !slices.Contains(set.FourEyes, a.Target) {
		return "", skjold.FieldError("target", "four_eyes", "the target must be an action under four-eyes control: one of %v", set.FourEyes)
	}
	a.Role, a.Profile = "", ""
	return c.TenantID, nil
}

// reduceFourEyes takes a.Target out of the four-eyes list, as the approver: another person
// who may manage the settings.
func (tx *Tx) reduceFourEyes(c *skjold.Caller, a *skjold.Approval) error {
	if err := mayManage(c, a.TenantID); err != nil || skjold.Rank(c.Role, c.Scopes) < 2 {
		return skjold.Errorf(skjold.EFORBIDDEN, "taking an action out of four-eyes control is approved by an owner or admin")
	}
	s, err := tx.sessionSettings(a.TenantID)
	if err != nil {
		return err
	}
	s.FourEyes = slices.DeleteFunc(slices.Clone(s.FourEyes), func(x string) bool { return x == a.Target })
	value, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	now := micros(tx.db.now())
	res, err := tx.exec("UPDATE settings SET value = ?, updated_at = ? WHERE tenant_id = ? AND name = ?",
		string(value), now, a.TenantID, sessionSettings)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := tx.exec("INSERT INTO settings (tenant_id, name, value, updated_at) VALUES (?, ?, ?, ?)",
			a.TenantID, sessionSettings, string(value), now); err != nil {
			return err
		}
	}
	tx.audit(event(c, "settings.update", "", "", []string{sessionSettings, "approval:" + a.ID, "four_eyes:-" + a.Target}))
	return nil
}
