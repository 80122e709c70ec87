package http

import (
	"context"
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
	return handlePut(s, func(req *request) string { return req.Name },
		func(ctx context.Context, name string, req *request) (*skjold.Category, bool, error) {
			cat := &skjold.Category{Name: name, Description: req.Description, Fields: req.Fields, Purposes: req.Purposes,
				LegalBasis: req.LegalBasis, Retention: req.Retention}
			created, err := s.svc.Categories.PutCategory(ctx, cat)
			return cat, created, err
		})
}
