package http

import (
	"net/http"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The console's configuration pages for legal holds, the purpose register with its notice
// versions, and the contact check. Each calls the same service method as the API's route
// for the same task (http/hold.go, purpose.go, contact.go).

func init() {
	read, write, admin := tenant(skjold.ScopeRead), tenant(skjold.ScopeWrite), tenant(skjold.ScopeAdmin)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/holds", read, s.handleConsoleHolds()},
			{"POST /console/holds", admin, s.handleConsoleHoldCreate()},
			{"POST /console/holds/{id}/release", admin, s.handleConsoleHoldRelease()},
			{"GET /console/purposes", read, s.handleConsolePurposes()},
			{"POST /console/purposes", admin, s.handleConsolePurposePut()},
			{"GET /console/contact-check", write, s.handleConsoleContactCheckPage()},
			{"POST /console/contact-check", write, s.handleConsoleContactCheck()},
		}
	}, navItem{80, "/console/holds", "nav.holds", read}, navItem{80, "/console/purposes", "nav.purposes", read},
		navItem{80, "/console/contact-check", "nav.contact_check", write})
}

// cfgLegalBases are the legal bases a purpose or category may name, in the order offered.
var cfgLegalBases = []string{skjold.BasisConsent, skjold.BasisContract, skjold.BasisLegalObligation,
	skjold.BasisLegitimateInterest, skjold.BasisPublicTask, skjold.BasisVitalInterest}

// cfgPage renders one of the configuration pages: load fills the view's data; a failed
// load is the error page.
func (s *Server) cfgPage(w http.ResponseWriter, r *http.Request, status int, page string, v *web.View,
	load func(v *web.View) error) {
	if err := load(v); err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	s.render(w, r, status, page, v)
}

// cfgRefused shows a page again after a refused form: the form's values, the message next to
// the field at fault, and the API's status.
func (s *Server) cfgRefused(w http.ResponseWriter, r *http.Request, page, title string, err error, fields []string,
	load func(v *web.View) error) {
	if skjold.ErrorCode(err) == skjold.EINTERNAL {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	v := consoleOf(r).newView(title)
	for _, f := range fields {
		v.Form[f] = strings.Join(r.PostForm[f], "\n")
	}
	configError(v, err, fields...)
	s.cfgPage(w, r, statusOf(err), page, v, load)
}

type cfgHoldsData struct {
	Holds      []*skjold.Hold
	Categories []*skjold.Category
}

func (s *Server) cfgLoadHolds(r *http.Request) func(v *web.View) error {
	return func(v *web.View) error {
		holds, err := s.svc.Retention.FindHolds(r.Context())
		if err != nil {
			return err
		}
		cats, err := s.svc.Categories.FindCategories(r.Context())
		if err != nil {
			return err
		}
		v.Data = &cfgHoldsData{Holds: holds, Categories: cats}
		return nil
	}
}

func (s *Server) handleConsoleHolds() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfgPage(w, r, http.StatusOK, "holds", consoleOf(r).newView("holds.title"), s.cfgLoadHolds(r))
	})
}

var cfgHoldFields = []string{"subject_id", "category", "reason", "until"}

func (s *Server) handleConsoleHoldCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		h := &skjold.Hold{SubjectID: strings.TrimSpace(f.Get("subject_id")), Category: f.Get("category"),
			Reason: strings.TrimSpace(f.Get("reason"))}
		err := error(nil)
		if u := strings.TrimSpace(f.Get("until")); u != "" {
			var until time.Time
			if until, err = cfgEndOfDay(u, "until"); err == nil {
				h.Until = &until
			}
		}
		if err == nil {
			err = s.svc.Retention.PlaceHold(r.Context(), h)
		}
		if err != nil {
			s.cfgRefused(w, r, "holds", "holds.title", err, cfgHoldFields, s.cfgLoadHolds(r))
			return
		}
		http.Redirect(w, r, "/console/holds?m=hold_placed", http.StatusSeeOther)
	})
}

// cfgEndOfDay reads a date (YYYY-MM-DD) from a form as the last second of that day in UTC.
func cfgEndOfDay(s, field string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, skjold.FieldError(field, "date", "%s must be a date such as 2030-12-31", field)
	}
	return d.Add(24*time.Hour - time.Second), nil
}

func (s *Server) handleConsoleHoldRelease() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Retention.ReleaseHold(r.Context(), r.PathValue("id")); err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		http.Redirect(w, r, "/console/holds?m=hold_released", http.StatusSeeOther)
	})
}

type cfgPurposesData struct {
	Purposes   []*skjold.Purpose
	LegalBases []string
	Channels   []string
	Edit       *skjold.Purpose // the purpose whose values fill the form; nil: a new one
}

