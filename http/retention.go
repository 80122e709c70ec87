package http

import (
	"net/http"
	"strconv"

	"github.com/skjold-project/skjold"
)

// defaultPlanDays is how far ahead GET /api/v1/retention/plan looks without ?days=.
const defaultPlanDays = 30

// handleRetentionPlan answers GET /api/v1/retention/plan?days=N: what retention will erase
// in the caller's tenant within N days (1 to 366, default 30), by due date.
func (s *Server) handleRetentionPlan() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.RetentionDue], error) {
		days := defaultPlanDays
		if v := r.URL.Query().Get("days"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, skjold.FieldError("days", "integer", "days must be a whole number from 1 to 366")
			}
			days = n
		}
		items, err := s.svc.Retention.PlanRetention(r.Context(), days)
		if err != nil {
			return nil, err
		}
		return &listBody[*skjold.RetentionDue]{Items: items}, nil
	})
}

// handleSubjectRelationship answers PUT /api/v1/subjects/{id}/relationship with a body
// {"state": "prospect" | "active" | "ended"}.
func (s *Server) handleSubjectRelationship() http.Handler {
	type request struct {
		State string `json:"state"`
	}
	return handle(s, http.StatusNoContent, func(r *http.Request, req *request) (any, error) {
		return nil, s.svc.Retention.SetRelationship(r.Context(), r.PathValue("id"), req.State)
	})
}
