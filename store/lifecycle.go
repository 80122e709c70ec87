package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// The tenant lifecycle [D5]. A freeze and a termination are only ever carried out through
// a four-eyes approval (see checkRequest and carryOut); reactivation ends a freeze.

// maxFreezeYears bounds the end date a freeze may be agreed for.
const maxFreezeYears = 2

// errFrozen refuses every login and call of a frozen tenant's people and tokens, and the
// operator's support reads of it. It names nobody.
var errFrozen = skjold.Errorf(skjold.EFORBIDDEN, "this tenant's account is frozen")

// refuseFrozen returns errFrozen when tenantID ("" for the operator, never frozen) is frozen.
// It is called where tenant callers are authenticated: Login, AuthenticateSession,
// Authenticate (tokens) and ActiveGrant (operator support).
func (db *DB) refuseFrozen(ctx context.Context, tenantID string) error {
	if tenantID == "" {
		return nil
	}
	var status string
	if err := db.queryRow(ctx, "SELECT status FROM tenants WHERE id = ?", tenantID).Scan(&status); err != nil {
		return notFound(err, "tenant")
	}
	if status == skjold.TenantFrozen {
		return errFrozen
	}
	return nil
}

// checkFreeze checks a tenant freeze being filed: by operator staff who manage tenants, of
// an active tenant, until a date in the future at most two years away.
func (tx *Tx) checkFreeze(c *skjold.Caller, a *skjold.Approval) error {
	if !c.Operator || !c.Can(skjold.ScopeOperatorManage) {
		return skjold.Errorf(skjold.EFORBIDDEN, "a tenant freeze is filed by operator staff who manage tenants")
	}
	now := tx.db.now()
	switch {
	case a.Until == nil:
		return skjold.FieldError("until", "required", "until is required: the agreed end of the freeze")
	case !a.Until.After(now):
		return skjold.FieldError("until", "future", "until must be in the future")
	case a.Until.After(now.AddDate(maxFreezeYears, 0, 0)):
		return skjold.FieldError("until", "range", "until must be at most %d years away", maxFreezeYears)
	}
	until := a.Until.UTC().Truncate(time.Microsecond)
	a.Until, a.Role, a.Profile = &until, "", ""
	status, err := tx.tenantStatus(a.Target)
	if err != nil {
		return err
	}
	if status != skjold.TenantActive {
		return skjold.Errorf(skjold.ECONFLICT, "only an active tenant can be frozen; this one is %s", status)
	}
	return nil
}

// tenantStatus returns the status of a tenant whose key still exists.
func (tx *Tx) tenantStatus(id string) (string, error) {
	var status string
	var destroyed sql.NullInt64
	err := tx.queryRow("SELECT status, destroyed_at FROM tenants WHERE id = ?", id).Scan(&status, &destroyed)
	if err != nil || destroyed.Valid {
		return "", notFound(errOr(err, sql.ErrNoRows), "tenant")
	}
	return status, nil
}

// freezeTenant carries out an approved freeze: the tenant's sessions end, and its tokens
// (kept, not revoked) and people are refused until it is reactivated. The caller clears the
// token cache after the commit (DecideApproval).
func (tx *Tx) freezeTenant(c *skjold.Caller, a *skjold.Approval) error {
	if !c.Operator || !c.Can(skjold.ScopeOperatorManage) {
		return skjold.Errorf(skjold.EFORBIDDEN, "a tenant freeze is approved by operator staff who manage tenants")
	}
	if a.Until == nil || !a.Until.After(tx.db.now()) {
		return skjold.Errorf(skjold.ECONFLICT, "the agreed end of this freeze has passed: file it again")
	}
	res, err := tx.exec(`UPDATE tenants SET status = ?, frozen_until = ?, freeze_lapsed_at = NULL
		WHERE id = ? AND status = ? AND destroyed_at IS NULL`, skjold.TenantFrozen, micros(*a.Until), a.Target, skjold.TenantActive)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return skjold.Errorf(skjold.ECONFLICT, "only an active tenant can be frozen")
	}
	if err := tx.revokeSessions(c, "user_id IN (SELECT id FROM users WHERE tenant_id = ?)", a.Target); err != nil {
		return err
	}
	tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: a.Target, Action: "tenant.freeze", Source: c.Source,
		Fields: []string{"approval:" + a.ID, "until:" + a.Until.Format(time.DateOnly)}})
	return nil
}