func (s *Server) cfgLoadPurposes(r *http.Request, edit string) func(v *web.View) error {
	return func(v *web.View) error {
		ps, err := s.svc.Purposes.FindPurposes(r.Context())
		if err != nil {
			return err
		}
		d := &cfgPurposesData{Purposes: ps, LegalBases: cfgLegalBases, Channels: skjold.Channels}
		for _, p := range ps {
			if p.Name == edit {
				d.Edit = p
			}
		}
		v.Data = d
		return nil
	}
}

func (s *Server) handleConsolePurposes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("purposes.title")
		s.cfgPage(w, r, http.StatusOK, "purposes", v, s.cfgLoadPurposes(r, r.URL.Query().Get("edit")))
	})
}

var cfgPurposeFields = []string{"name", "legal_basis", "description", "notice", "channels", "cap_max", "cap_period"}

// handleConsolePurposePut creates or replaces a purpose, as PUT /api/v1/purposes/{name}
// does; a changed notice text starts the next notice version.
func (s *Server) handleConsolePurposePut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		p := &skjold.Purpose{Name: strings.TrimSpace(f.Get("name")), LegalBasis: f.Get("legal_basis"),
			Description: strings.TrimSpace(f.Get("description")), Notice: strings.TrimSpace(f.Get("notice")),
			Channels: f["channels"]}
		var err error
		if m, period := strings.TrimSpace(f.Get("cap_max")), strings.TrimSpace(f.Get("cap_period")); m != "" || period != "" {
			p.Cap = &skjold.FrequencyCap{Period: period}
			p.Cap.Max, err = cfgInt(r, "cap_max")
		}
		if err == nil {
			_, err = s.svc.Purposes.PutPurpose(r.Context(), p)
		}
		if err != nil {
			if field, _ := fieldOf(err); field == "cap" {
				err = cfgRemapField(err, "cap_max")
			}
			s.cfgRefused(w, r, "purposes", "purposes.title", err, cfgPurposeFields, s.cfgLoadPurposes(r, ""))
			return
		}
		http.Redirect(w, r, "/console/purposes?m=purpose_saved", http.StatusSeeOther)
	})
}

// cfgRemapField returns err with the field named as the form names it, keeping its rule.
func cfgRemapField(err error, field string) error {
	_, rule := fieldOf(err)
	return skjold.FieldError(field, rule, "%s", err.Error())
}

type cfgContactData struct {
	Purposes []*skjold.Purpose
	Channels []string
	Result   *skjold.ContactCheck
}

func (s *Server) cfgLoadContact(r *http.Request, result *skjold.ContactCheck) func(v *web.View) error {
	return func(v *web.View) error {
		ps, err := s.svc.Purposes.FindPurposes(r.Context())
		if err != nil {
			return err
		}
		v.Data = &cfgContactData{Purposes: ps, Channels: skjold.Channels, Result: result}
		return nil
	}
}

func (s *Server) handleConsoleContactCheckPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfgPage(w, r, http.StatusOK, "contactcheck", consoleOf(r).newView("contactcheck.title"), s.cfgLoadContact(r, nil))
	})
}

var cfgContactFields = []string{"subject_id", "purpose", "channel", "record"}

// handleConsoleContactCheck answers whether a subject may be contacted, as POST
// /api/v1/contact-check does. The subject's id travels in the form, never in the URL.
func (s *Server) handleConsoleContactCheck() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		c := &skjold.ContactCheck{SubjectID: strings.TrimSpace(f.Get("subject_id")), Purpose: f.Get("purpose"),
			Channel: f.Get("channel"), Record: f.Get("record") == "on"}
		var err error
		if c.SubjectID == "" {
			err = skjold.FieldError("subject_id", "required", "subject_id is required")
		} else {
			err = s.svc.Purposes.CheckContact(r.Context(), c)
		}
		if skjold.ErrorCode(err) == skjold.ENOTFOUND {
			field := "subject_id"
			if strings.Contains(err.Error(), "purpose") {
				field = "purpose"
			}
			err = skjold.FieldError(field, "exists", "%s", err.Error())
		}
		if err != nil {
			s.cfgRefused(w, r, "contactcheck", "contactcheck.title", err, cfgContactFields, s.cfgLoadContact(r, nil))
			return
		}
		v := consoleOf(r).newView("contactcheck.title")
		for _, k := range cfgContactFields {
			v.Form[k] = f.Get(k)
		}
		s.cfgPage(w, r, http.StatusOK, "contactcheck", v, s.cfgLoadContact(r, c))
	})
}
