package http

import (
	"net/http"
	"slices"
	"strings"

	"github.com/skjold-project/skjold"
)

func init() {
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/operator/alerts", operator(skjold.ScopeOperatorRead), s.handleOpAlerts()},
			{"POST /console/operator/alerts", operator(skjold.ScopeOperatorManage), s.handleOpAlertsSave()},
			{"POST /console/operator/alerts/test", operator(skjold.ScopeOperatorManage), s.handleOpAlertsTest()},
		}
	}, navItem{96, "/console/operator/alerts", "nav.op_alerts", operator(skjold.ScopeOperatorRead)})
}

// opAlertsData is the alert settings page: the settings in force, whether the reader may
// change them (an operator owner) or send a test, and once, the new webhook secret or how a
// test alert went.
type opAlertsData struct {
	Settings   *skjold.AlertSettings
	Actions    []opAlertAction
	Severities []string
	CanChange  bool
	CanTest    bool
	Secret     string
	Deliveries []skjold.AlertDelivery
}

type opAlertAction struct {
	Name, Severity string
	Checked        bool
}

func (s *Server) opAlertsPage(w http.ResponseWriter, r *http.Request, status int, v *opView, d *opAlertsData) {
	a, err := s.alerts()
	if err == nil {
		d.Settings, err = a.AlertSettings(r.Context())
	}
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	c := skjold.CallerFromContext(r.Context())
	d.CanChange = c.Role == skjold.RoleOwner && c.Can(skjold.ScopeOperatorManage)
	d.CanTest = c.Can(skjold.ScopeOperatorManage)
	d.Severities = skjold.Severities
	chosen := d.Settings.Actions
	if _, posted := v.Form["emails"]; posted {
		chosen = strings.Split(v.Form["actions"], ",")
	} else {
		v.Form["emails"] = strings.Join(d.Settings.Emails, "\n")
		v.Form["webhook_url"] = d.Settings.WebhookURL
		v.Form["min_severity"] = d.Settings.MinSeverity
		v.Form["language"] = d.Settings.Language
	}
	for _, name := range skjold.AlertActions() {
		d.Actions = append(d.Actions, opAlertAction{Name: name, Severity: skjold.AlertSeverity(name), Checked: slices.Contains(chosen, name)})
	}
	v.Data = d
	s.render(w, r, status, "operator.alerts", v.View)
}

func (s *Server) handleOpAlerts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.opAlertsPage(w, r, http.StatusOK, newOpView(r, "operator.alerts.title"), &opAlertsData{})
	})
}

// handleOpAlertsSave stores the settings; a new webhook secret is shown on the page that
// answers, and never again.
func (s *Server) handleOpAlertsSave() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.alerts.title")
		f := r.PostForm
		u := &skjold.AlertSettingsUpdate{Emails: strings.FieldsFunc(f.Get("emails"), func(c rune) bool {
			return c == '\n' || c == '\r' || c == ',' || c == ' ' || c == ';'
		}), WebhookURL: f.Get("webhook_url"), Actions: f["actions"], MinSeverity: f.Get("min_severity"),
			Language: f.Get("language"), RotateSecret: f.Get("rotate_secret") == "on"}
		for _, k := range []string{"emails", "webhook_url", "min_severity", "language"} {
			v.Form[k] = f.Get(k)
		}
		v.Form["actions"] = strings.Join(u.Actions, ",")
		d := &opAlertsData{}
		a, err := s.alerts()
		if err == nil {
			_, d.Secret, err = a.SetAlertSettings(r.Context(), u)
		}
		if err != nil {
			v.fail(err, "emails", "webhook_url", "actions", "min_severity", "language", "rotate_secret")
			s.opAlertsPage(w, r, statusOf(err), v, d)
			return
		}
		v.Form = map[string]string{} // show what is stored now
		v.Notice = "notice.op_alerts_saved"
		s.opAlertsPage(w, r, http.StatusOK, v, d)
	})
}

// handleOpAlertsTest sends a test alert through every channel in force and shows how each
// went.
func (s *Server) handleOpAlertsTest() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.alerts.title")
		v.conflict = "operator.alerts.nowhere"
		d := &opAlertsData{}
		a, err := s.alerts()
		if err == nil {
			d.Deliveries, err = a.TestAlert(r.Context())
		}
		status := http.StatusOK
		if err != nil {
			v.fail(err)
			status = statusOf(err)
		}
		s.opAlertsPage(w, r, status, v, d)
	})
}
