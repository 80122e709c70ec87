package store

import (
	"context"

	"github.com/skjold-project/skjold"
)

// documentScope returns the tenant id ("" for the operator) whose documents c may read:
// operator staff read the operator's or, naming one, any tenant's; a tenant's admins their own.
func documentScope(c *skjold.Caller, tenantID string) (string, error) {
	switch {
	case c == nil:
		return "", skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator:
		return tenantID, nil
	case c.Can(skjold.ScopeAdmin):
		if tenantID != "" && tenantID != c.TenantID {
			return "", errNotFound("tenant")
		}
		return c.TenantID, nil
	}
	return "", skjold.Errorf(skjold.EFORBIDDEN, "compliance documents need an administrator")
}

// DocumentFacts gathers what the TOMs and the records of processing are written from: the
// scope's compliance checks (run now), its settings, registers and organisational measures.
func (db *DB) DocumentFacts(ctx context.Context, tenantID string) (*skjold.DocumentFacts, error) {
	scope, err := documentScope(skjold.CallerFromContext(ctx), tenantID)
	if err != nil {
		return nil, err
	}
	f := &skjold.DocumentFacts{Operator: scope == "", TenantID: scope, Engine: db.Engine(),
		Purposes: []*skjold.Purpose{}, Categories: []*skjold.Category{}, SubProcessors: []skjold.SubProcessor{}}
	if scope != "" {
		t, err := scanTenant(db.queryRow(ctx, selectTenants+" WHERE id = ? AND status <> ?", scope, skjold.TenantTerminated))
		if err != nil {
			return nil, notFound(err, "tenant")
		}
		f.Name = t.Name
	}
	if err := db.documentChecks(ctx, f); err != nil {
		return nil, err
	}
	if f.Measures, err = db.orgMeasures(ctx, scope); err != nil {
		return nil, err
	}
	if f.Operator {
		f.Tenants, err = queryAll(ctx, db, scanTenant, selectTenants+" WHERE status <> ? ORDER BY name, id", skjold.TenantTerminated)
		return f, err
	}
	if f.Notice, err = db.privacyNotice(ctx, scope); err != nil {
		return nil, err
	}
	if f.Purposes, err = queryAll(ctx, db, scanPurpose, selectPurposes+" WHERE p.tenant_id = ? ORDER BY p.name", scope); err != nil {
		return nil, err
	}
	if f.Categories, err = queryAll(ctx, db, func(s scanner) (*skjold.Category, error) {
		var def string
		if err := s.Scan(&def); err != nil {
			return nil, err
		}
		return decodeCategory(def)
	}, "SELECT definition FROM categories WHERE tenant_id = ? ORDER BY name", scope); err != nil {
		return nil, err
	}
	return f, db.queryRow(ctx, "SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", scope).Scan(&f.Subjects)
}

// documentChecks runs the compliance checks of f's scope as Compliance does, and reads the
// settings in force.
func (db *DB) documentChecks(ctx context.Context, f *skjold.DocumentFacts) error {
	p, err := db.complianceProfile(ctx, f.TenantID)
	if err != nil {
		return err
	}
	if f.Operator {
		p.Retention, p.DPA = false, false
	}
	facts, err := db.sharedFacts(ctx, db.now())
	if err != nil {
		return err
	}
	if err := db.tenantFacts(ctx, f.TenantID, facts); err != nil {
		return err
	}
	f.Settings, f.CheckedAt = facts.Settings, facts.Now
	f.Checks = skjold.ComplianceScope{Scope: "operator", TenantID: f.TenantID, Name: f.Name, Profile: *p,
		Checks: skjold.CheckCompliance(*p, facts)}
	if !f.Operator {
		f.Checks.Scope = f.TenantID
	}
	return nil
}

// complianceMeasures names the organisational measures in audit events.
const complianceMeasures = "compliance_measures"

func scanOrgMeasure(s scanner) (*skjold.OrgMeasure, error) {
	m := &skjold.OrgMeasure{}
	var created int64
	if err := s.Scan(&m.ID, &m.Kind, &m.Description, &m.Date, &created); err != nil {
		return nil, err
	}
	m.CreatedAt = fromMicros(created)
	return m, nil
}

func (db *DB) orgMeasures(ctx context.Context, tenantID string) ([]*skjold.OrgMeasure, error) {
	return queryAll(ctx, db, scanOrgMeasure, `SELECT id, kind, description, taken_on, created_at FROM compliance_measures
		WHERE tenant_id = ? ORDER BY taken_on DESC, id DESC`, tenantID)
}

// OrgMeasures lists the organisational measures of the caller's scope.
func (db *DB) OrgMeasures(ctx context.Context) ([]*skjold.OrgMeasure, error) {
	scope, err := documentScope(skjold.CallerFromContext(ctx), "")
	if err != nil {
		return nil, err
	}
	return db.orgMeasures(ctx, scope)
}

// measureWriter returns the scope a caller may record measures for: operator staff (whose
// routes ask operator.manage), or a tenant's admins.
func measureWriter(c *skjold.Caller) (string, error) {
	switch {
	case c == nil:
		return "", skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator: // the routes ask operator.manage
		return "", nil
	case !c.Operator && c.Can(skjold.ScopeAdmin):
		return c.TenantID, nil
	}
	return "", skjold.Errorf(skjold.EFORBIDDEN, "organisational measures are recorded by an administrator")
}

// AddOrgMeasure records an organisational measure of the caller's scope.
func (db *DB) AddOrgMeasure(ctx context.Context, m *skjold.OrgMeasure) error {
	c := skjold.CallerFromContext(ctx)
	scope, err := measureWriter(c)
	if err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	m.ID, m.CreatedAt = newID(), db.now().UTC().Truncate(1e3)
	return db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO compliance_measures (id, tenant_id, kind, description, taken_on, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, m.ID, scope, m.Kind, m.Description, m.Date, micros(m.CreatedAt)); err != nil {
			return err
		}
		tx.audit(event(c, "settings.update", "", "", []string{complianceMeasures, "measure:+" + m.ID}))
		return nil
	})
}

// DeleteOrgMeasure removes an organisational measure of the caller's scope.
func (db *DB) DeleteOrgMeasure(ctx context.Context, id string) error {
	c := skjold.CallerFromContext(ctx)
	scope, err := measureWriter(c)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM compliance_measures WHERE id = ? AND tenant_id = ?", id, scope)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("measure")
		}
		tx.audit(event(c, "settings.update", "", "", []string{complianceMeasures, "measure:-" + id}))
		return nil
	})
}
