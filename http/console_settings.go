package http

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The console's settings page: the tenant's password policy and session limits, its allowed
// networks, the privacy facts shown to subjects and the four-eyes list. Each form reads the
// current settings, changes its own part and saves them through the AuthService (or the
// RequestService for the privacy facts) exactly as the API's PUT routes do, so that every
// rule refused there is refused here, next to the field the domain error names.

func init() {
	admin := tenant(skjold.ScopeAdmin)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/settings", admin, s.handleConsoleSettings()},
			{"POST /console/settings/session", admin, s.handleConsoleSettingsSession()},
			{"POST /console/settings/networks", admin, s.handleConsoleSettingsNetworks()},
			{"POST /console/settings/privacy", admin, s.handleConsoleSettingsPrivacy()},
			{"POST /console/settings/four-eyes", admin, s.handleConsoleSettingsFourEyes()},
		}
	}, navItem{80, "/console/settings", "nav.settings", admin})
}

// cfgSettingsData is what the settings page shows.
type cfgSettingsData struct {
	Settings *skjold.SessionSettings
	Privacy  *skjold.PrivacyNotice
	Actions  []string // every action four eyes can guard
	Address  string   // the reader's own address, for the lock-out warning
	// ConfirmNetworks is set when the networks form would shut out the reader's own
	// address: the page asks again before saving.
	ConfirmNetworks bool
}

// cfgSettingsView returns the settings page's view with the current settings.
func (s *Server) cfgSettingsView(r *http.Request) (*web.View, error) {
	v := consoleOf(r).newView("settings.title")
	set, err := s.svc.Auth.SessionSettings(r.Context())
	if err != nil {
		return nil, err
	}
	priv, err := s.svc.Requests.PrivacyNotice(r.Context())
	if err != nil {
		return nil, err
	}
	v.Data = &cfgSettingsData{Settings: set, Privacy: priv, Actions: skjold.SensitiveActions, Address: clientAddr(r)}
	return v, nil
}

func (s *Server) handleConsoleSettings() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := s.cfgSettingsView(r)
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		s.render(w, r, http.StatusOK, "settings", v)
	})
}

// cfgSettingsForm runs one of the settings page's forms: change applies the form to the
// current settings view's data and saves; a refusal shows the page again with the form's
// values and the message next to its field.
func (s *Server) cfgSettingsForm(fields []string, change func(r *http.Request, v *web.View, d *cfgSettingsData) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := s.cfgSettingsView(r)
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		notice, err := change(r, v, v.Data.(*cfgSettingsData))
		if err == nil && notice != "" {
			http.Redirect(w, r, "/console/settings?m="+notice, http.StatusSeeOther)
			return
		}
		status := http.StatusOK // a question asked again
		for _, f := range fields {
			v.Form[f] = r.PostForm.Get(f)
		}
		if err != nil {
			if skjold.ErrorCode(err) == skjold.EINTERNAL {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			status = statusOf(err)
			configError(v, err, fields...)
		}
		s.render(w, r, status, "settings", v)
	})
}

var cfgSessionFields = []string{"min_length", "classes", "max_age_days", "history", "breach_check", "idle_minutes", "session_hours"}

func (s *Server) handleConsoleSettingsSession() http.Handler {
	return s.cfgSettingsForm(cfgSessionFields, func(r *http.Request, v *web.View, d *cfgSettingsData) (string, error) {
		set := d.Settings
		p := &set.Password
		for _, f := range []struct {
			name string
			dst  *int
		}{{"min_length", &p.MinLength}, {"classes", &p.Classes}, {"max_age_days", &p.MaxAgeDays},
			{"history", &p.History}, {"idle_minutes", &set.IdleMinutes}, {"session_hours", &set.SessionHours}} {
			n, err := cfgInt(r, f.name)
			if err != nil {
				return "", err // the first field at fault in the form's order, as the domain reports one
			}
			*f.dst = n
		}
		p.BreachCheck = r.PostForm.Get("breach_check") == "on"
		if err := s.svc.Auth.PutSessionSettings(r.Context(), set); err != nil {
			return "", err
		}
		return "settings_saved", nil
	})
}

// cfgInt reads a whole number from a form field, or an EINVALID error naming it.
func cfgInt(r *http.Request, field string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get(field)))
	if err != nil {
		return 0, skjold.FieldError(field, "integer", "%s must be a whole number", field)
	}
	return n, nil
}

