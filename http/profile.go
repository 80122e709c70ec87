package http

import (
	"context"
	"net/http"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleProfileList() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.Profile], error) {
		ps, err := s.svc.Auth.FindProfiles(r.Context())
		return &listBody[*skjold.Profile]{Items: ps}, err
	})
}

func (s *Server) handleProfileGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.Profile, error) {
		return s.svc.Auth.FindProfile(r.Context(), r.PathValue("name"))
	})
}

func (s *Server) handleProfilePut() http.Handler {
	type request struct {
		Name     string   `json:"name"`
		Scopes   []string `json:"scopes"`
		Purposes []string `json:"purposes"`
	}
	return handlePut(s, func(req *request) string { return req.Name },
		func(ctx context.Context, name string, req *request) (*skjold.Profile, bool, error) {
			p := &skjold.Profile{Name: name, Scopes: req.Scopes, Purposes: req.Purposes}
			created, err := s.svc.Auth.PutProfile(ctx, p)
			return p, created, err
		})
}

func (s *Server) handleProfileDelete() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		return nil, s.svc.Auth.DeleteProfile(r.Context(), r.PathValue("name"))
	})
}
