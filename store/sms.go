package store

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// Verification codes by SMS [C8, H1]: a subject whose profile holds a phone number but no
// e-mail address gets the code by text message to that number, when an SMS sender is
// configured. The code still goes only to what is on file.

// canSendCode reports whether a code can reach the subject: by e-mail, or by SMS.
func (db *DB) canSendCode(sub *skjold.Subject) bool {
	return sub.Email != "" || sub.Phone != "" && db.auth.SMS != nil
}

// sendCodeTo sends the code by e-mail when the subject has an address on file, else by SMS.
func (db *DB) sendCodeTo(ctx context.Context, tenantID string, r *skjold.Request, sub *skjold.Subject, code string) error {
	if sub.Email != "" {
		return db.sendCode(ctx, tenantID, r, sub.Email, code)
	}
	name, err := db.tenantName(ctx, tenantID)
	if err != nil {
		return err
	}
	cat := i18n.Mail(db.requestMailLanguage(ctx, tenantID, r.ID))
	body := cat.T("sms.code", "code", code, "tenant", name, "request", cat.T("mail.request."+r.Type),
		"minutes", int(codeLifetime/time.Minute))
	return db.smsInBackground(ctx, skjold.SMS{To: sub.Phone, Body: body, TenantID: tenantID, SubjectID: sub.ID})
}

// smsInBackground sends m as mailInBackground sends an e-mail: without making the caller
// wait, sharing its slots, logging a failure without the number.
func (db *DB) smsInBackground(ctx context.Context, m skjold.SMS) error {
	select {
	case db.resetSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	db.bg.Add(1)
	go func() {
		defer func() { <-db.resetSlots; db.bg.Done() }()
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := db.auth.SMS.SendSMS(sctx, m); err != nil {
			db.log.Error("request SMS not sent", "err", err) // no number: it is personal data
		}
	}()
	return nil
}

// SendContactSMS runs the contact guard for the sms channel, recording the send, and sends
// the message to the phone number on file when the guard allows it.
func (db *DB) SendContactSMS(ctx context.Context, cc *skjold.ContactCheck, body string) (bool, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return false, err
	}
	if n := utf8.RuneCountInString(body); n == 0 || n > skjold.MaxSMSBody || !utf8.ValidString(body) {
		return false, skjold.FieldError("text", "length", "text must be 1 to %d characters", skjold.MaxSMSBody)
	}
	if db.auth.SMS == nil {
		return false, skjold.Errorf(skjold.EUNAVAILABLE, "no SMS sender is configured on this server")
	}
	cc.Channel, cc.Record = skjold.ChannelSMS, true
	if err := db.CheckContact(ctx, cc); err != nil || !cc.Allowed {
		return false, err
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return false, err
	}
	sub, _, err := db.subjectProfile(ctx, c.TenantID, tk, cc.SubjectID)
	if err != nil {
		return false, err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = db.auth.SMS.SendSMS(sctx, skjold.SMS{To: sub.Phone, Body: body, TenantID: c.TenantID, SubjectID: sub.ID})
	if err != nil {
		return false, skjold.Errorf(skjold.EUNAVAILABLE, "the SMS was not sent (%s)", skjold.ErrorCode(err))
	}
	return true, nil
}
