package skjold

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// The contact form is a tenant's website form that Skjold relays to the tenant by e-mail
// [A6]. In relay mode nothing of a message is stored: only a count of the messages relayed
// per day. In prospect mode the enquirer is also kept as a prospect subject (name and
// address), which expires on its own after DefaultProspectDays.

// Contact form modes.
const (
	ContactFormOff      = "off"
	ContactFormRelay    = "relay"
	ContactFormProspect = "prospect"
)

// ContactFormModes are the modes a tenant may choose, the default first.
var ContactFormModes = []string{ContactFormOff, ContactFormRelay, ContactFormProspect}

// Bounds of a contact message, in characters.
const (
	MaxContactName    = 200
	MaxContactMessage = 5000
)

// ContactFormSettings are a tenant's choices for its contact form.
type ContactFormSettings struct {
	// Mode is off (the default), relay or prospect.
	Mode string `json:"mode"`
	// Address is where messages are relayed to: the tenant's contact address.
	Address string `json:"address"`
	// ThanksURL is where the form sends the visitor after a message is relayed; "" shows
	// Skjold's own thank-you page.
	ThanksURL string `json:"thanks_url"`
}

// Validate returns an EINVALID error naming the first wrong field: an unknown mode, an
// address that is not an e-mail address (required unless the form is off), or a thank-you
// address that is not an absolute https URL.
func (s *ContactFormSettings) Validate() error {
	s.Address, s.ThanksURL = strings.TrimSpace(s.Address), strings.TrimSpace(s.ThanksURL)
	switch s.Mode {
	case ContactFormOff, ContactFormRelay, ContactFormProspect:
	default:
		return FieldError("mode", "mode", "mode must be one of %v", ContactFormModes)
	}
	if s.Address != "" || s.Mode != ContactFormOff {
		if !validEmail(s.Address) {
			return FieldError("address", "email", "address must be an e-mail address")
		}
	}
	if s.ThanksURL != "" {
		u, err := url.Parse(s.ThanksURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(s.ThanksURL) > 500 {
			return FieldError("thanks_url", "url", "thanks_url must be an https address")
		}
	}
	return nil
}

// ContactMessage is what a visitor sends through the contact form. It is personal data and
// is never stored, logged or put in an error.
type ContactMessage struct {
	Name    string
	Email   string
	Message string
}

// Validate normalises line breaks and returns an EINVALID error naming the first wrong
// field (without its value): a name of 1 to MaxContactName characters, a valid e-mail
// address, a message of 1 to MaxContactMessage characters.
func (m *ContactMessage) Validate() error {
	m.Name = strings.TrimSpace(m.Name)
	m.Email = strings.TrimSpace(m.Email)
	m.Message = strings.TrimSpace(strings.ReplaceAll(m.Message, "\r\n", "\n"))
	var errs []*Error
	if err := checkText("name", m.Name, 1, MaxContactName); err != nil || strings.ContainsAny(m.Name, "\n\t") {
		e, _ := err.(*Error)
		if e == nil {
			e = FieldError("name", "control", "name must be one line")
		}
		errs = append(errs, e)
	}
	if m.Email == "" {
		errs = append(errs, FieldError("email", "required", "email is required"))
	} else if !validEmail(m.Email) {
		errs = append(errs, FieldError("email", "email", "email must be an e-mail address"))
	}
	if err := checkText("message", m.Message, 1, MaxContactMessage); err != nil {
		errs = append(errs, err.(*Error))
	}
	if len(errs) > 0 {
		return FieldErrors(errs)
	}
	return nil
}

// ContactFormCount is how many messages a tenant's form relayed on one day (UTC).
type ContactFormCount struct {
	Day   time.Time `json:"day"`
	Count int       `json:"count"`
}

// ContactFormService keeps a tenant's contact form settings and relays its messages.
type ContactFormService interface {
	// ContactFormSettings returns the caller's tenant's settings (mode off when none are
	// set) and the counts of the last days with messages, newest first. Errors: EFORBIDDEN.
	ContactFormSettings(ctx context.Context) (*ContactFormSettings, []ContactFormCount, error)

	// PutContactFormSettings replaces the caller's tenant's settings; it needs the admin
	// scope. Errors: EINVALID, EFORBIDDEN.
	PutContactFormSettings(ctx context.Context, s *ContactFormSettings) error

	// PublicContactForm returns a tenant's settings for its public form. Errors: ENOTFOUND.
	PublicContactForm(ctx context.Context, tenantID string) (*ContactFormSettings, error)

	// RelayContactMessage validates m and e-mails it to the tenant's address, counting it;
	// in prospect mode it also keeps the enquirer as a prospect subject. Nothing of m is
	// stored otherwise, logged or put in an error. Errors: EINVALID (bad input, nothing
	// sent), ENOTFOUND (the form is off), EUNAVAILABLE (the mail could not be sent).
	RelayContactMessage(ctx context.Context, tenantID string, m *ContactMessage, lang string) error
}