// ReactivateTenant ends a tenant's freeze, lapsed or not. The route needs operator.manage.
func (db *DB) ReactivateTenant(ctx context.Context, id string) (*skjold.Tenant, error) {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("tenant")
	}
	err = db.write(ctx, func(tx *Tx) error {
		status, err := tx.tenantStatus(id)
		if err != nil {
			return err
		}
		if status != skjold.TenantFrozen {
			return skjold.Errorf(skjold.ECONFLICT, "only a frozen tenant can be reactivated; this one is %s", status)
		}
		if _, err := tx.exec(`UPDATE tenants SET status = ?, frozen_until = NULL, freeze_lapsed_at = NULL WHERE id = ?`,
			skjold.TenantActive, id); err != nil {
			return err
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: id, Action: "tenant.reactivate", Source: c.Source, Fields: []string{}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.FindTenantByID(ctx, id)
}

// FlagLapsedFreezes records, once per lapse, each frozen tenant whose agreed end date has
// passed (audit "tenant.freeze_lapsed", which alerts the operator), and returns how many it
// flagged. A lapsed tenant stays frozen until an operator reactivates or terminates it: the
// agreement said what happens next, and a person carries it out.
func (db *DB) FlagLapsedFreezes(ctx context.Context) (int, error) {
	now := db.now()
	n := 0
	err := db.write(ctx, func(tx *Tx) error {
		n = 0
		rows, err := tx.query(`SELECT id, frozen_until FROM tenants WHERE status = ? AND frozen_until <= ?
			AND freeze_lapsed_at IS NULL`, skjold.TenantFrozen, micros(now))
		if err != nil {
			return err
		}
		type lapse struct {
			id    string
			until int64
		}
		lapsed, err := collect(rows, func(s scanner) (lapse, error) {
			var l lapse
			err := s.Scan(&l.id, &l.until)
			return l, err
		})
		if err != nil {
			return err
		}
		for _, l := range lapsed {
			// Conditional, so that of two nodes flagging at once only one records the lapse.
			res, err := tx.exec("UPDATE tenants SET freeze_lapsed_at = ? WHERE id = ? AND freeze_lapsed_at IS NULL",
				micros(now), l.id)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				continue
			}
			tx.audit(&skjold.AuditEvent{Actor: "system:lifecycle", TenantID: l.id, Action: "tenant.freeze_lapsed",
				Source: "local", Fields: []string{"until:" + fromMicros(l.until).Format(time.DateOnly)}})
			n++
		}
		return nil
	})
	return n, err
}

// tenantRows lists, in an order that foreign keys allow, every table holding a terminated
// tenant's rows, with the condition that finds them. Left out on purpose: the append-only
// audit_events and erasure_journal, the tenants row itself (kept, marked terminated) and
// deletion_certificates. A test finds every table with a tenant_id column by introspection
// and fails when one is missing here.
var tenantRows = []struct{ table, where string }{
	{"subject_logins", "tenant_id = ?"},
	{"downloads", "tenant_id = ?"},
	{"consent_receipts", "tenant_id = ?"},
	{"contact_sends", "tenant_id = ?"},
	{"consents", "tenant_id = ?"},
	{"holds", "tenant_id = ?"},
	{"records", "tenant_id = ?"},
	{"subjects", "tenant_id = ?"},
	{"requests", "tenant_id = ?"},
	{"purpose_notices", "tenant_id = ?"},
	{"purposes", "tenant_id = ?"},
	{"categories", "tenant_id = ?"},
	{"grant_requests", "tenant_id = ?"},
	{"grants", "tenant_id = ?"},
	{"tokens", "tenant_id = ?"},
	{"sessions", "user_id IN (SELECT id FROM users WHERE tenant_id = ?)"},
	{"password_history", "user_id IN (SELECT id FROM users WHERE tenant_id = ?)"},
	{"recovery_codes", "user_id IN (SELECT id FROM users WHERE tenant_id = ?)"},
	{"password_resets", "user_id IN (SELECT id FROM users WHERE tenant_id = ?)"},
	{"email_confirmations", "user_id IN (SELECT id FROM users WHERE tenant_id = ?)"},
	{"users", "tenant_id = ?"},
	{"profiles", "tenant_id = ?"},
	{"settings", "tenant_id = ?"},
	{"compliance_profiles", "tenant_id = ?"},
	{"incident_entries", "tenant_id = ?"},
	{"incident_tenants", "tenant_id = ?"},
	{"incidents", "tenant_id = ?"},
	{"compliance_measures", "tenant_id = ?"},
	{"subproc_objections", "tenant_id = ?"},
	{"dpa_acceptances", "tenant_id = ?"},
	{"register_copies", "tenant_id = ?"},
	{"register_media", "tenant_id = ?"},
	{"approvals", "tenant_id = ?"},
}

// terminateTenant carries out an approved tenant deletion in one write: the tenant key is
// destroyed, every row of the tenant deleted, the erasure journal written and a deletion
// certificate stored. The tenants row stays, marked terminated, for the certificate.
func (tx *Tx) terminateTenant(c *skjold.Caller, a *skjold.Approval) error {
	var keyID sql.NullString
	if err := tx.queryRow("SELECT key_id FROM tenants WHERE id = ? AND wrapped_key IS NOT NULL", a.Target).Scan(&keyID); err != nil {
		return notFound(err, "tenant")
	}
	holds, err := tx.terminationHolds(a)
	if err != nil {
		return err
	}
	if err := tx.destroyTenantKey(c, a.Target); err != nil {
		return err
	}
	deleted, err := tx.deleteTenantRows(a.Target)
	if err != nil {
		return err
	}
	if err := tx.journal(a.Target, "", "tenant", skjold.ErasedOnTermination); err != nil {
		return err
	}
	cert := &skjold.DeletionCertificate{TenantID: a.Target, Time: tx.db.now().UTC().Truncate(time.Microsecond),
		Deleted: deleted, KeyID: keyID.String, OverriddenHolds: holds}
	body, sum, err := certificateBody(cert)
	if err != nil {
		return err
	}
	if _, err := tx.exec("INSERT INTO deletion_certificates (tenant_id, created_at, body, hash) VALUES (?, ?, ?, ?)",
		a.Target, micros(cert.Time), string(body), sum); err != nil {
		return err
	}
	tx.erased = true
	fields := []string{"approval:" + a.ID, "hash:" + hex.EncodeToString(sum)}
	for _, h := range holds {
		fields = append(fields, "hold_overridden:"+h.ID)
	}
	tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: a.Target, Action: "tenant.terminate", Source: c.Source,
		Fields: fields})
	return nil
}

