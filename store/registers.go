package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// The registers of copies handed over [D3] and of destroyed storage media [D4], kept by each
// tenant's administrators for their own organisation and by the operator for itself
// (tenant_id ''). A destruction certificate is sealed like other sealed data: under a data
// key the tenant key wraps, or, for the operator, under the master key.

const certField = "media_certificate" // what a sealed certificate is bound to, with the medium id

// registerCaller returns the caller and the register it keeps: its tenant's, or the
// operator's ("").
func registerCaller(ctx context.Context) (*skjold.Caller, error) {
	c := skjold.CallerFromContext(ctx)
	switch {
	case c == nil:
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator: // the routes ask operator.read or operator.manage
		return c, nil
	case !c.Can(skjold.ScopeAdmin):
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "the registers of copies and media are kept by administrators")
	}
	return c, nil
}

const selectCopies = `SELECT id, what, recipient, handed_over, delete_by, created_by, created_at, reminded_at, deleted_at,
	deleted_by FROM register_copies`

func scanCopy(s scanner) (*skjold.DataCopy, error) {
	var c skjold.DataCopy
	var created int64
	var reminded, deleted sql.NullInt64
	var by sql.NullString
	err := s.Scan(&c.ID, &c.What, &c.Recipient, &c.HandedOver, &c.DeleteBy, &c.CreatedBy, &created, &reminded, &deleted, &by)
	c.CreatedAt, c.RemindedAt, c.DeletedAt, c.DeletedBy = fromMicros(created), optTime(reminded), optTime(deleted), by.String
	return &c, err
}

// Copies lists the caller's register of copies, newest first.
func (db *DB) Copies(ctx context.Context) ([]*skjold.DataCopy, error) {
	c, err := registerCaller(ctx)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, scanCopy, selectCopies+" WHERE tenant_id = ? ORDER BY created_at DESC, id DESC", c.TenantID)
}

// RecordCopy adds a copy handed over to the caller's register.
func (db *DB) RecordCopy(ctx context.Context, cp *skjold.DataCopy) error {
	c, err := registerCaller(ctx)
	if err != nil {
		return err
	}
	if err := cp.Validate(); err != nil {
		return err
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	cp.ID, cp.CreatedBy, cp.CreatedAt, cp.RemindedAt, cp.DeletedAt, cp.DeletedBy = newID(), c.UserID, now, nil, nil, ""
	return db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO register_copies (id, tenant_id, what, recipient, handed_over, delete_by, created_by,
			created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, cp.ID, c.TenantID, cp.What, cp.Recipient, cp.HandedOver, cp.DeleteBy,
			cp.CreatedBy, micros(now)); err != nil {
			return err
		}
		tx.audit(event(c, "register.copy", "", "", []string{"copy:" + cp.ID}))
		return nil
	})
}

// ConfirmCopyDeleted records that a copy was deleted.
func (db *DB) ConfirmCopyDeleted(ctx context.Context, id string) (*skjold.DataCopy, error) {
	c, err := registerCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("copy")
	}
	var cp *skjold.DataCopy
	err = db.write(ctx, func(tx *Tx) error {
		rows, err := tx.query(selectCopies+" WHERE id = ? AND tenant_id = ?", id, c.TenantID)
		if err != nil {
			return err
		}
		list, err := collect(rows, scanCopy)
		switch {
		case err != nil:
			return err
		case len(list) == 0:
			return errNotFound("copy")
		case list[0].DeletedAt != nil:
			return skjold.Errorf(skjold.ECONFLICT, "the deletion of this copy is already confirmed")
		}
		cp = list[0]
		now := db.now().UTC().Truncate(time.Microsecond)
		cp.DeletedAt, cp.DeletedBy = &now, c.Actor
		if _, err := tx.exec("UPDATE register_copies SET deleted_at = ?, deleted_by = ? WHERE id = ?", micros(now), c.Actor, id); err != nil {
			return err
		}
		tx.audit(event(c, "register.copy_deleted", "", "", []string{"copy:" + id}))
		return nil
	})
	return cp, err
}

