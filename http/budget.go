package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleReadBudgetGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.ReadBudget, error) {
		return s.svc.Budgets.ReadBudget(r.Context())
	})
}

// handleReadBudgetPut sets the read budget [B16]; fields left out of the body keep their
// current values, so that a tenant may send back what GET returned, bounds included.
func (s *Server) handleReadBudgetPut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := s.svc.Budgets.ReadBudget(r.Context())
		if err == nil {
			err = decode(r, b)
		}
		if err == nil {
			err = s.svc.Budgets.PutReadBudget(r.Context(), b)
		}
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, b)
	})
}
