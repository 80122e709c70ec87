package store

import (
	"context"
	"slices"
	"strconv"

	"github.com/skjold-project/skjold"
)

// CheckContact answers whether a subject may be contacted for a purpose on a channel now
// [H2], and records an allowed send when asked to. Everything runs in one write, so that two
// checks at once cannot both take the last send the frequency cap leaves.
func (db *DB) CheckContact(ctx context.Context, cc *skjold.ContactCheck) error {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidID(cc.SubjectID) {
		return errNotFound("subject")
	}
	if err := cc.Validate(); err != nil {
		return err
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		cc.Allowed, cc.Reasons, cc.Sent = false, []string{}, 0
		p, err := db.purpose(ctx, tx.rowFunc, c.TenantID, cc.Purpose)
		if err != nil {
			return err
		}
		if err := tx.contactReasons(ctx, c.TenantID, tk, p, cc); err != nil {
			return err
		}
		cc.Allowed = len(cc.Reasons) == 0
		if cc.Allowed && cc.Record {
			if _, err := tx.exec("INSERT INTO contact_sends (tenant_id, subject_id, purpose, channel, sent_at) VALUES (?, ?, ?, ?, ?)",
				c.TenantID, cc.SubjectID, cc.Purpose, cc.Channel, micros(db.now())); err != nil {
				return err
			}
			cc.Sent++
		}
		tx.audit(event(c, "contact.check", cc.SubjectID, "", []string{"purpose:" + cc.Purpose, "channel:" + cc.Channel,
			"allowed:" + strconv.FormatBool(cc.Allowed)}))
		return nil
	})
}

// contactReasons adds to cc.Reasons every reason the subject may not be contacted, and sets
// cc.Sent to the sends within the cap's period.
func (tx *Tx) contactReasons(ctx context.Context, tenantID string, tk skjold.TenantKey, p *skjold.Purpose, cc *skjold.ContactCheck) error {
	var r subjectRow
	if err := r.scan(tx.queryRow(selectSubjects+" WHERE id = ? AND tenant_id = ?", cc.SubjectID, tenantID)); err != nil {
		return notFound(err, "subject")
	}
	s, _, err := r.open(tk)
	if err != nil {
		return err
	}
	st, err := tx.subjectState(tenantID, cc.SubjectID)
	if err != nil {
		return err
	}
	add := func(ok bool, reason string) {
		if !ok {
			cc.Reasons = append(cc.Reasons, reason)
		}
	}
	add(slices.Contains(p.Channels, cc.Channel), skjold.ReasonChannelNotAllowed)
	add(hasAddress(s, cc.Channel), skjold.ReasonNoAddress)
	add(!st.restricted, skjold.ReasonRestricted)
	switch p.LegalBasis {
	case skjold.BasisConsent:
		ok, err := consentInForce(ctx, tx.rowFunc, cc.SubjectID, p.Name)
		if err != nil {
			return err
		}
		add(ok, skjold.ReasonNoConsent)
	case skjold.BasisLegitimateInterest:
		add(!st.objected, skjold.ReasonObjected)
	}
	return tx.checkCap(p, cc)
}

// hasAddress reports whether the subject has the contact detail a channel needs. Postal
// addresses are kept in records, not the profile, so post is not checked here.
func hasAddress(s *skjold.Subject, channel string) bool {
	switch channel {
	case skjold.ChannelEmail:
		return s.Email != ""
	case skjold.ChannelSMS, skjold.ChannelPhone:
		return s.Phone != ""
	}
	return true
}

// checkCap counts the sends of the purpose to the subject within the cap's period and adds
// cap_reached when they use it up.
func (tx *Tx) checkCap(p *skjold.Purpose, cc *skjold.ContactCheck) error {
	if p.Cap == nil {
		return nil
	}
	period, err := skjold.ParsePeriod(p.Cap.Period)
	if err != nil {
		return err // validated when stored
	}
	now := tx.db.now()
	since := now.AddDate(-period.Years, -period.Months, -period.Days)
	err = tx.queryRow("SELECT COUNT(*) FROM contact_sends WHERE subject_id = ? AND purpose = ? AND sent_at > ?",
		cc.SubjectID, p.Name, micros(since)).Scan(&cc.Sent)
	if err != nil {
		return err
	}
	if cc.Sent >= p.Cap.Max {
		cc.Reasons = append(cc.Reasons, skjold.ReasonCapReached)
	}
	return nil
}
