package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/skjold-project/skjold"
)

var _ skjold.TenantService = (*DB)(nil)

func errNotFound(what string) error { return skjold.Errorf(skjold.ENOTFOUND, "%s not found", what) }

// newID returns a fresh id: a UUIDv7, so that ids sort by creation and pages stay stable.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// CreateTenant stores a tenant with a fresh key, the built-in categories and a first token.
func (db *DB) CreateTenant(ctx context.Context, t *skjold.Tenant) (*skjold.Token, error) {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t.ID, t.CreatedAt, t.Status, t.FrozenUntil = newID(), db.now().UTC().Truncate(1000), skjold.TenantActive, nil
	tok := &skjold.Token{TenantID: t.ID, Name: "initial", Scopes: skjold.AllScopes}
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.lockKeyring(); err != nil {
			return err
		}
		// The key is made and wrapped inside the write, under the keyring lock, so that it is
		// wrapped with the primary master key in force when it is stored.
		tk, keyID, wrapped, err := db.keys.NewTenantKey(t.ID)
		if err != nil {
			return err
		}
		if _, err := tx.exec(`INSERT INTO tenants (id, name, key_id, wrapped_key, created_at) VALUES (?, ?, ?, ?, ?)`,
			t.ID, t.Name, keyID, wrapped, micros(t.CreatedAt)); err != nil {
			return err
		}
		if err := tx.recordMasterKey(keyID); err != nil {
			return err
		}
		if err := tx.assignSlug(t.ID, t.Name); err != nil {
			return err
		}
		db.tenantKeys.Store(t.ID, tk)
		for _, cat := range skjold.Templates() {
			if err := tx.insertCategory(t.ID, cat, t.CreatedAt); err != nil {
				return err
			}
		}
		if err := tx.insertTemplatePurposes(t.ID, t.CreatedAt); err != nil {
			return err
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: t.ID, Action: "tenant.create", Source: c.Source, Fields: []string{}})
		return tx.insertToken(c, tok)
	})
	if err != nil {
		db.tenantKeys.Delete(t.ID)
		return nil, err
	}
	return tok, nil
}

