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
		if !slices.Contains(s.FourEyes, a) && (c.Role != skjold.RoleOwner || c.UserID == "") {
			// Otherwise one admin could switch four eyes off and then act alone.
			return skjold.Errorf(skjold.EFORBIDDEN, "only an owner, logged in, can take %s out of four-eyes control", a)
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
