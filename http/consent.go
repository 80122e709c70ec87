package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleConsentList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		consents, err := s.svc.Purposes.FindConsents(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, listBody[*skjold.Consent]{Items: consents})
	})
}

// handleConsentRecord records a grant or withdrawal; granted is required, so that a
// forgotten field is never taken as a withdrawal, and source defaults to api.
func (s *Server) handleConsentRecord() http.Handler {
	type request struct {
		Purpose string `json:"purpose"`
		Granted *bool  `json:"granted"`
		Source  string `json:"source"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.Consent, error) {
		if req.Granted == nil {
			return nil, skjold.FieldError("granted", "required", "granted is required: true to grant, false to withdraw")
		}
		if req.Source == "" {
			req.Source = skjold.SourceAPI
		}
		c := &skjold.Consent{SubjectID: r.PathValue("id"), Purpose: req.Purpose, Granted: *req.Granted, Source: req.Source}
		if err := s.svc.Purposes.RecordConsent(r.Context(), c); err != nil {
			return nil, err
		}
		return c, nil
	})
}

// handleRestriction restricts a subject's processing (PUT) or lifts the restriction
// (DELETE).
func (s *Server) handleRestriction(restricted bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Purposes.SetRestriction(r.Context(), r.PathValue("id"), restricted); err != nil {
			fail(w, r, s.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleObjection records a subject's objection (PUT) or lifts it (DELETE).
func (s *Server) handleObjection(objected bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Purposes.SetObjection(r.Context(), r.PathValue("id"), objected); err != nil {
			fail(w, r, s.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
