package http

import (
	"net/http"
	"slices"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/i18n"
)

// The breach register's API [F2]: /api/v1/incidents. Tenant admins keep their tenant's
// incidents; operator staff keep the operator's, and the tenants an operator incident
// affects read it and acknowledge it.

// incidents returns the register, or EUNAVAILABLE when the server has none.
func (s *Server) incidents() (skjold.IncidentService, error) {
	if s.svc.Incidents == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "the breach register is not configured on this server")
	}
	return s.svc.Incidents, nil
}

// incidentRequest is the body of POST /api/v1/incidents.
type incidentRequest struct {
	Title        string   `json:"title"`
	Description  string   `json:"description"`
	DetectedAt   string   `json:"detected_at"` // RFC 3339
	AwareAt      string   `json:"aware_at"`
	Categories   []string `json:"categories"`
	Subjects     int      `json:"subjects"`
	Records      int      `json:"records"`
	Consequences string   `json:"consequences"`
	Measures     string   `json:"measures"`
	Contact      string   `json:"contact"`
	Tenants      []string `json:"tenants"` // operator incidents: the tenants it affects
}

// incident turns the request into an incident, naming a badly written time.
func (req *incidentRequest) incident() (*skjold.Incident, error) {
	inc := &skjold.Incident{Title: req.Title, Description: req.Description, Categories: req.Categories,
		Subjects: req.Subjects, Records: req.Records, Consequences: req.Consequences, Measures: req.Measures, Contact: req.Contact}
	for _, f := range []struct {
		name, v string
		dst     *time.Time
	}{{"detected_at", req.DetectedAt, &inc.DetectedAt}, {"aware_at", req.AwareAt, &inc.AwareAt}} {
		if f.v == "" {
			return nil, skjold.FieldError(f.name, "required", "%s is required", f.name)
		}
		t, err := time.Parse(time.RFC3339, f.v)
		if err != nil {
			return nil, skjold.FieldError(f.name, "format", "%s must be an RFC 3339 time such as 2026-12-01T08:00:00Z", f.name)
		}
		*f.dst = t
	}
	return inc, nil
}

func (s *Server) handleIncidentList() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.Incident], error) {
		svc, err := s.incidents()
		if err != nil {
			return nil, err
		}
		list, err := svc.FindIncidents(r.Context())
		return &listBody[*skjold.Incident]{Items: list}, err
	})
}

func (s *Server) handleIncidentCreate() http.Handler {
	return handle(s, http.StatusCreated, func(r *http.Request, req *incidentRequest) (*skjold.Incident, error) {
		svc, err := s.incidents()
		if err != nil {
			return nil, err
		}
		inc, err := req.incident()
		if err != nil {
			return nil, err
		}
		return inc, svc.CreateIncident(r.Context(), inc, req.Tenants)
	})
}

func (s *Server) handleIncidentGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.Incident, error) {
		svc, err := s.incidents()
		if err != nil {
			return nil, err
		}
		return svc.FindIncident(r.Context(), r.PathValue("id"))
	})
}

func (s *Server) handleIncidentDecision() http.Handler {
	type request struct {
		NotifyAuthority   *bool  `json:"notify_authority"`
		NotifySubjects    *bool  `json:"notify_subjects"`
		Reason            string `json:"reason"`
		AuthorityNotified bool   `json:"authority_notified"` // the authority has been told now
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.Incident, error) {
		svc, err := s.incidents()
		if err != nil {
			return nil, err
		}
		switch {
		case req.NotifyAuthority == nil:
			return nil, skjold.FieldError("notify_authority", "required", "notify_authority is required (true or false)")
		case req.NotifySubjects == nil:
			return nil, skjold.FieldError("notify_subjects", "required", "notify_subjects is required (true or false)")
		}
		d := skjold.IncidentDecision{NotifyAuthority: *req.NotifyAuthority, NotifySubjects: *req.NotifySubjects, Reason: req.Reason}
		return svc.DecideIncident(r.Context(), r.PathValue("id"), d, req.AuthorityNotified)
	})
}

func (s *Server) handleIncidentTimeline() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.IncidentEntry], error) {
		svc, err := s.incidents()
		if err != nil {
			return nil, err
		}
		list, err := svc.IncidentTimeline(r.Context(), r.PathValue("id"))
		return &listBody[*skjold.IncidentEntry]{Items: list}, err
	})
}

func (s *Server) handleIncidentNote() http.Handler {
	type request struct {
		Text string `json:"text"`
	}
	// 200, not 201: an entry is a line of the incident's timeline, not a resource of its own.
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.IncidentEntry, error) {
		svc, err := s.incidents()
		if err != nil {
			return nil, err
		}
		return svc.AddIncidentEntry(r.Context(), r.PathValue("id"), req.Text)
	})
}

func (s *Server) handleIncidentScope() http.Handler {
	type request struct {
		Token   string `json:"token"`
		User    string `json:"user"`
		Address string `json:"address"`
		Since   string `json:"since"` // RFC 3339
		Until   string `json:"until"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.IncidentScopeResult, error) {
		svc, err := s.incidents()
		if err != nil {
			return nil, err
		}
		q := skjold.IncidentScope{Token: req.Token, User: req.User, Address: req.Address}
		for _, f := range []struct {
			name, v string
			dst     *time.Time
		}{{"since", req.Since, &q.Since}, {"until", req.Until, &q.Until}} {
			if *f.dst, err = time.Parse(time.RFC3339, f.v); err != nil {
				return nil, skjold.FieldError(f.name, "format", "%s must be an RFC 3339 time such as 2026-12-01T08:00:00Z", f.name)
			}
		}
		return svc.ScopeIncident(r.Context(), r.PathValue("id"), q)
	})
}

func (s *Server) handleIncidentClose() http.Handler {
	type request struct {
		Note string `json:"note"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.Incident, error) {
		svc, err := s.incidents()
		if err != nil {
			return nil, err
		}
		return svc.CloseIncident(r.Context(), r.PathValue("id"), req.Note)
	})
}

func (s *Server) handleIncidentAcknowledge() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.Incident, error) {
		svc, err := s.incidents()
		if err != nil {
			return nil, err
		}
		return svc.AcknowledgeIncident(r.Context(), r.PathValue("id"))
	})
}

// handleIncidentDraft answers GET /api/v1/incidents/{id}/drafts/{kind}?lang=: the draft
// notification to the authority or to the subjects as a document.Document.
func (s *Server) handleIncidentDraft() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.answerDocument(w, r, func() (any, *document.Document, error) {
			lang := r.URL.Query().Get("lang")
			if lang == "" {
				lang = i18n.Default
			}
			if !skjold.ValidLanguage(lang) {
				return nil, nil, skjold.FieldError("lang", "language", "lang must be one of en, nb, pl")
			}
			d, err := s.incidentDraft(r, r.PathValue("kind"), i18n.Mail(lang))
			return d, d, err
		})
	})
}

// incidentDraft writes a draft of kind for the incident in the path, in cat's language.
func (s *Server) incidentDraft(r *http.Request, kind string, cat *i18n.Catalogue) (*document.Document, error) {
	svc, err := s.incidents()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(document.BreachKinds, kind) {
		return nil, skjold.Errorf(skjold.ENOTFOUND, "no such draft; the drafts are breach-authority and breach-subjects")
	}
	inc, err := svc.FindIncident(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	timeline, err := svc.IncidentTimeline(r.Context(), inc.ID)
	if err != nil {
		return nil, err
	}
	return document.Breach(kind, inc, timeline, cat, time.Now())
}