func (tx *Tx) insertCategory(tenantID string, cat *skjold.Category, now time.Time) error {
	cat.UpdatedAt = now.UTC()
	def, err := json.Marshal(cat)
	if err != nil {
		return err
	}
	_, err = tx.exec(`INSERT INTO categories (tenant_id, name, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		tenantID, cat.Name, string(def), micros(cat.UpdatedAt), micros(cat.UpdatedAt))
	return err
}

// FindTenantByID returns one tenant.
func (db *DB) FindTenantByID(ctx context.Context, id string) (*skjold.Tenant, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("tenant")
	}
	t, err := scanTenant(db.queryRow(ctx, selectTenants+" WHERE id = ?", id))
	return t, notFound(err, "tenant")
}

// FindTenants returns a page of tenants ordered by id.
func (db *DB) FindTenants(ctx context.Context, page skjold.Page) ([]*skjold.Tenant, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	if err := page.Normalize(); err != nil {
		return nil, err
	}
	return queryAll(ctx, db, scanTenant, selectTenants+" WHERE id > ? ORDER BY id LIMIT ?", page.After, page.Limit)
}

const selectTenants = "SELECT id, name, created_at, status, frozen_until FROM tenants"

func scanTenant(s scanner) (*skjold.Tenant, error) {
	var t skjold.Tenant
	var created int64
	var frozenUntil sql.NullInt64
	err := s.Scan(&t.ID, &t.Name, &created, &t.Status, &frozenUntil)
	t.CreatedAt, t.FrozenUntil = fromMicros(created), optTime(frozenUntil)
	return &t, err
}

// DestroyTenantKey erases the tenant's wrapped key and revokes its tokens.
func (db *DB) DestroyTenantKey(ctx context.Context, id string) error {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidID(id) {
		return errNotFound("tenant")
	}
	err = db.write(ctx, func(tx *Tx) error { return tx.destroyTenantKey(c, id) })
	db.forgetTenant(id)
	return err
}

// destroyTenantKey erases a tenant's wrapped key and ends its tokens and its users'
// sessions, in the caller's transaction.
func (tx *Tx) destroyTenantKey(c *skjold.Caller, id string) error {
	now := micros(tx.db.now())
	res, err := tx.exec("UPDATE tenants SET wrapped_key = NULL, key_id = NULL, destroyed_at = ? WHERE id = ? AND wrapped_key IS NOT NULL", now, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errNotFound("tenant")
	}
	if _, err := tx.exec("UPDATE tokens SET revoked_at = ? WHERE tenant_id = ? AND revoked_at IS NULL", now, id); err != nil {
		return err
	}
	if _, err := tx.exec(`UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL
		AND user_id IN (SELECT id FROM users WHERE tenant_id = ?)`, now, id); err != nil {
		return err
	}
	tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: id, Action: "tenant.key_destroy", Source: c.Source, Fields: []string{}})
	return nil
}

// forgetTenant drops what this node cached of a destroyed tenant.
func (db *DB) forgetTenant(id string) {
	db.tenantKeys.Delete(id)
	db.tokens.clear() // its tokens were revoked
}

// tenantKey returns the unwrapped key of a tenant, from the cache or the database.
func (db *DB) tenantKey(ctx context.Context, tenantID string) (skjold.TenantKey, error) {
	if tk, ok := db.tenantKeys.Load(tenantID); ok {
		return tk.(skjold.TenantKey), nil
	}
	var keyID sql.NullString
	var wrapped []byte
	err := db.queryRow(ctx, "SELECT key_id, wrapped_key FROM tenants WHERE id = ?", tenantID).Scan(&keyID, &wrapped)
	if err != nil {
		return nil, notFound(err, "tenant")
	}
	if wrapped == nil {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "this tenant's key has been destroyed")
	}
	tk, err := db.keys.OpenTenantKey(tenantID, keyID.String, wrapped)
	if err != nil {
		return nil, fmt.Errorf("store: open tenant key: %w", err)
	}
	db.tenantKeys.Store(tenantID, tk)
	return tk, nil
}

// RewrapTenantKeys moves every tenant key under the key service's primary master key and
// returns how many it rewrapped. Data is not re-encrypted: tenant keys do not change.
func (db *DB) RewrapTenantKeys(ctx context.Context) (int, error) {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	err = db.write(ctx, func(tx *Tx) error {
		n = 0
		if err := tx.lockKeyring(); err != nil {
			return err
		}
		primary := db.keys.PrimaryKeyID()
		type row struct {
			id, keyID string
			wrapped   []byte
		}
		rows, err := tx.query("SELECT id, key_id, wrapped_key FROM tenants WHERE wrapped_key IS NOT NULL AND key_id <> ?", primary)
		if err != nil {
			return err
		}
		stale, err := collect(rows, func(s scanner) (row, error) {
			var r row
			err := s.Scan(&r.id, &r.keyID, &r.wrapped)
			return r, err
		})
		if err != nil {
			return err
		}
		for i, r := range stale {
			reportProgress(ctx, i, len(stale))
			newID, rewrapped, err := db.keys.RewrapTenantKey(r.id, r.keyID, r.wrapped)
			if err != nil {
				return fmt.Errorf("rewrap tenant %s: %w", r.id, err)
			}
			if _, err := tx.exec("UPDATE tenants SET key_id = ?, wrapped_key = ? WHERE id = ?", newID, rewrapped, r.id); err != nil {
				return err
			}
		}
		n = len(stale)
		reportProgress(ctx, n, n)
		if err := tx.resealAuditKey(); err != nil {
			return err
		}
		if err := tx.recordMasterKey(primary); err != nil {
			return err
		}
		if err := tx.forgetUnusedMasterKeys(); err != nil {
			return err
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, Action: "keys.rotate", Source: c.Source, Fields: []string{}})
		return nil
	})
	return n, err
}

// MasterKeysInUse returns the ids of the master keys that wrap stored tenant keys or seal the
// audit key.
func (db *DB) MasterKeysInUse(ctx context.Context) ([]string, error) {
	return queryAll(ctx, db, func(s scanner) (string, error) {
		var id string
		err := s.Scan(&id)
		return id, err
	}, `SELECT key_id FROM tenants WHERE wrapped_key IS NOT NULL
		UNION SELECT key_id FROM audit_key WHERE sealed IS NOT NULL`)
}
