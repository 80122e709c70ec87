package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleCategoryList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cats, err := s.svc.Categories.FindCategories(r.Context())
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, listBody[*skjold.Category]{Items: cats})
	})
}

func (s *Server) handleCategoryGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cat, err := s.svc.Categories.FindCategory(r.Context(), r.PathValue("name"))
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, cat)
	})
}

func (s *Server) handleCategoryPut() http.Handler {
	type request struct {
		Name        string           `json:"name"`
		Description string           `json:"description"`
		Fields      []skjold.Field   `json:"fields"`
		Purposes    []string         `json:"purposes"`
		LegalBasis  string           `json:"legal_basis"`
		Retention   skjold.Retention `json:"retention"`
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
		cat := &skjold.Category{Name: name, Description: req.Description, Fields: req.Fields, Purposes: req.Purposes,
			LegalBasis: req.LegalBasis, Retention: req.Retention}
		created, err := s.svc.Categories.PutCategory(r.Context(), cat)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		respond(w, status, cat)
	})
}
