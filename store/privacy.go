package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/skjold-project/skjold"
)

const privacyNoticeSetting = "privacy_notice"

// PrivacyNotice returns the caller's tenant's privacy facts, empty when none are set.
func (db *DB) PrivacyNotice(ctx context.Context) (*skjold.PrivacyNotice, error) {
	c, err := requestCaller(ctx, skjold.ScopeRead)
	if err != nil {
		return nil, err
	}
	return db.privacyNotice(ctx, c.TenantID)
}

func (db *DB) privacyNotice(ctx context.Context, tenantID string) (*skjold.PrivacyNotice, error) {
	n := &skjold.PrivacyNotice{}
	var value string
	err := db.queryRow(ctx, "SELECT value FROM settings WHERE tenant_id = ? AND name = ?", tenantID, privacyNoticeSetting).Scan(&value)
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal([]byte(value), n); err != nil {
			return nil, fmt.Errorf("store: privacy notice does not decode: %w", err)
		}
	}
	if n.Recipients == nil {
		n.Recipients = []string{}
	}
	if n.Language == "" {
		n.Language = skjold.Languages[0]
	}
	return n, nil
}

// PutPrivacyNotice replaces the caller's tenant's privacy facts; it needs the admin scope.
func (db *DB) PutPrivacyNotice(ctx context.Context, n *skjold.PrivacyNotice) error {
	c, err := requestCaller(ctx, skjold.ScopeAdmin)
	if err != nil {
		return err
	}
	if err := n.Validate(); err != nil {
		return err
	}
	if n.Recipients == nil {
		n.Recipients = []string{}
	}
	if n.Language == "" {
		n.Language = skjold.Languages[0]
	}
	value, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		now := micros(db.now())
		res, err := tx.exec("UPDATE settings SET value = ?, updated_at = ? WHERE tenant_id = ? AND name = ?",
			string(value), now, c.TenantID, privacyNoticeSetting)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.exec("INSERT INTO settings (tenant_id, name, value, updated_at) VALUES (?, ?, ?, ?)",
				c.TenantID, privacyNoticeSetting, string(value), now); err != nil {
				return err
			}
		}
		tx.audit(event(c, "settings.update", "", "", []string{privacyNoticeSetting}))
		return nil
	})
}
