package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/skjold-project/skjold"
)

// The consent banner's store side: its settings (one settings row, "banner"), the receipts
// its visitors' browsers post, their export as proof and their statistics. Receipts hold no
// address and no user agent, only a keyed hash of it under the tenant's key.

var _ skjold.BannerService = (*DB)(nil)

const (
	bannerSetting = "banner"
	uaHashKind    = "banner_user_agent" // what the user agent's keyed hash is bound to
)

// bannerSettings reads a tenant's banner settings, or the defaults.
func (db *DB) bannerSettings(ctx context.Context, tenantID string) (*skjold.BannerSettings, error) {
	s := &skjold.BannerSettings{Origins: []string{}, Purposes: []string{}, RetentionDays: skjold.DefaultReceiptDays}
	var value string
	err := db.queryRow(ctx, "SELECT value FROM settings WHERE tenant_id = ? AND name = ?", tenantID, bannerSetting).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal([]byte(value), s); err != nil {
			return nil, fmt.Errorf("store: banner settings do not decode: %w", err)
		}
	}
	return s, nil
}

// BannerSettings returns the caller's tenant's banner settings.
func (db *DB) BannerSettings(ctx context.Context) (*skjold.BannerSettings, error) {
	c, err := requestCaller(ctx, skjold.ScopeRead)
	if err != nil {
		return nil, err
	}
	return db.bannerSettings(ctx, c.TenantID)
}

// PutBannerSettings replaces the caller's tenant's banner settings; it needs the admin
// scope, and each purpose must be registered and based on consent.
func (db *DB) PutBannerSettings(ctx context.Context, s *skjold.BannerSettings) error {
	c, err := requestCaller(ctx, skjold.ScopeAdmin)
	if err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	for _, name := range s.Purposes {
		p, err := db.purpose(ctx, db.rowFunc, c.TenantID, name)
		if err != nil || p.LegalBasis != skjold.BasisConsent {
			return skjold.FieldError("purposes", "consent", "the banner asks only for registered purposes based on consent: %s is not one", name)
		}
	}
	value, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		now := micros(db.now())
		res, err := tx.exec("UPDATE settings SET value = ?, updated_at = ? WHERE tenant_id = ? AND name = ?",
			string(value), now, c.TenantID, bannerSetting)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.exec("INSERT INTO settings (tenant_id, name, value, updated_at) VALUES (?, ?, ?, ?)",
				c.TenantID, bannerSetting, string(value), now); err != nil {
				return err
			}
		}
		tx.audit(event(c, "settings.update", "", "", []string{bannerSetting}))
		return nil
	})
}

// BannerConfig returns the tenant's banner: its origins, and its purposes that are still
// registered and based on consent, in the order the settings give, with their notices.
func (db *DB) BannerConfig(ctx context.Context, tenantID string) (*skjold.BannerConfig, error) {
	s, err := db.bannerSettings(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	all, err := db.FindPurposes(privacyCenterCaller(ctx, tenantID))
	if err != nil {
		return nil, err
	}
	b := &skjold.BannerConfig{Origins: s.Origins, Purposes: []*skjold.BannerPurpose{}}
	for _, name := range s.Purposes {
		i := slices.IndexFunc(all, func(p *skjold.Purpose) bool { return p.Name == name })
		if i < 0 || all[i].LegalBasis != skjold.BasisConsent {
			continue
		}
		p := all[i]
		b.Purposes = append(b.Purposes, &skjold.BannerPurpose{Name: p.Name, Description: p.Description,
			Notice: p.Notice, NoticeVersion: p.NoticeVersion})
	}
	return b, nil
}

// StoreConsentReceipt stores a receipt of the tenant's banner.
func (db *DB) StoreConsentReceipt(ctx context.Context, tenantID string, r *skjold.ConsentReceipt, userAgent string) error {
	b, err := db.BannerConfig(ctx, tenantID)
	if err != nil {
		return err
	}
	if len(b.Purposes) == 0 {
		return skjold.Errorf(skjold.EINVALID, "this banner asks for no purpose")
	}
	if err := r.Validate(b); err != nil {
		return err
	}
	if r.GPC {
		for name := range r.Choices {
			r.Choices[name] = false // Global Privacy Control is an opt-out whatever was clicked
		}
	}
	s, err := db.bannerSettings(ctx, tenantID)
	if err != nil {
		return err
	}
	tk, err := db.tenantKey(ctx, tenantID)
	if err != nil {
		return err
	}
	hash := tk.BlindIndex(uaHashKind, userAgent)
	choices, _ := json.Marshal(r.Choices)
	versions, _ := json.Marshal(r.NoticeVersions)
	now := db.now().UTC().Truncate(time.Microsecond)
	r.ID, r.CreatedAt, r.ExpiresAt = newID(), now, now.AddDate(0, 0, s.RetentionDays)
	r.UserAgentHash = hex.EncodeToString(hash)
	gpc := 0
	if r.GPC {
		gpc = 1
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO consent_receipts (id, tenant_id, consent_id, method, choices, notice_versions, gpc,
			ua_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, tenantID, r.ConsentID, r.Method, string(choices), string(versions), gpc, hash, micros(now), micros(r.ExpiresAt))
		return err
	})
}

