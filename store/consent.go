package store

import (
	"context"
	"time"

	"github.com/skjold-project/skjold"
)

// RecordConsent stores a grant or withdrawal of a subject's consent to a registered purpose,
// with the notice version in force. The newest row per purpose is in force, so a withdrawal
// stops the purpose at once. A restricted subject may withdraw but not grant.
func (db *DB) RecordConsent(ctx context.Context, cs *skjold.Consent) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidID(cs.SubjectID) {
		return errNotFound("subject")
	}
	if err := cs.Validate(); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		p, err := db.purpose(ctx, tx.rowFunc, c.TenantID, cs.Purpose)
		if err != nil {
			return err
		}
		st, err := tx.subjectState(c.TenantID, cs.SubjectID)
		if err != nil {
			return err
		}
		if st.restricted && cs.Granted {
			return errRestricted()
		}
		cs.ID, cs.NoticeVersion, cs.Notice = newID(), p.NoticeVersion, ""
		cs.CreatedAt = db.now().UTC().Truncate(time.Microsecond)
		if _, err := tx.exec(`INSERT INTO consents (id, tenant_id, subject_id, purpose, granted, source, notice_version, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, cs.ID, c.TenantID, cs.SubjectID, cs.Purpose, boolInt(cs.Granted), cs.Source,
			cs.NoticeVersion, micros(cs.CreatedAt)); err != nil {
			return err
		}
		action := "consent.withdraw"
		if cs.Granted {
			action = "consent.grant"
		}
		tx.audit(event(c, action, cs.SubjectID, "", []string{"purpose:" + cs.Purpose}))
		return nil
	})
}

// FindConsents returns a subject's consent history, oldest first, each with the notice text
// it was given under, and audits the read. A restricted subject's history is read under the
// same rules as its other data.
func (db *DB) FindConsents(ctx context.Context, subjectID string) ([]*skjold.Consent, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(subjectID) {
		return nil, errNotFound("subject")
	}
	st, err := db.readSubjectState(ctx, c.TenantID, subjectID)
	if err != nil {
		return nil, err
	}
	if err := db.checkRead(ctx, c, subjectID, st); err != nil {
		return nil, err
	}
	consents, err := queryAll(ctx, db, scanConsent, `SELECT c.id, c.subject_id, c.purpose, c.granted, c.source,
		c.notice_version, COALESCE(n.text, ''), c.created_at FROM consents c LEFT JOIN purpose_notices n
		ON n.tenant_id = c.tenant_id AND n.purpose = c.purpose AND n.version = c.notice_version
		WHERE c.subject_id = ? AND c.tenant_id = ? ORDER BY c.created_at, c.id`, subjectID, c.TenantID)
	if err != nil {
		return nil, err
	}
	return consents, db.auditRead(ctx, c, event(c, "consent.read", subjectID, "", []string{}))
}

func scanConsent(s scanner) (*skjold.Consent, error) {
	var cs skjold.Consent
	var granted int
	var created int64
	err := s.Scan(&cs.ID, &cs.SubjectID, &cs.Purpose, &granted, &cs.Source, &cs.NoticeVersion, &cs.Notice, &created)
	cs.Granted, cs.CreatedAt = granted == 1, fromMicros(created)
	return &cs, err
}

// consentInForce reports whether the subject's newest consent to purpose is a grant, with the
// row function given.
func consentInForce(ctx context.Context, row rowQuerier, subjectID, purpose string) (bool, error) {
	var granted int
	err := row(ctx, `SELECT granted FROM consents WHERE subject_id = ? AND purpose = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`, subjectID, purpose).Scan(&granted)
	if err != nil {
		return false, notFoundAs(err, nil)
	}
	return granted == 1, nil
}
