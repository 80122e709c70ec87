package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/skjold-project/skjold"
)

// complianceTenants returns the tenants whose checks c may see ("" stands for the operator's
// own), or an error: operators see all, a tenant's admins their own.
func (db *DB) complianceTenants(ctx context.Context, c *skjold.Caller) ([]*skjold.Tenant, error) {
	switch {
	case c == nil:
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator: // the routes ask operator.read
		ts, err := queryAll(ctx, db, scanTenant, selectTenants+" WHERE status <> ? ORDER BY id", skjold.TenantTerminated)
		return append([]*skjold.Tenant{{}}, ts...), err
	case !c.Operator && c.Can(skjold.ScopeAdmin):
		ts, err := queryAll(ctx, db, scanTenant, selectTenants+" WHERE id = ?", c.TenantID)
		return ts, err
	}
	return nil, skjold.Errorf(skjold.EFORBIDDEN, "the compliance check needs an administrator")
}

// Compliance checks the promises of every scope the caller may see against live state, with
// the rules of skjold.CheckCompliance.
func (db *DB) Compliance(ctx context.Context) (*skjold.ComplianceReport, error) {
	tenants, err := db.complianceTenants(ctx, skjold.CallerFromContext(ctx))
	if err != nil {
		return nil, err
	}
	now := db.now()
	rep := &skjold.ComplianceReport{GeneratedAt: now, OK: true, Scopes: []skjold.ComplianceScope{}}
	shared, err := db.sharedFacts(ctx, now)
	if err != nil {
		return nil, err
	}
	for _, t := range tenants {
		p, err := db.complianceProfile(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		if t.ID == "" {
			// The operator keeps no categories and signs no agreement with itself.
			p.Retention, p.DPA = false, false
		}
		f := *shared
		if err := db.tenantFacts(ctx, t.ID, &f); err != nil {
			return nil, err
		}
		if err := db.dpaComplianceFacts(ctx, t.ID, &f); err != nil {
			return nil, err
		}
		sc := skjold.ComplianceScope{Scope: "operator", TenantID: t.ID, Name: t.Name, Profile: *p, Checks: skjold.CheckCompliance(*p, &f)}
		if t.ID != "" {
			sc.Scope = t.ID
		}
		for _, ch := range sc.Checks {
			if ch.Status == skjold.CheckFail {
				rep.OK = false
			}
		}
		rep.Scopes = append(rep.Scopes, sc)
	}
	return rep, nil
}

// sharedFacts are the installation's facts every scope shares: backup runs and the audit
// chain, verified now.
func (db *DB) sharedFacts(ctx context.Context, now time.Time) (*skjold.ComplianceFacts, error) {
	f := &skjold.ComplianceFacts{Now: now}
	var err error
	// 91 days covers the largest daily_copies a profile may promise.
	f.Runs, err = queryAll(ctx, db, scanBackupRun, `SELECT slot, kind, node, started_at, finished_at, status, manifest_id,
		error, note FROM backup_runs WHERE started_at >= ? ORDER BY started_at DESC, slot DESC`, micros(now.AddDate(0, 0, -91)))
	if err != nil {
		return nil, err
	}
	rep, err := db.VerifyAuditChain(ctx)
	var ce *skjold.ChainError
	switch {
	case errors.As(err, &ce):
		f.ChainError = ce.Error()
	case err != nil:
		return nil, err
	default:
		f.Chain = &rep
	}
	var last sql.NullInt64
	if err := db.queryRow(ctx, "SELECT MAX(time) FROM audit_events WHERE action = 'retention.sweep'").Scan(&last); err != nil {
		return nil, err
	}
	if last.Valid {
		f.LastSweep = fromMicros(last.Int64)
	}
	return f, nil
}

// tenantFacts fills the facts of one tenant ("" for operator staff): its settings, users and
// categories.
func (db *DB) tenantFacts(ctx context.Context, tenantID string, f *skjold.ComplianceFacts) error {
	set, err := db.sessionSettingsFor(ctx, tenantID)
	if err != nil {
		return err
	}
	f.Settings = set.SessionSettings
	q, args := selectUsers+" WHERE u.tenant_id = ? AND u.suspended = 0 ORDER BY u.id", []any{tenantID}
	if tenantID == "" {
		q, args = selectUsers+" WHERE u.tenant_id IS NULL AND u.suspended = 0 ORDER BY u.id", nil
	}
	users, err := queryAll(ctx, db, scanUser, q, args...)
	if err != nil {
		return err
	}
	f.AdminsWithoutTwoFactor, f.PastEndUnsuspended, f.TrainingOverdue = []string{}, []string{}, []string{}
	for _, u := range users {
		if skjold.NeedsTwoFactor(u.Role, u.Scopes) && !u.TwoFactor {
			f.AdminsWithoutTwoFactor = append(f.AdminsWithoutTwoFactor, u.ID)
		}
		if u.AccessUntil != nil && !u.AccessUntil.After(f.Now) {
			f.PastEndUnsuspended = append(f.PastEndUnsuspended, u.ID)
		}
		if (u.Operator() || skjold.ReachesPersonalData(u.Scopes)) && skjold.TrainingDue(u.TrainingAt, f.Now) {
			f.TrainingOverdue = append(f.TrainingOverdue, u.ID)
		}
	}
	f.CategoriesNoRetention = []string{}
	if tenantID == "" {
		return nil
	}
	cats, err := queryAll(ctx, db, func(s scanner) (*skjold.Category, error) {
		var def string
		if err := s.Scan(&def); err != nil {
			return nil, err
		}
		return decodeCategory(def)
	}, "SELECT definition FROM categories WHERE tenant_id = ? ORDER BY name", tenantID)
	for _, c := range cats {
		if _, err := skjold.ParsePeriod(c.Retention.Period); err != nil {
			f.CategoriesNoRetention = append(f.CategoriesNoRetention, c.Name)
		}
	}
	return err
}

const complianceSettings = "compliance"

// complianceProfile reads the profile of a tenant ("" for the operator), or the default.
func (db *DB) complianceProfile(ctx context.Context, tenantID string) (*skjold.ComplianceProfile, error) {
	p := skjold.DefaultComplianceProfile()
	var value string
	err := db.queryRow(ctx, "SELECT profile FROM compliance_profiles WHERE tenant_id = ?", tenantID).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return &p, nil
	case err != nil:
		return nil, err
	}
	return &p, json.Unmarshal([]byte(value), &p)
}