// RemindCopies e-mails the owners and administrators of each register (the operator's owners
// for its own) about every copy due for deletion by tomorrow and not confirmed deleted, at
// most once a day per copy, each person in their language; it returns how many copies it
// reminded of. The hourly job calls it.
func (db *DB) RemindCopies(ctx context.Context) (int, error) {
	now := db.now().UTC()
	tomorrow := now.AddDate(0, 0, 1).Format(time.DateOnly)
	type due struct {
		tenant string
		cp     *skjold.DataCopy
	}
	var list []due
	err := db.write(ctx, func(tx *Tx) error {
		list = list[:0]
		rows, err := tx.query(`SELECT tenant_id, id, what, recipient, handed_over, delete_by, created_by, created_at, reminded_at,
			deleted_at, deleted_by FROM register_copies WHERE deleted_at IS NULL AND delete_by <= ? AND
			(reminded_at IS NULL OR reminded_at <= ?) ORDER BY delete_by, id`, tomorrow, micros(now.Add(-24*time.Hour)))
		if err != nil {
			return err
		}
		if list, err = collect(rows, func(s scanner) (due, error) {
			var d due
			var tenant string
			cp, err := scanCopy(prefixScanner{s, &tenant})
			d.tenant, d.cp = tenant, cp
			return d, err
		}); err != nil {
			return err
		}
		for _, d := range list {
			if _, err := tx.exec("UPDATE register_copies SET reminded_at = ? WHERE id = ?", micros(now), d.cp.ID); err != nil {
				return err
			}
			tx.audit(&skjold.AuditEvent{Actor: "system:registers", Action: "register.copy_reminder", TenantID: d.tenant,
				Source: "local", Fields: []string{"copy:" + d.cp.ID}})
		}
		return nil
	})
	if err != nil || len(list) == 0 || db.auth.Mailer == nil {
		return len(list), err
	}
	for _, d := range list {
		q, args := selectUsers+` WHERE u.tenant_id = ? AND u.role IN (?, ?) AND u.suspended = 0 AND u.pending_email IS NULL
			ORDER BY u.id`, []any{d.tenant, skjold.RoleOwner, skjold.RoleAdmin}
		if d.tenant == "" {
			q, args = selectUsers+` WHERE u.tenant_id IS NULL AND u.role = ? AND u.suspended = 0 AND u.pending_email IS NULL
				ORDER BY u.id`, []any{skjold.RoleOwner}
		}
		people, err := queryAll(ctx, db, scanUser, q, args...)
		if err != nil {
			return len(list), err
		}
		for _, u := range people {
			cat := i18n.Mail(db.userLanguage(ctx, u.ID))
			body := mailBody(cat.T("registers.mail.intro", "issuer", db.auth.Issuer),
				cat.T("registers.mail.copy", "what", d.cp.What, "recipient", d.cp.Recipient, "handed", d.cp.HandedOver, "by", d.cp.DeleteBy),
				cat.T("registers.mail.confirm", "link", db.publicURL+"/console/registers"))
			msg := skjold.Message{To: u.Email, Subject: cat.T("registers.mail.subject", "issuer", db.auth.Issuer), Body: body}
			if err := db.auth.Mailer.Send(ctx, msg); err != nil {
				db.log.Error("copy deletion reminder not sent", "err", err) // no address: it is personal data
			}
		}
	}
	return len(list), nil
}

// prefixScanner scans one leading column into first, the rest with the wrapped scanner's
// destinations.
type prefixScanner struct {
	s     scanner
	first *string
}

func (p prefixScanner) Scan(dest ...any) error { return p.s.Scan(append([]any{p.first}, dest...)...) }

const selectMedia = `SELECT id, what, method, destroyed_by, witness, destroyed_on, created_at, cert_sha256, cert_size
	FROM register_media`

func scanMedium(s scanner) (*skjold.DestroyedMedium, error) {
	var m skjold.DestroyedMedium
	var created int64
	var sum sql.NullString
	var size sql.NullInt64
	err := s.Scan(&m.ID, &m.What, &m.Method, &m.DestroyedBy, &m.Witness, &m.DestroyedOn, &created, &sum, &size)
	m.CreatedAt, m.CertSHA256, m.CertSize = fromMicros(created), sum.String, size.Int64
	return &m, err
}