// terminationHolds returns the legal holds of the tenant a deletes that are in force, oldest
// first, when a overrides them; and ECONFLICT naming them when it does not [D2]. A deletion
// is checked when it is filed and again when it is approved: a hold placed in between counts.
func (tx *Tx) terminationHolds(a *skjold.Approval) ([]skjold.OverriddenHold, error) {
	rows, err := tx.query(selectHolds+` WHERE tenant_id = ? AND released_at IS NULL AND (until IS NULL OR until > ?)
		ORDER BY created_at, id`, a.Target, micros(tx.db.now()))
	if err != nil {
		return nil, err
	}
	holds, err := collect(rows, scanHold)
	if err != nil || len(holds) == 0 {
		return nil, err
	}
	out := make([]skjold.OverriddenHold, len(holds))
	names := make([]string, len(holds))
	for i, h := range holds {
		out[i] = skjold.OverriddenHold{ID: h.ID, SubjectID: h.SubjectID, Category: h.Category, Reason: h.Reason}
		names[i] = fmt.Sprintf("%s (%q)", h.ID, h.Reason)
	}
	if a.OverrideHolds {
		return out, nil
	}
	return nil, &skjold.Error{Code: skjold.ECONFLICT, Field: "override_holds", Rule: "legal_hold",
		Message: fmt.Sprintf("the tenant has %d legal hold(s) in force: %s; release them, or file the deletion with "+
			"override_holds: true to destroy what they keep", len(holds), strings.Join(names, ", "))}
}