// cfgList splits a text area into its non-empty lines (or comma-separated items).
func cfgList(r *http.Request, field string) []string {
	out := []string{}
	for _, s := range strings.FieldsFunc(r.PostForm.Get(field), func(c rune) bool { return c == '\n' || c == ',' || c == '\r' }) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// handleConsoleSettingsNetworks saves the allowed networks. A list that would shut out the
// reader's own address is saved only when the reader confirms it, on the page that warns.
func (s *Server) handleConsoleSettingsNetworks() http.Handler {
	return s.cfgSettingsForm([]string{"allowed_networks"}, func(r *http.Request, v *web.View, d *cfgSettingsData) (string, error) {
		nets := cfgList(r, "allowed_networks")
		parsed, err := skjold.ParseNetworks("allowed_networks", nets)
		if err != nil {
			return "", err
		}
		if !skjold.AddrAllowed(parsed, d.Address) && r.PostForm.Get("confirm") != "yes" {
			d.ConfirmNetworks = true
			return "", nil
		}
		d.Settings.AllowedNetworks = nets
		if err := s.svc.Auth.PutSessionSettings(r.Context(), d.Settings); err != nil {
			return "", err
		}
		return "settings_saved", nil
	})
}

var cfgPrivacyFields = []string{"controller", "contact", "supervisory_authority", "recipients", "storage_location", "language"}

func (s *Server) handleConsoleSettingsPrivacy() http.Handler {
	return s.cfgSettingsForm(cfgPrivacyFields, func(r *http.Request, v *web.View, d *cfgSettingsData) (string, error) {
		f := r.PostForm
		p := &skjold.PrivacyNotice{Controller: strings.TrimSpace(f.Get("controller")), Contact: strings.TrimSpace(f.Get("contact")),
			SupervisoryAuthority: strings.TrimSpace(f.Get("supervisory_authority")), Recipients: cfgList(r, "recipients"),
			StorageLocation: strings.TrimSpace(f.Get("storage_location")), Language: f.Get("language")}
		if err := s.svc.Requests.PutPrivacyNotice(r.Context(), p); err != nil {
			return "", err
		}
		return "settings_saved", nil
	})
}

// handleConsoleSettingsFourEyes saves the four-eyes list. Adding actions takes effect at
// once; taking one out is never done by one person [B14]: as through the API, an owner
// files a four_eyes_reduction approval for each, and the action stays guarded until a
// second person approves.
func (s *Server) handleConsoleSettingsFourEyes() http.Handler {
	return s.cfgSettingsForm(nil, func(r *http.Request, v *web.View, d *cfgSettingsData) (string, error) {
		chosen := r.PostForm["four_eyes"]
		for _, a := range chosen {
			if !slices.Contains(skjold.SensitiveActions, a) {
				return "", skjold.FieldError("four_eyes", "action", "unknown action")
			}
		}
		set := d.Settings
		var removed []string
		for _, a := range set.FourEyes {
			if !slices.Contains(chosen, a) {
				removed = append(removed, a)
			}
		}
		for _, a := range chosen {
			if !slices.Contains(set.FourEyes, a) {
				set.FourEyes = append(set.FourEyes, a)
			}
		}
		for _, a := range removed {
			if err := s.svc.Approvals.RequestApproval(r.Context(), &skjold.Approval{Action: skjold.ActionFourEyesReduction, Target: a}); err != nil {
				if skjold.ErrorCode(err) == skjold.EFORBIDDEN {
					return "", skjold.FieldError("four_eyes", "owner", "only an owner files taking an action out of four eyes")
				}
				return "", err
			}
		}
		if err := s.svc.Auth.PutSessionSettings(r.Context(), set); err != nil {
			return "", err
		}
		if len(removed) > 0 {
			return "four_eyes_filed", nil
		}
		return "settings_saved", nil
	})
}

// configError shows a refused change's message next to the field the domain error names
// when the form has that field, else above the forms: the configuration pages' own message
// for the field and rule where there is one, else the console's.
func configError(v *web.View, err error, fields ...string) {
	field, rule := fieldOf(err)
	if i := strings.IndexByte(field, '['); i > 0 {
		field = field[:i] // recipients[2]: the form's one field for the list
	}
	msg := ""
	if field != "" && rule != "" {
		for _, key := range []string{"settings.err." + field + "_" + rule, "settings.err." + rule} {
			if v.Cat.Has(key) {
				msg = v.T(key)
				break
			}
		}
	}
	if msg == "" {
		msg = message(v.Cat, err)
	}
	if field != "" && (slices.Contains(fields, field) || field == "four_eyes") {
		v.Errors[field] = msg
		return
	}
	v.FormError = msg
}
