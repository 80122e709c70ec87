package http

import (
	"net/http"
	"strings"

	"github.com/skjold-project/skjold"
)

// The console's contact form page: the tenant's choice of mode (off, relay, prospect), the
// address messages go to and the thank-you page, the HTML snippet to paste into the
// tenant's website, and how many messages were relayed each day.

func init() {
	read, admin := tenant(skjold.ScopeRead), tenant(skjold.ScopeAdmin)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/contact-form", read, s.handleConsoleContactForm()},
			{"POST /console/contact-form", admin, s.handleConsoleContactFormSave()},
		}
	}, navItem{83, "/console/contact-form", "nav.contact_form", read})
}

// consoleContactData is what the console's contact form page shows.
type consoleContactData struct {
	Settings *skjold.ContactFormSettings
	Counts   []skjold.ContactFormCount
	Modes    []string
	Action   string // the form's public address, for the snippet
	CanAdmin bool
}

func (s *Server) consoleContactPage(w http.ResponseWriter, r *http.Request, status int, failed error) {
	cr := consoleOf(r)
	v := cr.newView("contact_form.title")
	cf, ok := s.svc.PrivacyCenter.(skjold.ContactFormService)
	if !ok {
		s.consoleFail(w, r, cr.id, skjold.Errorf(skjold.ENOTFOUND, "no contact form"))
		return
	}
	set, counts, err := cf.ContactFormSettings(r.Context())
	if err != nil {
		s.consoleFail(w, r, cr.id, err)
		return
	}
	slug, err := s.svc.PrivacyCenter.PublicSlug(r.Context())
	if err != nil {
		s.consoleFail(w, r, cr.id, err)
		return
	}
	v.Form["mode"], v.Form["address"], v.Form["thanks_url"] = set.Mode, set.Address, set.ThanksURL
	if failed != nil {
		for _, k := range []string{"mode", "address", "thanks_url"} {
			v.Form[k] = strings.TrimSpace(r.PostForm.Get(k))
		}
		field, _ := fieldOf(failed)
		msg := v.Cat.T("contact_form.err_" + field)
		v.Errors[field], v.FormError = msg, msg
	}
	v.Data = &consoleContactData{Settings: set, Counts: counts, Modes: skjold.ContactFormModes,
		Action:   "https://" + r.Host + "/p/" + slug + "/contact",
		CanAdmin: skjold.CallerFromContext(r.Context()).Can(skjold.ScopeAdmin)}
	s.render(w, r, status, "contact_form", v)
}

func (s *Server) handleConsoleContactForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.consoleContactPage(w, r, http.StatusOK, nil)
	})
}

func (s *Server) handleConsoleContactFormSave() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		f := r.PostForm
		set := &skjold.ContactFormSettings{Mode: f.Get("mode"), Address: f.Get("address"), ThanksURL: f.Get("thanks_url")}
		err := s.svc.PrivacyCenter.(skjold.ContactFormService).PutContactFormSettings(r.Context(), set)
		switch skjold.ErrorCode(err) {
		case "":
			http.Redirect(w, r, "/console/contact-form?m=contact_form_saved", http.StatusSeeOther)
		case skjold.EINVALID:
			s.consoleContactPage(w, r, http.StatusBadRequest, err)
		default:
			s.consoleFail(w, r, cr.id, err)
		}
	})
}
