package skjold

import "context"

// Message is one e-mail: plain text, to one recipient. Its body may hold a secret link or
// code, so it is never logged.
type Message struct {
	To      string
	Subject string
	Body    string
	// TenantID and SubjectID name the data subject the message goes to, when it goes to one.
	// They are not sent; the outbox keeps them to remove the message when the subject (or
	// the tenant) is erased.
	TenantID, SubjectID string
}

// Mailer sends e-mail [H1]: through an SMTP relay, or into an outbox directory when none is
// configured.
type Mailer interface {
	// Send delivers m or returns an error; it never returns before the relay (or the outbox
	// file) has accepted the whole message. Errors: EINVALID for a malformed address or a
	// header with a line break, EUNAVAILABLE when the relay cannot be reached.
	Send(ctx context.Context, m Message) error
}
