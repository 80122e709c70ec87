package http

import (
	"context"
	"net/http"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// maintenance returns the maintenance service, or EUNAVAILABLE when the server has none.
func (s *Server) maintenance() (skjold.MaintenanceService, error) {
	if s.svc.Maintenance == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "maintenance announcements are not configured on this server")
	}
	return s.svc.Maintenance, nil
}

// handleMaintenanceList answers GET /api/v1/maintenance: the windows that have not ended.
func (s *Server) handleMaintenanceList() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.Maintenance], error) {
		svc, err := s.maintenance()
		if err != nil {
			return nil, err
		}
		list, err := svc.FindMaintenance(r.Context())
		if err != nil {
			return nil, err
		}
		return &listBody[*skjold.Maintenance]{Items: list}, nil
	})
}

// handleMaintenanceSchedule answers POST /api/v1/maintenance.
func (s *Server) handleMaintenanceSchedule() http.Handler {
	type request struct {
		Starts string `json:"starts"` // RFC 3339
		Ends   string `json:"ends"`
		Note   string `json:"note"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.Maintenance, error) {
		svc, err := s.maintenance()
		if err != nil {
			return nil, err
		}
		starts, err := time.Parse(time.RFC3339, req.Starts)
		if err != nil {
			return nil, skjold.FieldError("starts", "format", "starts must be an RFC 3339 time such as 2030-12-31T22:00:00Z")
		}
		ends, err := time.Parse(time.RFC3339, req.Ends)
		if err != nil {
			return nil, skjold.FieldError("ends", "format", "ends must be an RFC 3339 time such as 2030-12-31T23:00:00Z")
		}
		m := &skjold.Maintenance{Starts: starts, Ends: ends, Note: req.Note}
		return m, svc.ScheduleMaintenance(r.Context(), m)
	})
}

// handleMaintenanceCancel answers DELETE /api/v1/maintenance/{id}.
func (s *Server) handleMaintenanceCancel() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		svc, err := s.maintenance()
		if err != nil {
			return nil, err
		}
		return nil, svc.CancelMaintenance(r.Context(), r.PathValue("id"))
	})
}

// showMaintenance puts the announced windows that have not ended on a console page, as a
// banner (web/templates/_maintenance.html). A failure to read them is logged; the page
// works without the banner.
func (s *Server) showMaintenance(ctx context.Context, v *web.View) {
	if s.svc.Maintenance == nil || v.Stage != "" {
		return
	}
	list, err := s.svc.Maintenance.FindMaintenance(ctx)
	if err != nil {
		s.log.Error("maintenance windows not read", "err", err)
		return
	}
	for _, m := range list {
		if m.AnnouncedAt != nil || m.Starts.Before(time.Now().Add(skjold.AnnounceAhead)) {
			v.Maintenance = append(v.Maintenance, m)
		}
	}
}
