package http

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/i18n"
	"github.com/skjold-project/skjold/web"
)

// The console's breach register [F2]: the list with a form to record an incident (which a
// security event can prefill), and an incident's page with its 72-hour clock, the scoping
// from the audit chain, the decision, the timeline, the drafts and the tenants'
// acknowledgements. The same service as /api/v1/incidents.

func init() {
	see := either(skjold.ScopeAdmin, skjold.ScopeOperatorRead)
	keep := either(skjold.ScopeAdmin, skjold.ScopeOperatorManage)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/incidents", see, s.handleConsoleIncidents()},
			{"POST /console/incidents", keep, s.handleConsoleIncidentCreate()},
			{"GET /console/incidents/{id}", see, s.handleConsoleIncident()},
			{"POST /console/incidents/{id}/note", keep, s.handleConsoleIncidentAction("note")},
			{"POST /console/incidents/{id}/decision", keep, s.handleConsoleIncidentAction("decision")},
			{"POST /console/incidents/{id}/scope", keep, s.handleConsoleIncidentAction("scope")},
			{"POST /console/incidents/{id}/close", keep, s.handleConsoleIncidentAction("close")},
			{"POST /console/incidents/{id}/acknowledge", tenant(skjold.ScopeAdmin), s.handleConsoleIncidentAction("acknowledge")},
			{"GET /console/incidents/{id}/drafts/{kind}", see, s.handleConsoleIncidentDraft()},
		}
	}, navItem{76, "/console/incidents", "nav.incidents", see})
}

// incidentFields are the record form's fields, in the order the form shows them.
var incidentFields = []string{"title", "description", "detected_at", "aware_at", "categories", "subjects", "records",
	"consequences", "measures", "contact", "tenants"}

// consoleTime is how the forms write a time: a datetime-local input, in UTC.
const consoleTime = "2006-01-02T15:04"

type incidentsData struct {
	Lists    [2]incidentList // open, closed
	Closed   bool            // there are closed incidents
	Operator bool
	Tenants  []*skjold.Tenant // the operator's choice of affected tenants
	Fields   []incidentField
}

// incidentList is a table of incidents with the view that translates it.
type incidentList struct {
	V    *web.View
	List []*incidentRow
}

// incidentRow is an incident with its clock in words.
type incidentRow struct {
	*skjold.Incident
	ClockText, ClockClass string
}

// incidentField is one input of the record form.
type incidentField struct{ Name, Kind, Hint string }

var incidentFormInputs = []incidentField{{"title", "text", ""}, {"description", "area", "incidents.f_description_hint"},
	{"detected_at", "datetime-local", "incidents.f_time_hint"}, {"aware_at", "datetime-local", "incidents.f_aware_hint"},
	{"categories", "text", "incidents.f_categories_hint"}, {"subjects", "number", ""}, {"records", "number", ""},
	{"consequences", "area", ""}, {"measures", "area", ""}, {"contact", "text", "incidents.f_contact_hint"}}

// clockRow puts an incident's clock in words: time left, overdue, or stopped.
func clockRow(v *web.View, inc *skjold.Incident) *incidentRow {
	row, c := &incidentRow{Incident: inc}, inc.Clock
	switch {
	case c.Stopped:
		row.ClockText, row.ClockClass = v.T("incidents.clock_stopped"), "stopped"
	case c.Overdue:
		row.ClockText, row.ClockClass = v.T("incidents.clock_overdue", "deadline", v.DateTime(c.Deadline)), "overdue"
	default:
		row.ClockText = v.T("incidents.clock_left", "hours", c.Remaining/3600, "minutes", c.Remaining%3600/60, "deadline", v.DateTime(c.Deadline))
		if c.Remaining <= int64(skjold.IncidentWarnBefore/time.Second) {
			row.ClockClass = "near"
		}
	}
	return row
}

func (s *Server) incidentsPage(w http.ResponseWriter, r *http.Request, status int, v *opView) {
	svc, err := s.incidents()
	var list []*skjold.Incident
	if err == nil {
		list, err = svc.FindIncidents(r.Context())
	}
	c := skjold.CallerFromContext(r.Context())
	d := &incidentsData{Operator: c != nil && c.Operator, Fields: incidentFormInputs,
		Lists: [2]incidentList{{V: v.View, List: []*incidentRow{}}, {V: v.View, List: []*incidentRow{}}}}
	if err == nil && d.Operator {
		var all []*skjold.Tenant
		all, err = s.svc.Tenants.FindTenants(r.Context(), skjold.Page{Limit: skjold.MaxPageLimit})
		for _, t := range all {
			if t.Status == skjold.TenantActive {
				d.Tenants = append(d.Tenants, t)
			}
		}
	}
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	for _, inc := range list {
		i := 0
		if inc.Status != skjold.IncidentOpen {
			i, d.Closed = 1, true
		}
		d.Lists[i].List = append(d.Lists[i].List, clockRow(v.View, inc))
	}
	v.Data = d
	s.render(w, r, status, "incidents", v.View)
}

