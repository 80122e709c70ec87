package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

const selectGrantRequests = `SELECT r.id, r.tenant_id, r.user_id, r.reason, r.hours, r.status, r.grant_id, r.decided_by,
	r.deny_reason, r.created_at, r.expires_at, r.decided_at, t.name, u.name
	FROM grant_requests r JOIN tenants t ON t.id = r.tenant_id JOIN users u ON u.id = r.user_id`

func (db *DB) scanGrantRequest(s scanner) (*skjold.GrantRequest, error) {
	var r skjold.GrantRequest
	var grant, decider, deny sql.NullString
	var created, expires int64
	var decided sql.NullInt64
	if err := s.Scan(&r.ID, &r.TenantID, &r.UserID, &r.Reason, &r.Hours, &r.Status, &grant, &decider, &deny,
		&created, &expires, &decided, &r.TenantName, &r.RequestedBy); err != nil {
		return nil, err
	}
	r.GrantID, r.DecidedBy, r.DenyReason = grant.String, decider.String, deny.String
	r.CreatedAt, r.ExpiresAt, r.DecidedAt = fromMicros(created), fromMicros(expires), optTime(decided)
	if r.Status == skjold.GrantRequestPending && !db.now().Before(r.ExpiresAt) {
		r.Status = skjold.GrantRequestExpired
	}
	return &r, nil
}

