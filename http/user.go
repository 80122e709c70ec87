package http

import (
	"net/http"
	"time"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleUserCreate() http.Handler {
	type request struct {
		TenantID    string  `json:"tenant_id"`
		Email       string  `json:"email"`
		Name        string  `json:"name"`
		Role        string  `json:"role"`
		Profile     string  `json:"profile"`
		AccessUntil *string `json:"access_until"` // times are parsed here, so that errors name the field
		TrainingAt  *string `json:"training_at"`
		AgreementAt *string `json:"agreement_at"`
	}
	type response struct {
		*skjold.User
		OneTimePassword string `json:"one_time_password"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*response, error) {
		u := &skjold.User{TenantID: req.TenantID, Email: req.Email, Name: req.Name, Role: req.Role, Profile: req.Profile}
		var err error
		if u.AccessUntil, u.TrainingAt, u.AgreementAt, err = parseTimes(req.AccessUntil, req.TrainingAt, req.AgreementAt); err != nil {
			return nil, err
		}
		password, err := s.svc.Auth.CreateUser(r.Context(), u)
		if err != nil {
			return nil, err
		}
		return &response{User: u, OneTimePassword: password}, nil
	})
}

func (s *Server) handleUserList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, err := pageOf(r)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		users, err := s.svc.Auth.FindUsers(r.Context(), page)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, list(users, page, func(u *skjold.User) string { return u.ID }))
	})
}

func (s *Server) handleUserGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.User, error) {
		return s.svc.Auth.FindUserByID(r.Context(), r.PathValue("id"))
	})
}

func (s *Server) handleUserUpdate() http.Handler {
	type request struct {
		Name             *string `json:"name"`
		Role             *string `json:"role"`
		Profile          *string `json:"profile"`
		AccessUntil      *string `json:"access_until"`
		ClearAccessUntil bool    `json:"clear_access_until"`
		TrainingAt       *string `json:"training_at"`
		AgreementAt      *string `json:"agreement_at"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.User, error) {
		upd := skjold.UserUpdate{Name: req.Name, Role: req.Role, Profile: req.Profile, ClearAccessUntil: req.ClearAccessUntil}
		var err error
		if upd.AccessUntil, upd.TrainingAt, upd.AgreementAt, err = parseTimes(req.AccessUntil, req.TrainingAt, req.AgreementAt); err != nil {
			return nil, err
		}
		return s.svc.Auth.UpdateUser(r.Context(), r.PathValue("id"), upd)
	})
}

// parseTimes parses the optional access_until, training_at and agreement_at of a user.
func parseTimes(accessUntil, trainingAt, agreementAt *string) (a, t, g *time.Time, err error) {
	if a, err = parseOptTime("access_until", accessUntil); err != nil {
		return
	}
	if t, err = parseOptTime("training_at", trainingAt); err != nil {
		return
	}
	g, err = parseOptTime("agreement_at", agreementAt)
	return
}

// parseOptTime parses an optional RFC 3339 time, naming field when it is malformed.
func parseOptTime(field string, s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return nil, skjold.FieldError(field, "datetime", "%s must be a date and time in RFC 3339 form", field)
	}
	return &t, nil
}

func (s *Server) handleUserSuspend(suspend bool) http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		return nil, s.svc.Auth.SuspendUser(r.Context(), r.PathValue("id"), suspend)
	})
}

func (s *Server) handleSessionSettingsGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.SessionSettings, error) {
		return s.svc.Auth.SessionSettings(r.Context())
	})
}

// handleSessionSettingsPut replaces the settings; fields left out of the body keep their
// current values, so that a client that does not know a newer setting cannot clear it.
func (s *Server) handleSessionSettingsPut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, err := s.svc.Auth.SessionSettings(r.Context())
		if err == nil {
			err = decode(r, set)
		}
		if err == nil {
			err = s.svc.Auth.PutSessionSettings(r.Context(), set)
		}
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, set)
	})
}
