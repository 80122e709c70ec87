package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// The contact form's store side [A6]: the tenant's settings and a daily count, both in the
// settings table. A relayed message goes to the mailer and nowhere else: no row, no audit
// detail and no log line holds any of it.

var _ skjold.ContactFormService = (*DB)(nil)

const (
	contactFormSetting  = "contact_form"
	contactCountSetting = "contact_form_count"
	contactCountDays    = 30 // the days of counts kept
	contactRelayTimeout = 30 * time.Second
)

// ContactFormSettings returns the caller's tenant's settings and its recent daily counts.
func (db *DB) ContactFormSettings(ctx context.Context) (*skjold.ContactFormSettings, []skjold.ContactFormCount, error) {
	c, err := requestCaller(ctx, skjold.ScopeRead)
	if err != nil {
		return nil, nil, err
	}
	s, err := db.contactForm(ctx, c.TenantID)
	if err != nil {
		return nil, nil, err
	}
	counts, err := db.contactCounts(ctx, db.rowFunc, c.TenantID)
	return s, counts, err
}

func (db *DB) contactForm(ctx context.Context, tenantID string) (*skjold.ContactFormSettings, error) {
	s := &skjold.ContactFormSettings{Mode: skjold.ContactFormOff}
	var value string
	err := db.queryRow(ctx, "SELECT value FROM settings WHERE tenant_id = ? AND name = ?", tenantID, contactFormSetting).Scan(&value)
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal([]byte(value), s); err != nil {
			return nil, fmt.Errorf("store: contact form settings do not decode: %w", err)
		}
	}
	return s, nil
}

// contactCounts reads the daily counts, newest first.
func (db *DB) contactCounts(ctx context.Context, row func(context.Context, string, ...any) scanner, tenantID string) ([]skjold.ContactFormCount, error) {
	counts := []skjold.ContactFormCount{}
	var value string
	err := row(ctx, "SELECT value FROM settings WHERE tenant_id = ? AND name = ?", tenantID, contactCountSetting).Scan(&value)
	switch {
	case err == sql.ErrNoRows:
		return counts, nil
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal([]byte(value), &counts); err != nil {
		return nil, fmt.Errorf("store: contact form counts do not decode: %w", err)
	}
	return counts, nil
}

// PutContactFormSettings replaces the caller's tenant's settings; it needs the admin scope.
func (db *DB) PutContactFormSettings(ctx context.Context, s *skjold.ContactFormSettings) error {
	c, err := requestCaller(ctx, skjold.ScopeAdmin)
	if err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	value, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		if err := tx.putSetting(c.TenantID, contactFormSetting, string(value)); err != nil {
			return err
		}
		tx.audit(event(c, "settings.update", "", "", []string{contactFormSetting, "mode:" + s.Mode}))
		return nil
	})
}

// PublicContactForm returns a tenant's contact form settings.
func (db *DB) PublicContactForm(ctx context.Context, tenantID string) (*skjold.ContactFormSettings, error) {
	return db.contactForm(ctx, tenantID)
}

// RelayContactMessage validates m, e-mails it to the tenant's address and counts it. In
// prospect mode the enquirer's name and address are kept first as a prospect subject,
// sealed like every profile, which the retention sweep erases after DefaultProspectDays.
func (db *DB) RelayContactMessage(ctx context.Context, tenantID string, m *skjold.ContactMessage, lang string) error {
	if err := m.Validate(); err != nil {
		return err
	}
	s, err := db.contactForm(ctx, tenantID)
	if err != nil {
		return err
	}
	if s.Mode == skjold.ContactFormOff || s.Address == "" {
		return skjold.Errorf(skjold.ENOTFOUND, "this contact form is not in use")
	}
	if db.auth.Mailer == nil {
		return skjold.Errorf(skjold.EUNAVAILABLE, "e-mail is not configured on this store")
	}
	name, err := db.tenantName(ctx, tenantID)
	if err != nil {
		return err
	}
	if !i18n.Supported(lang) {
		lang = db.subjectLanguage(ctx, tenantID)
	}
	cat := i18n.Mail(lang)
	msg := skjold.Message{To: s.Address, Subject: cat.T("contact_form.mail.subject", "tenant", name),
		Body: mailBody(cat.T("contact_form.mail.intro", "tenant", name),
			cat.T("contact_form.mail.from", "name", m.Name, "email", m.Email), m.Message, cat.T("contact_form.mail.kept_"+s.Mode))}
	if s.Mode == skjold.ContactFormProspect {
		sub := &skjold.Subject{Name: m.Name, Email: m.Email, Relationship: skjold.RelationshipProspect}
		if err := db.CreateSubject(privacyCenterCaller(ctx, tenantID), sub); err != nil {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, contactRelayTimeout)
	defer cancel()
	if err := db.auth.Mailer.Send(sctx, msg); err != nil {
		return skjold.Errorf(skjold.EUNAVAILABLE, "the message could not be relayed (%s)", skjold.ErrorCode(err))
	}
	return db.countContact(ctx, tenantID)
}

// countContact adds one to today's count, keeping contactCountDays days.
func (db *DB) countContact(ctx context.Context, tenantID string) error {
	return db.write(ctx, func(tx *Tx) error {
		counts, err := db.contactCounts(ctx, tx.rowFunc, tenantID)
		if err != nil {
			return err
		}
		today := db.now().UTC().Truncate(24 * time.Hour)
		if len(counts) == 0 || !counts[0].Day.Equal(today) {
			counts = append([]skjold.ContactFormCount{{Day: today}}, counts...)
		}
		counts[0].Count++
		if len(counts) > contactCountDays {
			counts = counts[:contactCountDays]
		}
		value, err := json.Marshal(counts)
		if err != nil {
			return err
		}
		return tx.putSetting(tenantID, contactCountSetting, string(value))
	})
}
