package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/skjold-project/skjold"
)

var _ skjold.CategoryService = (*DB)(nil)

// FindCategories returns the caller's tenant's categories ordered by name.
func (db *DB) FindCategories(ctx context.Context) ([]*skjold.Category, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, func(s scanner) (*skjold.Category, error) {
		var def string
		if err := s.Scan(&def); err != nil {
			return nil, err
		}
		return decodeCategory(def)
	}, "SELECT definition FROM categories WHERE tenant_id = ? ORDER BY name", c.TenantID)
}

// FindCategory returns one of the caller's tenant's categories.
func (db *DB) FindCategory(ctx context.Context, name string) (*skjold.Category, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	return db.category(ctx, db.rowFunc, c.TenantID, name)
}

// category reads a category with the given row function (the reader pool, or a write
// transaction's own connection).
func (db *DB) category(ctx context.Context, row rowQuerier, tenantID, name string) (*skjold.Category, error) {
	if !skjold.ValidName(name) {
		return nil, errNotFound("category")
	}
	var def string
	err := row(ctx, "SELECT definition FROM categories WHERE tenant_id = ? AND name = ?", tenantID, name).Scan(&def)
	if err != nil {
		return nil, notFound(err, "category")
	}
	return decodeCategory(def)
}

// cachedCategory is category on the reader pool, answered from the recent cache when it can
// be. The category it returns is shared: it must not be modified.
func (db *DB) cachedCategory(ctx context.Context, tenantID, name string) (*skjold.Category, error) {
	key := tenantID + "/" + name
	cat, gen, ok := db.categories.get(key)
	if ok {
		return cat, nil
	}
	cat, err := db.category(ctx, db.rowFunc, tenantID, name)
	if err != nil {
		return nil, err
	}
	db.categories.put(key, cat, gen)
	return cat, nil
}

func (tx *Tx) rowFunc(_ context.Context, q string, args ...any) scanner {
	return tx.queryRow(q, args...)
}

// rowFunc is queryRow as a rowQuerier.
func (db *DB) rowFunc(ctx context.Context, q string, args ...any) scanner {
	return db.queryRow(ctx, q, args...)
}

func decodeCategory(def string) (*skjold.Category, error) {
	var cat skjold.Category
	if err := json.Unmarshal([]byte(def), &cat); err != nil {
		return nil, fmt.Errorf("store: stored category does not decode: %w", err)
	}
	return &cat, nil
}

// PutCategory creates or replaces a category of the caller's tenant.
func (db *DB) PutCategory(ctx context.Context, cat *skjold.Category) (bool, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return false, err
	}
	if err := cat.Validate(); err != nil {
		return false, err
	}
	created := false
	err = db.write(ctx, func(tx *Tx) error {
		old, err := db.category(ctx, tx.rowFunc, c.TenantID, cat.Name)
		if skjold.ErrorCode(err) == skjold.ENOTFOUND {
			created = true
			tx.audit(event(c, "category.create", "", "", []string{"category:" + cat.Name}))
			return tx.insertCategory(c.TenantID, cat, db.now())
		} else if err != nil {
			return err
		}
		if err := tx.checkCategoryChange(c.TenantID, old, cat); err != nil {
			return err
		}
		cat.UpdatedAt = db.now().UTC()
		def, err := json.Marshal(cat)
		if err != nil {
			return err
		}
		tx.audit(event(c, "category.update", "", "", []string{"category:" + cat.Name}))
		_, err = tx.exec("UPDATE categories SET definition = ?, updated_at = ? WHERE tenant_id = ? AND name = ?",
			string(def), micros(cat.UpdatedAt), c.TenantID, cat.Name)
		if err != nil {
			return err
		}
		return tx.reanchorCategory(ctx, c.TenantID, old, cat) // a new trigger moves every record's anchor
	})
	db.categories.clear() // the new definition applies on this node at once
	return created, err
}

// checkCategoryChange refuses changes that would strand stored values: the subject
// category's field set is fixed, and fields of a category with records may be added but not
// removed or retyped.
func (tx *Tx) checkCategoryChange(tenantID string, old, cat *skjold.Category) error {
	if cat.Name == skjold.SubjectCategory {
		if len(old.Fields) != len(cat.Fields) {
			return skjold.Errorf(skjold.EINVALID, "the subject category's fields are fixed: only their purposes, allow lists and descriptions may change")
		}
	}
	changed := ""
	for _, of := range old.Fields {
		if nf := cat.Field(of.Name); nf == nil || nf.Type != of.Type {
			changed = of.Name
			break
		}
	}
	if changed == "" {
		return nil
	}
	if cat.Name == skjold.SubjectCategory {
		return skjold.Errorf(skjold.EINVALID, "the subject category's fields are fixed: only their purposes, allow lists and descriptions may change")
	}
	var n int
	if err := tx.queryRow("SELECT COUNT(*) FROM records WHERE tenant_id = ? AND category = ?", tenantID, cat.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return skjold.Errorf(skjold.ECONFLICT, "field %q cannot be removed or retyped while %d records of category %q exist", changed, n, cat.Name)
	}
	return nil
}