const selectReceipts = `SELECT id, consent_id, method, choices, notice_versions, gpc, ua_hash, created_at, expires_at
	FROM consent_receipts`

func scanReceipt(sc scanner) (*skjold.ConsentReceipt, error) {
	r := &skjold.ConsentReceipt{}
	var choices, versions string
	var gpc int
	var hash []byte
	var created, expires int64
	if err := sc.Scan(&r.ID, &r.ConsentID, &r.Method, &choices, &versions, &gpc, &hash, &created, &expires); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(choices), &r.Choices); err != nil {
		return nil, fmt.Errorf("store: receipt choices do not decode: %w", err)
	}
	if err := json.Unmarshal([]byte(versions), &r.NoticeVersions); err != nil {
		return nil, fmt.Errorf("store: receipt notice versions do not decode: %w", err)
	}
	r.GPC, r.UserAgentHash = gpc == 1, hex.EncodeToString(hash)
	r.CreatedAt, r.ExpiresAt = fromMicros(created), fromMicros(expires)
	return r, nil
}

// FindConsentReceipts returns the caller's tenant's receipts made in [from, to).
func (db *DB) FindConsentReceipts(ctx context.Context, from, to time.Time) ([]*skjold.ConsentReceipt, error) {
	c, err := requestCaller(ctx, skjold.ScopeRead)
	if err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, db, scanReceipt, selectReceipts+
		" WHERE tenant_id = ? AND created_at >= ? AND created_at < ? ORDER BY created_at, id LIMIT ?",
		c.TenantID, micros(from), micros(to), skjold.MaxReceiptExport+1)
	if err != nil {
		return nil, err
	}
	if len(out) > skjold.MaxReceiptExport {
		return nil, skjold.FieldError("from", "range", "the period holds over %d receipts: export a shorter one", skjold.MaxReceiptExport)
	}
	err = db.write(ctx, func(tx *Tx) error {
		tx.audit(event(c, "consent_receipts.export", "", "", []string{fmt.Sprintf("receipts:%d", len(out))}))
		return nil
	})
	return out, err
}

// ConsentStats counts the caller's tenant's receipts since the time given.
func (db *DB) ConsentStats(ctx context.Context, since time.Time) (*skjold.ConsentStats, error) {
	c, err := requestCaller(ctx, skjold.ScopeRead)
	if err != nil {
		return nil, err
	}
	b, err := db.BannerConfig(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	st := &skjold.ConsentStats{Since: since, Purposes: []*skjold.ConsentStat{}}
	by := map[string]*skjold.ConsentStat{}
	for _, p := range b.Purposes {
		by[p.Name] = &skjold.ConsentStat{Purpose: p.Name}
		st.Purposes = append(st.Purposes, by[p.Name])
	}
	type counted struct {
		choices string
		gpc     int
	}
	rows, err := queryAll(ctx, db, func(sc scanner) (counted, error) {
		var r counted
		return r, sc.Scan(&r.choices, &r.gpc)
	}, "SELECT choices, gpc FROM consent_receipts WHERE tenant_id = ? AND created_at >= ?", c.TenantID, micros(since))
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		st.Receipts++
		st.GPC += r.gpc
		var choices map[string]bool
		if json.Unmarshal([]byte(r.choices), &choices) != nil {
			continue
		}
		for name, ok := range choices {
			s := by[name]
			if s == nil { // a purpose the banner no longer asks
				s = &skjold.ConsentStat{Purpose: name}
				by[name] = s
				st.Purposes = append(st.Purposes, s)
			}
			if ok {
				s.Accepted++
			} else {
				s.Rejected++
			}
		}
	}
	return st, nil
}

// consentReceipts deletes the receipts whose retention has ended, batch by batch.
func (s *sweep) consentReceipts(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := s.db.write(ctx, func(tx *Tx) error {
			res, err := tx.exec("DELETE FROM consent_receipts WHERE id IN (SELECT id FROM consent_receipts WHERE expires_at <= ? LIMIT ?)",
				micros(s.now), s.batch)
			if err != nil {
				return err
			}
			affected, err := res.RowsAffected()
			n = int(affected)
			return err
		})
		total += n
		if err != nil || n < s.batch {
			return total, err
		}
		if err := yield(ctx); err != nil {
			return total, err
		}
	}
}
