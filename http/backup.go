package http

import (
	"net/http"
	"strconv"

	"github.com/skjold-project/skjold"
)

// backups returns the backup service, or EUNAVAILABLE when the server runs without one.
func (s *Server) backups() (skjold.BackupService, error) {
	if s.svc.Backups == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "backups are not configured on this server")
	}
	return s.svc.Backups, nil
}

// handleBackupList answers GET /api/v1/backups: every target's backups, newest first.
func (s *Server) handleBackupList() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.TargetBackups], error) {
		b, err := s.backups()
		if err != nil {
			return nil, err
		}
		list, err := b.List(r.Context())
		if err != nil {
			return nil, err
		}
		return &listBody[*skjold.TargetBackups]{Items: list}, nil
	})
}

// handleBackupRun answers POST /api/v1/backups: a backup made now on every target. It
// returns once the backup is made; restore is not offered here (see the README).
func (s *Server) handleBackupRun() http.Handler {
	return handle(s, http.StatusCreated, func(r *http.Request, _ *none) (*skjold.Manifest, error) {
		b, err := s.backups()
		if err != nil {
			return nil, err
		}
		return b.Run(r.Context())
	})
}

// handleBackupVerify answers POST /api/v1/backups/{id}/verify: the backup checked on every
// target that holds it; ok is true only when every copy passed.
func (s *Server) handleBackupVerify() http.Handler {
	type response struct {
		OK     bool                  `json:"ok"`
		Checks []*skjold.BackupCheck `json:"checks"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*response, error) {
		b, err := s.backups()
		if err != nil {
			return nil, err
		}
		checks, err := b.Verify(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		out := &response{OK: true, Checks: checks}
		for _, c := range checks {
			out.OK = out.OK && c.OK
		}
		return out, nil
	})
}

// handleBackupRuns answers GET /api/v1/backups/runs?limit=: the recorded backups, off-site
// copies and drills, newest first: the evidence that backups are made and rehearsed.
func (s *Server) handleBackupRuns() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.BackupRun], error) {
		b, err := s.backups()
		if err != nil {
			return nil, err
		}
		limit := skjold.DefaultPageLimit
		if v := r.URL.Query().Get("limit"); v != "" {
			if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > skjold.MaxPageLimit {
				return nil, skjold.FieldError("limit", "range", "limit must be a whole number from 1 to %d", skjold.MaxPageLimit)
			}
		}
		runs, err := b.Runs(r.Context(), limit)
		if err != nil {
			return nil, err
		}
		return &listBody[*skjold.BackupRun]{Items: runs}, nil
	})
}
