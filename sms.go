package skjold

import "context"

// SMS is one text message to one phone number. Its body may hold a one-time code, so it is
// never logged.
type SMS struct {
	To   string // the number, as the subject's profile holds it
	Body string
	// TenantID and SubjectID name the data subject the message goes to, when it goes to one;
	// they are not sent, but let an outbox remove the message when the subject is erased.
	TenantID, SubjectID string
}

// MaxSMSBody bounds a text message's body in characters (about three concatenated parts).
const MaxSMSBody = 459

// SMSSender sends text messages [H1]: through an HTTPS gateway, or into an outbox
// directory when none is configured.
type SMSSender interface {
	// SendSMS delivers m or returns an error; it returns once the gateway (or the outbox
	// file) has accepted the message. Errors: EINVALID for a malformed number or an empty or
	// overlong body, EUNAVAILABLE when the gateway cannot be reached or refuses the message.
	SendSMS(ctx context.Context, m SMS) error
}

// ContactSMSService sends a tenant's own text messages to its subjects (reminders, notices)
// through Skjold, behind the contact guard [H2].
type ContactSMSService interface {
	// SendContactSMS checks cc on the sms channel as CheckContact does with Record set and,
	// when the subject may be contacted, sends body to the phone number on file and sets
	// sent. A message the guard refuses is not sent and is no error: cc.Reasons says why.
	// Errors: EINVALID (an empty or overlong body), ENOTFOUND (subject or purpose),
	// EFORBIDDEN, EUNAVAILABLE (no SMS sender, or the gateway refused it; the send stays
	// counted against the cap).
	SendContactSMS(ctx context.Context, cc *ContactCheck, body string) (sent bool, err error)
}
