package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

func (s *Server) handlePurposeList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps, err := s.svc.Purposes.FindPurposes(r.Context())
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, listBody[*skjold.Purpose]{Items: ps})
	})
}

func (s *Server) handlePurposePut() http.Handler {
	type request struct {
		Name        string               `json:"name"`
		LegalBasis  string               `json:"legal_basis"`
		Description string               `json:"description"`
		Notice      string               `json:"notice"`
		Channels    []string             `json:"channels"`
		Cap         *skjold.FrequencyCap `json:"cap"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		name := r.PathValue("name")
		if req.Name != "" && req.Name != name {
			fail(w, r, s.log, skjold.FieldError("name", "mismatch", "the name in the body differs from the name in the path"))
			return
		}
		p := &skjold.Purpose{Name: name, LegalBasis: req.LegalBasis, Description: req.Description, Notice: req.Notice,
			Channels: req.Channels, Cap: req.Cap}
		created, err := s.svc.Purposes.PutPurpose(r.Context(), p)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		respond(w, status, p)
	})
}