// Media lists the caller's register of destroyed media, newest first.
func (db *DB) Media(ctx context.Context) ([]*skjold.DestroyedMedium, error) {
	c, err := registerCaller(ctx)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, scanMedium, selectMedia+" WHERE tenant_id = ? ORDER BY created_at DESC, id DESC", c.TenantID)
}

// RecordMedium adds a destroyed medium to the caller's register.
func (db *DB) RecordMedium(ctx context.Context, m *skjold.DestroyedMedium) error {
	c, err := registerCaller(ctx)
	if err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	m.ID, m.CreatedAt, m.CertSHA256, m.CertSize = newID(), now, "", 0
	return db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO register_media (id, tenant_id, what, method, destroyed_by, witness, destroyed_on,
			created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, c.TenantID, m.What, m.Method, m.DestroyedBy, m.Witness,
			m.DestroyedOn, micros(now)); err != nil {
			return err
		}
		tx.audit(event(c, "register.medium", "", "", []string{"medium:" + m.ID}))
		return nil
	})
}

// AttachCertificate stores a medium's destruction certificate, sealed.
func (db *DB) AttachCertificate(ctx context.Context, id string, pdf []byte) (*skjold.DestroyedMedium, error) {
	c, err := registerCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("medium")
	}
	var n int
	if err := db.queryRow(ctx, "SELECT COUNT(*) FROM register_media WHERE id = ? AND tenant_id = ?", id, c.TenantID).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errNotFound("medium")
	}
	switch {
	case len(pdf) == 0:
		return nil, skjold.FieldError("certificate", "required", "certificate is required: a PDF")
	case len(pdf) > skjold.MaxDPAScan:
		return nil, skjold.FieldError("certificate", "size", "certificate must be at most 10 MB")
	case !bytes.HasPrefix(pdf, []byte("%PDF-")):
		return nil, skjold.FieldError("certificate", "pdf", "certificate must be a PDF file")
	}
	var keyID string
	var wrapped, sealed []byte
	if c.TenantID == "" {
		if keyID, sealed, err = db.keys.SealSecret(certField, id, pdf); err != nil {
			return nil, err
		}
	} else {
		tk, err := db.tenantKey(ctx, c.TenantID)
		if err != nil {
			return nil, err
		}
		key, w, err := tk.NewSubjectKey(id)
		if err != nil {
			return nil, err
		}
		if sealed, err = key.Seal("", certField, pdf); err != nil {
			return nil, err
		}
		wrapped = w
	}
	sum := sha256.Sum256(pdf)
	var m *skjold.DestroyedMedium
	err = db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE register_media SET cert_sha256 = ?, cert_size = ?, cert_key_id = ?, cert_key = ?, certificate = ?
			WHERE id = ? AND tenant_id = ?`, hex.EncodeToString(sum[:]), len(pdf), keyID, wrapped, sealed, id, c.TenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("medium")
		}
		rows, err := tx.query(selectMedia+" WHERE id = ?", id)
		if err != nil {
			return err
		}
		list, err := collect(rows, scanMedium)
		if err != nil || len(list) == 0 {
			return err
		}
		m = list[0]
		tx.audit(event(c, "register.certificate", "", "", []string{"medium:" + id}))
		return nil
	})
	return m, err
}

// Certificate returns a medium's destruction certificate.
func (db *DB) Certificate(ctx context.Context, id string) ([]byte, error) {
	c, err := registerCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("certificate")
	}
	var keyID sql.NullString
	var wrapped, sealed []byte
	err = db.queryRow(ctx, "SELECT cert_key_id, cert_key, certificate FROM register_media WHERE id = ? AND tenant_id = ? AND certificate IS NOT NULL",
		id, c.TenantID).Scan(&keyID, &wrapped, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("certificate")
	} else if err != nil {
		return nil, err
	}
	if c.TenantID == "" {
		return db.keys.OpenSecret(certField, id, keyID.String, sealed)
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	key, err := tk.OpenSubjectKey(id, wrapped)
	if err != nil {
		return nil, err
	}
	return key.Open("", certField, sealed)
}
