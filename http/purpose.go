package http

import (
	"context"
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
	return handlePut(s, func(req *request) string { return req.Name },
		func(ctx context.Context, name string, req *request) (*skjold.Purpose, bool, error) {
			p := &skjold.Purpose{Name: name, LegalBasis: req.LegalBasis, Description: req.Description, Notice: req.Notice,
				Channels: req.Channels, Cap: req.Cap}
			created, err := s.svc.Purposes.PutPurpose(ctx, p)
			return p, created, err
		})
}