// RequestGrant files a support grant request; see skjold.GrantRequestService.
func (db *DB) RequestGrant(ctx context.Context, r *skjold.GrantRequest) error {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return err
	}
	if c.UserID == "" {
		return skjold.Errorf(skjold.EFORBIDDEN, "support access is asked for by a person, not an API token")
	}
	if err := checkReason(r.Reason); err != nil {
		return err
	}
	if !skjold.ValidID(r.TenantID) {
		return skjold.FieldError("tenant_id", "required", "choose the tenant to ask")
	}
	var status string
	if err := db.queryRow(ctx, "SELECT status FROM tenants WHERE id = ?", r.TenantID).Scan(&status); err != nil {
		return notFound(err, "tenant")
	}
	if status != skjold.TenantActive {
		return skjold.Errorf(skjold.ECONFLICT, "the tenant is %s: it cannot grant support access", status)
	}
	set, err := db.sessionSettingsFor(ctx, r.TenantID)
	if err != nil {
		return err
	}
	if r.Hours < 1 || r.Hours > set.SupportMaxHours {
		return skjold.FieldError("hours", "range", "hours must be between 1 and the tenant's maximum of %d", set.SupportMaxHours)
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	err = db.write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(`SELECT COUNT(*) FROM grant_requests WHERE tenant_id = ? AND user_id = ? AND status = ?
			AND expires_at > ?`, r.TenantID, c.UserID, skjold.GrantRequestPending, micros(now)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return skjold.Errorf(skjold.ECONFLICT, "you already have a request waiting for this tenant")
		}
		r.ID, r.UserID, r.Status, r.CreatedAt = newID(), c.UserID, skjold.GrantRequestPending, now
		r.ExpiresAt, r.GrantID, r.DecidedBy, r.DenyReason, r.DecidedAt = now.Add(skjold.GrantRequestLifetime), "", "", "", nil
		_, err := tx.exec(`INSERT INTO grant_requests (id, tenant_id, user_id, reason, hours, status, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.TenantID, r.UserID, r.Reason, r.Hours, r.Status, micros(now), micros(r.ExpiresAt))
		tx.audit(event(c, "grant_request.create", "", "", []string{"grant_request:" + r.ID, "tenant:" + r.TenantID, "hours:" + itoa(r.Hours)}))
		return err
	})
	if err != nil {
		return err
	}
	db.mailGrantRequest(ctx, r)
	return nil
}

// mailGrantRequest tells the tenant's owners and admins, each in their language, that
// support access is asked for. A failed send is logged: the request waits on their
// console either way.
func (db *DB) mailGrantRequest(ctx context.Context, r *skjold.GrantRequest) {
	if db.auth.Mailer == nil {
		return
	}
	var tenant string
	if err := db.queryRow(ctx, "SELECT name FROM tenants WHERE id = ?", r.TenantID).Scan(&tenant); err != nil {
		db.log.Error("grant request e-mail not sent", "err", err)
		return
	}
	type admin struct{ email, lang string }
	admins, err := queryAll(ctx, db, func(s scanner) (admin, error) {
		var a admin
		return a, s.Scan(&a.email, &a.lang)
	}, `SELECT email, language FROM users WHERE tenant_id = ? AND role IN (?, ?) AND suspended = 0
		AND pending_email IS NULL ORDER BY id`, r.TenantID, skjold.RoleOwner, skjold.RoleAdmin)
	if err != nil {
		db.log.Error("grant request e-mail not sent", "err", err)
		return
	}
	for _, a := range admins {
		cat := i18n.Mail(a.lang)
		body := mailBody(cat.T("mail.grant_request.intro", "issuer", db.auth.Issuer, "tenant", tenant, "hours", r.Hours),
			cat.T("mail.grant_request.reason", "reason", r.Reason),
			cat.T("mail.grant_request.decide", "hours", int(skjold.GrantRequestLifetime/time.Hour)))
		m := skjold.Message{To: a.email, Subject: cat.T("mail.grant_request.subject", "issuer", db.auth.Issuer), Body: body}
		if err := db.auth.Mailer.Send(ctx, m); err != nil {
			db.log.Error("grant request e-mail not sent", "err", err) // no address: personal data
		}
	}
}

// FindGrantRequests lists the operator person's own requests or the tenant's, newest first.
func (db *DB) FindGrantRequests(ctx context.Context) ([]*skjold.GrantRequest, error) {
	c := skjold.CallerFromContext(ctx)
	switch {
	case c == nil:
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator && c.UserID != "":
		return queryAll(ctx, db, db.scanGrantRequest, selectGrantRequests+" WHERE r.user_id = ? ORDER BY r.id DESC LIMIT 100", c.UserID)
	case !c.Operator && c.Can(skjold.ScopeAdmin):
		return queryAll(ctx, db, db.scanGrantRequest, selectGrantRequests+" WHERE r.tenant_id = ? ORDER BY r.id DESC LIMIT 100", c.TenantID)
	case c.Operator:
		// An operator token asks for nothing in person, so it has no requests of its own.
		return []*skjold.GrantRequest{}, nil
	}
	return nil, skjold.Errorf(skjold.EFORBIDDEN, "grant requests are seen by the operator person who asked and the tenant's admins")
}

// decider returns the tenant admin deciding a request in person.
func decider(ctx context.Context) (*skjold.Caller, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Can(skjold.ScopeAdmin) || c.UserID == "" {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "support access is granted by a tenant's administrator in person")
	}
	return c, nil
}

// pendingRequest reads a request of the caller's tenant that still waits for a decision.
func (tx *Tx) pendingRequest(c *skjold.Caller, id string) (*skjold.GrantRequest, error) {
	if !skjold.ValidID(id) {
		return nil, errNotFound("grant request")
	}
	r, err := tx.db.scanGrantRequest(tx.queryRow(selectGrantRequests+" WHERE r.id = ? AND r.tenant_id = ?", id, c.TenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("grant request")
	} else if err != nil {
		return nil, err
	}
	if r.Status != skjold.GrantRequestPending {
		return nil, skjold.Errorf(skjold.ECONFLICT, "this request is %s already", r.Status)
	}
	return r, nil
}

// ApproveGrantRequest creates the grant the request asks for; see skjold.GrantRequestService.
func (db *DB) ApproveGrantRequest(ctx context.Context, id string) (*skjold.Grant, error) {
	c, err := decider(ctx)
	if err != nil {
		return nil, err
	}
	set, err := db.sessionSettingsFor(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	var g *skjold.Grant
	err = db.write(ctx, func(tx *Tx) error {
		r, err := tx.pendingRequest(c, id)
		if err != nil {
			return err
		}
		if r.Hours > set.SupportMaxHours {
			return skjold.FieldError("hours", "range", "the request asks for %d hours, above the tenant's maximum of %d now", r.Hours, set.SupportMaxHours)
		}
		g = &skjold.Grant{UserID: r.UserID, Reason: r.Reason}
		if err := tx.insertGrant(c, g, r.Hours); err != nil {
			return err
		}
		_, err = tx.exec(`UPDATE grant_requests SET status = ?, grant_id = ?, decided_by = ?, decided_at = ? WHERE id = ?`,
			skjold.GrantRequestApproved, g.ID, c.UserID, micros(g.CreatedAt), r.ID)
		tx.audit(event(c, "grant_request.approve", "", "", []string{"grant_request:" + r.ID, "grant:" + g.ID}))
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// DenyGrantRequest refuses a pending request; see skjold.GrantRequestService.
func (db *DB) DenyGrantRequest(ctx context.Context, id, reason string) error {
	c, err := decider(ctx)
	if err != nil {
		return err
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		r, err := tx.pendingRequest(c, id)
		if err != nil {
			return err
		}
		_, err = tx.exec(`UPDATE grant_requests SET status = ?, deny_reason = ?, decided_by = ?, decided_at = ? WHERE id = ?`,
			skjold.GrantRequestDenied, reason, c.UserID, micros(db.now()), r.ID)
		tx.audit(event(c, "grant_request.deny", "", "", []string{"grant_request:" + r.ID}))
		return err
	})
}
