package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/skjold-project/skjold"
)

// The contact form that keeps nothing [A6]: a tenant's website posts its contact form to
// /p/{slug}/contact (a plain HTML form from another origin, so without the privacy center's
// CSRF token), and Skjold relays the message to the tenant's address by e-mail. Nothing of
// it is stored, logged or put in a URL; the service counts it per day. A hidden honeypot
// field and limits per client address and per tenant hold back spam.

// pcCrossSite are the privacy center's forms that other sites post to: they need no token.
var pcCrossSite = map[string]bool{"POST /p/{slug}/contact": true}

// contactHoneypot is the form field people do not see and bots fill in.
const contactHoneypot = "website"

// Limits of relayed messages per client address and per tenant within pcWindow, on top of
// the privacy center's own form limits. Tests lower them.
var (
	pcContactPerAddr   = 5
	pcContactPerTenant = 200
)

// privacyTooMany answers 429 with the time until the limits' window ends.
func (s *Server) privacyTooMany(w http.ResponseWriter, r *http.Request, now time.Time) {
	w.Header().Set("Retry-After", strconv.Itoa(int(s.pcLimiter().retryIn(now)/time.Second)))
	s.privacyFail(w, r, http.StatusTooManyRequests, "privacy.error.too_many")
}

// contactFormOf returns the tenant's contact form settings, or answers 404 when the form is
// off (or 500 when they cannot be read) and returns nil.
func (s *Server) contactFormOf(w http.ResponseWriter, r *http.Request, tenantID string) *skjold.ContactFormSettings {
	cf, ok := s.svc.PrivacyCenter.(skjold.ContactFormService)
	if !ok {
		s.privacyFail(w, r, http.StatusNotFound, "error.not_found")
		return nil
	}
	set, err := cf.PublicContactForm(r.Context(), tenantID)
	if err != nil {
		s.log.Error("contact form settings not read", "err", err)
		s.privacyFail(w, r, http.StatusInternalServerError, "error.internal")
		return nil
	}
	if set.Mode == skjold.ContactFormOff {
		s.privacyFail(w, r, http.StatusNotFound, "error.not_found")
		return nil
	}
	return set
}

// handlePrivacyContactPage shows the tenant's contact form on Skjold itself, for tenants
// without a website form and for a visitor whose message needs correcting.
func (s *Server) handlePrivacyContactPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := privacyOf(r)
		set := s.contactFormOf(w, r, d.Tenant.ID)
		if set == nil {
			return
		}
		d.ContactMode = set.Mode
		v.Title = "contact_form.page.title"
		if r.URL.Query().Get("sent") == "1" {
			d.Sent = true
			v.Title = "contact_form.page.thanks_title"
		}
		s.render(w, r, http.StatusOK, "privacy.contact_form", v)
	})
}

// handlePrivacyContact relays a message. Refused input shows the form again with the
// reasons, and nothing is sent; a filled-in honeypot is thanked and dropped.
func (s *Server) handlePrivacyContact() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := privacyOf(r)
		set := s.contactFormOf(w, r, d.Tenant.ID)
		if set == nil {
			return
		}
		d.ContactMode = set.Mode
		thanks := d.Base + "contact?sent=1"
		if set.ThanksURL != "" {
			thanks = set.ThanksURL
		}
		f := r.PostForm
		if f.Get(contactHoneypot) != "" {
			http.Redirect(w, r, thanks, http.StatusSeeOther)
			return
		}
		now := time.Now()
		if l := s.pcLimiter(); !l.allow("contact:addr:"+clientAddr(r), pcContactPerAddr, now) ||
			!l.allow("contact:tenant:"+d.Tenant.ID, pcContactPerTenant, now) {
			s.privacyTooMany(w, r, now)
			return
		}
		m := &skjold.ContactMessage{Name: f.Get("name"), Email: f.Get("email"), Message: f.Get("message")}
		err := s.svc.PrivacyCenter.(skjold.ContactFormService).RelayContactMessage(r.Context(), d.Tenant.ID, m, v.Lang())
		switch skjold.ErrorCode(err) {
		case "":
			http.Redirect(w, r, thanks, http.StatusSeeOther)
		case skjold.EINVALID:
			v.Form["name"], v.Form["email"], v.Form["message"] = m.Name, m.Email, m.Message
			contactErrors(v.Errors, v.Cat.T, err)
			v.FormError = v.Cat.T("contact_form.page.not_sent")
			v.Title = "contact_form.page.title"
			s.render(w, r, http.StatusUnprocessableEntity, "privacy.contact_form", v)
		case skjold.ENOTFOUND:
			s.privacyFail(w, r, http.StatusNotFound, "error.not_found")
		default:
			// the error holds no part of the message: the store words it so
			s.log.Error("contact message not relayed", "code", skjold.ErrorCode(err))
			s.privacyFail(w, r, http.StatusServiceUnavailable, "contact_form.page.unavailable")
		}
	})
}

// contactErrors sets the reader's message for each refused field.
func contactErrors(out map[string]string, t func(string, ...any) string, err error) {
	e, ok := err.(*skjold.Error)
	if !ok {
		return
	}
	all := e.Errors
	if len(all) == 0 {
		all = []*skjold.Error{e}
	}
	for _, fe := range all {
		switch fe.Field {
		case "name", "email", "message":
			out[fe.Field] = t("contact_form.err." + fe.Field + "_" + fe.Rule)
		}
	}
}
