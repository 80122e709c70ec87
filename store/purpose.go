package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.PurposeService = (*DB)(nil)

// purposeDef is what purposes.definition holds: everything of a purpose but its name, its
// notice (kept by version in purpose_notices) and its times.
type purposeDef struct {
	LegalBasis  string               `json:"legal_basis"`
	Description string               `json:"description,omitempty"`
	Channels    []string             `json:"channels,omitempty"`
	Cap         *skjold.FrequencyCap `json:"cap,omitempty"`
}

// selectPurposes reads purposes with the text of their current notice.
const selectPurposes = `SELECT p.name, p.definition, p.notice_version, p.updated_at, COALESCE(n.text, '')
	FROM purposes p LEFT JOIN purpose_notices n
	ON n.tenant_id = p.tenant_id AND n.purpose = p.name AND n.version = p.notice_version`

func scanPurpose(s scanner) (*skjold.Purpose, error) {
	var p skjold.Purpose
	var def string
	var updated int64
	if err := s.Scan(&p.Name, &def, &p.NoticeVersion, &updated, &p.Notice); err != nil {
		return nil, err
	}
	var d purposeDef
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		return nil, fmt.Errorf("store: stored purpose does not decode: %w", err)
	}
	p.LegalBasis, p.Description, p.Channels, p.Cap = d.LegalBasis, d.Description, d.Channels, d.Cap
	p.UpdatedAt = fromMicros(updated)
	return &p, nil
}

// FindPurposes returns the caller's tenant's purpose register ordered by name.
func (db *DB) FindPurposes(ctx context.Context) ([]*skjold.Purpose, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, scanPurpose, selectPurposes+" WHERE p.tenant_id = ? ORDER BY p.name", c.TenantID)
}

// purpose reads one registered purpose with the row function given (the reader pool, or a
// write transaction's connection). An unregistered purpose is ENOTFOUND.
func (db *DB) purpose(ctx context.Context, row rowQuerier, tenantID, name string) (*skjold.Purpose, error) {
	if !skjold.ValidName(name) {
		return nil, errNotFound("purpose")
	}
	p, err := scanPurpose(row(ctx, selectPurposes+" WHERE p.tenant_id = ? AND p.name = ?", tenantID, name))
	return p, notFound(err, "purpose")
}

// PutPurpose creates or replaces a purpose of the caller's tenant. A notice text that differs
// from the current one is stored as the next version; the earlier versions stay as proof.
func (db *DB) PutPurpose(ctx context.Context, p *skjold.Purpose) (bool, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return false, err
	}
	if err := p.Validate(); err != nil {
		return false, err
	}
	created := false
	err = db.write(ctx, func(tx *Tx) error {
		old, err := db.purpose(ctx, tx.rowFunc, c.TenantID, p.Name)
		switch {
		case skjold.ErrorCode(err) == skjold.ENOTFOUND:
			created, old = true, &skjold.Purpose{}
		case err != nil:
			return err
		}
		action := "purpose.update"
		if created {
			action = "purpose.create"
		}
		tx.audit(event(c, action, "", "", []string{"purpose:" + p.Name}))
		return tx.putPurpose(c.TenantID, p, old, created, db.now())
	})
	return created, err
}

// putPurpose writes p over old (a zero Purpose when created), giving a changed notice the
// next version, and sets p's version and time.
func (tx *Tx) putPurpose(tenantID string, p, old *skjold.Purpose, created bool, now time.Time) error {
	p.UpdatedAt, p.NoticeVersion = now.UTC().Truncate(time.Microsecond), old.NoticeVersion
	if p.Notice != old.Notice {
		p.NoticeVersion++
		if _, err := tx.exec("INSERT INTO purpose_notices (tenant_id, purpose, version, text, created_at) VALUES (?, ?, ?, ?, ?)",
			tenantID, p.Name, p.NoticeVersion, p.Notice, micros(p.UpdatedAt)); err != nil {
			return err
		}
	}
	def, err := json.Marshal(purposeDef{LegalBasis: p.LegalBasis, Description: p.Description, Channels: p.Channels, Cap: p.Cap})
	if err != nil {
		return err
	}
	if created {
		_, err = tx.exec(`INSERT INTO purposes (tenant_id, name, definition, notice_version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, tenantID, p.Name, string(def), p.NoticeVersion, micros(p.UpdatedAt), micros(p.UpdatedAt))
	} else {
		_, err = tx.exec("UPDATE purposes SET definition = ?, notice_version = ?, updated_at = ? WHERE tenant_id = ? AND name = ?",
			string(def), p.NoticeVersion, micros(p.UpdatedAt), tenantID, p.Name)
	}
	return err
}

// insertTemplatePurposes registers the purposes every new tenant starts with.
func (tx *Tx) insertTemplatePurposes(tenantID string, now time.Time) error {
	for _, p := range skjold.PurposeTemplates() {
		if err := tx.putPurpose(tenantID, p, &skjold.Purpose{}, true, now); err != nil {
			return err
		}
	}
	return nil
}