// handleConsoleIncidents shows the register. A link from a security event prefills the form
// (?title=…&detected_at=…&description=…): the event's action, time and ids, no personal value.
func (s *Server) handleConsoleIncidents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "incidents.title")
		q := r.URL.Query()
		for _, k := range []string{"title", "description", "detected_at"} {
			v.Form[k] = q.Get(k)
		}
		if v.Form["detected_at"] != "" {
			v.Form["aware_at"] = time.Now().UTC().Format(consoleTime)
		}
		s.incidentsPage(w, r, http.StatusOK, v)
	})
}

func (s *Server) handleConsoleIncidentCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "incidents.title")
		for _, k := range incidentFields {
			v.Form[k] = strings.TrimSpace(r.PostForm.Get(k))
		}
		inc, err := incidentFromForm(v.Form)
		if err == nil {
			var svc skjold.IncidentService
			if svc, err = s.incidents(); err == nil {
				err = svc.CreateIncident(r.Context(), inc, r.PostForm["tenants"])
			}
		}
		if err != nil {
			v.fail(err, incidentFields...)
			s.incidentsPage(w, r, statusOf(err), v)
			return
		}
		http.Redirect(w, r, "/console/incidents/"+inc.ID+"?m=incident_recorded", http.StatusSeeOther)
	})
}

// incidentFromForm reads the record form; times are UTC, counts whole numbers.
func incidentFromForm(f map[string]string) (*skjold.Incident, error) {
	inc := &skjold.Incident{Title: f["title"], Description: f["description"], Consequences: f["consequences"],
		Measures: f["measures"], Contact: f["contact"]}
	for _, c := range strings.Split(f["categories"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			inc.Categories = append(inc.Categories, c)
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"detected_at", &inc.DetectedAt}, {"aware_at", &inc.AwareAt}} {
		v, err := time.Parse(consoleTime, f[t.name])
		if err != nil {
			return nil, skjold.FieldError(t.name, "format", "enter a date and time")
		}
		*t.dst = v
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"subjects", &inc.Subjects}, {"records", &inc.Records}} {
		if f[n.name] == "" {
			continue
		}
		v, err := strconv.Atoi(f[n.name])
		if err != nil {
			return nil, skjold.FieldError(n.name, "type", "%s must be a whole number", n.name)
		}
		*n.dst = v
	}
	return inc, nil
}

type incidentData struct {
	Incident *incidentRow
	Timeline []*skjold.IncidentEntry
	Scope    *skjold.IncidentScopeResult // the scoping just asked for, if any
	Own      bool                        // the caller keeps the incident (not a tenant reading the operator's)
	Drafts   []string
	Langs    []string
}

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request, status int, v *opView, scope *skjold.IncidentScopeResult) {
	svc, err := s.incidents()
	var inc *skjold.Incident
	var line []*skjold.IncidentEntry
	if err == nil {
		inc, err = svc.FindIncident(r.Context(), r.PathValue("id"))
	}
	if err == nil {
		line, err = svc.IncidentTimeline(r.Context(), inc.ID)
	}
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	c := skjold.CallerFromContext(r.Context())
	d := &incidentData{Incident: clockRow(v.View, inc), Timeline: line, Scope: scope, Own: c != nil && c.TenantID == inc.TenantID,
		Drafts: document.BreachKinds, Langs: i18n.Languages}
	if v.Form["scope_since"] == "" {
		v.Form["scope_since"] = inc.DetectedAt.Add(-7 * 24 * time.Hour).Format(consoleTime)
		v.Form["scope_until"] = time.Now().UTC().Add(time.Minute).Format(consoleTime)
	}
	if inc.Decision != nil && v.Form["reason"] == "" {
		v.Form["reason"] = inc.Decision.Reason
	}
	v.Data = d
	s.render(w, r, status, "incident", v.View)
}