// ComplianceProfile returns the profile of the caller's tenant, or the operator's.
func (db *DB) ComplianceProfile(ctx context.Context) (*skjold.ComplianceProfile, error) {
	c := skjold.CallerFromContext(ctx)
	if _, err := db.complianceTenants(ctx, c); err != nil {
		return nil, err
	}
	return db.complianceProfile(ctx, c.TenantID)
}

// PutComplianceProfile replaces the profile of the caller's tenant (an owner, or a token
// with the admin scope), or the operator's.
func (db *DB) PutComplianceProfile(ctx context.Context, p *skjold.ComplianceProfile) error {
	c := skjold.CallerFromContext(ctx)
	switch {
	case c == nil:
		return skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator: // the routes ask operator.manage
	case !c.Operator && c.Can(skjold.ScopeAdmin) && (c.Role == skjold.RoleOwner || c.UserID == ""):
	default:
		return skjold.Errorf(skjold.EFORBIDDEN, "the compliance profile is changed by the tenant's owner")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	value, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		now := micros(db.now())
		res, err := tx.exec("UPDATE compliance_profiles SET profile = ?, updated_at = ? WHERE tenant_id = ?", string(value), now, c.TenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.exec("INSERT INTO compliance_profiles (tenant_id, profile, updated_at) VALUES (?, ?, ?)",
				c.TenantID, string(value), now); err != nil {
				return err
			}
		}
		tx.audit(event(c, "settings.update", "", "", []string{complianceSettings}))
		return nil
	})
}
