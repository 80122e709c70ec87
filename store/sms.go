package store

import (
	"context"
	"time"

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