func (s *Server) handleConsoleIncident() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.incidentPage(w, r, http.StatusOK, newOpView(r, "incidents.title"), nil)
	})
}

// incidentFormFields are the fields of the incident page's forms, for errors shown beside them.
var incidentFormFields = []string{"text", "reason", "notify_authority", "who", "scope_id", "scope_since", "scope_until", "note"}

// handleConsoleIncidentAction carries out one of the incident page's forms. A scoping
// answers with the page and its result; the others redirect back to the page.
func (s *Server) handleConsoleIncidentAction(action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, f := r.PathValue("id"), r.PostForm
		v := newOpView(r, "incidents.title")
		v.conflict = "incidents.conflict"
		for _, k := range incidentFormFields {
			v.Form[k] = strings.TrimSpace(f.Get(k))
		}
		svc, err := s.incidents()
		var scope *skjold.IncidentScopeResult
		if err == nil {
			ctx := r.Context()
			switch action {
			case "note":
				_, err = svc.AddIncidentEntry(ctx, id, v.Form["text"])
			case "decision":
				d := skjold.IncidentDecision{NotifyAuthority: f.Get("notify_authority") == "on",
					NotifySubjects: f.Get("notify_subjects") == "on", Reason: v.Form["reason"]}
				_, err = svc.DecideIncident(ctx, id, d, f.Get("authority_notified") == "on")
			case "scope":
				scope, err = s.consoleScope(r, svc, id, v.Form)
			case "close":
				_, err = svc.CloseIncident(ctx, id, v.Form["note"])
			case "acknowledge":
				_, err = svc.AcknowledgeIncident(ctx, id)
			}
		}
		switch code := skjold.ErrorCode(err); {
		case err == nil && action == "scope":
			s.incidentPage(w, r, http.StatusOK, v, scope)
		case err == nil:
			http.Redirect(w, r, "/console/incidents/"+url.PathEscape(id)+"?m=incident_"+action, http.StatusSeeOther)
		case code == skjold.ENOTFOUND || code == skjold.EFORBIDDEN || code == skjold.EUNAUTHORIZED:
			s.consoleFail(w, r, consoleOf(r).id, err)
		default:
			v.fail(err, incidentFormFields...)
			s.incidentPage(w, r, statusOf(err), v, nil)
		}
	})
}

// consoleScope reads the scoping form: who (a token, a user or an address) and when.
func (s *Server) consoleScope(r *http.Request, svc skjold.IncidentService, id string, f map[string]string) (*skjold.IncidentScopeResult, error) {
	var q skjold.IncidentScope
	switch r.PostForm.Get("who") {
	case "user":
		q.User = f["scope_id"]
	case "token":
		q.Token = f["scope_id"]
	default:
		q.Address = f["scope_id"]
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"scope_since", &q.Since}, {"scope_until", &q.Until}} {
		v, err := time.Parse(consoleTime, f[t.name])
		if err != nil {
			return nil, skjold.FieldError(t.name, "format", "enter a date and time")
		}
		*t.dst = v
	}
	res, err := svc.ScopeIncident(r.Context(), id, q)
	// One input holds the token, user or address, and the times are the form's own.
	switch f, rule := fieldOf(err); f {
	case "token", "user", "address":
		err = skjold.FieldError("scope_id", rule, "%s", skjold.ErrorMessage(err))
	case "since", "until":
		err = skjold.FieldError("scope_"+f, rule, "%s", skjold.ErrorMessage(err))
	}
	return res, err
}

type incidentDraftData struct {
	Incident *skjold.Incident
	Doc      *document.Document
	Kind     string
	Drafts   []string
	Langs    []string
}

// handleConsoleIncidentDraft shows a draft notification in the language ?lang= names (the
// console's language by default), rendered by the shared document partial.
func (s *Server) handleConsoleIncidentDraft() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "incidents.draft_title")
		lang := r.URL.Query().Get("lang")
		if !skjold.ValidLanguage(lang) {
			lang = v.Lang()
		}
		kind := r.PathValue("kind")
		doc, err := s.incidentDraft(r, kind, i18n.Mail(lang))
		var inc *skjold.Incident
		if err == nil {
			inc, err = s.svc.Incidents.FindIncident(r.Context(), r.PathValue("id"))
		}
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		v.Data = &incidentDraftData{Incident: inc, Doc: doc, Kind: kind, Drafts: document.BreachKinds, Langs: i18n.Languages}
		s.render(w, r, http.StatusOK, "incident_draft", v.View)
	})
}
