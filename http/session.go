package http

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// handle decodes the request body into Req (unless Req is none: a route that takes no body,
// where the guard has refused any), calls fn, and answers status with fn's result, or with no
// body when it is nil.
func handle[Req, Resp any](s *Server, status int, fn func(r *http.Request, req *Req) (Resp, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if _, empty := any(req).(none); !empty {
			if err := decode(r, &req); err != nil {
				fail(w, r, s.log, err)
				return
			}
		}
		out, err := fn(r, &req)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		if any(out) == nil {
			w.WriteHeader(status)
			return
		}
		if status == http.StatusCreated {
			locateCreated(w, r, out)
		}
		respond(w, status, out)
	})
}

// locateCreated sets Location on a 201 from a POST to a collection: the collection's path
// followed by the created object's id (the "id" member of its JSON form).
func locateCreated(w http.ResponseWriter, r *http.Request, out any) {
	b, err := json.Marshal(out)
	if err != nil {
		return
	}
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &v) == nil && v.ID != "" {
		w.Header().Set("Location", strings.TrimSuffix(r.URL.Path, "/")+"/"+url.PathEscape(v.ID))
	}
}

type none = struct{}

type sessionBody struct {
	Session *skjold.Session `json:"session"`
	User    *skjold.User    `json:"user"`
	Stage   string          `json:"stage"`
	Token   string          `json:"token,omitempty"` // session tokens only: the bearer secret
	CSRF    string          `json:"csrf_token,omitempty"`
}

func (s *Server) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req skjold.Login
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		sess, id, err := s.svc.Auth.Login(r.Context(), req)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		body := sessionBody{Session: sess, User: id.User, Stage: id.Stage}
		if sess.Kind == skjold.SessionCookie {
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.Secret, Path: "/", Expires: sess.ExpiresAt,
				HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
			body.CSRF = sess.CSRF
		} else {
			body.Token = sess.Secret
		}
		respond(w, http.StatusOK, body)
	})
}

func (s *Server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Auth.Logout(r.Context()); err != nil {
			fail(w, r, s.log, err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
			HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Server) handleSessionGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*sessionBody, error) {
		c := skjold.CallerFromContext(r.Context())
		u, err := s.svc.Auth.FindUserByID(r.Context(), c.UserID)
		if err != nil {
			return nil, err
		}
		id, err := s.authenticate(r) // the stage, as the guard saw it
		if err != nil {
			return nil, err
		}
		return &sessionBody{Session: id.Session, User: u, Stage: id.Stage}, nil
	})
}

type codeRequest struct {
	Code string `json:"code"`
}

func (s *Server) handleSecondFactor() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, req *codeRequest) (any, error) {
		return nil, s.svc.Auth.SecondFactor(r.Context(), req.Code)
	})
}

func (s *Server) handleUnlock() http.Handler {
	type request struct {
		Password string `json:"password"`
	}
	return handle(s, http.StatusNoContent, func(r *http.Request, req *request) (any, error) {
		return nil, s.svc.Auth.Unlock(r.Context(), req.Password)
	})
}

// handleEmailConfirm confirms a pending account's address with the code mailed to it.
func (s *Server) handleEmailConfirm() http.Handler {
	type request struct {
		Code string `json:"code"`
	}
	return handle(s, http.StatusNoContent, func(r *http.Request, req *request) (any, error) {
		return nil, s.svc.Auth.ConfirmEmail(r.Context(), req.Code)
	})
}

// handleEmailConfirmationCode mails a new confirmation code to a pending account's address.
func (s *Server) handleEmailConfirmationCode() http.Handler {
	return handle(s, http.StatusAccepted, func(r *http.Request, _ *none) (any, error) {
		return nil, s.svc.Auth.SendEmailConfirmation(r.Context())
	})
}

func (s *Server) handlePasswordChange() http.Handler {
	type request struct {
		OldPassword string `json:"old_password"`
		NewPassword string `json:"new_password"`
	}
	return handle(s, http.StatusNoContent, func(r *http.Request, req *request) (any, error) {
		return nil, s.svc.Auth.ChangePassword(r.Context(), req.OldPassword, req.NewPassword)
	})
}

func (s *Server) handleTwoFactorBegin() http.Handler {
	type response struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
		QRPNG  []byte `json:"qr_png"` // base64 in JSON
	}
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*response, error) {
		e, err := s.svc.Auth.BeginTwoFactor(r.Context())
		if err != nil {
			return nil, err
		}
		return &response{Secret: e.Secret, URI: e.URI, QRPNG: e.QRPNG}, nil
	})
}

func (s *Server) handleTwoFactorConfirm() http.Handler {
	type response struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *codeRequest) (*response, error) {
		codes, err := s.svc.Auth.ConfirmTwoFactor(r.Context(), req.Code)
		if err != nil {
			return nil, err
		}
		return &response{RecoveryCodes: codes}, nil
	})
}

func (s *Server) handleResetRequest() http.Handler {
	type request struct {
		Email string `json:"email"`
	}
	type response struct {
		Status string `json:"status"`
	}
	return handle(s, http.StatusAccepted, func(r *http.Request, req *request) (*response, error) {
		if err := s.svc.Auth.RequestReset(r.Context(), req.Email); err != nil {
			return nil, err
		}
		return &response{Status: "if this address belongs to an active account, a reset link is on its way"}, nil
	})
}

func (s *Server) handleResetComplete() http.Handler {
	type request struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	return handle(s, http.StatusNoContent, func(r *http.Request, req *request) (any, error) {
		return nil, s.svc.Auth.CompleteReset(r.Context(), req.Token, req.Password)
	})
}

func (s *Server) handleSessionList() http.Handler {
	type response struct {
		Items []*skjold.Session `json:"items"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*response, error) {
		userID := r.URL.Query().Get("user_id")
		if userID == "" {
			userID = skjold.CallerFromContext(r.Context()).UserID
		}
		sessions, err := s.svc.Auth.FindSessions(r.Context(), userID)
		return &response{Items: sessions}, err
	})
}

func (s *Server) handleSessionRevoke() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		return nil, s.svc.Auth.RevokeSession(r.Context(), r.PathValue("id"))
	})
}