// deleteTenantRows deletes every row of the tenant in tenantRows, marks the tenant
// terminated and returns how many rows of each table went. Termination and the erasure
// journal's replay after a restore (ReplayJournal) both delete a tenant through it.
func (tx *Tx) deleteTenantRows(tenantID string) (map[string]int64, error) {
	deleted := make(map[string]int64, len(tenantRows))
	for _, r := range tenantRows {
		res, err := tx.exec("DELETE FROM "+r.table+" WHERE "+r.where, tenantID)
		if err != nil {
			return nil, err
		}
		deleted[r.table], _ = res.RowsAffected()
	}
	if _, err := tx.exec("UPDATE tenants SET status = ?, frozen_until = NULL, freeze_lapsed_at = NULL WHERE id = ?",
		skjold.TenantTerminated, tenantID); err != nil {
		return nil, err
	}
	return deleted, nil
}

// certificateBody returns the canonical JSON of cert without its hash (encoding/json writes
// struct fields in order and map keys sorted) and the SHA-256 of it, and sets cert.Hash.
func certificateBody(cert *skjold.DeletionCertificate) ([]byte, []byte, error) {
	cert.Hash = ""
	body, err := json.Marshal(cert)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(body)
	cert.Hash = hex.EncodeToString(sum[:])
	return body, sum[:], nil
}

// FindDeletionCertificate returns a terminated tenant's certificate once it has checked it:
// its hash must match its content and the hash recorded in the audit chain. A certificate
// that fails is reported as EINTERNAL, never returned. The route needs operator.read.
func (db *DB) FindDeletionCertificate(ctx context.Context, id string) (*skjold.DeletionCertificate, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("deletion certificate")
	}
	var body string
	var stored []byte
	if err := db.queryRow(ctx, "SELECT body, hash FROM deletion_certificates WHERE tenant_id = ?", id).Scan(&body, &stored); err != nil {
		return nil, notFound(err, "deletion certificate")
	}
	var cert skjold.DeletionCertificate
	if err := json.Unmarshal([]byte(body), &cert); err != nil {
		db.log.Error("deletion certificate unreadable", "tenant", id, "err", err)
		return nil, errTampered
	}
	_, sum, err := certificateBody(&cert)
	if err != nil {
		return nil, err
	}
	audited, err := db.auditedTermination(ctx, id)
	if err != nil {
		return nil, err
	}
	if cert.TenantID != id || subtle.ConstantTimeCompare(sum, stored) != 1 || !slices.Contains(audited, "hash:"+cert.Hash) {
		db.log.Error("deletion certificate does not match its hash", "tenant", id)
		return nil, errTampered
	}
	return &cert, nil
}

// auditedTermination returns the fields of the tenant.terminate event of tenantID in the
// audit chain (nil when there is none): they hold the certificate's hash, out of reach of
// anyone who rewrites the certificate without breaking the chain.
func (db *DB) auditedTermination(ctx context.Context, tenantID string) ([]string, error) {
	var fields string
	err := db.queryRow(ctx, `SELECT fields FROM audit_events WHERE tenant_id = ? AND action = 'tenant.terminate'
		ORDER BY seq DESC LIMIT 1`, tenantID).Scan(&fields)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return strings.Split(fields, ","), err
}

// errTampered answers for a deletion certificate that no longer matches its hash.
var errTampered = skjold.Errorf(skjold.EINTERNAL, "the deletion certificate does not match its hash: it was altered")
