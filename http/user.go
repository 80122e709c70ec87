package http

import (
	"net/http"
	"time"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleUserCreate() http.Handler {
	type request struct {
		TenantID    string     `json:"tenant_id"`
		Email       string     `json:"email"`
		Name        string     `json:"name"`
		Role        string     `json:"role"`
		Profile     string     `json:"profile"`
		AccessUntil *time.Time `json:"access_until"`
		TrainingAt  *time.Time `json:"training_at"`
		AgreementAt *time.Time `json:"agreement_at"`
	}
	type response struct {
		*skjold.User
		OneTimePassword string `json:"one_time_password"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*response, error) {
		u := &skjold.User{TenantID: req.TenantID, Email: req.Email, Name: req.Name, Role: req.Role, Profile: req.Profile,
			AccessUntil: req.AccessUntil, TrainingAt: req.TrainingAt, AgreementAt: req.AgreementAt}
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
	return handle(s, http.StatusOK, func(r *http.Request, upd *skjold.UserUpdate) (*skjold.User, error) {
		return s.svc.Auth.UpdateUser(r.Context(), r.PathValue("id"), *upd)
	})
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

func (s *Server) handleSessionSettingsPut() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, set *skjold.SessionSettings) (*skjold.SessionSettings, error) {
		if err := s.svc.Auth.PutSessionSettings(r.Context(), set); err != nil {
			return nil, err
		}
		return set, nil
	})
}
